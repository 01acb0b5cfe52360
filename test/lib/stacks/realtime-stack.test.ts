import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { HTTP_ACCESS_LOG_FIELDS, WEBSOCKET_ACCESS_LOG_FIELDS } from '../../../lib/constructs/access-log';
import { STAGE_NAMES, stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../../contracts/cfn-metadata';
import type { HandlerFunction } from '../../../lib/constructs/handler-function';
import type { RealtimeStack } from '../../../lib/stacks/realtime-stack';
import type { DataStack } from '../../../lib/stacks/data-stack';
import { synthConfig, synthStage, type StackPart } from '../synth-stage';
import {
  actionsOf,
  actionsOn,
  logicalIdOf,
  refersTo,
  routesOf,
  statementsOf,
  type PolicyStatement,
} from '../template-queries';

/** Bundles only this stack's functions; see synthStage. */
const bundle: readonly StackPart[] = ['Realtime'];

const READ_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:GetItem',
  'dynamodb:Query',
];
const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

type RouteProperties = {
  ApiId: { Ref: string };
  RouteKey: string;
  AuthorizationType?: string;
  AuthorizerId?: unknown;
};

/** Route key to [AuthorizationType, AuthorizerId] for one API. */
function authorizationOf(template: Template, apiLogicalId: string): Record<string, [string?, unknown?]> {
  const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
    (route) => route.Properties as RouteProperties,
  );
  return Object.fromEntries(
    routes
      .filter((route) => route.ApiId.Ref === apiLogicalId)
      .map((route) => [route.RouteKey, [route.AuthorizationType, route.AuthorizerId]]),
  );
}

describe('RealtimeStack', () => {
  let template: Template;
  let prodTemplate: Template;
  let stack: RealtimeStack;
  let data: DataStack;

  beforeAll(() => {
    const dev = synthStage('dev', bundle);
    template = dev.templates.realtime;
    stack = dev.stacks.realtime;
    data = dev.stacks.data;
    prodTemplate = synthStage('prod', bundle).templates.realtime;
  });

  describe('WebSocket API', () => {
    it('is a WebSocket API routing on the message action', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: '$request.body.action',
      });
    });

    it('routes $connect/$disconnect to the connection function, the rest to the messages function', () => {
      const connection = logicalIdOf(stack.connectionHandler.function);
      const messages = logicalIdOf(stack.messagesHandler.function);
      expect(routesOf(template, stack.webSocketApi)).toEqual({
        $connect: connection,
        $disconnect: connection,
        $default: messages,
        subscribe: messages,
        unsubscribe: messages,
        ping: messages,
      });
    });

    it('authorizes $connect with a REQUEST authorizer that runs the authorizer function on the token', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      const uri = new Capture();
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        ApiId: { Ref: logicalIdOf(stack.webSocketApi) },
        AuthorizerType: 'REQUEST',
        IdentitySource: ['route.request.querystring.token'],
        AuthorizerUri: uri,
        Name: 'realtime-comments-dev-connect',
      });
      expect(JSON.stringify(uri.asObject())).toContain(
        `"${logicalIdOf(stack.authorizerHandler.function)}","Arn"`,
      );
      const authorizerId = Object.keys(template.findResources('AWS::ApiGatewayV2::Authorizer'))[0];
      expect(authorizationOf(template, logicalIdOf(stack.webSocketApi))).toEqual({
        $connect: ['CUSTOM', { Ref: authorizerId }],
        $disconnect: ['NONE', undefined],
        $default: ['NONE', undefined],
        subscribe: ['NONE', undefined],
        unsubscribe: ['NONE', undefined],
        ping: ['NONE', undefined],
      });
    });

    it('lets API Gateway invoke the authorizer function from this API only', () => {
      const sourceArn = new Capture();
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { 'Fn::GetAtt': [logicalIdOf(stack.authorizerHandler.function), 'Arn'] },
        SourceArn: sourceArn,
      });
      expect(JSON.stringify(sourceArn.asObject())).toContain(
        `{"Ref":"${logicalIdOf(stack.webSocketApi)}"},"/authorizers/`,
      );
    });

    it('takes the connection id as identity source when anonymous subscribers are allowed', () => {
      const anonymous = synthConfig({ ...stageConfigs.dev, allowAnonymousSubscribers: true });
      const realtime = anonymous.templates.realtime;
      realtime.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'REQUEST',
        IdentitySource: ['context.connectionId'],
      });
      realtime.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ ALLOW_ANONYMOUS_SUBSCRIBERS: 'true' }) },
      });
      realtime.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: '$connect',
        AuthorizationType: 'CUSTOM',
      });
    });

    it.each(['dev', 'prod'] as const)('deploys a %s stage with the stage throttling', (stage) => {
      const { webSocketThrottle } = stageConfigs[stage];
      const stageTemplate = stage === 'dev' ? template : prodTemplate;
      stageTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        ApiId: { Ref: Match.stringLikeRegexp('^WebSocketApi') },
        StageName: stage,
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: webSocketThrottle.rateLimit,
          ThrottlingBurstLimit: webSocketThrottle.burstLimit,
        },
      });
    });
  });

  describe('broadcast API', () => {
    it('is an HTTP API with exactly the broadcast and count routes, both to the broadcast function', () => {
      const broadcast = logicalIdOf(stack.broadcastHandler.function);
      expect(routesOf(template, stack.broadcastApi)).toEqual({
        'POST /broadcast/comments': broadcast,
        'GET /connections/count': broadcast,
      });
    });

    it('requires SigV4 (AWS_IAM) on both routes', () => {
      expect(authorizationOf(template, logicalIdOf(stack.broadcastApi))).toEqual({
        'POST /broadcast/comments': ['AWS_IAM', undefined],
        'GET /connections/count': ['AWS_IAM', undefined],
      });
    });

    it('answers no CORS preflight: no browser calls it', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        Name: 'realtime-comments-dev-broadcast',
        CorsConfiguration: Match.absent(),
      });
    });

    it('has no $default stage, only one named after the stage, with throttling', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 2);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        ApiId: { Ref: logicalIdOf(stack.broadcastApi) },
        StageName: 'dev',
        AutoDeploy: true,
        DefaultRouteSettings: {
          ThrottlingRateLimit: stageConfigs.dev.httpThrottle.rateLimit,
          ThrottlingBurstLimit: stageConfigs.dev.httpThrottle.burstLimit,
        },
      });
    });
  });

  describe.each(STAGE_NAMES)('access logs (%s)', (stage) => {
    const { logRetention } = stageConfigs[stage];
    const stageTemplate = (): Template => synthStage(stage, bundle).templates.realtime;
    const stageStack = (): RealtimeStack => synthStage(stage, bundle).stacks.realtime;

    it.each([
      ['WebSocket', 'webSocketApi', WEBSOCKET_ACCESS_LOG_FIELDS],
      ['broadcast', 'broadcastApi', HTTP_ACCESS_LOG_FIELDS],
    ] as const)(
      'logs every %s request as JSON to a log group kept for the stage retention',
      (_name, api, fields) => {
        const destination = new Capture();
        const format = new Capture();
        stageTemplate().hasResourceProperties('AWS::ApiGatewayV2::Stage', {
          ApiId: { Ref: logicalIdOf(stageStack()[api]) },
          AccessLogSettings: { DestinationArn: destination, Format: format },
        });
        expect(JSON.parse(format.asString())).toEqual(fields);
        const [logGroupId] = destination.asObject()['Fn::GetAtt'] as [string];
        expect(stageTemplate().toJSON().Resources[logGroupId]).toMatchObject({
          Type: 'AWS::Logs::LogGroup',
          Properties: { RetentionInDays: logRetention },
          DeletionPolicy: stage === 'prod' ? 'Retain' : 'Delete',
        });
      },
    );

    it('logs the request id, caller ip, route key, status, connection id and errors', () => {
      expect(WEBSOCKET_ACCESS_LOG_FIELDS).toMatchObject({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        connectionId: '$context.connectionId',
        error: '$context.error.message',
        authorizerError: '$context.authorizer.error',
      });
    });
  });

  describe('functions', () => {
    it('runs five Node.js 24 functions on ARM, each naming its source entry', () => {
      template.resourceCountIs('AWS::Lambda::Function', 5);
      const entries = new Capture();
      template.allResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' },
        Metadata: { [ENTRY_METADATA_KEY]: entries },
      });
      const seen = [entries.asString()];
      while (entries.next()) seen.push(entries.asString());
      expect(seen.sort()).toEqual([
        'lambda/broadcast/handler.ts',
        'lambda/fan-out-worker/handler.ts',
        'lambda/websocket-authorizer/handler.ts',
        'lambda/websocket-connection/handler.ts',
        'lambda/websocket-messages/handler.ts',
      ]);
    });

    it('gives the authorizer function the Cognito issuer, audience and JWKS URL, and the anonymous switch', () => {
      const env = (template.toJSON().Resources[logicalIdOf(stack.authorizerHandler.function)].Properties
        .Environment.Variables ?? {}) as Record<string, unknown>;
      const userPool = data.identity.userPool!;
      const issuerJoin = [
        'https://cognito-idp.',
        { Ref: 'AWS::Region' },
        '.',
        { Ref: 'AWS::URLSuffix' },
        '/',
        { 'Fn::GetStackOutput': Match.anyValue() },
      ];
      expect(env).toEqual({
        STAGE: 'dev',
        POWERTOOLS_SERVICE_NAME: 'websocket-authorizer',
        AUTH_ISSUER: { 'Fn::Join': ['', expect.any(Array)] },
        AUTH_AUDIENCE: { 'Fn::GetStackOutput': expect.any(Object) },
        AUTH_JWKS_URL: { 'Fn::Join': ['', expect.any(Array)] },
        ALLOW_ANONYMOUS_SUBSCRIBERS: 'false',
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            AUTH_ISSUER: { 'Fn::Join': ['', issuerJoin] },
            AUTH_JWKS_URL: { 'Fn::Join': ['', [...issuerJoin, '/.well-known/jwks.json']] },
          }),
        },
      });
      expect(refersTo(env.AUTH_ISSUER, userPool)).toBe(true);
      expect(refersTo(env.AUTH_AUDIENCE, data.identity.userPoolClient!)).toBe(true);
    });

    it('gives the authorizer function no table and no API access: it only writes its logs and traces', () => {
      expect(statementsOf(template, stack.authorizerHandler).flatMap(actionsOf)).toEqual([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    });

    it('gives the connection function the connections table and the connection TTL', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            STAGE: 'dev',
            POWERTOOLS_SERVICE_NAME: 'websocket-connection',
            CONNECTIONS_TABLE_NAME: Match.anyValue(),
            CONNECTION_TTL_SECONDS: '8100',
          },
        },
      });
    });

    it('gives the messages function both tables, the TTL and the stage management endpoint', () => {
      const endpoint = new Capture();
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            STAGE: 'dev',
            POWERTOOLS_SERVICE_NAME: 'websocket-messages',
            CONNECTIONS_TABLE_NAME: Match.anyValue(),
            COMMENTS_TABLE_NAME: Match.anyValue(),
            CONNECTION_TTL_SECONDS: '8100',
            MAX_SUBSCRIPTIONS_PER_CONNECTION: '20',
            WEBSOCKET_MANAGEMENT_ENDPOINT: endpoint,
          },
        },
      });
      expect(endpoint.asObject()).toEqual({
        'Fn::Join': [
          '',
          [
            'https://',
            { Ref: logicalIdOf(stack.webSocketApi) },
            '.execute-api.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/dev',
          ],
        ],
      });
    });

    const envOf = (handler: HandlerFunction): Record<string, unknown> =>
      template.toJSON().Resources[logicalIdOf(handler.function)].Properties.Environment.Variables;

    it('gives the broadcast function the connections table, the endpoint, the worker and the fan-out settings', () => {
      const { fanOutRetry } = stageConfigs.dev;
      expect(envOf(stack.broadcastHandler)).toEqual({
        STAGE: 'dev',
        POWERTOOLS_SERVICE_NAME: 'broadcast',
        CONNECTIONS_TABLE_NAME: expect.anything(),
        WEBSOCKET_MANAGEMENT_ENDPOINT: expect.anything(),
        FAN_OUT_CONCURRENCY: '50',
        FAN_OUT_BATCH_SIZE: '50',
        FAN_OUT_MAX_ATTEMPTS: String(fanOutRetry.maxAttempts),
        FAN_OUT_RETRY_BASE_MS: String(fanOutRetry.baseMs),
        FAN_OUT_RETRY_MAX_MS: String(fanOutRetry.maxMs),
        FAN_OUT_WORKER_FUNCTION_NAME: { Ref: logicalIdOf(stack.fanOutWorker.function) },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast' }) },
        Timeout: 29,
      });
    });

    it('gives the fan-out worker the connections table, the endpoint and the delivery settings, no batch size', () => {
      const { fanOutRetry } = stageConfigs.dev;
      expect(envOf(stack.fanOutWorker)).toEqual({
        STAGE: 'dev',
        POWERTOOLS_SERVICE_NAME: 'fan-out-worker',
        CONNECTIONS_TABLE_NAME: expect.anything(),
        WEBSOCKET_MANAGEMENT_ENDPOINT: envOf(stack.broadcastHandler).WEBSOCKET_MANAGEMENT_ENDPOINT,
        FAN_OUT_CONCURRENCY: '50',
        FAN_OUT_MAX_ATTEMPTS: String(fanOutRetry.maxAttempts),
        FAN_OUT_RETRY_BASE_MS: String(fanOutRetry.baseMs),
        FAN_OUT_RETRY_MAX_MS: String(fanOutRetry.maxMs),
        FAN_OUT_MAX_GENERATIONS: '3',
      });
      expect(refersTo(envOf(stack.fanOutWorker).CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(true);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'fan-out-worker' }) },
        Timeout: 60,
      });
    });

    it('sizes prod batches at 200 connections', () => {
      prodTemplate.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast', FAN_OUT_BATCH_SIZE: '200' }),
        },
      });
    });

    it('points each table variable at the right table', () => {
      const env = (handler: HandlerFunction): Record<string, unknown> =>
        template.toJSON().Resources[logicalIdOf(handler.function)].Properties.Environment.Variables;
      expect(refersTo(env(stack.connectionHandler).CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(true);
      expect(refersTo(env(stack.messagesHandler).COMMENTS_TABLE_NAME, data.commentsTable)).toBe(true);
      expect(env(stack.connectionHandler).COMMENTS_TABLE_NAME).toBeUndefined();
      expect(env(stack.broadcastHandler).COMMENTS_TABLE_NAME).toBeUndefined();
    });
  });

  describe('fan-out worker async invocations', () => {
    it('are retried twice by Lambda, then sent to the dead-letter queue', () => {
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalIdOf(stack.fanOutWorker.function) },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(stack.fanOutDeadLetterQueue), 'Arn'] } },
        },
      });
    });

    it.each(['dev', 'prod'] as const)(
      'end in a %s dead-letter queue encrypted by SQS, kept 14 days, refusing requests without TLS',
      (stage) => {
        const stageTemplate = stage === 'dev' ? template : prodTemplate;
        stageTemplate.resourceCountIs('AWS::SQS::Queue', 1);
        const queues = stageTemplate.findResources('AWS::SQS::Queue');
        const [queueId, queue] = Object.entries(queues)[0] ?? [];
        expect(queue).toMatchObject({
          Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 },
          DeletionPolicy: stage === 'prod' ? 'Retain' : 'Delete',
        });
        stageTemplate.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: [
              {
                Effect: 'Deny',
                Action: 'sqs:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
              },
            ],
          },
        });
      },
    );
  });

  describe('grants', () => {
    it('lets the connection function read and write connections, and nothing on comments or the API', () => {
      const actions = actionsOn(template, stack.connectionHandler, data.connectionsTable);
      expect(actions).toEqual([...READ_ACTIONS, ...WRITE_ACTIONS].sort());
      expect(actionsOn(template, stack.connectionHandler, data.commentsTable)).toEqual([]);
      expect(statementsOf(template, stack.connectionHandler).flatMap(actionsOf)).not.toContain(
        'execute-api:ManageConnections',
      );
    });

    it('lets the messages function only read comments', () => {
      expect(actionsOn(template, stack.messagesHandler, data.commentsTable)).toEqual(READ_ACTIONS);
      expect(actionsOn(template, stack.messagesHandler, data.connectionsTable)).toEqual(
        [...READ_ACTIONS, ...WRITE_ACTIONS].sort(),
      );
    });

    it('lets only the broadcast function query the byTopic index, and no function any other index', () => {
      const indexResources = (handler: HandlerFunction): unknown[] =>
        statementsOf(template, handler)
          .filter((s) => JSON.stringify(s.Resource).includes('/index/'))
          .map((s) => [actionsOf(s), s.Resource]);
      expect(indexResources(stack.broadcastHandler)).toEqual([
        [
          ['dynamodb:Query'],
          { 'Fn::Join': ['', [{ 'Fn::GetStackOutput': expect.any(Object) }, '/index/byTopic']] },
        ],
      ]);
      for (const handler of [
        stack.authorizerHandler,
        stack.connectionHandler,
        stack.messagesHandler,
        stack.fanOutWorker,
      ]) {
        expect(indexResources(handler)).toEqual([]);
      }
      expect(JSON.stringify(template.toJSON())).not.toContain('/index/*');
    });

    it('lets the broadcast function read connections and delete them, never put or update', () => {
      const actions = actionsOn(template, stack.broadcastHandler, data.connectionsTable);
      expect(actions).toEqual(
        [...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:Query'].sort(),
      );
      expect(actions).not.toContain('dynamodb:PutItem');
      expect(actions).not.toContain('dynamodb:UpdateItem');
      expect(actionsOn(template, stack.broadcastHandler, data.commentsTable)).toEqual([]);
    });

    const workerArn = (): unknown => ({ 'Fn::GetAtt': [logicalIdOf(stack.fanOutWorker.function), 'Arn'] });
    const invokeStatements = (handler: HandlerFunction): unknown[] =>
      statementsOf(template, handler)
        .filter((s) => actionsOf(s).some((action) => action.startsWith('lambda:')))
        .map((s) => [actionsOf(s), s.Resource]);

    it('lets the fan-out worker read connections and delete them, without the index, put or update', () => {
      expect(actionsOn(template, stack.fanOutWorker, data.connectionsTable)).toEqual(
        [...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'].sort(),
      );
      expect(actionsOn(template, stack.fanOutWorker, data.commentsTable)).toEqual([]);
    });

    it('lets the broadcast function invoke exactly the fan-out worker, no version or alias of it', () => {
      expect(invokeStatements(stack.broadcastHandler)).toEqual([[['lambda:InvokeFunction'], workerArn()]]);
    });

    it('lets the fan-out worker invoke itself (to hand on failed ids) and nothing else', () => {
      expect(invokeStatements(stack.fanOutWorker)).toEqual([[['lambda:InvokeFunction'], workerArn()]]);
      for (const handler of [stack.authorizerHandler, stack.connectionHandler, stack.messagesHandler]) {
        expect(invokeStatements(handler)).toEqual([]);
      }
    });

    it('lets only the fan-out worker send to the dead-letter queue, and only to it', () => {
      const sqsStatements = (handler: HandlerFunction): PolicyStatement[] =>
        statementsOf(template, handler).filter((s) =>
          actionsOf(s).some((action) => action.startsWith('sqs:')),
        );
      expect(sqsStatements(stack.fanOutWorker)).toEqual([
        expect.objectContaining({
          Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          Resource: { 'Fn::GetAtt': [logicalIdOf(stack.fanOutDeadLetterQueue), 'Arn'] },
        }),
      ]);
      for (const handler of [
        stack.authorizerHandler,
        stack.connectionHandler,
        stack.messagesHandler,
        stack.broadcastHandler,
      ]) {
        expect(sqsStatements(handler)).toEqual([]);
      }
    });

    it.each(['messagesHandler', 'broadcastHandler', 'fanOutWorker'] as const)(
      'lets the %s post to connections of this API stage only',
      (handler) => {
        const manage = statementsOf(template, stack[handler]).filter((s) =>
          actionsOf(s).includes('execute-api:ManageConnections'),
        );
        expect(manage).toHaveLength(1);
        expect(manage[0]?.Resource).toEqual({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':',
              { Ref: logicalIdOf(stack.webSocketApi) },
              '/dev/POST/@connections/*',
            ],
          ],
        });
      },
    );
  });

  it('outputs the wss URL, the management endpoint and the broadcast URL', () => {
    const joined = (capture: Capture): string =>
      (capture.asObject()['Fn::Join'] as [string, unknown[]])[1]
        .map((part) => (typeof part === 'string' ? part : '{}'))
        .join('');
    const wss = new Capture();
    const management = new Capture();
    const broadcast = new Capture();
    template.hasOutput('WebSocketUrl', { Value: wss });
    template.hasOutput('WebSocketManagementEndpoint', { Value: management });
    template.hasOutput('BroadcastUrl', { Value: broadcast });
    expect(joined(wss)).toBe('wss://{}.execute-api.{}.{}/dev');
    expect(joined(management)).toBe('https://{}.execute-api.{}.{}/dev');
    expect(joined(broadcast)).toBe('https://{}.execute-api.{}.{}/dev');
    expect(JSON.stringify(broadcast.asObject())).toContain(logicalIdOf(stack.broadcastApi));
  });

  it.each(['dev', 'prod'] as const)('matches the %s snapshot', (stage) => {
    expect(synthStage(stage, bundle).templates.realtime.toJSON()).toMatchSnapshot();
  });
});
