import { CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { commentsTableSchema, connectionsTableSchema } from '../../contracts/table-schema';
import type { StageConfig } from '../config/stage-config';
import { Identity } from '../constructs/identity';
import { SchemaTable } from '../constructs/schema-table';

export interface DataStackProps extends StackProps {
  readonly stageConfig: StageConfig;
}

/**
 * The stateful part of the app, deployed apart from the stateless API stacks so those can be replaced,
 * renamed or destroyed without a table or the user pool ever being in the change set.
 */
export class DataStack extends Stack {
  readonly connectionsTable: ITable;
  readonly commentsTable: ITable;
  /** Issuer, audience and JWKS URL of the stage's tokens (and the user pool, for `identity.kind: 'cognito'`). */
  readonly identity: Identity;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { stageConfig, ...stackProps } = props;
    super(scope, id, { terminationProtection: stageConfig.deletionProtection, ...stackProps });

    const tableProps = {
      removalPolicy: stageConfig.removalPolicy,
      pointInTimeRecovery: stageConfig.pointInTimeRecovery,
      deletionProtection: stageConfig.deletionProtection,
    };
    const connectionsTable = new SchemaTable(this, connectionsTableSchema.id, {
      schema: connectionsTableSchema,
      ...tableProps,
    });
    const commentsTable = new SchemaTable(this, commentsTableSchema.id, {
      schema: commentsTableSchema,
      ...tableProps,
    });
    if (!stageConfig.pointInTimeRecovery) {
      for (const table of [connectionsTable, commentsTable]) {
        Validations.of(table).acknowledge({
          id: 'AwsSolutions-DDB3',
          reason: `Stage ${stageConfig.stageName}: dev data is disposable; prod tables have point-in-time recovery.`,
        });
      }
    }
    this.connectionsTable = connectionsTable;
    this.commentsTable = commentsTable;
    this.identity = new Identity(this, 'Identity', { stageConfig });

    new CfnOutput(this, 'ConnectionsTableName', { value: this.connectionsTable.tableName });
    new CfnOutput(this, 'CommentsTableName', { value: this.commentsTable.tableName });
    new CfnOutput(this, 'AuthIssuer', { value: this.identity.issuer });
    const { userPool, userPoolClient } = this.identity;
    if (userPool && userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: userPoolClient.userPoolClientId });
    } else {
      new CfnOutput(this, 'AuthAudience', { value: this.identity.audience });
    }
  }
}
