import { CreateTableCommand, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { sleep } from '../../../contracts/backoff';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../../local/emulators/dynamodb-local';
import { LocalStreamEventSource, type StreamLambdaEvent } from '../../../local/emulators/stream-event-source';

/**
 * The event source against Amazon's DynamoDB Local and its real Streams API: the fake stream of the unit tests
 * stands in for exactly this, so this test checks that the two agree on iterators, records and shapes.
 */
const PORT = 18560;
const TABLE = 'stream-source-it';

let db: DynamoDbLocal;
let streams: DynamoDBStreamsClient;
let streamArn: string;

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: PORT });
  streams = new DynamoDBStreamsClient({
    endpoint: db.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const created = await db.client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  streamArn = created.TableDescription?.LatestStreamArn ?? '';
});

afterAll(async () => {
  streams?.destroy();
  await db?.stop();
});

const put = (sk: string, body: string): Promise<unknown> =>
  db.client.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { pk: { S: 'topic#1' }, sk: { S: sk }, body: { S: body } },
    }),
  );

it('hands the function exactly the filtered records, in order, in the Lambda event shape', async () => {
  // Prepare
  const events: StreamLambdaEvent[] = [];
  const source = new LocalStreamEventSource({
    client: streams,
    streamArn,
    settings: {
      StartingPosition: 'LATEST',
      BatchSize: 10,
      FilterCriteria: {
        Filters: [
          { Pattern: '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}' },
        ],
      },
    },
    invoke: async (event) => {
      events.push(event);
    },
    onFailure: () => {
      throw new Error('nothing should fail here');
    },
    log: () => undefined,
    functionArn: 'arn:aws:lambda:local:000000000000:function:publisher',
    pollIntervalMs: 20,
  });
  await put('event#0', 'written before the mapping started');

  // Act
  await source.start();
  try {
    await put('event#1', 'first');
    await put('meta#1', 'not an event row');
    await put('event#2', 'second');
    await put('event#1', 'first, edited'); // a MODIFY: the filter keeps INSERTs only
    await db.client.send(
      new DeleteItemCommand({ TableName: TABLE, Key: { pk: { S: 'topic#1' }, sk: { S: 'meta#1' } } }),
    );
    await put('event#3', 'third');
    const deadline = Date.now() + 30_000;
    while (
      source.stats.recordsDelivered + source.stats.recordsFiltered < 6 ||
      source.stats.pendingRecords > 0
    ) {
      if (Date.now() > deadline) throw new Error(`records missing: ${JSON.stringify(source.stats)}`);
      await sleep(20);
    }
  } finally {
    await source.stop();
  }

  // Assess
  const records = events.flatMap((event) => event.Records);
  expect(records.map((record) => record.dynamodb.NewImage?.body?.S)).toEqual(['first', 'second', 'third']);
  expect(source.stats).toMatchObject({ recordsDelivered: 3, recordsFiltered: 3, failuresReported: 0 });
  const sequenceNumbers = records.map((record) => BigInt(record.dynamodb.SequenceNumber));
  expect([...sequenceNumbers].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequenceNumbers);
  expect(records[0]).toMatchObject({
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    eventSourceARN: streamArn,
    dynamodb: {
      Keys: { pk: { S: 'topic#1' }, sk: { S: 'event#1' } },
      StreamViewType: 'NEW_IMAGE',
      ApproximateCreationDateTime: expect.any(Number),
    },
  });
});
