import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA_METADATA_KEY } from '../../contracts/cfn-metadata';
import type { KeyAttribute, TableSchema } from '../../contracts/table-schema';

export interface SchemaTableProps {
  /** Keys, indexes and TTL attribute, shared with the handlers and the local stack. */
  readonly schema: TableSchema;
  readonly removalPolicy: RemovalPolicy;
  readonly pointInTimeRecovery: boolean;
  readonly deletionProtection: boolean;
}

const attributeTypes: Record<KeyAttribute['type'], dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
};

const projectionTypes: Record<
  TableSchema['globalSecondaryIndexes'][number]['projection'],
  dynamodb.ProjectionType
> = {
  KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
  ALL: dynamodb.ProjectionType.ALL,
};

const streamViewTypes: Record<NonNullable<TableSchema['stream']>, dynamodb.StreamViewType> = {
  NEW_IMAGE: dynamodb.StreamViewType.NEW_IMAGE,
};

const toAttribute = (key: KeyAttribute): dynamodb.Attribute => ({
  name: key.name,
  type: attributeTypes[key.type],
});

/**
 * A DynamoDB table built from a {@link TableSchema}, with the house defaults: on-demand billing and
 * encryption under the AWS managed key. A plain AWS::DynamoDB::Table (not TableV2's GlobalTable) keeps the
 * template a one-to-one match for CreateTable, which the local stack relies on.
 */
export class SchemaTable extends dynamodb.Table {
  constructor(scope: Construct, id: string, props: SchemaTableProps) {
    const { schema } = props;
    super(scope, id, {
      partitionKey: toAttribute(schema.partitionKey),
      sortKey: schema.sortKey && toAttribute(schema.sortKey),
      timeToLiveAttribute: schema.timeToLiveAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
      ...(schema.stream ? { stream: streamViewTypes[schema.stream] } : {}),
    });

    for (const index of schema.globalSecondaryIndexes) {
      this.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: toAttribute(index.partitionKey),
        sortKey: index.sortKey && toAttribute(index.sortKey),
        projectionType: projectionTypes[index.projection],
      });
    }
    (this.node.defaultChild as dynamodb.CfnTable).addMetadata(TABLE_SCHEMA_METADATA_KEY, schema.id);
  }
}
