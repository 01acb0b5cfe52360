import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { MetricNames } from '../../contracts/telemetry-names';
import { toSequencedEvent } from '../shared/comment-items';
import { countMetric, durationMetric, logger } from '../shared/telemetry';
import type { EventPublisher } from '../fan-out/event-publisher';

export interface StreamBatchOptions {
  /** Epoch milliseconds by which this invocation must have answered (its deadline, less a margin). */
  deadline: number;
  /** @default Date.now */
  now?: () => number;
}

const { sortKey } = commentsTableSchema;

/**
 * The stored event a stream record inserted, or undefined for any other record: the mapping's filter
 * passes only inserted event rows, and this check keeps a changed filter from publishing anything else.
 */
export function eventOfRecord(record: DynamoDBRecord) {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== 'INSERT' || !image) return undefined;
  // aws-lambda and the SDK each declare DynamoDB's attribute values; they are the same JSON.
  const item = unmarshall(image as Record<string, AttributeValue>);
  if (
    typeof item[sortKey.name] !== 'string' ||
    !String(item[sortKey.name]).startsWith(commentKeys.eventPrefix)
  ) {
    return undefined;
  }
  return toSequencedEvent(item);
}

/**
 * Publishes one batch of stream records, in order. The first record that cannot be published stops the
 * batch: it is reported as the batch's one item failure, and Lambda retries the batch from it
 * (ReportBatchItemFailures), so no later event of the shard overtakes it and none before it is sent
 * again. A record whose fan-out keeps failing ends, after the mapping's retries (bisected down to itself),
 * in the mapping's failure destination: exactly the event that was not published.
 */
export async function publishStreamBatch(
  records: readonly DynamoDBRecord[],
  publisher: Pick<EventPublisher, 'publishStored'>,
  { deadline, now = Date.now }: StreamBatchOptions,
): Promise<DynamoDBBatchResponse> {
  for (const record of records) {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
    let event;
    try {
      event = eventOfRecord(record);
    } catch (error) {
      // A malformed event row cannot be published now or ever: skipping it is the only way past it.
      logger.error('Stream record is not a publishable event; skipped', {
        sequenceNumber,
        error: error as Error,
      });
      countMetric(MetricNames.publishFailures);
      continue;
    }
    if (!event) continue;
    try {
      const outcome = await publisher.publishStored(event, { deadline, correlationId: event.eventId });
      const created = record.dynamodb?.ApproximateCreationDateTime;
      if (outcome === 'published' && created !== undefined) {
        durationMetric(MetricNames.publishLag, now() - created * 1000);
      }
    } catch (error) {
      countMetric(MetricNames.publishFailures);
      logger.error('Could not publish a stored event; Lambda retries from it', {
        postId: event.data.postId,
        seq: event.seq,
        sequenceNumber,
        errorName: (error as Error).name,
        error: error as Error,
      });
      return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
    }
  }
  return { batchItemFailures: [] };
}
