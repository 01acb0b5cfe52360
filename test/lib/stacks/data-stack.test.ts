import { Match, type Template } from 'aws-cdk-lib/assertions';
import { TABLE_SCHEMA_METADATA_KEY } from '../../../lib/constructs/schema-table';
import { synthStage, type StackPart } from '../synth-stage';

/** The data stack has no functions: nothing to bundle. */
const bundle: readonly StackPart[] = [];

describe('DataStack', () => {
  let dev: Template;
  let prod: Template;

  beforeAll(() => {
    dev = synthStage('dev', bundle).templates.data;
    prod = synthStage('prod', bundle).templates.data;
  });

  it('holds the two tables and nothing else', () => {
    expect(Object.keys(dev.toJSON().Resources as object)).toHaveLength(2);
    dev.resourceCountIs('AWS::DynamoDB::Table', 2);
  });

  it('keys the connections table by connection and sort key, with the byTopic index and TTL', () => {
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'connectionId', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'connectionId', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'topic', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byTopic',
          KeySchema: [
            { AttributeName: 'topic', KeyType: 'HASH' },
            { AttributeName: 'connectionId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('keys the comments table by post partition and sort key, without indexes or TTL', () => {
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: Match.absent(),
      TimeToLiveSpecification: Match.absent(),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it("names each table's schema in its metadata", () => {
    dev.hasResource('AWS::DynamoDB::Table', {
      Metadata: { [TABLE_SCHEMA_METADATA_KEY]: 'Connections' },
      Properties: Match.objectLike({
        KeySchema: Match.arrayWith([{ AttributeName: 'connectionId', KeyType: 'HASH' }]),
      }),
    });
    dev.hasResource('AWS::DynamoDB::Table', {
      Metadata: { [TABLE_SCHEMA_METADATA_KEY]: 'Comments' },
      Properties: Match.objectLike({
        KeySchema: Match.arrayWith([{ AttributeName: 'pk', KeyType: 'HASH' }]),
      }),
    });
  });

  it('bills on demand and encrypts every table in every stage', () => {
    for (const template of [dev, prod]) {
      const tables = template.findResources('AWS::DynamoDB::Table', {
        Properties: { BillingMode: 'PAY_PER_REQUEST', SSESpecification: { SSEEnabled: true } },
      });
      expect(Object.keys(tables)).toHaveLength(2);
    }
  });

  it('lets dev tables go with the stack', () => {
    const tables = dev.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: {
        DeletionProtectionEnabled: false,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
      },
    });
    expect(Object.keys(tables)).toHaveLength(2);
  });

  it('retains prod tables, with point-in-time recovery and deletion protection', () => {
    const tables = prod.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
    expect(Object.keys(tables)).toHaveLength(2);
  });

  it('turns on termination protection for the prod data stack only', () => {
    expect(synthStage('prod', bundle).stacks.data.terminationProtection).toBe(true);
    expect(synthStage('dev', bundle).stacks.data.terminationProtection).toBe(false);
  });

  it('outputs both table names', () => {
    for (const template of [dev, prod]) {
      template.hasOutput('ConnectionsTableName', { Value: { Ref: Match.stringLikeRegexp('^Connections') } });
      template.hasOutput('CommentsTableName', { Value: { Ref: Match.stringLikeRegexp('^Comments') } });
    }
  });

  it.each(['dev', 'prod'] as const)('matches the %s snapshot', (stage) => {
    expect(synthStage(stage, bundle).templates.data.toJSON()).toMatchSnapshot();
  });
});
