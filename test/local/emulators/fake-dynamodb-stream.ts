import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue,
  type DescribeStreamCommandInput,
  type DescribeStreamCommandOutput,
  type GetRecordsCommandInput,
  type GetRecordsCommandOutput,
  type GetShardIteratorCommandInput,
  type GetShardIteratorCommandOutput,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { mockClient } from 'aws-sdk-client-mock';

interface FakeShard {
  readonly shardId: string;
  readonly parentShardId: string | undefined;
  readonly records: _Record[];
  closed: boolean;
}

/**
 * A DynamoDB stream in memory behind a mocked DynamoDBStreamsClient: shards that open and close, records with
 * increasing sequence numbers, iterators (TRIM_HORIZON, LATEST, AFTER_SEQUENCE_NUMBER) that the test can
 * expire. Enough of the Streams API for the event source, and every call is counted.
 */
export class FakeDynamoDbStream {
  readonly streamArn =
    'arn:aws:dynamodb:eu-west-1:123456789012:table/Comments/stream/2026-01-01T00:00:00.000';
  readonly client = new DynamoDBStreamsClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  readonly calls = { describeStream: 0, getShardIterator: 0, getRecords: 0 };
  private readonly shards: FakeShard[] = [];
  private readonly iterators = new Map<string, { shardId: string; position: number; expired: boolean }>();
  private nextSequence = 1;
  private nextIterator = 1;

  /** The shard the stream starts with, open until the test closes it. */
  readonly firstShardId: string;

  /** `clock` stamps ApproximateCreationDateTime (epoch ms). */
  constructor(private readonly clock: () => number = Date.now) {
    this.firstShardId = this.openShard();
    const mock = mockClient(this.client);
    mock
      .on(DescribeStreamCommand)
      .callsFake((input: DescribeStreamCommandInput) => this.describeStream(input));
    mock
      .on(GetShardIteratorCommand)
      .callsFake((input: GetShardIteratorCommandInput) => this.getShardIterator(input));
    mock.on(GetRecordsCommand).callsFake((input: GetRecordsCommandInput) => this.getRecords(input));
  }

  /** Opens a new shard, the child of `parentShardId` if given; returns its id. */
  openShard(parentShardId?: string): string {
    const shardId = `shardId-${String(this.shards.length + 1).padStart(20, '0')}-fake`;
    this.shards.push({ shardId, parentShardId, records: [], closed: false });
    return shardId;
  }

  closeShard(shardId: string): void {
    this.shard(shardId).closed = true;
  }

  /** Writes an INSERT record of item {pk, sk, ...attributes} to the newest open shard (or `shardId`). */
  put(pk: string, sk: string, attributes: Record<string, AttributeValue> = {}, shardId?: string): string {
    const shard = shardId
      ? this.shard(shardId)
      : [...this.shards].reverse().find((candidate) => !candidate.closed);
    if (!shard || shard.closed) throw new Error('no open shard to write to');
    const sequenceNumber = String(this.nextSequence++).padStart(21, '0');
    const keys: Record<string, AttributeValue> = { pk: { S: pk }, sk: { S: sk } };
    shard.records.push({
      eventID: `event-${sequenceNumber}`,
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'ddblocal',
      dynamodb: {
        ApproximateCreationDateTime: new Date(this.clock()),
        Keys: keys,
        NewImage: { ...keys, ...attributes },
        SequenceNumber: sequenceNumber,
        SizeBytes: 42,
        StreamViewType: 'NEW_IMAGE',
      },
    });
    return sequenceNumber;
  }

  /** Every iterator handed out so far fails its next use with ExpiredIteratorException. */
  expireIterators(): void {
    for (const iterator of this.iterators.values()) iterator.expired = true;
  }

  private shard(shardId: string | undefined): FakeShard {
    const shard = this.shards.find((candidate) => candidate.shardId === shardId);
    if (!shard) throw Object.assign(new Error(`no shard ${shardId}`), { name: 'ResourceNotFoundException' });
    return shard;
  }

  private describeStream(input: DescribeStreamCommandInput): Partial<DescribeStreamCommandOutput> {
    this.calls.describeStream += 1;
    if (input.StreamArn !== this.streamArn) {
      throw Object.assign(new Error(`Requested resource not found: Stream: ${input.StreamArn} not found`), {
        name: 'ResourceNotFoundException',
      });
    }
    return {
      StreamDescription: {
        StreamArn: this.streamArn,
        StreamStatus: 'ENABLED',
        StreamViewType: 'NEW_IMAGE',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        Shards: this.shards.map((shard) => ({
          ShardId: shard.shardId,
          ParentShardId: shard.parentShardId,
          SequenceNumberRange: {
            StartingSequenceNumber: shard.records[0]?.dynamodb?.SequenceNumber ?? '0',
            EndingSequenceNumber: shard.closed
              ? (shard.records.at(-1)?.dynamodb?.SequenceNumber ?? '0')
              : undefined,
          },
        })),
      },
    };
  }

  private getShardIterator(input: GetShardIteratorCommandInput): Partial<GetShardIteratorCommandOutput> {
    this.calls.getShardIterator += 1;
    const shard = this.shard(input.ShardId);
    let position: number;
    switch (input.ShardIteratorType) {
      case 'TRIM_HORIZON':
        position = 0;
        break;
      case 'LATEST':
        position = shard.records.length;
        break;
      case 'AFTER_SEQUENCE_NUMBER':
        position =
          shard.records.findIndex((record) => record.dynamodb?.SequenceNumber === input.SequenceNumber) + 1;
        if (position === 0) throw new Error(`unknown sequence number ${input.SequenceNumber}`);
        break;
      default:
        throw new Error(`the fake does not serve ${input.ShardIteratorType}`);
    }
    return { ShardIterator: this.iterator(shard.shardId, position) };
  }

  private getRecords(input: GetRecordsCommandInput): Partial<GetRecordsCommandOutput> {
    this.calls.getRecords += 1;
    const iterator = this.iterators.get(input.ShardIterator ?? '');
    if (!iterator) throw Object.assign(new Error('Invalid ShardIterator'), { name: 'ValidationException' });
    if (iterator.expired) {
      throw Object.assign(new Error('Iterator expired'), { name: 'ExpiredIteratorException' });
    }
    const shard = this.shard(iterator.shardId);
    const records = shard.records.slice(iterator.position, iterator.position + (input.Limit ?? 1000));
    const position = iterator.position + records.length;
    const atEnd = shard.closed && position >= shard.records.length;
    return {
      Records: records,
      NextShardIterator: atEnd ? undefined : this.iterator(shard.shardId, position),
    };
  }

  private iterator(shardId: string, position: number): string {
    const token = `iterator-${this.nextIterator++}`;
    this.iterators.set(token, { shardId, position, expired: false });
    return token;
  }
}
