import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { EnvNames } from '../../lambda/shared/env-names';
import { CLIENT_ACTIONS } from '../../lambda/shared/protocol';
import type { StageConfig } from '../config/stage-config';
import { HandlerFunction } from '../constructs/handler-function';

export interface RealtimeStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly connectionsTable: ITable;
  readonly commentsTable: ITable;
}

/** The broadcast API's routes, relative to {@link RealtimeStack.broadcastStage}'s URL. */
export const BROADCAST_ROUTES = {
  broadcastComments: '/broadcast/comments',
  connectionCount: '/connections/count',
} as const;

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
  readonly connectionHandler: HandlerFunction;
  readonly messagesHandler: HandlerFunction;
  readonly broadcastHandler: HandlerFunction;

  constructor(scope: Construct, id: string, props: RealtimeStackProps) {
    const { stageConfig, connectionsTable, commentsTable, ...stackProps } = props;
    super(scope, id, stackProps);
    const { stageName } = stageConfig;
    const connectionTtl = String(stageConfig.connectionTtlSeconds);

    this.connectionHandler = new HandlerFunction(this, 'WebSocketConnectionHandler', {
      entry: 'lambda/websocket-connection/handler.ts',
      serviceName: 'websocket-connection',
      description: 'WebSocket $connect and $disconnect',
      stageConfig,
      environment: { [EnvNames.connectionTtlSeconds]: connectionTtl },
    })
      // $disconnect Queries its own item collection to delete the subscriptions with it.
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readWrite');

    this.messagesHandler = new HandlerFunction(this, 'WebSocketMessagesHandler', {
      entry: 'lambda/websocket-messages/handler.ts',
      serviceName: 'websocket-messages',
      description: 'WebSocket subscribe, unsubscribe, ping and $default',
      stageConfig,
      environment: { [EnvNames.connectionTtlSeconds]: connectionTtl },
    })
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readWrite')
      .bindTable(EnvNames.commentsTable, commentsTable, 'read');

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
      connectRouteOptions: { integration: connectionIntegration },
      disconnectRouteOptions: { integration: connectionIntegration },
      defaultRouteOptions: { integration: messagesIntegration },
    });
    for (const action of CLIENT_ACTIONS) {
      this.webSocketApi.addRoute(action, { integration: messagesIntegration });
    }
    this.webSocketStage = new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName,
      autoDeploy: true,
      throttle: stageConfig.webSocketThrottle,
    });
    this.messagesHandler.addEnvironment(EnvNames.managementEndpoint, this.webSocketStage.callbackUrl);
    this.webSocketStage.grantManagementApiAccess(this.messagesHandler);

    this.broadcastHandler = new HandlerFunction(this, 'BroadcastHandler', {
      entry: 'lambda/broadcast/handler.ts',
      serviceName: 'broadcast',
      description: 'Broadcast API: fan a message out to WebSocket connections; count connections',
      stageConfig,
      // HTTP API stops waiting after 30 s; a fan-out to many connections may need most of that.
      timeout: Duration.seconds(29),
      environment: {
        [EnvNames.managementEndpoint]: this.webSocketStage.callbackUrl,
        [EnvNames.fanOutConcurrency]: String(stageConfig.fanOutConcurrency),
      },
    }).bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete');
    this.webSocketStage.grantManagementApiAccess(this.broadcastHandler);

    this.broadcastApi = new apigwv2.HttpApi(this, 'BroadcastApi', {
      apiName: `realtime-comments-${stageName}-broadcast`,
      description: 'Broadcast comment events to WebSocket clients',
      createDefaultStage: false,
    });
    this.broadcastStage = new apigwv2.HttpStage(this, 'BroadcastStage', {
      httpApi: this.broadcastApi,
      stageName,
      autoDeploy: true,
      throttle: stageConfig.httpThrottle,
    });
    const broadcastIntegration = new HttpLambdaIntegration(
      'BroadcastIntegration',
      this.broadcastHandler.function,
    );
    this.broadcastApi.addRoutes({
      path: BROADCAST_ROUTES.broadcastComments,
      methods: [apigwv2.HttpMethod.POST],
      integration: broadcastIntegration,
    });
    this.broadcastApi.addRoutes({
      path: BROADCAST_ROUTES.connectionCount,
      methods: [apigwv2.HttpMethod.GET],
      integration: broadcastIntegration,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url });
    new CfnOutput(this, 'WebSocketManagementEndpoint', { value: this.webSocketStage.callbackUrl });
    new CfnOutput(this, 'BroadcastUrl', { value: this.broadcastStage.url });
  }
}
