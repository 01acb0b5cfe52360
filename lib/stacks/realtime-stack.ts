import { ArnFormat, CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BROADCAST_ROUTE_LIST } from '../../contracts/broadcast-routes';
import { EnvNames } from '../../contracts/env-names';
import { ServiceNames } from '../../contracts/telemetry-names';
import { CLIENT_ACTIONS } from '../../contracts/protocol';
import { CONNECTIONS_BY_TOPIC_INDEX } from '../../contracts/table-schema';
import type { StageConfig } from '../config/stage-config';
import { createAccessLog } from '../constructs/access-log';
import { HandlerFunction } from '../constructs/handler-function';
import { acknowledgeWildcardResource } from '../constructs/nag-acknowledgement';
import type { Identity } from '../constructs/identity';

export interface RealtimeStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly connectionsTable: ITable;
  readonly commentsTable: ITable;
  /** Whose tokens $connect accepts. */
  readonly identity: Identity;
}

/**
 * Where a WebSocket client puts its token: `wss://…/{stage}?token=<JWT>`. Browsers cannot set headers on
 * a WebSocket handshake, so the query string is the one place every client can use.
 */
export const WEBSOCKET_TOKEN_IDENTITY_SOURCE = 'route.request.querystring.token';
/** Always present on $connect; see the anonymous case in {@link RealtimeStack}. */
export const WEBSOCKET_ANONYMOUS_IDENTITY_SOURCE = 'context.connectionId';

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
  readonly fanOutWorker: HandlerFunction;
  /** Where worker batches that failed every retry end up (the worker's async on-failure destination). */
  readonly fanOutDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RealtimeStackProps) {
    const { stageConfig, connectionsTable, commentsTable, identity, ...stackProps } = props;
    super(scope, id, stackProps);
    const { stageName } = stageConfig;
    const connectionTtl = String(stageConfig.connectionTtlSeconds);

    this.authorizerHandler = new HandlerFunction(this, 'WebSocketAuthorizerHandler', {
      entry: 'lambda/websocket-authorizer/handler.ts',
      serviceName: ServiceNames.websocketAuthorizer,
      description: 'WebSocket $connect REQUEST authorizer: verifies the token query parameter (JWT)',
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

    // API Gateway runs a WebSocket authorizer on $connect only, and answers 401 without calling it when an
    // identity source is missing. With anonymous subscribers off, the token is that identity source, so a
    // handshake without one never reaches Lambda. With them on, a token-less handshake must still reach
    // the authorizer (which then allows it as an anonymous, read-only subscriber), so the identity source
    // is one that every $connect has: the connection id.
    const connectAuthorizer = new WebSocketLambdaAuthorizer(
      'ConnectAuthorizer',
      this.authorizerHandler.function,
      {
        authorizerName: `realtime-comments-${stageName}-connect`,
        identitySource: [
          stageConfig.allowAnonymousSubscribers
            ? WEBSOCKET_ANONYMOUS_IDENTITY_SOURCE
            : WEBSOCKET_TOKEN_IDENTITY_SOURCE,
        ],
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
    this.messagesHandler.addEnvironment(EnvNames.managementEndpoint, this.webSocketStage.callbackUrl);
    this.grantPostToConnection(this.messagesHandler);

    // Both deliver with the same code: bounded concurrency, retries with backoff on throttles and 5xx.
    const deliveryEnvironment = {
      [EnvNames.managementEndpoint]: this.webSocketStage.callbackUrl,
      [EnvNames.fanOutConcurrency]: String(stageConfig.fanOutConcurrency),
      [EnvNames.fanOutMaxAttempts]: String(stageConfig.fanOutRetry.maxAttempts),
      [EnvNames.fanOutRetryBaseMs]: String(stageConfig.fanOutRetry.baseMs),
      [EnvNames.fanOutRetryMaxMs]: String(stageConfig.fanOutRetry.maxMs),
    };

    this.fanOutDeadLetterQueue = new sqs.Queue(this, 'FanOutDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // SQS's longest: time to inspect and redrive (each record's requestPayload is a worker event).
      retentionPeriod: Duration.days(14),
      removalPolicy: stageConfig.removalPolicy,
    });
    Validations.of(this.fanOutDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the on-failure destination of the fan-out worker. Its ' +
        'records are read by an operator (and redriven by invoking the worker), never by a consumer that ' +
        'could fail them again, so a DLQ behind it would only ever stay empty.',
    });

    this.fanOutWorker = new HandlerFunction(this, 'FanOutWorkerHandler', {
      entry: 'lambda/fan-out-worker/handler.ts',
      serviceName: ServiceNames.fanOutWorker,
      description: 'Delivers one batch of a large broadcast (asynchronous invocations by the broadcast)',
      stageConfig,
      // A batch takes a fraction of a second; retries of a throttled batch can take seconds.
      timeout: Duration.seconds(60),
      environment: {
        ...deliveryEnvironment,
        [EnvNames.fanOutMaxGenerations]: String(stageConfig.fanOutMaxGenerations),
      },
    }).bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete');
    this.grantPostToConnection(this.fanOutWorker);
    // Lambda retries a failed event twice, then hands it to the queue (the grant to send comes with it).
    this.fanOutWorker.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(this.fanOutDeadLetterQueue),
    });
    // The worker hands the ids that still failed on to a new invocation of itself. A policy of its own:
    // in the role's default policy, the function's ARN would make the function depend on itself.
    new iam.Policy(this, 'FanOutWorkerHandOnPolicy', {
      roles: [this.fanOutWorker.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [this.fanOutWorker.function.functionArn],
        }),
      ],
    });

    this.broadcastHandler = new HandlerFunction(this, 'BroadcastHandler', {
      entry: 'lambda/broadcast/handler.ts',
      serviceName: ServiceNames.broadcast,
      description: 'Broadcast API: fan a message out to WebSocket connections; count connections',
      stageConfig,
      // HTTP API stops waiting after 30 s. A large audience is only read and queued here, but a small one
      // is delivered inline, and a batch that cannot be queued too.
      timeout: Duration.seconds(29),
      environment: {
        ...deliveryEnvironment,
        [EnvNames.fanOutBatchSize]: String(stageConfig.fanOutBatchSize),
        [EnvNames.fanOutWorkerFunctionName]: this.fanOutWorker.function.functionName,
      },
    }).bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete', {
      indexes: [CONNECTIONS_BY_TOPIC_INDEX],
    });
    this.grantPostToConnection(this.broadcastHandler);
    // Exactly the worker's unqualified ARN: grantInvoke() would add `<arn>:*` (every version and alias).
    iam.Grant.addToPrincipal({
      grantee: this.broadcastHandler,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.fanOutWorker.function.functionArn],
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
   * PostToConnection on this API's stage, and nothing else: not GetConnection or DeleteConnection (no
   * function uses them), not another stage. WebSocketStage.grantManagementApiAccess() would allow every
   * method (`/{stage}/*\/@connections/*`).
   */
  private grantPostToConnection(handler: HandlerFunction): void {
    const { stageName } = this.webSocketStage;
    const connectionsArn = this.formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      resourceName: `${stageName}/POST/@connections/*`,
    });
    iam.Grant.addToPrincipal({
      grantee: handler,
      actions: ['execute-api:ManageConnections'],
      resourceArns: [connectionsArn],
    });
    acknowledgeWildcardResource(
      handler.role,
      connectionsArn,
      'Connection ids are assigned by API Gateway at run time, so PostToConnection cannot name them; ' +
        `the grant is already limited to POST on the ${stageName} stage of this WebSocket API.`,
    );
  }
}
