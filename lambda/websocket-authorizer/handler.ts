import { booleanEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { countMetric, instrumented, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import { protocolHeaderOf, TOKEN_QUERY_PARAMETER } from '../../contracts/websocket-auth';
import { authConfigFromEnv, JwksTokenVerifier } from '../shared/token-verifier';
import {
  allowConnect,
  ConnectAuthorizer,
  ConnectRefusedError,
  presentedToken,
  type ConnectAuthorizerResult,
} from './connect-authorizer';

export type { ConnectAuthorizerResult };

/**
 * The event API Gateway sends a WebSocket API's REQUEST authorizer on $connect (aws-lambda's
 * APIGatewayRequestAuthorizerEvent is the REST flavour, with fields a WebSocket event lacks).
 */
export interface WebSocketAuthorizerEvent {
  type?: 'REQUEST';
  /** arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect */
  methodArn: string;
  /** Header names as the client sent them (any case). */
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  requestContext?: { connectionId?: string; routeKey?: string; requestId?: string };
}

/**
 * The one error message API Gateway turns into 401 Unauthorized. A Deny policy would be a 403; 401 is
 * the conventional answer to a missing or bad credential, and the client cannot tell the cases apart.
 */
export const UNAUTHORIZED = 'Unauthorized';

// Built once per cold start: jose caches the issuer's key set inside the verifier across invocations.
const authorizer = new ConnectAuthorizer(
  new JwksTokenVerifier(authConfigFromEnv()),
  booleanEnv(EnvNames.allowAnonymous),
);

async function authorize(event: WebSocketAuthorizerEvent): Promise<ConnectAuthorizerResult> {
  const connectionId = event.requestContext?.connectionId;
  try {
    const token = presentedToken({
      protocolHeader: protocolHeaderOf(event.headers, event.multiValueHeaders),
      queryToken: event.queryStringParameters?.[TOKEN_QUERY_PARAMETER],
    });
    const identity = await authorizer.authorize(token);
    logger.info('Connection authorized', {
      connectionId,
      anonymous: identity.anonymous,
      userId: identity.anonymous ? undefined : identity.userId,
    });
    countMetric(MetricNames.authorizerAllowed);
    return allowConnect(identity, event.methodArn);
  } catch (error) {
    // Never log the token itself: it is a credential until it expires.
    if (error instanceof ConnectRefusedError) {
      logger.warn('Connection refused', {
        connectionId,
        reason: error.reason,
        ...(error.problem ? { problem: error.problem } : {}),
      });
      countMetric(MetricNames.authorizerDenied);
      throw new Error(UNAUTHORIZED, { cause: error });
    }
    // The key set could not be fetched, or similar: not the client's fault. API Gateway answers 500.
    logger.error('Authorizer failed', {
      connectionId,
      errorName: (error as Error).name,
      error: error as Error,
    });
    countMetric(MetricNames.authorizerErrors);
    throw new Error('Authorizer unavailable', { cause: error });
  }
}

// API Gateway's request id, which the stage's access log records too.
export const handler = instrumented(authorize, { correlationId: (event) => event.requestContext?.requestId });
