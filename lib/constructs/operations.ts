import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  METRICS_NAMESPACE,
  MetricNames,
  ServiceNames,
  type MetricName,
  type ServiceName,
} from '../../contracts/telemetry-names';
import type { StageConfig } from '../config/stage-config';
import type { HandlerFunction } from './handler-function';

/**
 * Functions that fail invocations by design, and the custom metric that counts their real failures
 * instead. The $connect authorizer throws `Unauthorized` for every refused token (the only way to have
 * API Gateway answer 401), so its Lambda Errors metric counts refused clients, not faults: graphed, not
 * alarmed on.
 */
export const FAILURE_METRICS: Readonly<Partial<Record<ServiceName, MetricName>>> = {
  [ServiceNames.websocketAuthorizer]: MetricNames.authorizerErrors,
};

export interface MonitoredHttpApi {
  readonly label: string;
  readonly apiId: string;
  /** The `Stage` dimension of the API's metrics: the stage's name, `$default` for the default stage. */
  readonly stageName: string;
}

/** A queue whose messages are failed work, and what a message in it means (the alarm says it). */
export interface MonitoredQueue {
  readonly queue: sqs.IQueue;
  /** e.g. "fan-out batches that failed every retry: their connections missed an event". */
  readonly holds: string;
}

export interface OperationsProps {
  readonly stageConfig: StageConfig;
  /** Every function of the app, by a short label for the dashboard. */
  readonly functions: Readonly<Record<string, HandlerFunction>>;
  readonly httpApis: readonly MonitoredHttpApi[];
  readonly webSocketApi: { readonly apiId: string; readonly stageName: string };
  /** Queues whose messages are failed work: any message in them is an alarm. */
  readonly deadLetterQueues: readonly MonitoredQueue[];
}

/**
 * What a team needs to see the app working and be told when it is not: one dashboard, and (where the
 * stage config asks for them) alarms on Lambda errors and throttles, dead-letter depth, API 5xx and
 * fan-out failures, all sent to one SNS topic with an optional e-mail subscription.
 */
export class Operations extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarmTopic: sns.Topic;
  /** The alarm topic's customer managed key. */
  readonly topicKey: kms.Key;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The ARN of every alarm, built from its name: what CloudWatch may publish (and use the key) for. */
  readonly alarmArns: string[] = [];

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const { stageConfig } = props;
    const { operations } = stageConfig;
    const period = Duration.minutes(5);

    // CloudWatch can only publish to an encrypted topic through a customer managed key it may use; what it
    // may do with the key, and with the topic, is granted once the alarms exist (allowAlarmsToPublish).
    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `Encrypts the realtime-comments ${stageConfig.stageName} alarm topic`,
      enableKeyRotation: true,
      removalPolicy: stageConfig.removalPolicy,
    });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `realtime-comments ${stageConfig.stageName} alarms`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    if (operations.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(operations.alarmEmail));
    }

    const custom = (metricName: MetricName, service: ServiceName, statistic = 'Sum') =>
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
    const fanOutServices: readonly ServiceName[] = [
      ServiceNames.broadcast,
      ServiceNames.fanOutWorker,
      ServiceNames.eventPublisher,
    ];
    // A custom count is only emitted when it is not zero, so a service's series has gaps, and in metric
    // math `a + b` has no value where either has none: FILL makes a gap count as 0. Ids must be unique
    // across every expression in one graph or alarm.
    const sumOver = (metricName: MetricName) => {
      const ids = fanOutServices.map((_, i) => `${metricName.toLowerCase()}${i}`);
      return new cloudwatch.MathExpression({
        expression: ids.map((id) => `FILL(${id}, 0)`).join(' + '),
        usingMetrics: Object.fromEntries(
          fanOutServices.map((service, i) => [ids[i], custom(metricName, service)]),
        ),
        label: metricName,
        period,
      });
    };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `realtime-comments-${stageConfig.stageName}`,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Connections',
        left: [
          custom(MetricNames.connectionsOpened, ServiceNames.websocketConnection),
          custom(MetricNames.connectionsClosed, ServiceNames.websocketConnection),
          custom(MetricNames.authorizerDenied, ServiceNames.websocketAuthorizer),
          webSocketMetric('ConnectCount'),
          webSocketMetric('MessageCount'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out outcomes',
        left: [
          MetricNames.delivered,
          MetricNames.staleConnections,
          MetricNames.deliveryRetries,
          MetricNames.deliveryFailures,
        ].map(sumOver),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Fan-out duration (ms)',
        left: fanOutServices.flatMap((service) =>
          ['p50', 'p99'].map((statistic) =>
            custom(MetricNames.fanOutDuration, service, statistic).with({ label: `${service} ${statistic}` }),
          ),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recovery and broadcast calls',
        left: [
          custom(MetricNames.eventsReplayed, ServiceNames.websocketMessages),
          custom(MetricNames.replayResets, ServiceNames.websocketMessages),
          custom(MetricNames.broadcastFailures, ServiceNames.commentsApi),
          custom(MetricNames.broadcastTimeouts, ServiceNames.commentsApi),
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
        left: props.deadLetterQueues.map(({ queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ period }),
        ),
        width: 12,
      }),
    );

    if (!operations.alarms) return;
    const stack = Stack.of(this);
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, threshold = 1) => {
      const alarmName = `realtime-comments-${stageConfig.stageName}-${alarmId}`;
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmName,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      this.alarms.push(created);
      this.alarmArns.push(
        stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: alarmName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      );
    };
    for (const [label, fn] of Object.entries(props.functions)) {
      const failureMetric = FAILURE_METRICS[fn.serviceName];
      if (failureMetric) {
        alarm(
          `${label}Failures`,
          `${label}: ${failureMetric} in 5 minutes (its Lambda errors include refusals by design)`,
          custom(failureMetric, fn.serviceName),
        );
      } else {
        alarm(`${label}Errors`, `${label}: Lambda errors in 5 minutes`, fn.function.metricErrors({ period }));
      }
      alarm(
        `${label}Throttles`,
        `${label}: Lambda throttles in 5 minutes`,
        fn.function.metricThrottles({ period }),
      );
    }
    props.deadLetterQueues.forEach(({ queue, holds }, index) =>
      alarm(
        `DeadLetters${index}`,
        `A dead-letter queue received ${holds}`,
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
        expression: 'FILL(integration, 0) + FILL(execution, 0)',
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
      sumOver(MetricNames.deliveryFailures),
      operations.fanOutFailureThreshold,
    );
    this.allowAlarmsToPublish();
  }

  /**
   * `enforceSSL` gives the topic a policy of its own (the TLS Deny), which replaces SNS's default policy: from
   * then on nothing outside the account's IAM allows `cloudwatch.amazonaws.com` to publish, and every alarm
   * action would fail. So the topic allows CloudWatch to publish, and the key lets it encrypt for the topic,
   * each only for this account's alarms, by ARN (no confused deputy: another account's alarm is refused).
   * The ARNs are built from the alarms' names, not read from the alarms: the key's policy naming the alarms
   * would make the key depend on the alarms, which depend on the topic, which depends on the key.
   * @see https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
   */
  private allowAlarmsToPublish(): void {
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const conditions = {
      StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
      ArnLike: { 'aws:SourceArn': [...this.alarmArns] },
    };
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions,
      }),
    );
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsToUseTheKey',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions,
      }),
    );
  }
}
