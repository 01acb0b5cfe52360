import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SequencedChangeEvent } from '../../contracts/protocol';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { toSequencedEvent } from './comment-items';
import type { EventRange } from './comment-repository';

/**
 * Reads of the per-post event log (`post#<id>` / `event#<seq>`), always strongly consistent: a replay or a
 * publish must see every event committed before it.
 */
const { partitionKey, sortKey, timeToLiveAttribute } = commentsTableSchema;

/** The stored event with this seq, or undefined when there is none. */
export async function readEvent(
  client: DynamoDBDocumentClient,
  tableName: string,
  postId: string,
  seq: number,
): Promise<SequencedChangeEvent | undefined> {
  const result = await client.send(
    new GetCommand({
      TableName: tableName,
      Key: {
        [partitionKey.name]: commentKeys.postPartition(postId),
        [sortKey.name]: commentKeys.eventSortKey(seq),
      },
      ConsistentRead: true,
    }),
  );
  return result.Item ? toSequencedEvent(result.Item) : undefined;
}

export async function readEvents(
  client: DynamoDBDocumentClient,
  tableName: string,
  postId: string,
  { afterSeq, throughSeq, now }: EventRange,
): Promise<SequencedChangeEvent[]> {
  if (throughSeq <= afterSeq) return [];
  const events: SequencedChangeEvent[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :through',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
        ExpressionAttributeValues: {
          ':pk': commentKeys.postPartition(postId),
          ':from': commentKeys.eventSortKey(afterSeq + 1),
          ':through': commentKeys.eventSortKey(throughSeq),
        },
        ScanIndexForward: true,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const expiresAt = item[timeToLiveAttribute];
      // TTL deletes an expired item some time after it expires, not at once: it is already gone to us.
      if (typeof expiresAt === 'number' && expiresAt < now) continue;
      events.push(toSequencedEvent(item));
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return events;
}
