import { ArnFormat, CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { BROADCAST_ROUTE_LIST } from '../../contracts/broadcast-routes';
import { COMMENTS_API_ROUTE_KEYS, type CommentsApiRouteKey } from '../../contracts/comments-api-routes';
import { CORRELATION_ID_HEADER } from '../../contracts/correlation';
import { EnvNames } from '../../contracts/env-names';
import { ServiceNames } from '../../contracts/telemetry-names';
import type { StageConfig } from '../config/stage-config';
import { createAccessLog } from '../constructs/access-log';
import { HandlerFunction } from '../constructs/handler-function';
import type { Identity } from '../constructs/identity';

export interface CommentsApiStackProps extends StackProps {
  readonly stageConfig: StageConfig;
  readonly commentsTable: ITable;
  /** The WebSocket stage whose wss:// URL the API reports to clients. */
  readonly webSocketStage: apigwv2.IWebSocketStage;
  /** The broadcast API's stage; its URL has no trailing slash and the handler appends the route path. */
  readonly broadcastStage: apigwv2.IHttpStage;
  /** Whose tokens the write routes accept. */
  readonly identity: Identity;
}

/** A comments API route as API Gateway needs it, parsed from its route key (`METHOD /path`). */
export interface CommentsApiRoute {
  readonly routeKey: CommentsApiRouteKey;
  readonly method: apigwv2.HttpMethod;
  readonly path: string;
  /** Writes need a token (JWT authorizer); reads are public. */
  readonly requiresToken: boolean;
}

const READ_METHODS: readonly apigwv2.HttpMethod[] = [apigwv2.HttpMethod.GET];

function parseRouteKey(routeKey: CommentsApiRouteKey): CommentsApiRoute {
  const [method, path] = routeKey.split(' ') as [string, string];
  if (!Object.values<string>(apigwv2.HttpMethod).includes(method)) {
    throw new Error(`Route key "${routeKey}" has no valid HTTP method`);
  }
  const httpMethod = method as apigwv2.HttpMethod;
  return { routeKey, method: httpMethod, path, requiresToken: !READ_METHODS.includes(httpMethod) };
}

/**
 * Every route the comments API serves, from the route keys its function dispatches on, declared one by one:
 * no `$default` or `{proxy+}` catch-all, so API Gateway answers unknown paths with 404 without invoking the
 * function.
 */
export const COMMENTS_API_ROUTES: readonly CommentsApiRoute[] = COMMENTS_API_ROUTE_KEYS.map(parseRouteKey);

/** The REST API for posts and comments; each change is broadcast to WebSocket subscribers. */
export class CommentsApiStack extends Stack {
  readonly api: apigwv2.HttpApi;
  /** The `$default` stage: https://{apiId}.execute-api.{region}.amazonaws.com/, with a trailing slash. */
  readonly stage: apigwv2.HttpStage;
  readonly handler: HandlerFunction;

  constructor(scope: Construct, id: string, props: CommentsApiStackProps) {
    const { stageConfig, commentsTable, webSocketStage, broadcastStage, identity, ...stackProps } = props;
    super(scope, id, stackProps);

    this.handler = new HandlerFunction(this, 'CommentsApiHandler', {
      entry: 'lambda/comments-api/handler.ts',
      serviceName: ServiceNames.commentsApi,
      description: 'Comments REST API',
      stageConfig,
      environment: {
        [EnvNames.broadcastUrl]: broadcastStage.url,
        [EnvNames.broadcastTimeoutMs]: String(stageConfig.broadcastTimeoutMs),
        [EnvNames.websocketUrl]: webSocketStage.url,
        [EnvNames.eventRetentionSeconds]: String(stageConfig.eventRetentionSeconds),
      },
    }).bindTable(EnvNames.commentsTable, commentsTable, 'readWrite');
    this.grantBroadcastInvoke(broadcastStage);

    this.api = new apigwv2.HttpApi(this, 'CommentsApi', {
      apiName: `realtime-comments-${stageConfig.stageName}-comments`,
      description: 'Posts and comments',
      // The stage is declared below, because HttpApi's own default stage takes no throttling.
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [...stageConfig.corsAllowOrigins],
        allowHeaders: ['content-type', 'authorization', CORRELATION_ID_HEADER],
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
    const accessLog = createAccessLog(this, 'AccessLogs', stageConfig, 'http');
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: stageConfig.httpThrottle,
      accessLogSettings: accessLog.settings,
    });

    // API Gateway checks signature, expiry, issuer and audience before the function runs; the function
    // reads the user from the verified claims.
    const jwtAuthorizer = new HttpJwtAuthorizer('JwtAuthorizer', identity.issuer, {
      authorizerName: `realtime-comments-${stageConfig.stageName}-jwt`,
      jwtAudience: [identity.audience],
      identitySource: ['$request.header.Authorization'],
    });
    const integration = new HttpLambdaIntegration('CommentsIntegration', this.handler.function);
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of COMMENTS_API_ROUTES) {
      const [httpRoute] = this.api.addRoutes({
        path: route.path,
        methods: [route.method],
        integration,
        authorizer: route.requiresToken ? jwtAuthorizer : undefined,
      });
      if (!httpRoute) throw new Error(`No route created for ${route.routeKey}`);
      if (!route.requiresToken) {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            `${route.routeKey} is a public read: posts, comments and the connection count are shown to ` +
            'readers who are not signed in. Every write route requires a JWT.',
        });
      }
      const throttle = stageConfig.commentsApiRouteThrottle[route.routeKey];
      if (throttle) {
        routeSettings[route.routeKey] = {
          ThrottlingRateLimit: throttle.rateLimit,
          ThrottlingBurstLimit: throttle.burstLimit,
        };
        // A stage naming a route in RouteSettings fails to deploy before that route exists.
        cfnStage.addResourceDependency(httpRoute.node.defaultChild as apigwv2.CfnRoute);
      }
    }
    if (Object.keys(routeSettings).length > 0) cfnStage.routeSettings = routeSettings;

    new CfnOutput(this, 'CommentsApiUrl', { value: this.stage.url });
  }

  /**
   * execute-api:Invoke on exactly the broadcast API's two routes on its stage, for the SigV4-signed calls
   * the function makes. HttpRoute.grantInvoke() would allow every stage (`{apiId}/*\/…`).
   */
  private grantBroadcastInvoke(broadcastStage: apigwv2.IHttpStage): void {
    iam.Grant.addToPrincipal({
      grantee: this.handler,
      actions: ['execute-api:Invoke'],
      resourceArns: BROADCAST_ROUTE_LIST.map((route) =>
        this.formatArn({
          service: 'execute-api',
          resource: broadcastStage.api.apiId,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          resourceName: `${broadcastStage.stageName}/${route.method}${route.path}`,
        }),
      ),
    });
  }
}
