import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { connectionsTableSchema } from '../../../lambda/shared/table-schema';
import { stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY, HandlerFunction } from '../../../lib/constructs/handler-function';
import { SchemaTable } from '../../../lib/constructs/schema-table';
import { cdkJsonContext } from '../synth-stage';
import { actionsOf, actionsOn, logicalIdOf, statementsOf } from '../template-queries';

const entry = 'test/lib/fixtures/echo-handler.ts';

describe('HandlerFunction', () => {
  let template: Template;
  let prodTemplate: Template;
  let table: SchemaTable;
  let plain: HandlerFunction;
  let reader: HandlerFunction;
  let writer: HandlerFunction;
  let deleter: HandlerFunction;

  beforeAll(() => {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'Test');
    table = new SchemaTable(stack, 'Connections', {
      schema: connectionsTableSchema,
      removalPolicy: stageConfigs.dev.removalPolicy,
      pointInTimeRecovery: false,
      deletionProtection: false,
    });
    const stageConfig = stageConfigs.dev;
    plain = new HandlerFunction(stack, 'Plain', { entry, serviceName: 'plain', stageConfig });
    reader = new HandlerFunction(stack, 'Reader', {
      entry,
      serviceName: 'reader',
      stageConfig,
      memorySize: 512,
      timeout: Duration.seconds(3),
      environment: { EXTRA: 'yes' },
    }).bindTable('TABLE_NAME', table, 'read');
    writer = new HandlerFunction(stack, 'Writer', { entry, serviceName: 'writer', stageConfig }).bindTable(
      'TABLE_NAME',
      table,
      'readWrite',
    );
    deleter = new HandlerFunction(stack, 'Deleter', { entry, serviceName: 'deleter', stageConfig }).bindTable(
      'TABLE_NAME',
      table,
      'readDelete',
    );
    template = Template.fromStack(stack);

    const prodStack = new Stack(new App({ context: cdkJsonContext() }), 'Prod');
    new HandlerFunction(prodStack, 'Plain', { entry, serviceName: 'plain', stageConfig: stageConfigs.prod });
    prodTemplate = Template.fromStack(prodStack);
  });

  it('runs Node.js 22 on ARM with 256 MB and 10 s by default, and names its entry in metadata', () => {
    template.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 10,
        Environment: { Variables: { STAGE: 'dev', POWERTOOLS_SERVICE_NAME: 'plain' } },
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
          POWERTOOLS_SERVICE_NAME: 'reader',
          EXTRA: 'yes',
          TABLE_NAME: Match.anyValue(),
        },
      },
    });
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
      DeletionPolicy: 'Retain',
    });
  });

  it('has a role that can write its own log group and nothing else until granted', () => {
    expect(statementsOf(template, plain)).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [logicalIdOf(plain.logGroup), 'Arn'] },
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('binds a table as a name variable plus the matching grant', () => {
    const reads = actionsOn(template, reader, table);
    expect(reads).toContain('dynamodb:Query');
    expect(reads.filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);

    expect(actionsOn(template, writer, table)).toEqual(
      expect.arrayContaining([
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ]),
    );

    const deletes = actionsOn(template, deleter, table);
    expect(deletes).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']),
    );
    expect(deletes).not.toContain('dynamodb:PutItem');
    expect(deletes).not.toContain('dynamodb:UpdateItem');
  });

  it('grants deletes on the table itself, not on its indexes', () => {
    const deleteStatement = statementsOf(template, deleter).find((s) =>
      actionsOf(s).includes('dynamodb:DeleteItem'),
    );
    expect(deleteStatement?.Resource).toEqual({ 'Fn::GetAtt': [logicalIdOf(table), 'Arn'] });
  });

  it('rejects an absolute entry', () => {
    const stack = new Stack(new App(), 'Absolute');
    expect(
      () =>
        new HandlerFunction(stack, 'Fn', {
          entry: '/tmp/handler.ts',
          serviceName: 'x',
          stageConfig: stageConfigs.dev,
        }),
    ).toThrow(/relative to the repository root/);
  });
});
