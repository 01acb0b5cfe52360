import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config';
import type { HandlerFunction } from '../constructs/handler-function';
import { Operations, type MonitoredQueue, type MonitoredHttpApi } from '../constructs/operations';

export interface OperationsStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly functions: Readonly<Record<string, HandlerFunction>>;
  readonly httpApis: readonly MonitoredHttpApi[];
  readonly webSocketApi: { readonly apiId: string; readonly stageName: string };
  readonly deadLetterQueues: readonly MonitoredQueue[];
}

/**
 * Dashboard, alarms and the alarm topic: a stack of its own so that monitoring can change, or be torn
 * down and rebuilt, without touching the APIs or the data.
 */
export class OperationsStack extends Stack {
  readonly operations: Operations;

  constructor(scope: Construct, id: string, props: OperationsStackProps) {
    const { stageConfig, functions, httpApis, webSocketApi, deadLetterQueues, ...stackProps } = props;
    super(scope, id, stackProps);
    this.operations = new Operations(this, 'Operations', {
      stageConfig,
      functions,
      httpApis,
      webSocketApi,
      deadLetterQueues,
    });
    new CfnOutput(this, 'DashboardName', { value: this.operations.dashboard.dashboardName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.operations.alarmTopic.topicArn });
  }
}
