import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { EnvNames } from '../../lambda/shared/env-names';
import type { StageConfig } from '../config/stage-config';
import { HandlerFunction } from '../constructs/handler-function';

export interface CommentsApiStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly commentsTable: ITable;
  /** The WebSocket stage whose wss:// URL the API reports to clients. */
  readonly webSocketStage: apigwv2.IWebSocketStage;
  /** The broadcast API's stage; its URL has no trailing slash and the handler appends the route path. */
  readonly broadcastStage: apigwv2.IHttpStage;
}

const { GET, POST, PATCH, DELETE } = apigwv2.HttpMethod;

/**
 * Every route the comments API serves, declared one by one: no `$default` or `{proxy+}` catch-all, so API
 * Gateway answers unknown paths with 404 without invoking the function.
 */
export const COMMENTS_API_ROUTES: readonly { readonly method: apigwv2.HttpMethod; readonly path: string }[] =
  [
    { method: POST, path: '/api/v1/posts' },
    { method: GET, path: '/api/v1/posts/{id}' },
    { method: POST, path: '/api/v1/posts/{id}/comments' },
    { method: GET, path: '/api/v1/posts/{id}/comments' },
    { method: PATCH, path: '/api/v1/posts/{id}/comments/{commentId}' },
    { method: DELETE, path: '/api/v1/posts/{id}/comments/{commentId}' },
    { method: GET, path: '/api/v1/websocket/connections' },
  ];

/** The REST API for posts and comments; each change is broadcast to WebSocket subscribers. */
export class CommentsApiStack extends Stack {
  readonly api: apigwv2.HttpApi;
  /** The `$default` stage: https://{apiId}.execute-api.{region}.amazonaws.com/, with a trailing slash. */
  readonly stage: apigwv2.HttpStage;
  readonly handler: HandlerFunction;

  constructor(scope: Construct, id: string, props: CommentsApiStackProps) {
    const { stageConfig, commentsTable, webSocketStage, broadcastStage, ...stackProps } = props;
    super(scope, id, stackProps);

    this.handler = new HandlerFunction(this, 'CommentsApiHandler', {
      entry: 'lambda/comments-api/handler.ts',
      serviceName: 'comments-api',
      description: 'Comments REST API',
      stageConfig,
      environment: {
        [EnvNames.broadcastUrl]: broadcastStage.url,
        [EnvNames.broadcastTimeoutMs]: String(stageConfig.broadcastTimeoutMs),
        [EnvNames.websocketUrl]: webSocketStage.url,
      },
    }).bindTable(EnvNames.commentsTable, commentsTable, 'readWrite');

    this.api = new apigwv2.HttpApi(this, 'CommentsApi', {
      apiName: `realtime-comments-${stageConfig.stageName}-comments`,
      description: 'Posts and comments',
      // The stage is declared below, because HttpApi's own default stage takes no throttling.
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [...stageConfig.corsAllowOrigins],
        allowHeaders: ['content-type', 'authorization', 'x-user-id'],
        allowMethods: [
          apigwv2.CorsHttpMethod.GET,
          apigwv2.CorsHttpMethod.POST,
          apigwv2.CorsHttpMethod.PATCH,
          apigwv2.CorsHttpMethod.DELETE,
          apigwv2.CorsHttpMethod.OPTIONS,
        ],
        maxAge: Duration.hours(1),
      },
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: stageConfig.httpThrottle,
    });

    const integration = new HttpLambdaIntegration('CommentsIntegration', this.handler.function);
    for (const route of COMMENTS_API_ROUTES) {
      this.api.addRoutes({ path: route.path, methods: [route.method], integration });
    }

    new CfnOutput(this, 'CommentsApiUrl', { value: this.stage.url });
  }
}
