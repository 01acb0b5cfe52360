import { createHash } from 'node:crypto';
import type { AttributeValue as StreamAttributeValue, _Record } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBStreamEvent } from 'aws-lambda';

/**
 * The shapes a DynamoDB stream event source mapping hands out: the records of the Lambda event, and the
 * record it sends to its on-failure destination. Shared by the shard reader and the batch delivery.
 */

/** One record as the function receives it (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html). */
export interface StreamLambdaRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    /** Epoch seconds, as Lambda sends it (the SDK parses it into a Date). */
    ApproximateCreationDateTime: number;
    Keys: Record<string, LambdaAttributeValue>;
    NewImage?: Record<string, LambdaAttributeValue>;
    OldImage?: Record<string, LambdaAttributeValue>;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
  };
  eventSourceARN: string;
}

export interface StreamLambdaEvent extends DynamoDBStreamEvent {
  Records: StreamLambdaRecord[];
}

/**
 * What the mapping sends to DestinationConfig.OnFailure for a DynamoDB stream: where the records are, not the
 * records themselves (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).
 */
export interface StreamOnFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: '$LATEST';
    /** Set when the last invocation failed in the function ("Unhandled"), not when it answered badly. */
    functionError?: string;
  };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** A record read from a shard, with what the mapping keeps beside it. */
export interface ReadRecord {
  readonly record: StreamLambdaRecord;
  readonly shardId: string;
  /** When MaximumRecordAgeInSeconds starts counting for this record (epoch ms). */
  readonly arrivalMs: number;
}

/**
 * DynamoDB Local rounds ApproximateCreationDateTime down to the minute (AWS to the second), so a record read
 * at once can look up to a minute old. The true creation time lies between the rounded value and the earlier
 * of (rounded value + a minute, the moment we read it); age counts from that upper bound, so that
 * MaximumRecordAgeInSeconds never gives up a record younger than the limit.
 */
const CREATION_TIME_ROUNDING_MS = 60_000;

export function toReadRecord(
  source: _Record,
  context: { shardId: string; streamArn: string; region: string; readAtMs: number },
): ReadRecord {
  const stream = source.dynamodb;
  const sequenceNumber = stream?.SequenceNumber;
  if (!stream || !sequenceNumber) throw new Error(`stream record ${source.eventID} has no SequenceNumber`);
  const createdMs = stream.ApproximateCreationDateTime?.getTime() ?? context.readAtMs;
  const dynamodb: StreamLambdaRecord['dynamodb'] = {
    ApproximateCreationDateTime: createdMs / 1000,
    Keys: toLambdaImage(stream.Keys ?? {}),
    SequenceNumber: sequenceNumber,
    SizeBytes: stream.SizeBytes ?? 0,
    StreamViewType: stream.StreamViewType ?? 'NEW_IMAGE',
  };
  if (stream.NewImage) dynamodb.NewImage = toLambdaImage(stream.NewImage);
  if (stream.OldImage) dynamodb.OldImage = toLambdaImage(stream.OldImage);
  return {
    record: {
      eventID: source.eventID ?? sequenceNumber,
      eventName: source.eventName ?? 'INSERT',
      eventVersion: source.eventVersion ?? '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: context.region,
      dynamodb,
      eventSourceARN: context.streamArn,
    },
    shardId: context.shardId,
    arrivalMs: Math.min(context.readAtMs, createdMs + CREATION_TIME_ROUNDING_MS),
  };
}

function toLambdaImage(image: Record<string, StreamAttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaAttribute(value)]));
}

/** The SDK gives binary values as bytes; the Lambda event carries them base64-encoded, as JSON must. */
function toLambdaAttribute(value: StreamAttributeValue): LambdaAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttribute) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  // S, N, SS, NS, BOOL and NULL are JSON already.
  return value as LambdaAttributeValue;
}

/**
 * Orders sequence numbers. They are decimal strings of varying length on AWS (zero-padded on DynamoDB Local),
 * so neither string nor Number comparison is safe; BigInt is.
 */
export function compareSequenceNumbers(left: string, right: string): number {
  const difference = BigInt(left) - BigInt(right);
  return difference === 0n ? 0 : difference < 0n ? -1 : 1;
}

/**
 * The lane of a record when ParallelizationFactor splits a shard: a hash of its partition key value, so that
 * all changes to one partition key go through the same lane, in order.
 */
export function laneIndex(record: StreamLambdaRecord, partitionKeyName: string, lanes: number): number {
  if (lanes <= 1) return 0;
  const key = JSON.stringify(record.dynamodb.Keys[partitionKeyName] ?? null);
  return createHash('md5').update(key).digest().readUInt32BE(0) % lanes;
}

/** AWS writes these arrival times to the second, without milliseconds. */
function arrivalTime(record: StreamLambdaRecord): string {
  return new Date(record.dynamodb.ApproximateCreationDateTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function onFailureRecord(details: {
  records: readonly ReadRecord[];
  condition: StreamOnFailureRecord['requestContext']['condition'];
  requestId: string;
  functionArn: string;
  invokeCount: number;
  functionError: string | undefined;
  streamArn: string;
  nowMs: number;
}): StreamOnFailureRecord {
  const first = details.records[0];
  const last = details.records[details.records.length - 1];
  if (!first || !last) throw new Error('an on-failure record describes at least one stream record');
  const responseContext: StreamOnFailureRecord['responseContext'] = {
    // A function error still answers 200 on the Invoke API; the failure is in functionError.
    statusCode: 200,
    executedVersion: '$LATEST',
  };
  if (details.functionError !== undefined) responseContext.functionError = details.functionError;
  return {
    requestContext: {
      requestId: details.requestId,
      functionArn: details.functionArn,
      condition: details.condition,
      approximateInvokeCount: details.invokeCount,
    },
    responseContext,
    version: '1.0',
    timestamp: new Date(details.nowMs).toISOString(),
    DDBStreamBatchInfo: {
      shardId: first.shardId,
      startSequenceNumber: first.record.dynamodb.SequenceNumber,
      endSequenceNumber: last.record.dynamodb.SequenceNumber,
      approximateArrivalOfFirstRecord: arrivalTime(first.record),
      approximateArrivalOfLastRecord: arrivalTime(last.record),
      batchSize: details.records.length,
      streamArn: details.streamArn,
    },
  };
}
