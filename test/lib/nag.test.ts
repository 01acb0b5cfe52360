import { App, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildApp, type BuildAppOptions } from '../../lib/app';
import { STAGE_NAMES, stageConfigs, type StageConfig, type StageName } from '../../lib/config/stage-config';
import { cdkJsonContext } from './synth-stage';

/** Declarations only (no esbuild): cdk-nag reads the construct tree, not the bundles. */
function newApp(config: StageConfig): App {
  return new App({ context: { ...cdkJsonContext(), stage: config.stageName, [BUNDLING_STACKS]: [] } });
}

function build(config: StageConfig, options?: BuildAppOptions): App {
  const app = newApp(config);
  buildApp(app, config, options);
  return app;
}

/** A stack a reviewer would reject: an unencrypted-by-choice table without PITR and an open HTTP route. */
function addThrowawayStack(app: App): void {
  const stack = new Stack(app, 'Throwaway');
  new dynamodb.CfnTable(stack, 'Table', {
    keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
    attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
    billingMode: 'PAY_PER_REQUEST',
  });
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  new apigwv2.HttpApi(stack, 'Api').addRoutes({
    path: '/open',
    methods: [apigwv2.HttpMethod.GET],
    integration: new HttpLambdaIntegration('Integration', fn),
  });
}

/** Every acknowledgement in the tree: construct path (without the stack) to rule id to reason. */
function acknowledgements(app: App, stage: StageName): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  for (const construct of app.node.findAll() as IConstruct[]) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      const path = construct.node.path.replace(`RealtimeComments-${stage}-`, '');
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        result[path] = { ...result[path], [id.replace(/^Annotation::/i, '')]: reason };
      }
    }
  }
  return result;
}

describe('cdk-nag (AWS Solutions)', () => {
  it.each(STAGE_NAMES)('passes over every stack of %s', (stage) => {
    const app = build(stageConfigs[stage]);
    expect(app.node.children.filter(Stack.isStack).map((stack) => stack.stackName)).toEqual([
      `RealtimeComments-${stage}-Data`,
      `RealtimeComments-${stage}-Realtime`,
      `RealtimeComments-${stage}-CommentsApi`,
      `RealtimeComments-${stage}-Operations`,
    ]);
    expect(() => app.synth()).not.toThrow();
  });

  it.each([
    ['anonymous subscribers', { allowAnonymousSubscribers: true }],
    ['an OIDC issuer', { identity: { kind: 'oidc', issuerUrl: 'https://id.example.com', audience: 'api' } }],
    ['self sign-up', { identity: { kind: 'cognito', selfSignUp: true } }],
    [
      'an SES e-mail sender',
      {
        identity: {
          kind: 'cognito',
          email: {
            sesSourceArn: 'arn:aws:ses:eu-west-1:111122223333:identity/example.com',
            from: 'a@example.com',
          },
        },
      },
    ],
  ] as const)('passes with %s', (_name, overrides) => {
    expect(() => build({ ...stageConfigs.dev, ...overrides } as StageConfig).synth()).not.toThrow();
  });

  it('is live: a non-compliant stack in the same app makes synth throw, naming resource and rule', () => {
    const app = build(stageConfigs.dev);
    addThrowawayStack(app);
    let message = '';
    try {
      app.synth();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('Throwaway/Api/GET--open/Resource');
    expect(message).toContain("Acknowledge with 'AwsSolutions::AwsSolutions-APIG4'");
    expect(message).toContain('Throwaway/Table');
    expect(message).toContain("Acknowledge with 'AwsSolutions::AwsSolutions-DDB3'");
    expect(message).not.toContain('RealtimeComments-dev-');
  });

  it('reports each finding it is given, the way the app registers it', () => {
    const app = build(stageConfigs.dev);
    addThrowawayStack(app);
    const report = new AwsSolutionsChecks(app).validateScope(app.node.findChild('Throwaway'));
    expect(report.success).toBe(false);
    expect(report.violations.map((violation) => violation.ruleName).sort()).toEqual(
      expect.arrayContaining(['AwsSolutions-APIG1', 'AwsSolutions-APIG4', 'AwsSolutions-DDB3']),
    );
  });

  it('is what fails that synth: without it the same app synthesizes', () => {
    const app = build(stageConfigs.dev, { nag: false });
    addThrowawayStack(app);
    expect(() => app.synth()).not.toThrow();
  });

  it.each(STAGE_NAMES)('acknowledges exactly these %s findings, each with a reason', (stage) => {
    const acks = acknowledgements(build(stageConfigs[stage]), stage);
    const ids = Object.fromEntries(Object.entries(acks).map(([path, rules]) => [path, Object.keys(rules)]));
    const webSocketRoute = ['AwsSolutions-APIG4'];
    const postToConnection =
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:' +
      `<WebSocketApi34BCF99B>/${stage}/POST/@connections/*]`;
    // Every function traces to X-Ray, whose write actions take no resource but `*` (HandlerFunction).
    const xray = 'AwsSolutions-IAM5[Resource::*]';
    expect(ids).toEqual({
      ...(stage === 'dev'
        ? {
            'Data/Connections': ['AwsSolutions-DDB3'],
            'Data/Comments': ['AwsSolutions-DDB3'],
            'Data/Identity/UserPool': ['AwsSolutions-COG2', 'AwsSolutions-COG8'],
          }
        : { 'Data/Identity/UserPool': ['AwsSolutions-COG2'] }),
      'Realtime/WebSocketApi/$disconnect-Route': webSocketRoute,
      'Realtime/WebSocketApi/$default-Route': webSocketRoute,
      'Realtime/WebSocketApi/subscribe-Route': webSocketRoute,
      'Realtime/WebSocketApi/unsubscribe-Route': webSocketRoute,
      'Realtime/WebSocketApi/listComments-Route': webSocketRoute,
      'Realtime/WebSocketApi/ping-Route': webSocketRoute,
      'Realtime/WebSocketAuthorizerHandler/ServiceRole': [xray],
      'Realtime/WebSocketConnectionHandler/ServiceRole': [xray],
      'Realtime/WebSocketMessagesHandler/ServiceRole': [xray, postToConnection],
      'Realtime/FanOutWorker/DeadLetterQueue': ['AwsSolutions-SQS3'],
      'Realtime/FanOutWorker/Handler/ServiceRole': [xray, postToConnection],
      'Realtime/BroadcastHandler/ServiceRole': [xray, postToConnection],
      'Realtime/EventPublishing/FailureQueue': ['AwsSolutions-SQS3'],
      // Its `*` statement also holds dynamodb:ListStreams (from DynamoEventSource), under the same finding id.
      'Realtime/EventPublishing/Handler/ServiceRole': [xray, postToConnection],
      'CommentsApi/CommentsApiHandler/ServiceRole': [xray],
      'CommentsApi/CommentsApi/GET--api--v1--posts--{id}': ['AwsSolutions-APIG4'],
      'CommentsApi/CommentsApi/GET--api--v1--posts--{id}--comments': ['AwsSolutions-APIG4'],
      'CommentsApi/CommentsApi/GET--api--v1--websocket--connections': ['AwsSolutions-APIG4'],
    });
    for (const reason of Object.values(acks).flatMap((rules) => Object.values(rules))) {
      expect(reason.length).toBeGreaterThan(60);
    }
  });
});
