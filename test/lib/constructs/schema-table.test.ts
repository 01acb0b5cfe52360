import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { TableSchema } from '../../../contracts/table-schema';
import { commentsTableSchema, connectionsTableSchema } from '../../../contracts/table-schema';
import { TABLE_SCHEMA_METADATA_KEY } from '../../../contracts/cfn-metadata';
import { SchemaTable } from '../../../lib/constructs/schema-table';

/** An index with a sort key and a KEYS_ONLY projection: what no house table has any more, but a schema may. */
const keysOnlySchema: TableSchema = {
  id: 'Memberships',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: 'byGroup',
      partitionKey: { name: 'groupId', type: 'S' },
      sortKey: { name: 'pk', type: 'S' },
      projection: 'KEYS_ONLY',
    },
  ],
};

const numericSchema: TableSchema = {
  id: 'Counters',
  partitionKey: { name: 'counterId', type: 'N' },
  globalSecondaryIndexes: [
    { indexName: 'byOwner', partitionKey: { name: 'owner', type: 'S' }, projection: 'ALL' },
  ],
};

function tableTemplate(schema: TableSchema, retain: boolean): Template {
  const stack = new Stack(new App(), 'Test');
  new SchemaTable(stack, schema.id, {
    schema,
    removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    pointInTimeRecovery: retain,
    deletionProtection: retain,
  });
  return Template.fromStack(stack);
}

describe('SchemaTable', () => {
  it('maps keys and the TTL attribute from the schema, and no index when it names none', () => {
    tableTemplate(connectionsTableSchema, false).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: Match.absent(),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('maps an index with a sort key and a KEYS_ONLY projection', () => {
    tableTemplate(keysOnlySchema, false).hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byGroup',
          KeySchema: [
            { AttributeName: 'groupId', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('turns on the stream the schema names, with its view type, and none otherwise', () => {
    tableTemplate(commentsTableSchema, false).hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    for (const schema of [connectionsTableSchema, numericSchema]) {
      tableTemplate(schema, false).hasResourceProperties('AWS::DynamoDB::Table', {
        StreamSpecification: Match.absent(),
      });
    }
  });

  it('maps number keys, tables without a sort key or TTL, and ALL projections', () => {
    tableTemplate(numericSchema, false).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'counterId', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'counterId', AttributeType: 'N' },
        { AttributeName: 'owner', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byOwner',
          KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: Match.absent(),
    });
  });

  it('names its schema in the resource metadata', () => {
    tableTemplate(numericSchema, false).hasResource('AWS::DynamoDB::Table', {
      Metadata: { [TABLE_SCHEMA_METADATA_KEY]: 'Counters' },
    });
  });

  it('bills on demand and encrypts with the AWS managed key', () => {
    tableTemplate(numericSchema, false).hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('applies the removal policy, point-in-time recovery and deletion protection it is given', () => {
    tableTemplate(numericSchema, true).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    });
    tableTemplate(numericSchema, false).hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });
});
