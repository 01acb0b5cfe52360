import { Match, type Template } from 'aws-cdk-lib/assertions';
import { METRICS_NAMESPACE, MetricNames } from '../../../contracts/telemetry-names';
import { STAGE_NAMES, stageConfigs, type StageConfig } from '../../../lib/config/stage-config';
import { FAILURE_METRICS } from '../../../lib/constructs/operations';
import { synthConfig, synthStage, type StackPart, type SynthesizedStage } from '../synth-stage';
import { logicalIdOf } from '../template-queries';

/** The operations stack has no functions; it only refers to the other stacks' (never bundled here). */
const bundle: readonly StackPart[] = [];

interface AlarmProperties {
  AlarmName: string;
  AlarmActions?: unknown[];
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Statistic?: string;
  Period?: number;
  Threshold: number;
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: {
      Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] };
    };
  }[];
}

function alarmsOf(template: Template): Record<string, AlarmProperties> {
  const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<
    string,
    { Properties: AlarmProperties }
  >;
  return Object.fromEntries(
    Object.values(alarms).map(({ Properties }) => [
      Properties.AlarmName.replace(/^realtime-comments-\w+-/, ''),
      Properties,
    ]),
  );
}

interface PolicyStatementJson {
  Effect: string;
  Principal?: { Service?: string };
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Allow statements for a service principal in the policies of every resource of a type (key or topic policy). */
function allowsFor(template: Template, type: string, service: string): PolicyStatementJson[] {
  const resources = Object.values(template.findResources(type)) as {
    Properties: {
      PolicyDocument?: { Statement: PolicyStatementJson[] };
      KeyPolicy?: { Statement: PolicyStatementJson[] };
    };
  }[];
  return resources
    .flatMap(({ Properties }) => (Properties.PolicyDocument ?? Properties.KeyPolicy)?.Statement ?? [])
    .filter((statement) => statement.Effect === 'Allow' && statement.Principal?.Service === service);
}

/** A value with its Fn::Join flattened and each Ref written `${Name}`, as in an Fn::Sub. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string };
  if (node['Fn::Join']) return node['Fn::Join'][1].map(flatten).join(node['Fn::Join'][0]);
  if (node.Ref) return `\${${node.Ref}}`;
  return JSON.stringify(value);
}

function conditionsOf(statement: PolicyStatementJson | undefined): unknown {
  const condition = statement?.Condition ?? {};
  return {
    account: condition.StringEquals?.['aws:SourceAccount'],
    alarms: ([] as unknown[])
      .concat(condition.ArnLike?.['aws:SourceArn'] ?? [])
      .map(flatten)
      .sort(),
  };
}

/** This account, and the ARN of every alarm of the template, from the alarms' own names. */
function expectedConditions(template: Template): unknown {
  const names = Object.values(alarmsOf(template)).map((alarm) => alarm.AlarmName);
  expect(names.length).toBeGreaterThan(0);
  return {
    account: { Ref: 'AWS::AccountId' },
    alarms: names
      .map((name) => `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${name}`)
      .sort(),
  };
}

/** A metric line of a dashboard graph: `[namespace, name, dim1, value1, …, {options}]`. */
type DashboardMetric = { namespace: string; name: string; dimensions: Record<string, string> };

/** The dashboard body, tokens (API ids, the region) replaced by `TOKEN`, parsed. */
function dashboardMetrics(template: Template): DashboardMetric[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } };
  }[];
  const parts = dashboard?.Properties.DashboardBody['Fn::Join'][1] ?? [];
  const body = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('')) as {
    widgets: { properties: { metrics?: unknown[][] } }[];
  };
  return body.widgets.flatMap((widget) =>
    (widget.properties.metrics ?? [])
      .filter((line) => typeof line[0] === 'string')
      .map((line) => {
        const [namespace, name, ...rest] = line as string[];
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < rest.length && typeof rest[i] === 'string'; i += 2) {
          dimensions[String(rest[i])] = String(rest[i + 1]);
        }
        return { namespace: String(namespace), name: String(name), dimensions };
      }),
  );
}

/** POWERTOOLS_SERVICE_NAME of every function of the app. */
function serviceNamesOf(templates: SynthesizedStage['templates']): string[] {
  return [templates.realtime, templates.commentsApi].flatMap((template) =>
    Object.values(
      template.findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Environment: { Variables: Record<string, string> } } }
      >,
    ).map((fn) => String(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME)),
  );
}

describe('OperationsStack', () => {
  let dev: Template;
  let prod: Template;

  beforeAll(() => {
    dev = synthStage('dev', bundle).templates.operations;
    prod = synthStage('prod', bundle).templates.operations;
  });

  describe('alarm topic', () => {
    it.each(STAGE_NAMES)('encrypts the %s topic with a rotated customer managed key', (stage) => {
      const { stacks, templates } = synthStage(stage, bundle);
      const { alarmTopic, topicKey } = stacks.operations.operations;
      const template = templates.operations;
      const keyId = JSON.stringify(
        template.toJSON().Resources[logicalIdOf(alarmTopic)].Properties.KmsMasterKeyId,
      );
      expect(keyId).toBe(JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(topicKey), 'Arn'] }));
      template.hasResource('AWS::KMS::Key', {
        Properties: Match.objectLike({ EnableKeyRotation: true }),
        DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
      });
    });

    it("lets CloudWatch publish to the prod topic, only for this account's alarms, each named by ARN", () => {
      const { stacks } = synthStage('prod', bundle);
      const topicId = logicalIdOf(stacks.operations.operations.alarmTopic);
      const allow = allowsFor(prod, 'AWS::SNS::TopicPolicy', 'cloudwatch.amazonaws.com');
      expect(allow).toHaveLength(1);
      expect(allow[0]).toMatchObject({ Action: 'sns:Publish', Resource: { Ref: topicId } });
      expect(conditionsOf(allow[0])).toEqual(expectedConditions(prod));
      expect(JSON.stringify(prod.findResources('AWS::SNS::TopicPolicy'))).toContain(`"Ref":"${topicId}"`);
    });

    it('lets CloudWatch use the prod key for exactly those alarms, and nothing else', () => {
      const allow = allowsFor(prod, 'AWS::KMS::Key', 'cloudwatch.amazonaws.com');
      expect(allow).toHaveLength(1);
      expect(allow[0]).toMatchObject({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*' });
      expect(conditionsOf(allow[0])).toEqual(expectedConditions(prod));
    });

    it('allows CloudWatch nothing in dev, which has no alarms', () => {
      expect(allowsFor(dev, 'AWS::SNS::TopicPolicy', 'cloudwatch.amazonaws.com')).toEqual([]);
      expect(allowsFor(dev, 'AWS::KMS::Key', 'cloudwatch.amazonaws.com')).toEqual([]);
    });

    it('refuses publishing without TLS (enforceSSL)', () => {
      for (const template of [dev, prod]) {
        template.hasResourceProperties('AWS::SNS::TopicPolicy', {
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sns:Publish',
                Principal: '*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });

    it('has no subscription unless the stage config names an alarm e-mail', () => {
      dev.resourceCountIs('AWS::SNS::Subscription', 0);
      prod.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('subscribes the alarm e-mail when one is set', () => {
      const config: StageConfig = {
        ...stageConfigs.prod,
        operations: { ...stageConfigs.prod.operations, alarmEmail: 'oncall@example.com' },
      };
      const { stacks, templates } = synthConfig(config);
      templates.operations.resourceCountIs('AWS::SNS::Subscription', 1);
      templates.operations.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
        TopicArn: { Ref: logicalIdOf(stacks.operations.operations.alarmTopic) },
      });
    });

    it('outputs the topic ARN and the dashboard name', () => {
      const { stacks } = synthStage('prod', bundle);
      prod.hasOutput('AlarmTopicArn', {
        Value: { Ref: logicalIdOf(stacks.operations.operations.alarmTopic) },
      });
      prod.hasOutput('DashboardName', {
        Value: { Ref: logicalIdOf(stacks.operations.operations.dashboard) },
      });
    });
  });

  describe('dashboard', () => {
    it.each(STAGE_NAMES)('exists in %s, named after the stage', (stage) => {
      synthStage(stage, bundle).templates.operations.hasResourceProperties('AWS::CloudWatch::Dashboard', {
        DashboardName: `realtime-comments-${stage}`,
      });
    });

    it.each(STAGE_NAMES)(
      'graphs only catalogued custom metrics, each under the service name of one of the %s functions',
      (stage) => {
        const { templates } = synthStage(stage, bundle);
        const services = serviceNamesOf(templates);
        const custom = dashboardMetrics(templates.operations).filter(
          (m) => m.namespace === METRICS_NAMESPACE,
        );
        expect(custom.length).toBeGreaterThan(0);
        for (const metric of custom) {
          expect(Object.values(MetricNames)).toContain(metric.name);
          expect(Object.keys(metric.dimensions)).toEqual(['service']);
          expect(services).toContain(metric.dimensions.service);
        }
        // Connections opened and closed, and the fan-out duration of the three delivering functions.
        expect(custom).toEqual(
          expect.arrayContaining([
            {
              namespace: METRICS_NAMESPACE,
              name: 'ConnectionsOpened',
              dimensions: { service: 'websocket-connection' },
            },
            {
              namespace: METRICS_NAMESPACE,
              name: 'ConnectionsClosed',
              dimensions: { service: 'websocket-connection' },
            },
            { namespace: METRICS_NAMESPACE, name: 'FanOutDuration', dimensions: { service: 'broadcast' } },
            {
              namespace: METRICS_NAMESPACE,
              name: 'FanOutDuration',
              dimensions: { service: 'fan-out-worker' },
            },
            {
              namespace: METRICS_NAMESPACE,
              name: 'FanOutDuration',
              dimensions: { service: 'event-publisher' },
            },
          ]),
        );
      },
    );

    it('graphs the API Gateway metrics by ApiId and Stage ($default for the comments API)', () => {
      const gateway = dashboardMetrics(prod).filter((m) => m.namespace === 'AWS/ApiGateway');
      const byName = (name: string) => gateway.filter((m) => m.name === name).map((m) => m.dimensions);
      expect(byName('5xx')).toEqual([
        { ApiId: 'TOKEN', Stage: '$default' },
        { ApiId: 'TOKEN', Stage: 'prod' },
      ]);
      for (const name of [
        'ConnectCount',
        'MessageCount',
        'ClientError',
        'IntegrationError',
        'ExecutionError',
      ]) {
        expect(byName(name)).toEqual([{ ApiId: 'TOKEN', Stage: 'prod' }]);
      }
    });

    it.each(STAGE_NAMES)('graphs the depth of both dead-letter queues in %s', (stage) => {
      const { realtime } = synthStage(stage, bundle).stacks;
      const template = synthStage(stage, bundle).templates.operations;
      const queues = dashboardMetrics(template).filter((m) => m.namespace === 'AWS/SQS');
      expect(queues).toEqual([
        {
          namespace: 'AWS/SQS',
          name: 'ApproximateNumberOfMessagesVisible',
          dimensions: { QueueName: 'TOKEN' },
        },
        {
          namespace: 'AWS/SQS',
          name: 'ApproximateNumberOfMessagesVisible',
          dimensions: { QueueName: 'TOKEN' },
        },
      ]);
      const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
      for (const queue of [realtime.fanOutDeadLetterQueue, realtime.eventPublishing.failureQueue]) {
        expect(body).toContain(logicalIdOf(queue));
      }
    });
  });

  describe('alarms', () => {
    it('are off in dev', () => {
      dev.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    });

    it('are on in prod, every one sending to the alarm topic', () => {
      const { stacks } = synthStage('prod', bundle);
      const alarms = Object.values(alarmsOf(prod));
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(alarm.AlarmActions).toEqual([{ Ref: logicalIdOf(stacks.operations.operations.alarmTopic) }]);
      }
    });

    it('watch every function: Lambda errors (or, for the authorizer, its failure metric) and throttles', () => {
      const names = Object.keys(alarmsOf(prod));
      for (const label of [
        'WebSocketConnection',
        'WebSocketMessages',
        'Broadcast',
        'FanOutWorker',
        'EventPublisher',
        'CommentsApi',
      ]) {
        expect(names).toEqual(expect.arrayContaining([`${label}Errors`, `${label}Throttles`]));
      }
      expect(names).toEqual(
        expect.arrayContaining(['ConnectAuthorizerFailures', 'ConnectAuthorizerThrottles']),
      );
      // Every refused token is a Lambda error of the authorizer: alarming on those would page for clients.
      expect(names).not.toContain('ConnectAuthorizerErrors');
      expect(alarmsOf(prod).ConnectAuthorizerFailures).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: FAILURE_METRICS['websocket-authorizer'],
        Dimensions: [{ Name: 'service', Value: 'websocket-authorizer' }],
        Threshold: 1,
      });
      expect(alarmsOf(prod).BroadcastErrors).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Period: 300,
      });
    });

    it("fire on any message in the fan-out worker's dead-letter queue or the publisher's failure queue", () => {
      const { realtime } = synthStage('prod', bundle).stacks;
      const alarms = alarmsOf(prod);
      expect(Object.keys(alarms).filter((name) => name.startsWith('DeadLetters'))).toEqual([
        'DeadLetters0',
        'DeadLetters1',
      ]);
      for (const [name, queue] of [
        ['DeadLetters0', realtime.fanOutDeadLetterQueue],
        ['DeadLetters1', realtime.eventPublishing.failureQueue],
      ] as const) {
        expect(alarms[name]).toMatchObject({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Statistic: 'Maximum',
          Period: 60,
          Threshold: 1,
        });
        expect(alarms[name]?.Dimensions?.map((d) => d.Name)).toEqual(['QueueName']);
        expect(JSON.stringify(alarms[name]?.Dimensions)).toContain(logicalIdOf(queue));
      }
    });

    it('fire on API 5xx by ApiId and Stage, $default for the comments API', () => {
      const { http5xxThreshold } = stageConfigs.prod.operations;
      const alarms = alarmsOf(prod);
      for (const [name, stage] of [
        ['CommentsApi5xx', '$default'],
        ['BroadcastApi5xx', 'prod'],
      ] as const) {
        expect(alarms[name]).toMatchObject({
          Namespace: 'AWS/ApiGateway',
          MetricName: '5xx',
          Statistic: 'Sum',
          Threshold: http5xxThreshold,
        });
        expect(alarms[name]?.Dimensions?.map((d) => d.Name)).toEqual(['ApiId', 'Stage']);
        expect(alarms[name]?.Dimensions?.[1]?.Value).toBe(stage);
      }
    });

    it('add up series that have gaps with FILL, so that one quiet service does not mute the sum', () => {
      const alarms = alarmsOf(prod);
      expect(alarms.FanOutFailures?.Threshold).toBe(stageConfigs.prod.operations.fanOutFailureThreshold);
      expect(alarms.FanOutFailures?.Metrics?.[0]?.Expression).toBe(
        'FILL(deliveryfailures0, 0) + FILL(deliveryfailures1, 0) + FILL(deliveryfailures2, 0)',
      );
      expect(
        alarms.FanOutFailures?.Metrics?.slice(1).map((m) => [
          m.MetricStat?.Metric.MetricName,
          m.MetricStat?.Metric.Dimensions,
        ]),
      ).toEqual([
        ['DeliveryFailures', [{ Name: 'service', Value: 'broadcast' }]],
        ['DeliveryFailures', [{ Name: 'service', Value: 'fan-out-worker' }]],
        ['DeliveryFailures', [{ Name: 'service', Value: 'event-publisher' }]],
      ]);
      expect(alarms.WebSocketErrors?.Metrics?.[0]?.Expression).toBe(
        'FILL(integration, 0) + FILL(execution, 0)',
      );
      expect(
        alarms.WebSocketErrors?.Metrics?.slice(1).map((m) => [
          m.MetricStat?.Metric.MetricName,
          m.MetricStat?.Metric.Dimensions.map((d) => d.Name),
        ]),
      ).toEqual([
        ['IntegrationError', ['ApiId', 'Stage']],
        ['ExecutionError', ['ApiId', 'Stage']],
      ]);
    });
  });

  it.each(['dev', 'prod'] as const)('matches the %s snapshot', (stage) => {
    expect(synthStage(stage, bundle).templates.operations.toJSON()).toMatchSnapshot();
  });
});
