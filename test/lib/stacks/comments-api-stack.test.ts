import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { COMMENTS_API_ROUTE_KEYS, CommentsApiRoutes } from '../../../contracts/comments-api-routes';
import { HTTP_ACCESS_LOG_FIELDS } from '../../../lib/constructs/access-log';
import { STAGE_NAMES, stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../../contracts/cfn-metadata';
import type { RealtimeCommentsStacks } from '../../../lib/app';
import { synthConfig, synthStage, type StackPart } from '../synth-stage';
import { actionsOf, actionsOn, logicalIdOf, refersTo, routesOf, statementsOf } from '../template-queries';

/** Bundles only this stack's function; see synthStage. */
const bundle: readonly StackPart[] = ['CommentsApi'];

const WRITE_ROUTES = [
  CommentsApiRoutes.createPost,
  CommentsApiRoutes.createComment,
  CommentsApiRoutes.updateComment,
  CommentsApiRoutes.deleteComment,
];
const READ_ROUTES = [
  CommentsApiRoutes.getPost,
  CommentsApiRoutes.listComments,
  CommentsApiRoutes.connectionStatus,
];

type RouteProperties = { RouteKey: string; AuthorizationType?: string; AuthorizerId?: unknown };

const routeAuthorization = (template: Template): Record<string, [string?, unknown?]> =>
  Object.fromEntries(
    Object.values(template.findResources('AWS::ApiGatewayV2::Route'))
      .map((route) => route.Properties as RouteProperties)
      .map((route) => [route.RouteKey, [route.AuthorizationType, route.AuthorizerId]]),
  );

describe('CommentsApiStack', () => {
  let template: Template;
  let stacks: RealtimeCommentsStacks;

  beforeAll(() => {
    ({
      templates: { commentsApi: template },
      stacks,
    } = synthStage('dev', bundle));
  });

  it('is an HTTP API whose routes are declared one by one, all to the comments function', () => {
    const handler = logicalIdOf(stacks.commentsApi.handler.function);
    expect(routesOf(template, stacks.commentsApi.api)).toEqual({
      'POST /api/v1/posts': handler,
      'GET /api/v1/posts/{id}': handler,
      'POST /api/v1/posts/{id}/comments': handler,
      'GET /api/v1/posts/{id}/comments': handler,
      'PATCH /api/v1/posts/{id}/comments/{commentId}': handler,
      'DELETE /api/v1/posts/{id}/comments/{commentId}': handler,
      'GET /api/v1/websocket/connections': handler,
    });
  });

  it('declares exactly the route keys the function dispatches on', () => {
    expect(Object.keys(routesOf(template, stacks.commentsApi.api)).sort()).toEqual(
      [...COMMENTS_API_ROUTE_KEYS].sort(),
    );
    expect([...WRITE_ROUTES, ...READ_ROUTES].sort()).toEqual([...COMMENTS_API_ROUTE_KEYS].sort());
  });

  it.each(STAGE_NAMES)('verifies a JWT on exactly the %s write routes, and leaves reads public', (stage) => {
    const stageTemplate = synthStage(stage, bundle).templates.commentsApi;
    const [authorizerId] = Object.keys(stageTemplate.findResources('AWS::ApiGatewayV2::Authorizer'));
    expect(authorizerId).toMatch(/^CommentsApiJwtAuthorizer[0-9A-F]{8}$/);
    expect(routeAuthorization(stageTemplate)).toEqual({
      ...Object.fromEntries(WRITE_ROUTES.map((key) => [key, ['JWT', { Ref: authorizerId }]])),
      ...Object.fromEntries(READ_ROUTES.map((key) => [key, ['NONE', undefined]])),
    });
  });

  it('checks the Cognito issuer and the app client as audience, from the Authorization header', () => {
    const issuer = new Capture();
    const audience = new Capture();
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      ApiId: { Ref: logicalIdOf(stacks.commentsApi.api) },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: issuer, Audience: [audience] },
      Name: 'realtime-comments-dev-jwt',
    });
    expect(issuer.asObject()).toEqual({
      'Fn::Join': [
        '',
        [
          'https://cognito-idp.',
          { Ref: 'AWS::Region' },
          '.',
          { Ref: 'AWS::URLSuffix' },
          '/',
          { 'Fn::GetStackOutput': expect.any(Object) },
        ],
      ],
    });
    expect(refersTo(issuer.asObject(), stacks.data.identity.userPool!)).toBe(true);
    expect(refersTo(audience.asObject(), stacks.data.identity.userPoolClient!)).toBe(true);
  });

  it('checks an OIDC issuer and audience as configured', () => {
    const oidc = synthConfig({
      ...stageConfigs.dev,
      identity: { kind: 'oidc', issuerUrl: 'https://login.example.com', audience: 'comments' },
    }).templates.commentsApi;
    oidc.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://login.example.com', Audience: ['comments'] },
    });
  });

  it('has no catch-all route', () => {
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey as string,
    );
    expect(routeKeys).not.toContain('$default');
    expect(routeKeys.filter((key) => key.includes('{proxy+}') || key.startsWith('ANY '))).toEqual([]);
  });

  it('answers browser preflights for the headers and methods it uses', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: {
        AllowOrigins: ['*'],
        AllowHeaders: ['content-type', 'authorization', 'x-correlation-id'],
        AllowMethods: Match.arrayEquals(['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS']),
        MaxAge: 3600,
      },
    });
  });

  it.each(STAGE_NAMES)(
    'serves %s from a throttled, auto-deployed $default stage, write routes tighter still',
    (stage) => {
      const { httpThrottle, commentsApiRouteThrottle } = stageConfigs[stage];
      const stageTemplate = synthStage(stage, bundle).templates.commentsApi;
      stageTemplate.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      const routeSettings = Object.fromEntries(
        Object.entries(commentsApiRouteThrottle).map(([key, throttle]) => [
          key,
          { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit },
        ]),
      );
      expect(Object.keys(routeSettings).sort()).toEqual([...WRITE_ROUTES].sort());
      stageTemplate.hasResource('AWS::ApiGatewayV2::Stage', {
        Properties: Match.objectLike({
          StageName: '$default',
          AutoDeploy: true,
          DefaultRouteSettings: {
            ThrottlingRateLimit: httpThrottle.rateLimit,
            ThrottlingBurstLimit: httpThrottle.burstLimit,
          },
          RouteSettings: routeSettings,
        }),
        // RouteSettings may only name routes that already exist.
        DependsOn: Match.arrayWith([Match.stringLikeRegexp('^CommentsApiPOSTapiv1posts[0-9A-F]{8}$')]),
      });
    },
  );

  it.each(STAGE_NAMES)('writes %s access logs as JSON to a log group with the stage retention', (stage) => {
    const stageTemplate = synthStage(stage, bundle).templates.commentsApi;
    const destination = new Capture();
    const format = new Capture();
    stageTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: { DestinationArn: destination, Format: format },
    });
    expect(JSON.parse(format.asString())).toEqual(HTTP_ACCESS_LOG_FIELDS);
    expect(HTTP_ACCESS_LOG_FIELDS).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      routeKey: '$context.routeKey',
      status: '$context.status',
      error: '$context.error.message',
      authorizerError: '$context.authorizer.error',
    });
    const [logGroupId] = destination.asObject()['Fn::GetAtt'] as [string];
    expect(stageTemplate.toJSON().Resources[logGroupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: stageConfigs[stage].logRetention },
      DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
    });
  });

  it('runs one Node.js 24 function on ARM naming its entry', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResource('AWS::Lambda::Function', {
      Properties: { Runtime: 'nodejs24.x', Architectures: ['arm64'] },
      Metadata: { [ENTRY_METADATA_KEY]: 'lambda/comments-api/handler.ts' },
    });
  });

  it('gives the function the broadcast stage URL (no trailing slash), the wss URL, the timeout and the event retention', () => {
    const broadcastUrl = new Capture();
    const websocketUrl = new Capture();
    const commentsTable = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          STAGE: 'dev',
          POWERTOOLS_SERVICE_NAME: 'comments-api',
          COMMENTS_TABLE_NAME: commentsTable,
          BROADCAST_URL: broadcastUrl,
          BROADCAST_TIMEOUT_MS: '3000',
          WEBSOCKET_URL: websocketUrl,
          EVENT_RETENTION_SECONDS: '86400',
        },
      },
    });
    const [, broadcastParts] = broadcastUrl.asObject()['Fn::Join'] as [string, unknown[]];
    expect(broadcastParts[0]).toBe('https://');
    expect(broadcastParts.at(-1)).toBe('/dev');
    expect(refersTo(broadcastParts[1], stacks.realtime.broadcastApi)).toBe(true);
    const [, websocketParts] = websocketUrl.asObject()['Fn::Join'] as [string, unknown[]];
    expect(websocketParts[0]).toBe('wss://');
    expect(websocketParts.at(-1)).toBe('/dev');
    expect(refersTo(websocketParts[1], stacks.realtime.webSocketApi)).toBe(true);
    expect(refersTo(commentsTable.asObject(), stacks.data.commentsTable)).toBe(true);
  });

  it('lets the function read and write comments, and reach nothing else', () => {
    const { handler } = stacks.commentsApi;
    // Every item action of a change transaction (post lastSeq update, comment put/update/delete, event
    // put): TransactWriteItems is authorised per item action, not as an action of its own.
    expect(actionsOn(template, handler, stacks.data.commentsTable)).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:ConditionCheckItem',
      ]),
    );
    expect(actionsOn(template, handler, stacks.data.connectionsTable)).toEqual([]);
    const actions = statementsOf(template, handler).flatMap(actionsOf);
    expect(actions.filter((action) => !action.startsWith('dynamodb:'))).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
      'execute-api:Invoke',
    ]);
    expect(actions).not.toContain('execute-api:ManageConnections');
  });

  it.each(STAGE_NAMES)(
    'lets the function invoke exactly the two %s broadcast routes, on that stage',
    (stage) => {
      const synthesized = synthStage(stage, bundle);
      const invoke = statementsOf(
        synthesized.templates.commentsApi,
        synthesized.stacks.commentsApi.handler,
      ).filter((statement) => actionsOf(statement).includes('execute-api:Invoke'));
      expect(invoke).toHaveLength(1);
      expect(actionsOf(invoke[0]!)).toEqual(['execute-api:Invoke']);
      const broadcastApiId = {
        'Fn::GetStackOutput': {
          StackName: `RealtimeComments-${stage}-Realtime`,
          Region: { Ref: 'AWS::Region' },
          OutputName: expect.stringContaining(logicalIdOf(synthesized.stacks.realtime.broadcastApi)),
        },
      };
      const routeArn = (route: string): unknown => ({
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
            broadcastApiId,
            `/${stage}/${route}`,
          ],
        ],
      });
      expect(invoke[0]?.Resource).toEqual(
        expect.arrayContaining([routeArn('POST/broadcast/comments'), routeArn('GET/connections/count')]),
      );
      expect(invoke[0]?.Resource).toHaveLength(2);
    },
  );

  it('outputs the API URL, which ends with a slash', () => {
    const url = new Capture();
    template.hasOutput('CommentsApiUrl', { Value: url });
    const [, parts] = url.asObject()['Fn::Join'] as [string, unknown[]];
    expect(parts.at(-1)).toBe('/');
  });

  it.each(['dev', 'prod'] as const)('matches the %s snapshot', (stage) => {
    expect(synthStage(stage, bundle).templates.commentsApi.toJSON()).toMatchSnapshot();
  });
});
