import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, type IAccessLogSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config';

/**
 * One JSON object per request on an HTTP API stage: who called (ip, user agent), what (route, status),
 * and why it failed (API Gateway, integration or authorizer error). No headers, no bodies, no tokens.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 */
export const HTTP_ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
};

/**
 * One JSON object per WebSocket event ($connect, each message, $disconnect), keyed by connection, with the
 * $connect authorizer's outcome and the principal it returned.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html
 */
export const WEBSOCKET_ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  requestTime: '$context.requestTime',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  status: '$context.status',
  connectionId: '$context.connectionId',
  error: '$context.error.message',
  integrationError: '$context.integration.error',
  authorizerError: '$context.authorizer.error',
  principalId: '$context.authorizer.principalId',
};

export type AccessLogKind = 'http' | 'websocket';

/**
 * Creates an API Gateway stage's access log group (the stage's retention and removal policy) and returns
 * the stage's access log settings, in JSON.
 *
 * WebSocket stages write their logs through the account's API Gateway CloudWatch Logs role (the
 * `cloudwatchRoleArn` account setting, once per account and region, like `cdk bootstrap`); HTTP API
 * stages need no role.
 */
export function createAccessLog(
  scope: Construct,
  id: string,
  stageConfig: StageConfig,
  kind: AccessLogKind,
): { readonly logGroup: logs.LogGroup; readonly settings: IAccessLogSettings } {
  const logGroup = new logs.LogGroup(scope, id, {
    retention: stageConfig.logRetention,
    removalPolicy: stageConfig.removalPolicy,
  });
  const fields = kind === 'http' ? HTTP_ACCESS_LOG_FIELDS : WEBSOCKET_ACCESS_LOG_FIELDS;
  return {
    logGroup,
    settings: {
      destination: new LogGroupLogDestination(logGroup),
      format: AccessLogFormat.custom(JSON.stringify(fields)),
    },
  };
}
