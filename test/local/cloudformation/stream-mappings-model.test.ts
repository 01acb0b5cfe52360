import type { LocalApi, LocalModel, LocalTable } from '../../../local/cloudformation/local-model';
import {
  TemplateModelError,
  type StackTemplate,
  type Template,
} from '../../../local/cloudformation/template';
import { buildLocalModel, type LocalEndpoints } from '../../../local/cloudformation/template-model';

/**
 * AWS::Lambda::EventSourceMapping in the local model, on templates written the way CDK's DynamoEventSource
 * synthesizes them: the table in one stack (the Data stack), the function, its mapping and the on-failure
 * queue in another, the stream ARN crossing over as an export or a stack output.
 */

type Resources = NonNullable<Template['Resources']>;

const EVENT_FILTER = '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}';
const STREAM_OUTPUT = 'ExportsOutputFnGetAttCommentsTable1A2B3C4DStreamArn5E6F7A8B';

/** DynamoDB Local's LatestStreamArn shape. */
const streamArnOf = (tableName: string): string =>
  `arn:aws:dynamodb:ddblocal:000000000000:table/${tableName}/stream/2026-11-26T10:00:00.000`;

const endpoints: LocalEndpoints = {
  httpBaseUrl: (_api: LocalApi) => 'http://localhost:4999',
  region: 'us-east-1',
  accountId: '000000000000',
  localIssuerUrl: 'http://localhost:4000/_local/issuer',
  // As the local stack does: only a table created with a stream has one.
  tableStreamArn: (table: LocalTable) =>
    table.properties.StreamSpecification ? streamArnOf(table.tableName) : undefined,
};

const stack = (stackName: string, template: Template): StackTemplate => ({
  stackName,
  template,
  assemblyDir: '/tmp/assembly',
});

const lambdaFunction = (): Resources[string] => ({
  Type: 'AWS::Lambda::Function',
  Properties: { Handler: 'index.handler', Timeout: 10 },
  Metadata: { 'aws:asset:path': 'asset.0123' },
});

const dataStack = (): StackTemplate =>
  stack('App-Data', {
    Resources: {
      CommentsTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
        },
      },
      ConnectionsTable: {
        Type: 'AWS::DynamoDB::Table',
        Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] },
      },
    },
    Outputs: {
      [STREAM_OUTPUT]: {
        Value: { 'Fn::GetAtt': ['CommentsTable', 'StreamArn'] },
        Export: { Name: `App-Data:${STREAM_OUTPUT}` },
      },
    },
  });

/** The mapping's properties as DynamoEventSource writes them; `overrides` replaces or removes (undefined) some. */
function mappingProperties(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    FunctionName: { Ref: 'Publisher' },
    EventSourceArn: { 'Fn::ImportValue': `App-Data:${STREAM_OUTPUT}` },
    StartingPosition: 'TRIM_HORIZON',
    BatchSize: 25,
    BisectBatchOnFunctionError: true,
    MaximumRetryAttempts: 5,
    MaximumRecordAgeInSeconds: 3600,
    ParallelizationFactor: 2,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    FilterCriteria: { Filters: [{ Pattern: EVENT_FILTER }] },
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['PublisherDeadLetters', 'Arn'] } } },
    ...overrides,
  };
  for (const [name, value] of Object.entries(overrides)) if (value === undefined) delete properties[name];
  return properties;
}

const realtimeStack = (overrides: Record<string, unknown> = {}): StackTemplate =>
  stack('App-Realtime', {
    Resources: {
      Publisher: lambdaFunction(),
      PublisherDeadLetters: { Type: 'AWS::SQS::Queue', Properties: {} },
      PublisherDynamoDBEventSourceAppDataCommentsTable9A8B7C6D: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: mappingProperties(overrides),
      },
    },
  });

const MAPPING_KEY = 'App-Realtime/PublisherDynamoDBEventSourceAppDataCommentsTable9A8B7C6D';

describe('stream event source mappings in the local model', () => {
  describe('a mapping that reads another stack’s table through an export', () => {
    let model: LocalModel;

    beforeAll(() => {
      model = buildLocalModel([dataStack(), realtimeStack()], endpoints);
    });

    it('names the function, the local table and its stream, the settings and the on-failure queue', () => {
      // Act / Assess
      expect(model.streamMappings).toEqual([
        {
          key: MAPPING_KEY,
          functionKey: 'App-Realtime/Publisher',
          tableName: 'App-Data-CommentsTable',
          streamArn: streamArnOf('App-Data-CommentsTable'),
          settings: {
            StartingPosition: 'TRIM_HORIZON',
            BatchSize: 25,
            BisectBatchOnFunctionError: true,
            MaximumRetryAttempts: 5,
            MaximumRecordAgeInSeconds: 3600,
            ParallelizationFactor: 2,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            FilterCriteria: { Filters: [{ Pattern: EVENT_FILTER }] },
          },
          onFailure: 'arn:aws:sqs:us-east-1:000000000000:App-Realtime-PublisherDeadLetters',
          enabled: true,
        },
      ]);
    });

    it('gives the table with a stream its StreamArn, and the one without none', () => {
      // Act
      const streams = Object.fromEntries(model.tables.map((table) => [table.tableName, table.streamArn]));

      // Assess
      expect(streams).toEqual({
        'App-Data-CommentsTable': streamArnOf('App-Data-CommentsTable'),
        'App-Data-ConnectionsTable': undefined,
      });
    });
  });

  it('resolves a stream ARN passed as a stack output (Fn::GetStackOutput)', () => {
    // Prepare
    const eventSourceArn = {
      'Fn::GetStackOutput': {
        StackName: 'App-Data',
        Region: { Ref: 'AWS::Region' },
        OutputName: STREAM_OUTPUT,
      },
    };

    // Act
    const model = buildLocalModel(
      [dataStack(), realtimeStack({ EventSourceArn: eventSourceArn })],
      endpoints,
    );

    // Assess
    expect(model.streamMappings[0]?.streamArn).toBe(streamArnOf('App-Data-CommentsTable'));
  });

  it.each([
    ['its ARN', { 'Fn::GetAtt': ['Publisher', 'Arn'] }],
    ['a qualified name', 'App-Realtime-Publisher:$LATEST'],
  ])('finds the function by %s', (_form, functionName) => {
    // Act
    const model = buildLocalModel([dataStack(), realtimeStack({ FunctionName: functionName })], endpoints);

    // Assess
    expect(model.streamMappings[0]?.functionKey).toBe('App-Realtime/Publisher');
  });

  it('keeps a disabled mapping, marked as such, and one without a destination without one', () => {
    // Act
    const model = buildLocalModel(
      [dataStack(), realtimeStack({ Enabled: false, DestinationConfig: undefined })],
      endpoints,
    );

    // Assess
    expect(model.streamMappings[0]?.enabled).toBe(false);
    expect(model.streamMappings[0]).not.toHaveProperty('onFailure');
  });

  it('takes numbers written as strings, as CloudFormation does', () => {
    // Act
    const model = buildLocalModel([dataStack(), realtimeStack({ BatchSize: '10' })], endpoints);

    // Assess
    expect(model.streamMappings[0]?.settings.BatchSize).toBe(10);
  });

  it('has no mappings for templates without any', () => {
    // Act / Assess
    expect(buildLocalModel([dataStack()], endpoints).streamMappings).toEqual([]);
  });

  describe('refuses at start, naming the mapping', () => {
    const build = (overrides: Record<string, unknown>) => (): LocalModel =>
      buildLocalModel([dataStack(), realtimeStack(overrides)], endpoints);

    it.each([
      [
        'an event source that is no local table’s stream',
        { EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/clicks' },
        `EventSourceMapping ${MAPPING_KEY}: EventSourceArn "arn:aws:kinesis:us-east-1:000000000000:stream/clicks" is not the stream of any table of the app`,
      ],
      [
        'a function the app does not have',
        { FunctionName: 'somebody-else' },
        `EventSourceMapping ${MAPPING_KEY}: FunctionName "somebody-else" names no function of the app`,
      ],
      [
        'a filter pattern that is not JSON',
        { FilterCriteria: { Filters: [{ Pattern: '{"eventName":' }] } },
        `EventSourceMapping ${MAPPING_KEY}: FilterCriteria.Filters[0]`,
      ],
      [
        'a batch size out of range',
        { BatchSize: 20_000 },
        `EventSourceMapping ${MAPPING_KEY}: BatchSize must be an integer from 1 to 10000, not 20000`,
      ],
      [
        'a starting position a DynamoDB stream does not have',
        { StartingPosition: 'AT_TIMESTAMP' },
        `EventSourceMapping ${MAPPING_KEY}: StartingPosition must be TRIM_HORIZON or LATEST`,
      ],
      [
        'a setting the local stack does not emulate',
        { TumblingWindowInSeconds: 30 },
        `EventSourceMapping ${MAPPING_KEY}: TumblingWindowInSeconds is not emulated by the local stack`,
      ],
    ])('%s', (_case, overrides, message) => {
      // Act / Assess
      expect(build(overrides)).toThrow(TemplateModelError);
      expect(build(overrides)).toThrow(message);
    });

    it('a StreamArn of a table without a stream, as a deployment would fail', () => {
      // Prepare
      const data = dataStack();
      const outputs = data.template.Outputs ?? {};
      const output = outputs[STREAM_OUTPUT];
      if (output) output.Value = { 'Fn::GetAtt': ['ConnectionsTable', 'StreamArn'] };

      // Act
      const building = (): LocalModel => buildLocalModel([data, realtimeStack()], endpoints);

      // Assess
      expect(building).toThrow(TemplateModelError);
      expect(building).toThrow('Table App-Data/ConnectionsTable has no stream: no StreamArn');
    });

    it('a StreamArn when the local stack knows no streams at all', () => {
      // Prepare
      const { tableStreamArn: _none, ...withoutStreams } = endpoints;

      // Act
      const building = (): LocalModel => buildLocalModel([dataStack(), realtimeStack()], withoutStreams);

      // Assess
      expect(building).toThrow('Table App-Data/CommentsTable has no stream: no StreamArn');
    });
  });
});
