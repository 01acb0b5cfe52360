import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { commentsTableSchema, type TableSchema } from '../../../contracts/table-schema';
import type { LocalModel } from '../../../local/cloudformation/local-model';
import type { StackTemplate, Template } from '../../../local/cloudformation/template';
import { buildLocalModel, localTables } from '../../../local/cloudformation/template-model';
import {
  createTableInput,
  ensureTable,
  startDynamoDbLocal,
  type DynamoDbLocal,
} from '../../../local/emulators/dynamodb-local';
import type { StreamDeadLetter } from '../../../local/emulators/lambda-invoke-api';
import type { StreamLambdaEvent } from '../../../local/emulators/stream-event-source';
import { LocalStreamMappings } from '../../../local/emulators/stream-mappings';
import { FakeLambda, lambdaMap } from './fake-lambda';

/**
 * The local stack's path from templates to a running mapping, against Amazon's DynamoDB Local: the table is
 * created with the schema's stream, its LatestStreamArn is what the other stack's EventSourceArn resolves to,
 * and the mapping delivers the filtered rows written to the table to the mapped function.
 */
const PORT = 18570;
const EVENT_FILTER = '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}';
const STREAM_OUTPUT = 'ExportsOutputFnGetAttCommentsTableStreamArn5E6F7A8B';

let db: DynamoDbLocal;

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: PORT });
});

afterAll(async () => {
  await db?.stop();
});

describe('ensureTable', () => {
  it("returns the stream ARN of a table created with the schema's stream, and the same one once it exists", async () => {
    // Act
    const created = await ensureTable(db.client, commentsTableSchema, 'ensure-stream');
    const again = await ensureTable(db.client, commentsTableSchema, 'ensure-stream');

    // Assess
    expect(created).toMatch(/^arn:aws:dynamodb:.*:table\/ensure-stream\/stream\//);
    expect(again).toBe(created);
  });

  it('returns no stream ARN for a schema without a stream', async () => {
    // Prepare
    const schema: TableSchema = { ...commentsTableSchema, stream: undefined };

    // Act / Assess
    await expect(ensureTable(db.client, schema, 'ensure-no-stream')).resolves.toBeUndefined();
  });

  it('adds the stream to a table kept from a start before its schema had one', async () => {
    // Prepare
    const { StreamSpecification: _stream, ...withoutStream } = createTableInput(
      commentsTableSchema,
      'ensure-old',
    );
    await db.client.send(new CreateTableCommand(withoutStream));

    // Act
    const streamArn = await ensureTable(db.client, commentsTableSchema, 'ensure-old');

    // Assess
    expect(streamArn).toMatch(/:table\/ensure-old\/stream\//);
  });
});

describe('a mapping from the templates, running', () => {
  const data: StackTemplate = {
    stackName: 'App-Data',
    assemblyDir: '/tmp/assembly',
    template: {
      Resources: {
        CommentsTable: {
          Type: 'AWS::DynamoDB::Table',
          Properties: { StreamSpecification: { StreamViewType: 'NEW_IMAGE' } },
        },
      },
      Outputs: {
        [STREAM_OUTPUT]: {
          Value: { 'Fn::GetAtt': ['CommentsTable', 'StreamArn'] },
          Export: { Name: `App-Data:${STREAM_OUTPUT}` },
        },
      },
    } satisfies Template,
  };
  const realtime: StackTemplate = {
    stackName: 'App-Realtime',
    assemblyDir: '/tmp/assembly',
    template: {
      Resources: {
        Publisher: {
          Type: 'AWS::Lambda::Function',
          Properties: { Handler: 'index.handler' },
          Metadata: { 'aws:asset:path': 'asset.0123' },
        },
        PublisherDeadLetters: { Type: 'AWS::SQS::Queue' },
        PublisherMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'Publisher' },
            EventSourceArn: { 'Fn::ImportValue': `App-Data:${STREAM_OUTPUT}` },
            StartingPosition: 'TRIM_HORIZON',
            BatchSize: 10,
            BisectBatchOnFunctionError: true,
            MaximumRetryAttempts: 2,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            FilterCriteria: { Filters: [{ Pattern: EVENT_FILTER }] },
            DestinationConfig: {
              OnFailure: { Destination: { 'Fn::GetAtt': ['PublisherDeadLetters', 'Arn'] } },
            },
          },
        },
      },
    } satisfies Template,
  };
  let model: LocalModel;
  let mappings: LocalStreamMappings;
  const publisher = new FakeLambda();
  const deadLetters: StreamDeadLetter[] = [];

  beforeAll(async () => {
    // As the composition root does: the tables first, then the model that refers to their streams.
    const streamArns = new Map<string, string>();
    for (const table of localTables([data, realtime])) {
      const streamArn = await ensureTable(db.client, commentsTableSchema, table.tableName);
      if (streamArn) streamArns.set(table.tableName, streamArn);
    }
    model = buildLocalModel([data, realtime], {
      httpBaseUrl: () => 'http://127.0.0.1:1',
      region: 'us-east-1',
      accountId: '000000000000',
      localIssuerUrl: 'http://127.0.0.1:1/_local/issuer',
      tableStreamArn: (table) => streamArns.get(table.tableName),
    });
    mappings = new LocalStreamMappings({
      mappings: model.streamMappings,
      functions: model.functions,
      lambdas: lambdaMap({ 'App-Realtime/Publisher': publisher }),
      client: db.streamsClient,
      deadLetter: (letter) => deadLetters.push(letter),
      region: 'us-east-1',
      accountId: '000000000000',
      log: () => undefined,
      tuning: { pollIntervalMs: 20 },
    });
    await mappings.start();
  });

  afterAll(async () => {
    await mappings?.stop();
  });

  const put = (sk: string): Promise<unknown> =>
    db.client.send(
      new PutItemCommand({
        TableName: 'App-Data-CommentsTable',
        Item: { pk: { S: 'post#1' }, sk: { S: sk }, body: { S: sk } },
      }),
    );

  it("reads the table's stream through the other stack's export", () => {
    // Act / Assess
    expect(model.streamMappings[0]?.streamArn).toBe(
      model.tables.find((table) => table.tableName === 'App-Data-CommentsTable')?.streamArn,
    );
    expect(model.streamMappings[0]?.streamArn).toMatch(/:table\/App-Data-CommentsTable\/stream\//);
  });

  it('invokes the function with the inserted event rows only', async () => {
    // Act
    await put('comment#01');
    await put('event#000000000001');
    await put('event#000000000002');
    const event = (await publisher.waitForEvent(
      (seen) => JSON.stringify(seen).includes('event#000000000002'),
      10_000,
    )) as unknown as StreamLambdaEvent;

    // Assess
    const delivered = publisher.events.flatMap((seen) =>
      (seen as unknown as StreamLambdaEvent).Records.map((record) => record.dynamodb.NewImage?.sk?.S),
    );
    expect(delivered).toEqual(['event#000000000001', 'event#000000000002']);
    expect(event.Records.at(-1)).toMatchObject({ eventName: 'INSERT', eventSource: 'aws:dynamodb' });
    expect(deadLetters).toEqual([]);
  });
});
