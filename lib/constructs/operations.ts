import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config';
import type { HandlerFunction } from './handler-function';

/** The namespace the functions' Powertools Metrics publish to (lambda/shared/telemetry.ts). */
export const METRICS_NAMESPACE = 'RealtimeComments';

export interface MonitoredHttpApi {
  readonly label: string;
  readonly apiId: string;
  readonly stageName: string;
}

export interface OperationsProps {
  readonly stageConfig: StageConfig;
  /** Every function of the app, by a short label for the dashboard. */
  readonly functions: Readonly<Record<string, HandlerFunction>>;
  readonly httpApis: readonly MonitoredHttpApi[];
  readonly webSocketApi: { readonly apiId: string; readonly stageName: string };
  /** Queues whose messages are failed work: any message in them is an alarm. */
  readonly deadLetterQueues: readonly sqs.IQueue[];
}

/**
 * What a team needs to see the app working and be told when it is not: one dashboard, and (where the
 * stage config asks for them) alarms on Lambda errors and throttles, dead-letter depth, API 5xx and
 * fan-out failures, all sent to one SNS topic with an optional e-mail subscription.
 */
export class Operations extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const { stageConfig } = props;
    const { operations } = stageConfig;
    const period = Duration.minutes(5);

    // CloudWatch can only publish to an encrypted topic through a customer managed key it may use.
    const topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts the realtime-comments ${stageConfig.stageName} alarm topic`,
      enableKeyRotation: true,
      removalPolicy: stageConfig.removalPolicy,
    });
    topicKey.grant(
      new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
      'kms:Decrypt',
      'kms:GenerateDataKey*',
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `realtime-comments ${stageConfig.stageName} alarms`,
      masterKey: topicKey,
      enforceSSL: true,
    });
    if (operations.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(operations.alarmEmail));
    }

    const custom = (metricName: string, service: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service },
        statistic,
        period,
      });
    const httpApiMetric = (api: MonitoredHttpApi, metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: api.apiId, Stage: api.stageName },
        statistic: 'Sum',
        period,
      });
    const webSocketMetric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketApi.stageName },
        statistic: 'Sum',
        period,
      });
    const fanOutServices = ['broadcast', 'fan-out-worker'];
    // Ids must be unique across every expression in one graph or alarm.
    const sumOver = (metricName: string) =>
      new cloudwatch.MathExpression({
        expression: fanOutServices.map((_, i) => `${metricName.toLowerCase()}${i}`).join(' + '),
        usingMetrics: Object.fromEntries(
          fanOutServices.map((service, i) => [
            `${metricName.toLowerCase()}${i}`,
            custom(metricName, service),
          ]),
        ),
        label: metricName,
        period,
      });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `realtime-comments-${stageConfig.stageName}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Connections',
        left: [
          custom('ConnectionsOpened', 'websocket-connection'),
          custom('ConnectionsClosed', 'websocket-connection'),
          webSocketMetric('ConnectCount'),
          webSocketMetric('MessageCount'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out outcomes',
        left: ['Delivered', 'StaleConnections', 'DeliveryRetries', 'DeliveryFailures'].map(sumOver),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out duration (ms)',
        left: fanOutServices.map((service) => custom('FanOutDuration', service, 'p99')),
        right: fanOutServices.map((service) => custom('FanOutDuration', service, 'p50')),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recovery and broadcast calls',
        left: [
          custom('EventsReplayed', 'websocket-messages'),
          custom('ReplayResets', 'websocket-messages'),
          custom('BroadcastFailures', 'comments-api'),
          custom('BroadcastTimeouts', 'comments-api'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda errors and throttles',
        left: Object.entries(props.functions).map(([label, fn]) =>
          fn.function.metricErrors({ label: `${label} errors`, period }),
        ),
        right: Object.entries(props.functions).map(([label, fn]) =>
          fn.function.metricThrottles({ label: `${label} throttles`, period }),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API 4xx / 5xx',
        left: props.httpApis.flatMap((api) => [
          httpApiMetric(api, '4xx').with({ label: `${api.label} 4xx` }),
          httpApiMetric(api, '5xx').with({ label: `${api.label} 5xx` }),
        ]),
        right: [
          webSocketMetric('ClientError'),
          webSocketMetric('IntegrationError'),
          webSocketMetric('ExecutionError'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues (visible messages)',
        left: props.deadLetterQueues.map((queue) =>
          queue.metricApproximateNumberOfMessagesVisible({ period }),
        ),
        width: 12,
      }),
    );

    if (!operations.alarms) return;
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, threshold = 1) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmName: `realtime-comments-${stageConfig.stageName}-${alarmId}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      this.alarms.push(created);
    };
    for (const [label, fn] of Object.entries(props.functions)) {
      alarm(`${label}Errors`, `${label}: Lambda errors in 5 minutes`, fn.function.metricErrors({ period }));
      alarm(
        `${label}Throttles`,
        `${label}: Lambda throttles in 5 minutes`,
        fn.function.metricThrottles({ period }),
      );
    }
    props.deadLetterQueues.forEach((queue, index) =>
      alarm(
        `DeadLetters${index}`,
        'Failed fan-out work reached a dead-letter queue: deliveries were lost',
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      ),
    );
    for (const api of props.httpApis) {
      alarm(
        `${api.label}5xx`,
        `${api.label} API answered ${operations.http5xxThreshold}+ 5xx in 5 minutes`,
        httpApiMetric(api, '5xx'),
        operations.http5xxThreshold,
      );
    }
    alarm(
      'WebSocketErrors',
      'WebSocket API integration or execution errors',
      new cloudwatch.MathExpression({
        expression: 'integration + execution',
        usingMetrics: {
          integration: webSocketMetric('IntegrationError'),
          execution: webSocketMetric('ExecutionError'),
        },
        label: 'WebSocket errors',
        period,
      }),
      operations.http5xxThreshold,
    );
    alarm(
      'FanOutFailures',
      'Deliveries failed after every retry (not stale connections)',
      sumOver('DeliveryFailures'),
      operations.fanOutFailureThreshold,
    );
  }
}
