import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BROADCAST_ROUTE_LIST } from '../../contracts/broadcast-routes';
import { EnvNames } from '../../contracts/env-names';
import { ServiceNames } from '../../contracts/telemetry-names';
import { CLIENT_ACTIONS, type ClientAction } from '../../contracts/protocol';
import type { StageConfig } from '../config/stage-config';
import { createAccessLog } from '../constructs/access-log';
import { claimTtlMs, EventPublishing } from '../constructs/event-publishing';
import { deliveryEnvironment, FanOutWorker } from '../constructs/fan-out-worker';
import { grantInvoke, grantInvokeSelf, grantPostToConnection } from '../constructs/grants';
import { HandlerFunction } from '../constructs/handler-function';
import type { Identity } from '../constructs/identity';

export interface RealtimeStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly connectionsTable: ITable;
  readonly commentsTable: ITable;
  /** Whose tokens $connect accepts. */
  readonly identity: Identity;
}

/**
 * The $connect authorizer's one identity source: present on every $connect, so API Gateway always invokes
 * the authorizer, which finds the token itself (see {@link RealtimeStack}).
 */
export const WEBSOCKET_CONNECT_IDENTITY_SOURCE = 'context.connectionId';

/** The client's heartbeat action, throttled on a route of its own. */
const PING_ROUTE_KEY: ClientAction = 'ping';

/** HTTP API stops waiting for an integration after 30 s. */
const BROADCAST_TIMEOUT = Duration.seconds(29);

/**
 * The WebSocket API clients hold open, and the broadcast HTTP API that pushes messages to them. Both live
 * here because the broadcast needs the WebSocket stage's management endpoint and its grant.
 */
export class RealtimeStack extends Stack {
  readonly webSocketApi: apigwv2.WebSocketApi;
  readonly webSocketStage: apigwv2.WebSocketStage;
  readonly broadcastApi: apigwv2.HttpApi;
  /** Named after the stage, so its URL is https://{apiId}.execute-api.{region}.amazonaws.com/{stage}. */
  readonly broadcastStage: apigwv2.HttpStage;
  readonly authorizerHandler: HandlerFunction;
  readonly connectionHandler: HandlerFunction;
  readonly messagesHandler: HandlerFunction;
  readonly broadcastHandler: HandlerFunction;
  /** Delivers one batch of a large broadcast per asynchronous invocation; see lambda/fan-out-worker. */
  readonly fanOutWorker: FanOutWorker;
  /** Where worker batches that failed every retry end up (the worker's async on-failure destination). */
  readonly fanOutDeadLetterQueue: sqs.Queue;
  /** The durable publishing path: the comments table's stream and its publisher. */
  readonly eventPublishing: EventPublishing;

  constructor(scope: Construct, id: string, props: RealtimeStackProps) {
    const { stageConfig, connectionsTable, commentsTable, identity, ...stackProps } = props;
    super(scope, id, stackProps);
    const { stageName } = stageConfig;
    const connectionTtl = String(stageConfig.connectionTtlSeconds);

    this.authorizerHandler = new HandlerFunction(this, 'WebSocketAuthorizerHandler', {
      entry: 'lambda/websocket-authorizer/handler.ts',
      serviceName: ServiceNames.websocketAuthorizer,
      description:
        'WebSocket $connect REQUEST authorizer: verifies the JWT in Sec-WebSocket-Protocol or ?token=',
      stageConfig,
      environment: {
        [EnvNames.authIssuer]: identity.issuer,
        [EnvNames.authAudience]: identity.audience,
        [EnvNames.authJwksUrl]: identity.jwksUrl,
        [EnvNames.allowAnonymous]: String(stageConfig.allowAnonymousSubscribers),
      },
    });

    this.connectionHandler = new HandlerFunction(this, 'WebSocketConnectionHandler', {
      entry: 'lambda/websocket-connection/handler.ts',
      serviceName: ServiceNames.websocketConnection,
      description: 'WebSocket $connect and $disconnect',
      stageConfig,
      environment: { [EnvNames.connectionTtlSeconds]: connectionTtl },
    })
      // $disconnect Queries its own item collection to delete the subscriptions with it.
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readWrite');

    this.messagesHandler = new HandlerFunction(this, 'WebSocketMessagesHandler', {
      entry: 'lambda/websocket-messages/handler.ts',
      serviceName: ServiceNames.websocketMessages,
      description: 'WebSocket subscribe, unsubscribe, ping and $default',
      stageConfig,
      // A resubscribe may replay up to 500 events one push at a time: more than the default 10 s.
      timeout: Duration.seconds(29),
      environment: {
        [EnvNames.connectionTtlSeconds]: connectionTtl,
        [EnvNames.maxSubscriptions]: String(stageConfig.maxSubscriptionsPerConnection),
      },
    })
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readWrite')
      .bindTable(EnvNames.commentsTable, commentsTable, 'read');

    // API Gateway runs a WebSocket authorizer on $connect only, and answers 401 without calling it unless
    // every identity source is present. The token comes in either Sec-WebSocket-Protocol (browsers, the SDK)
    // or `?token=` (wscat, scripts), never both, so neither can be an identity source; anonymous subscribers
    // (a stage setting) bring none at all. The identity source is therefore one every $connect has, the
    // connection id, and the authorizer decides (a missing token is refused there, before any key lookup).
    // WebSocket authorizers are never cached (AuthorizerResultTtlInSeconds is for HTTP APIs only), so this
    // costs no cache hit: every $connect was authorized afresh anyway.
    const connectAuthorizer = new WebSocketLambdaAuthorizer(
      'ConnectAuthorizer',
      this.authorizerHandler.function,
      {
        authorizerName: `realtime-comments-${stageName}-connect`,
        identitySource: [WEBSOCKET_CONNECT_IDENTITY_SOURCE],
      },
    );
    const connectionIntegration = new WebSocketLambdaIntegration(
      'ConnectionIntegration',
      this.connectionHandler.function,
    );
    const messagesIntegration = new WebSocketLambdaIntegration(
      'MessagesIntegration',
      this.messagesHandler.function,
    );
    this.webSocketApi = new apigwv2.WebSocketApi(this, 'WebSocketApi', {
      apiName: `realtime-comments-${stageName}`,
      description: 'Real-time comments: clients subscribe to posts and receive comment events',
      routeSelectionExpression: '$request.body.action',
    });
    // API Gateway hands the context the authorizer returns (userId) to the routes' integrations as
    // requestContext.authorizer.
    this.webSocketApi.addRoute('$connect', {
      integration: connectionIntegration,
      authorizer: connectAuthorizer,
    });
    const connectedRoutes = [
      this.webSocketApi.addRoute('$disconnect', { integration: connectionIntegration }),
      this.webSocketApi.addRoute('$default', { integration: messagesIntegration }),
      ...CLIENT_ACTIONS.map((action) =>
        this.webSocketApi.addRoute(action, { integration: messagesIntegration }),
      ),
    ];
    for (const route of connectedRoutes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'API Gateway authorizes a WebSocket connection once, on $connect (the only route that takes an ' +
          'authorizer); this route only ever carries frames of a connection that $connect already admitted.',
      });
    }

    const webSocketAccessLog = createAccessLog(this, 'WebSocketAccessLogs', stageConfig, 'websocket');
    this.webSocketStage = new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName,
      autoDeploy: true,
      throttle: stageConfig.webSocketThrottle,
      accessLogSettings: webSocketAccessLog.settings,
    });
    this.throttlePings(connectedRoutes, stageConfig);
    this.messagesHandler.addEnvironment(EnvNames.managementEndpoint, this.webSocketStage.callbackUrl);
    grantPostToConnection(this.webSocketStage, this.messagesHandler);

    this.fanOutWorker = new FanOutWorker(this, 'FanOutWorker', {
      stageConfig,
      connectionsTable,
      webSocketStage: this.webSocketStage,
    });
    this.fanOutDeadLetterQueue = this.fanOutWorker.deadLetterQueue;

    this.broadcastHandler = new HandlerFunction(this, 'BroadcastHandler', {
      entry: 'lambda/broadcast/handler.ts',
      serviceName: ServiceNames.broadcast,
      description: 'Broadcast API: publish a message to WebSocket connections; count connections',
      stageConfig,
      // HTTP API stops waiting after 30 s. A large audience is only read and queued here, but a small one
      // is delivered inline, and a batch that cannot be queued too.
      timeout: BROADCAST_TIMEOUT,
      memorySize: stageConfig.fanOutMemoryMb,
      environment: {
        ...deliveryEnvironment(stageConfig, this.webSocketStage),
        [EnvNames.fanOutBatchSize]: String(stageConfig.fanOutBatchSize),
        [EnvNames.fanOutWorkerFunctionName]: this.fanOutWorker.handler.function.functionName,
        [EnvNames.publishClaimTtlMs]: claimTtlMs(BROADCAST_TIMEOUT),
      },
    })
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete')
      // The fast path reads the stored event it publishes and claims it on the post's publish cursor.
      .bindTable(EnvNames.commentsTable, commentsTable, 'readUpdate');
    grantPostToConnection(this.webSocketStage, this.broadcastHandler);
    grantInvoke(this.broadcastHandler, this.fanOutWorker.handler);
    // A broadcast accepted with `Prefer: respond-async` runs as an asynchronous invocation of this same
    // function. It is only the fast path: one that fails is not retried (the stream publishes the event),
    // and one that waited a minute in Lambda's queue is no longer fast.
    grantInvokeSelf(this.broadcastHandler, 'SelfInvokePolicy');
    this.broadcastHandler.function.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60),
    });

    this.eventPublishing = new EventPublishing(this, 'EventPublishing', {
      stageConfig,
      commentsTable,
      connectionsTable,
      webSocketStage: this.webSocketStage,
      fanOutWorker: this.fanOutWorker.handler,
    });

    // Callers sign with SigV4 and need execute-api:Invoke on the route: today only the comments API's
    // function. No CORS: no browser ever calls this API.
    this.broadcastApi = new apigwv2.HttpApi(this, 'BroadcastApi', {
      apiName: `realtime-comments-${stageName}-broadcast`,
      description: 'Broadcast comment events to WebSocket clients (IAM-authorized, internal)',
      createDefaultStage: false,
    });
    const broadcastAccessLog = createAccessLog(this, 'BroadcastAccessLogs', stageConfig, 'http');
    this.broadcastStage = new apigwv2.HttpStage(this, 'BroadcastStage', {
      httpApi: this.broadcastApi,
      stageName,
      autoDeploy: true,
      throttle: stageConfig.httpThrottle,
      accessLogSettings: broadcastAccessLog.settings,
    });
    const broadcastIntegration = new HttpLambdaIntegration(
      'BroadcastIntegration',
      this.broadcastHandler.function,
    );
    const iamAuthorizer = new HttpIamAuthorizer();
    // Exactly the routes the broadcast function dispatches on, relative to the stage's URL.
    for (const route of BROADCAST_ROUTE_LIST) {
      this.broadcastApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: broadcastIntegration,
        authorizer: iamAuthorizer,
      });
    }

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url });
    new CfnOutput(this, 'WebSocketManagementEndpoint', { value: this.webSocketStage.callbackUrl });
    new CfnOutput(this, 'BroadcastUrl', { value: this.broadcastStage.url });
  }

  /**
   * Heartbeats get a bucket of their own, sized with the stage for its clients (docs/deploy.md, "Capacity"):
   * past the clients the stage is sized for, pings are refused before subscribes, pages and connects.
   */
  private throttlePings(routes: readonly apigwv2.WebSocketRoute[], stageConfig: StageConfig): void {
    const pingRoute = routes.find((route) => route.routeKey === PING_ROUTE_KEY);
    if (!pingRoute) throw new Error(`The WebSocket API has no ${PING_ROUTE_KEY} route to throttle`);
    const cfnStage = this.webSocketStage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = {
      [PING_ROUTE_KEY]: {
        ThrottlingRateLimit: stageConfig.webSocketPingThrottle.rateLimit,
        ThrottlingBurstLimit: stageConfig.webSocketPingThrottle.burstLimit,
      },
    };
    // A stage naming a route in RouteSettings fails to deploy before that route exists.
    cfnStage.addResourceDependency(pingRoute.node.defaultChild as apigwv2.CfnRoute);
  }
}
