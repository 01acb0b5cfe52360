import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { positiveIntEnv, requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { ErrorCodes, parseClientMessage } from '../../contracts/protocol';
import { MetricNames } from '../../contracts/telemetry-names';
import { createDocumentClient, createManagementClient } from '../shared/aws-clients';
import { DynamoCommentRepository } from '../shared/dynamo-comment-repository';
import { ManagementApiNotifier } from '../shared/connection-notifier';
import { DynamoConnectionRepository } from '../shared/connection-repository';
import { connectionsTableConfig } from '../shared/connections-config';
import { countMetric, instrumented, logger } from '../shared/telemetry';
import { SubscriptionService, type ClientConnection } from './subscription-service';

const connectionsTable = connectionsTableConfig();
const commentsTableName = requireEnv(EnvNames.commentsTable);
const managementEndpoint = requireEnv(EnvNames.managementEndpoint);
const maxSubscriptions = positiveIntEnv(EnvNames.maxSubscriptions);

const documentClient = createDocumentClient();
const service = new SubscriptionService(
  new DynamoConnectionRepository(documentClient, connectionsTable.tableName, connectionsTable.ttlSeconds),
  new DynamoCommentRepository(documentClient, commentsTableName),
  new ManagementApiNotifier(createManagementClient(managementEndpoint)),
  { maxSubscriptions },
);

function messageText(event: APIGatewayProxyWebsocketEventV2): string | undefined {
  if (event.body === undefined || !event.isBase64Encoded) return event.body;
  return Buffer.from(event.body, 'base64').toString('utf8');
}

/**
 * Serves subscribe, unsubscribe, ping and $default alike: API Gateway routes on `action`, so $default gets
 * unknown actions and non-JSON, and every route's body is parsed and validated the same way.
 * API Gateway always gets a 200; errors travel in-band as `{type:"error"}` events to the client.
 */
async function onMessage(event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> {
  const { connectionId, connectedAt } = event.requestContext;
  const client: ClientConnection = { connectionId, connectedAt };
  const parsed = parseClientMessage(messageText(event));
  try {
    if (parsed.ok) {
      await service.handle(client, parsed.value);
    } else {
      countMetric(MetricNames.invalidClientMessages);
      await service.reject(client, parsed.error);
    }
  } catch (error) {
    logger.error('Failed to handle client message', {
      connectionId,
      routeKey: event.requestContext.routeKey,
      error: error as Error,
    });
    countMetric(MetricNames.clientMessageFailures);
    const postId = parsed.ok && 'postId' in parsed.value ? parsed.value.postId : undefined;
    await service.reject(client, { code: ErrorCodes.internalError, message: 'Internal error' }, postId);
  }
  return { statusCode: 200 };
}

// API Gateway's request id, which the stage's access log records too.
export const handler = instrumented(onMessage, { correlationId: (event) => event.requestContext.requestId });
