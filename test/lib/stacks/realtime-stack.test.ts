import { Capture, Match, type Template } from 'aws-cdk-lib/assertions';
import { stageConfigs } from '../../../lib/config/stage-config';
import { ENTRY_METADATA_KEY, type HandlerFunction } from '../../../lib/constructs/handler-function';
import type { RealtimeStack } from '../../../lib/stacks/realtime-stack';
import type { DataStack } from '../../../lib/stacks/data-stack';
import { synthStage, type StackPart } from '../synth-stage';
import { actionsOf, actionsOn, logicalIdOf, refersTo, routesOf, statementsOf } from '../template-queries';

/** Bundles only this stack's functions; see synthStage. */
const bundle: readonly StackPart[] = ['Realtime'];

const READ_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:Query',
  'dynamodb:Scan',
];
const WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

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

  describe('functions', () => {
    it('runs three Node.js 22 functions on ARM, each naming its source entry', () => {
      template.resourceCountIs('AWS::Lambda::Function', 3);
      const entries = new Capture();
      template.allResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' },
        Metadata: { [ENTRY_METADATA_KEY]: entries },
      });
      const seen = [entries.asString()];
      while (entries.next()) seen.push(entries.asString());
      expect(seen.sort()).toEqual([
        'lambda/broadcast/handler.ts',
        'lambda/websocket-connection/handler.ts',
        'lambda/websocket-messages/handler.ts',
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

    it('gives the broadcast function the connections table, the endpoint and the fan-out concurrency', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            STAGE: 'dev',
            POWERTOOLS_SERVICE_NAME: 'broadcast',
            CONNECTIONS_TABLE_NAME: Match.anyValue(),
            WEBSOCKET_MANAGEMENT_ENDPOINT: Match.anyValue(),
            FAN_OUT_CONCURRENCY: '50',
          },
        },
        Timeout: 29,
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

  describe('grants', () => {
    it('lets the connection function read and write connections, and nothing on comments or the API', () => {
      const actions = actionsOn(template, stack.connectionHandler, data.connectionsTable);
      expect(actions).toEqual(expect.arrayContaining([...READ_ACTIONS, ...WRITE_ACTIONS]));
      expect(actionsOn(template, stack.connectionHandler, data.commentsTable)).toEqual([]);
      expect(statementsOf(template, stack.connectionHandler).flatMap(actionsOf)).not.toContain(
        'execute-api:ManageConnections',
      );
    });

    it('lets the messages function only read comments', () => {
      expect(actionsOn(template, stack.messagesHandler, data.commentsTable)).toEqual(READ_ACTIONS);
      expect(actionsOn(template, stack.messagesHandler, data.connectionsTable)).toEqual(
        expect.arrayContaining([...READ_ACTIONS, ...WRITE_ACTIONS]),
      );
    });

    it('lets the broadcast function read connections and delete them, never put or update', () => {
      const actions = actionsOn(template, stack.broadcastHandler, data.connectionsTable);
      expect(actions).toEqual(
        expect.arrayContaining([...READ_ACTIONS, 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']),
      );
      expect(actions).not.toContain('dynamodb:PutItem');
      expect(actions).not.toContain('dynamodb:UpdateItem');
      expect(actionsOn(template, stack.broadcastHandler, data.commentsTable)).toEqual([]);
    });

    it.each(['messagesHandler', 'broadcastHandler'] as const)(
      'lets the %s manage connections of this API stage only',
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
              '/dev/*/@connections/*',
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
