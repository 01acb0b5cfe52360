import type {
  APIGatewayEventWebsocketRequestContextV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyWebsocketEventV2WithRequestContext,
} from 'aws-lambda';
import { createDocumentClient } from '../shared/aws-clients';
import { DynamoConnectionRepository } from '../shared/connection-repository';
import { connectionsTableConfig } from '../shared/connections-config';
import { isValidId } from '../../contracts/protocol';
import { parseProtocolOffer, protocolHeaderOf, SEC_WEBSOCKET_PROTOCOL } from '../../contracts/websocket-auth';
import { countMetric, instrumented, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import { ConnectionService } from './connection-service';

/**
 * aws-lambda's WebSocket event has no `authorizer`; API Gateway adds it to the request context when the
 * $connect route has a Lambda authorizer, carrying the context that authorizer returned.
 */
export type WebSocketLifecycleEvent = APIGatewayProxyWebsocketEventV2WithRequestContext<
  APIGatewayEventWebsocketRequestContextV2 & { authorizer?: Record<string, unknown> }
> & {
  /** The handshake's headers, on $connect only (aws-lambda's type omits them). */
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
};

const { tableName, ttlSeconds } = connectionsTableConfig();
const service = new ConnectionService(
  new DynamoConnectionRepository(createDocumentClient(), tableName, ttlSeconds),
);

/**
 * The single hook for the identity: the $connect route's Lambda authorizer (lambda/websocket-authorizer)
 * verified the token and put `userId` in the context. Anonymous connections (`anonymous: "true"`, or no
 * authorizer context at all, as on a stage without an authorizer) carry no user id.
 */
function authorizedUserId(event: WebSocketLifecycleEvent): string | undefined {
  const authorizer = event.requestContext.authorizer;
  if (!authorizer || String(authorizer.anonymous) === 'true') return undefined;
  const userId = authorizer.userId;
  return isValidId(userId) ? userId : undefined;
}

/**
 * A client that offers subprotocols (the SDK and browsers send the token in one) must get the selected one
 * back in the handshake's answer, or it fails the connection. API Gateway does not negotiate subprotocols:
 * the $connect integration's response header is what it sends ("Set up a $connect route that requires a
 * WebSocket subprotocol", https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-connect-route-subprotocol.html).
 * Only the protocol's name is ever echoed, never the value that carries the token.
 */
async function onConnect(event: WebSocketLifecycleEvent): Promise<APIGatewayProxyResultV2> {
  const { connectionId, connectedAt } = event.requestContext;
  const offer = parseProtocolOffer(protocolHeaderOf(event.headers, event.multiValueHeaders));
  if (offer.kind === 'invalid') {
    // The authorizer refuses these first; without one, nothing is stored for a handshake that cannot work.
    logger.warn('Refused a $connect with an invalid protocol list', { connectionId, problem: offer.problem });
    return { statusCode: 400 };
  }
  try {
    await service.connect({ connectionId, connectedAt, userId: authorizedUserId(event) });
    countMetric(MetricNames.connectionsOpened);
    return offer.kind === 'valid'
      ? { statusCode: 200, headers: { [SEC_WEBSOCKET_PROTOCOL]: offer.protocol } }
      : { statusCode: 200 };
  } catch (error) {
    // Without its row the connection could never receive a broadcast, so refuse it; the client retries.
    logger.error('Failed to store connection', { connectionId, error: error as Error });
    countMetric(MetricNames.connectFailures);
    return { statusCode: 500 };
  }
}

async function onDisconnect(event: WebSocketLifecycleEvent): Promise<APIGatewayProxyResultV2> {
  const { connectionId } = event.requestContext;
  // Counted whatever the cleanup does: the connection is closed either way.
  countMetric(MetricNames.connectionsClosed);
  try {
    await service.disconnect(connectionId);
  } catch (error) {
    // The socket is closed whatever we answer; leftover rows expire by TTL and a broadcast that meets
    // one gets a 410 and deletes it.
    logger.error('Failed to clean up connection', { connectionId, error: error as Error });
    countMetric(MetricNames.disconnectCleanupFailures);
  }
  return { statusCode: 200 };
}

async function route(event: WebSocketLifecycleEvent): Promise<APIGatewayProxyResultV2> {
  const { eventType, routeKey } = event.requestContext;
  // The event type is what API Gateway says happened; a route key is only a name. A client message can never
  // select $connect or $disconnect on AWS, but a frame that claimed to must not delete a live connection's rows.
  const kind = eventType ?? { $connect: 'CONNECT', $disconnect: 'DISCONNECT' }[routeKey];
  if (kind === 'CONNECT') return onConnect(event);
  if (kind === 'DISCONNECT') return onDisconnect(event);
  logger.warn('Connection handler received an event it does not route', { eventType, routeKey });
  return { statusCode: 400 };
}

// API Gateway's request id, which the stage's access log records too.
export const handler = instrumented(route, { correlationId: (event) => event.requestContext.requestId });
