import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { commentsTableSchema, connectionsTableSchema } from '../../lambda/shared/table-schema';
import type { StageConfig } from '../config/stage-config';
import { SchemaTable } from '../constructs/schema-table';

export interface DataStackProps extends StackProps {
  readonly stageConfig: StageConfig;
}

/**
 * The stateful part of the app, deployed apart from the stateless API stacks so those can be replaced,
 * renamed or destroyed without a table ever being in the change set.
 */
export class DataStack extends Stack {
  readonly connectionsTable: ITable;
  readonly commentsTable: ITable;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    const { stageConfig, ...stackProps } = props;
    super(scope, id, { terminationProtection: stageConfig.deletionProtection, ...stackProps });

    const tableProps = {
      removalPolicy: stageConfig.removalPolicy,
      pointInTimeRecovery: stageConfig.pointInTimeRecovery,
      deletionProtection: stageConfig.deletionProtection,
    };
    this.connectionsTable = new SchemaTable(this, connectionsTableSchema.id, {
      schema: connectionsTableSchema,
      ...tableProps,
    });
    this.commentsTable = new SchemaTable(this, commentsTableSchema.id, {
      schema: commentsTableSchema,
      ...tableProps,
    });

    new CfnOutput(this, 'ConnectionsTableName', { value: this.connectionsTable.tableName });
    new CfnOutput(this, 'CommentsTableName', { value: this.commentsTable.tableName });
  }
}
