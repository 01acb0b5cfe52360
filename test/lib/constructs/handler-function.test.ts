import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { connectionsTableSchema, type TableSchema } from '../../../contracts/table-schema';
import { ServiceNames } from '../../../contracts/telemetry-names';
import { stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../../contracts/cfn-metadata';
import { HandlerFunction } from '../../../lib/constructs/handler-function';
import { SchemaTable } from '../../../lib/constructs/schema-table';
import { cdkJsonContext } from '../synth-stage';
import { actionsOf, actionsOn, logicalIdOf, statementsOf } from '../template-queries';

const entry = 'test/lib/fixtures/echo-handler.ts';

/** No house table has a secondary index any more; the construct still grants on one that is named. */
const indexedSchema: TableSchema = {
  id: 'Indexed',
  partitionKey: { name: 'pk', type: 'S' },
  globalSecondaryIndexes: [
    { indexName: 'byOwner', partitionKey: { name: 'owner', type: 'S' }, projection: 'ALL' },
  ],
};

describe('HandlerFunction', () => {
  let template: Template;
  let prodTemplate: Template;
  let table: SchemaTable;
  let plain: HandlerFunction;
  let reader: HandlerFunction;
  let writer: HandlerFunction;
  let deleter: HandlerFunction;
  let updater: HandlerFunction;
  let indexedTable: SchemaTable;
  let indexReader: HandlerFunction;

  beforeAll(() => {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'Test');
    table = new SchemaTable(stack, 'Connections', {
      schema: connectionsTableSchema,
      removalPolicy: stageConfigs.dev.removalPolicy,
      pointInTimeRecovery: false,
      deletionProtection: false,
    });
    indexedTable = new SchemaTable(stack, 'Indexed', {
      schema: indexedSchema,
      removalPolicy: stageConfigs.dev.removalPolicy,
      pointInTimeRecovery: false,
      deletionProtection: false,
    });
    const stageConfig = stageConfigs.dev;
    plain = new HandlerFunction(stack, 'Plain', {
      entry,
      serviceName: ServiceNames.websocketAuthorizer,
      stageConfig,
    });
    reader = new HandlerFunction(stack, 'Reader', {
      entry,
      serviceName: ServiceNames.websocketMessages,
      stageConfig,
      memorySize: 512,
      timeout: Duration.seconds(3),
      environment: { EXTRA: 'yes' },
    }).bindTable('TABLE_NAME', table, 'read');
    writer = new HandlerFunction(stack, 'Writer', {
      entry,
      serviceName: ServiceNames.websocketConnection,
      stageConfig,
    }).bindTable('TABLE_NAME', table, 'readWrite');
    deleter = new HandlerFunction(stack, 'Deleter', {
      entry,
      serviceName: ServiceNames.broadcast,
      stageConfig,
    }).bindTable('TABLE_NAME', table, 'readDelete');
    updater = new HandlerFunction(stack, 'Updater', {
      entry,
      serviceName: ServiceNames.eventPublisher,
      stageConfig,
      reservedConcurrency: 3,
    }).bindTable('TABLE_NAME', table, 'readUpdate');
    indexReader = new HandlerFunction(stack, 'IndexReader', {
      entry,
      serviceName: ServiceNames.fanOutWorker,
      stageConfig,
    }).bindTable('TABLE_NAME', indexedTable, 'read', { indexes: ['byOwner'] });
    template = Template.fromStack(stack);

    const prodStack = new Stack(new App({ context: cdkJsonContext() }), 'Prod');
    new HandlerFunction(prodStack, 'Plain', {
      entry,
      serviceName: ServiceNames.websocketAuthorizer,
      stageConfig: stageConfigs.prod,
    });
    prodTemplate = Template.fromStack(prodStack);
  });

  it('runs Node.js 24 on ARM with 256 MB and 10 s by default, and names its entry in metadata', () => {
    template.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 10,
        Environment: { Variables: { STAGE: 'dev', POWERTOOLS_SERVICE_NAME: 'websocket-authorizer' } },
      }),
      Metadata: { [ENTRY_METADATA_KEY]: entry },
    });
    expect(logicalIdOf(plain.function)).toMatch(/^PlainFunction[0-9A-F]{8}$/);
  });

  it('takes memory, timeout and extra environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 512,
      Timeout: 3,
      Environment: {
        Variables: {
          STAGE: 'dev',
          POWERTOOLS_SERVICE_NAME: 'websocket-messages',
          EXTRA: 'yes',
          TABLE_NAME: Match.anyValue(),
        },
      },
    });
  });

  it('reserves concurrency only when asked to', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'event-publisher' }) },
      ReservedConcurrentExecutions: 3,
    });
    const reserved = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.ReservedConcurrentExecutions !== undefined,
    );
    expect(reserved).toHaveLength(1);
  });

  it('logs to its own log group, kept as long as the stage says', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: logicalIdOf(plain.logGroup) } },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: stageConfigs.dev.logRetention },
      DeletionPolicy: 'Delete',
    });
    prodTemplate.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: stageConfigs.prod.logRetention },
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('has a role that can write its own log group and its traces, and nothing else until granted', () => {
    expect(statementsOf(template, plain)).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [logicalIdOf(plain.logGroup), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
        Resource: '*',
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('traces every invocation with X-Ray (active tracing)', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(6);
    for (const fn of functions) {
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    }
  });

  it('keeps its service name, for the dashboard', () => {
    expect(plain.serviceName).toBe('websocket-authorizer');
  });

  it('binds a table as a name variable plus exactly the item actions of its access level', () => {
    const reads = [
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:Query',
    ];
    expect(actionsOn(template, reader, table)).toEqual(reads);
    expect(actionsOn(template, writer, table)).toEqual(
      [
        ...reads,
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
      ].sort(),
    );
    expect(actionsOn(template, deleter, table)).toEqual(
      [...reads, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'].sort(),
    );
    // readUpdate moves existing items (a publish cursor): no PutItem, no deletes.
    expect(actionsOn(template, updater, table)).toEqual([...reads, 'dynamodb:UpdateItem'].sort());
  });

  it('never grants Scan, stream reads or DescribeTable', () => {
    for (const handler of [reader, writer, deleter, updater, indexReader]) {
      const actions = statementsOf(template, handler).flatMap(actionsOf);
      expect(actions.filter((a) => /Scan|GetRecords|GetShardIterator|DescribeTable/.test(a))).toEqual([]);
    }
  });

  it('grants on the table itself, and on no index unless named', () => {
    for (const handler of [reader, writer, deleter, updater]) {
      const resources = statementsOf(template, handler)
        .filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')))
        .map((s) => s.Resource);
      expect(resources).toEqual([{ 'Fn::GetAtt': [logicalIdOf(table), 'Arn'] }]);
    }
  });

  it('grants Query, and only Query, on a named index', () => {
    const indexStatements = statementsOf(template, indexReader).filter((s) =>
      JSON.stringify(s.Resource).includes('/index/'),
    );
    expect(indexStatements).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalIdOf(indexedTable), 'Arn'] }, '/index/byOwner']],
        },
      },
    ]);
  });

  it('rejects an absolute entry', () => {
    const stack = new Stack(new App(), 'Absolute');
    expect(
      () =>
        new HandlerFunction(stack, 'Fn', {
          entry: '/tmp/handler.ts',
          serviceName: ServiceNames.commentsApi,
          stageConfig: stageConfigs.dev,
        }),
    ).toThrow(/relative to the repository root/);
  });
});
