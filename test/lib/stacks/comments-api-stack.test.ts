import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../../lib/constructs/handler-function';
import type { RealtimeCommentsStacks } from '../../../lib/app';
import { synthStage, type StackPart } from '../synth-stage';
import { actionsOf, actionsOn, logicalIdOf, refersTo, routesOf, statementsOf } from '../template-queries';

/** Bundles only this stack's function; see synthStage. */
const bundle: readonly StackPart[] = ['CommentsApi'];

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
        AllowHeaders: ['content-type', 'authorization', 'x-user-id'],
        AllowMethods: Match.arrayEquals(['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS']),
        MaxAge: 3600,
      },
    });
  });

  it('serves from a throttled, auto-deployed $default stage', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: stageConfigs.dev.httpThrottle.rateLimit,
        ThrottlingBurstLimit: stageConfigs.dev.httpThrottle.burstLimit,
      },
    });
  });

  it('runs one Node.js 22 function on ARM naming its entry', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResource('AWS::Lambda::Function', {
      Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'] },
      Metadata: { [ENTRY_METADATA_KEY]: 'lambda/comments-api/handler.ts' },
    });
  });

  it('gives the function the broadcast stage URL (no trailing slash), the wss URL and the timeout', () => {
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
    expect(actionsOn(template, handler, stacks.data.commentsTable)).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]),
    );
    expect(actionsOn(template, handler, stacks.data.connectionsTable)).toEqual([]);
    const actions = statementsOf(template, handler).flatMap(actionsOf);
    expect(actions.filter((action) => !action.startsWith('dynamodb:'))).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    expect(actions).not.toContain('execute-api:ManageConnections');
  });

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
