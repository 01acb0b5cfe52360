import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { HTTP_ACCESS_LOG_FIELDS, WEBSOCKET_ACCESS_LOG_FIELDS } from '../../../lib/constructs/access-log';
import { STAGE_NAMES, stageConfigs, type StageName } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../../contracts/cfn-metadata';
import type { HandlerFunction } from '../../../lib/constructs/handler-function';
import type { RealtimeStack } from '../../../lib/stacks/realtime-stack';
import type { DataStack } from '../../../lib/stacks/data-stack';
import type { IConstruct } from 'constructs';
import { synthConfig, synthStage, type StackPart } from '../synth-stage';
import {
  actionsOf,
  actionsOn,
  importedOutput,
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

/** The stage configs' worker settings, spelled out: what a reviewer expects each stage to deploy. */
const WORKER_CONCURRENCY: Readonly<Record<StageName, number>> = { dev: 5, prod: 200 };
const WORKER_EVENT_AGE_SECONDS: Readonly<Record<StageName, number>> = { dev: 60 * 60, prod: 6 * 60 * 60 };

/** What DynamoEventSource grants on a table's stream ARN. */
const STREAM_READ_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];

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

  /** The realtime stack's import of the comments table's stream ARN. */
  const commentsStreamArn = (): unknown => {
    const { stacks, templates } = synthStage('dev', bundle);
    return importedOutput(stacks.data, templates.data, {
      'Fn::GetAtt': [logicalIdOf(stacks.data.commentsTable), 'StreamArn'],
    });
  };

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
        listComments: messages,
        ping: messages,
      });
    });

    it('authorizes $connect with a REQUEST authorizer that runs the authorizer function on the token', () => {
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      const uri = new Capture();
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        ApiId: { Ref: logicalIdOf(stack.webSocketApi) },
        AuthorizerType: 'REQUEST',
        IdentitySource: ['context.connectionId'],
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
        listComments: ['NONE', undefined],
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

    it('names no token location as identity source, so both token forms reach the authorizer', () => {
      // API Gateway answers 401 without invoking the authorizer unless every identity source is present. A
      // token travels in Sec-WebSocket-Protocol or in ?token=, never both: naming either would refuse the
      // other form before the authorizer runs. The connection id is present on every $connect.
      const sources = Object.values(template.findResources('AWS::ApiGatewayV2::Authorizer')).map(
        (resource) => (resource as { Properties: { IdentitySource: unknown } }).Properties.IdentitySource,
      );
      expect(sources).toEqual([['context.connectionId']]);
      expect(JSON.stringify(sources)).not.toMatch(/route\.request\.(header|querystring)\./);
    });

    it('takes the same identity source when anonymous subscribers are allowed', () => {
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

    it.each(['dev', 'prod'] as const)(
      'gives %s pings a throttle of their own, deployed after the ping route exists',
      (stage) => {
        const { webSocketPingThrottle } = stageConfigs[stage];
        const stageTemplate = stage === 'dev' ? template : prodTemplate;
        const stages = stageTemplate.findResources('AWS::ApiGatewayV2::Stage', {
          Properties: { ApiId: { Ref: Match.stringLikeRegexp('^WebSocketApi') } },
        }) as Record<string, { Properties: { RouteSettings?: unknown }; DependsOn?: string[] }>;
        const [webSocketStage] = Object.values(stages);
        expect(webSocketStage?.Properties.RouteSettings).toEqual({
          ping: {
            ThrottlingRateLimit: webSocketPingThrottle.rateLimit,
            ThrottlingBurstLimit: webSocketPingThrottle.burstLimit,
          },
        });
        const pingRoute = Object.entries(stageTemplate.findResources('AWS::ApiGatewayV2::Route')).find(
          ([, route]) => (route as { Properties: { RouteKey: string } }).Properties.RouteKey === 'ping',
        );
        expect(pingRoute).toBeDefined();
        expect(webSocketStage?.DependsOn).toContain(pingRoute?.[0]);
      },
    );
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
          DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
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
    it('runs six Node.js 24 functions on ARM, each naming its source entry', () => {
      template.resourceCountIs('AWS::Lambda::Function', 6);
      const entries = new Capture();
      template.allResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' },
        Metadata: { [ENTRY_METADATA_KEY]: entries },
      });
      const seen = [entries.asString()];
      while (entries.next()) seen.push(entries.asString());
      expect(seen.sort()).toEqual([
        'lambda/broadcast/handler.ts',
        'lambda/event-publisher/handler.ts',
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

    it('gives the broadcast function both tables, the endpoint, the worker, the fan-out settings and its claim TTL', () => {
      const { fanOutRetry } = stageConfigs.dev;
      expect(envOf(stack.broadcastHandler)).toEqual({
        STAGE: 'dev',
        POWERTOOLS_SERVICE_NAME: 'broadcast',
        CONNECTIONS_TABLE_NAME: expect.anything(),
        COMMENTS_TABLE_NAME: expect.anything(),
        WEBSOCKET_MANAGEMENT_ENDPOINT: expect.anything(),
        FAN_OUT_CONCURRENCY: '50',
        FAN_OUT_BATCH_SIZE: '50',
        FAN_OUT_MAX_ATTEMPTS: String(fanOutRetry.maxAttempts),
        FAN_OUT_RETRY_BASE_MS: String(fanOutRetry.baseMs),
        FAN_OUT_RETRY_MAX_MS: String(fanOutRetry.maxMs),
        FAN_OUT_WORKER_FUNCTION_NAME: { Ref: logicalIdOf(stack.fanOutWorker.handler.function) },
        // Its 29 s timeout plus a second: a claim is only taken over from a holder that is certainly dead.
        PUBLISH_CLAIM_TTL_MS: '30000',
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast' }) },
        Timeout: 29,
      });
    });

    it('gives the fan-out worker the connections table, the endpoint and the delivery settings, no batch size', () => {
      const { fanOutRetry } = stageConfigs.dev;
      expect(envOf(stack.fanOutWorker.handler)).toEqual({
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
      expect(refersTo(envOf(stack.fanOutWorker.handler).CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(
        true,
      );
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'fan-out-worker' }) },
        Timeout: 60,
      });
    });

    it('sizes prod batches at 500 connections', () => {
      prodTemplate.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'broadcast', FAN_OUT_BATCH_SIZE: '500' }),
        },
      });
    });

    it('points each table variable at the right table', () => {
      const env = (handler: HandlerFunction): Record<string, unknown> =>
        template.toJSON().Resources[logicalIdOf(handler.function)].Properties.Environment.Variables;
      expect(refersTo(env(stack.connectionHandler).CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(true);
      expect(refersTo(env(stack.messagesHandler).COMMENTS_TABLE_NAME, data.commentsTable)).toBe(true);
      expect(refersTo(env(stack.broadcastHandler).CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(true);
      expect(refersTo(env(stack.broadcastHandler).COMMENTS_TABLE_NAME, data.commentsTable)).toBe(true);
      expect(env(stack.connectionHandler).COMMENTS_TABLE_NAME).toBeUndefined();
      expect(env(stack.fanOutWorker.handler).COMMENTS_TABLE_NAME).toBeUndefined();
    });
  });

  describe('asynchronous invocations', () => {
    const invokeConfigOf = (stageTemplate: Template, handler: HandlerFunction): Record<string, unknown> => {
      const configs = Object.values(
        stageTemplate.findResources('AWS::Lambda::EventInvokeConfig', {
          Properties: { FunctionName: { Ref: logicalIdOf(handler.function) } },
        }),
      );
      expect(configs).toHaveLength(1);
      return (configs[0] as { Properties: Record<string, unknown> }).Properties;
    };

    it('are configured for the fan-out worker and the broadcast function only', () => {
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 2);
    });

    it.each(STAGE_NAMES)(
      'of the %s fan-out worker are retried twice, kept for the stage event age, then dead-lettered',
      (stage) => {
        const { stacks, templates } = synthStage(stage, bundle);
        const { fanOutWorker } = stacks.realtime;
        expect(invokeConfigOf(templates.realtime, fanOutWorker.handler)).toEqual({
          FunctionName: { Ref: logicalIdOf(fanOutWorker.handler.function) },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: WORKER_EVENT_AGE_SECONDS[stage],
          DestinationConfig: {
            OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(fanOutWorker.deadLetterQueue), 'Arn'] } },
          },
        });
        expect(stacks.realtime.fanOutDeadLetterQueue).toBe(fanOutWorker.deadLetterQueue);
      },
    );

    it.each(STAGE_NAMES)(
      'of the %s broadcast function (respond-async jobs) are never retried, dropped after 60 s, with no destination',
      (stage) => {
        const { stacks, templates } = synthStage(stage, bundle);
        expect(invokeConfigOf(templates.realtime, stacks.realtime.broadcastHandler)).toEqual({
          FunctionName: { Ref: logicalIdOf(stacks.realtime.broadcastHandler.function) },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 0,
          MaximumEventAgeInSeconds: 60,
        });
      },
    );
  });

  describe.each(STAGE_NAMES)('fan-out worker concurrency (%s)', (stage) => {
    it('reserves the stage concurrency for the worker, and for no other function', () => {
      const { stacks, templates } = synthStage(stage, bundle);
      const reserved = Object.entries(templates.realtime.findResources('AWS::Lambda::Function'))
        .filter(([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined)
        .map(([id, fn]) => [id, fn.Properties.ReservedConcurrentExecutions]);
      expect(reserved).toEqual([
        [logicalIdOf(stacks.realtime.fanOutWorker.handler.function), WORKER_CONCURRENCY[stage]],
      ]);
    });
  });

  describe.each(STAGE_NAMES)('dead-letter queues (%s)', (stage) => {
    const stageTemplate = (): Template => synthStage(stage, bundle).templates.realtime;
    const stageStack = (): RealtimeStack => synthStage(stage, bundle).stacks.realtime;

    it("are exactly the fan-out worker's and the publisher's failure queue", () => {
      expect(Object.keys(stageTemplate().findResources('AWS::SQS::Queue')).sort()).toEqual(
        [
          logicalIdOf(stageStack().fanOutWorker.deadLetterQueue),
          logicalIdOf(stageStack().eventPublishing.failureQueue),
        ].sort(),
      );
    });

    it.each([
      [
        'fan-out worker dead-letter queue',
        (realtime: RealtimeStack) => realtime.fanOutWorker.deadLetterQueue,
      ],
      ['publisher failure queue', (realtime: RealtimeStack) => realtime.eventPublishing.failureQueue],
    ])('keep the %s encrypted by SQS, 14 days, refusing requests without TLS', (_name, queueOf) => {
      const queueId = logicalIdOf(queueOf(stageStack()));
      expect(stageTemplate().toJSON().Resources[queueId]).toMatchObject({
        Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 },
        DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
      });
      stageTemplate().hasResourceProperties('AWS::SQS::QueuePolicy', {
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
    });
  });

  describe('grants', () => {
    /** Every function of the stack, by the name a failing assertion shows. */
    const handlers = (): Record<string, HandlerFunction> => ({
      authorizer: stack.authorizerHandler,
      connection: stack.connectionHandler,
      messages: stack.messagesHandler,
      broadcast: stack.broadcastHandler,
      fanOutWorker: stack.fanOutWorker.handler,
      publisher: stack.eventPublishing.handler,
    });
    const others = (...except: string[]): [string, HandlerFunction][] =>
      Object.entries(handlers()).filter(([name]) => !except.includes(name));

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

    it('grants no function any index: subscribers are read with a Query of the base table', () => {
      for (const [name, handler] of Object.entries(handlers())) {
        const indexStatements = statementsOf(template, handler).filter((s) =>
          JSON.stringify(s.Resource).includes('/index/'),
        );
        expect({ name, indexStatements }).toEqual({ name, indexStatements: [] });
      }
      expect(JSON.stringify(template.toJSON())).not.toContain('/index/');
    });

    it('lets the broadcast function read connections and delete them, never put or update', () => {
      const actions = actionsOn(template, stack.broadcastHandler, data.connectionsTable);
      expect(actions).toEqual([...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'].sort());
      expect(actions).not.toContain('dynamodb:PutItem');
      expect(actions).not.toContain('dynamodb:UpdateItem');
    });

    it.each([
      ['broadcast function', (): HandlerFunction => stack.broadcastHandler],
      ['publisher', (): HandlerFunction => stack.eventPublishing.handler],
    ])(
      'lets the %s read comments and update them (the publish cursor), never put or delete',
      (_name, handler) => {
        // The publisher's reads of the table's stream refer to the table too: asserted on their own below.
        const itemActions = actionsOn(template, handler(), data.commentsTable).filter(
          (action) => !STREAM_READ_ACTIONS.includes(action),
        );
        expect(itemActions).toEqual([...READ_ACTIONS, 'dynamodb:UpdateItem'].sort());
      },
    );

    it('lets the publisher read connections and delete them, never put or update', () => {
      expect(actionsOn(template, stack.eventPublishing.handler, data.connectionsTable)).toEqual(
        [...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'].sort(),
      );
    });

    it('lets the fan-out worker read connections and delete them, never put or update, nothing on comments', () => {
      expect(actionsOn(template, stack.fanOutWorker.handler, data.connectionsTable)).toEqual(
        [...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'].sort(),
      );
      expect(actionsOn(template, stack.fanOutWorker.handler, data.commentsTable)).toEqual([]);
    });

    const arnOf = (handler: HandlerFunction): unknown => ({
      'Fn::GetAtt': [logicalIdOf(handler.function), 'Arn'],
    });
    const invokeStatements = (handler: HandlerFunction): unknown[] =>
      statementsOf(template, handler)
        .filter((s) => actionsOf(s).some((action) => action.startsWith('lambda:')))
        .map((s) => [actionsOf(s), s.Resource]);

    it('lets the broadcast function invoke exactly the fan-out worker and itself, no version or alias', () => {
      expect(invokeStatements(stack.broadcastHandler)).toEqual(
        expect.arrayContaining([
          [['lambda:InvokeFunction'], arnOf(stack.fanOutWorker.handler)],
          [['lambda:InvokeFunction'], arnOf(stack.broadcastHandler)],
        ]),
      );
      expect(invokeStatements(stack.broadcastHandler)).toHaveLength(2);
    });

    it('lets the publisher invoke exactly the fan-out worker, no version or alias of it', () => {
      expect(invokeStatements(stack.eventPublishing.handler)).toEqual([
        [['lambda:InvokeFunction'], arnOf(stack.fanOutWorker.handler)],
      ]);
    });

    it('lets the fan-out worker invoke itself (to hand on failed ids) and nothing else', () => {
      expect(invokeStatements(stack.fanOutWorker.handler)).toEqual([
        [['lambda:InvokeFunction'], arnOf(stack.fanOutWorker.handler)],
      ]);
      for (const [name, handler] of others('broadcast', 'fanOutWorker', 'publisher')) {
        expect({ name, statements: invokeStatements(handler) }).toEqual({ name, statements: [] });
      }
    });

    it('gives each self-invoke grant a policy of its own, so no function depends on itself', () => {
      const selfInvoking = [stack.broadcastHandler, stack.fanOutWorker.handler];
      for (const handler of selfInvoking) {
        const policies = Object.values(
          template.findResources('AWS::IAM::Policy', {
            Properties: { Roles: [{ Ref: logicalIdOf(handler.role) }] },
          }),
        ) as { Properties: { PolicyDocument: { Statement: PolicyStatement[] } } }[];
        const own = policies.filter(({ Properties }) =>
          Properties.PolicyDocument.Statement.some((st) => refersTo(st.Resource, handler.function)),
        );
        expect(own.map(({ Properties }) => Properties.PolicyDocument.Statement)).toEqual([
          [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: arnOf(handler) }],
        ]);
      }
    });

    it('lets the fan-out worker and the publisher each send to their own queue, and no one else to any', () => {
      const sqsStatements = (handler: HandlerFunction): PolicyStatement[] =>
        statementsOf(template, handler).filter((s) =>
          actionsOf(s).some((action) => action.startsWith('sqs:')),
        );
      const sendTo = (queue: IConstruct): unknown[] => [
        expect.objectContaining({
          Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          Resource: { 'Fn::GetAtt': [logicalIdOf(queue), 'Arn'] },
        }),
      ];
      expect(sqsStatements(stack.fanOutWorker.handler)).toEqual(sendTo(stack.fanOutDeadLetterQueue));
      expect(sqsStatements(stack.eventPublishing.handler)).toEqual(
        sendTo(stack.eventPublishing.failureQueue),
      );
      for (const [name, handler] of others('fanOutWorker', 'publisher')) {
        expect({ name, statements: sqsStatements(handler) }).toEqual({ name, statements: [] });
      }
    });

    it("lets only the publisher read a stream: the comments table's, plus ListStreams", () => {
      const streamActions = /^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/;
      const streamStatements = (handler: HandlerFunction): unknown[] =>
        statementsOf(template, handler)
          .filter((s) => actionsOf(s).some((action) => streamActions.test(action)))
          .map((s) => [actionsOf(s).filter((action) => streamActions.test(action)), s.Resource]);
      const publisherStatements = streamStatements(stack.eventPublishing.handler);
      expect(publisherStatements).toEqual(
        expect.arrayContaining([
          [STREAM_READ_ACTIONS, commentsStreamArn()],
          // DynamoEventSource grants ListStreams on `*` (it shares the X-Ray statement; see nag.test.ts).
          [['dynamodb:ListStreams'], '*'],
        ]),
      );
      expect(publisherStatements).toHaveLength(2);
      for (const [name, handler] of others('publisher')) {
        expect({ name, statements: streamStatements(handler) }).toEqual({ name, statements: [] });
      }
    });

    it.each([
      ['messages function', (): HandlerFunction => stack.messagesHandler],
      ['broadcast function', (): HandlerFunction => stack.broadcastHandler],
      ['fan-out worker', (): HandlerFunction => stack.fanOutWorker.handler],
      ['publisher', (): HandlerFunction => stack.eventPublishing.handler],
    ])('lets the %s post to connections of this API stage only', (_name, handler) => {
      const manage = statementsOf(template, handler()).filter((s) =>
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
    });
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
