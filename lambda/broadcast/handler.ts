import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createDocumentClient, createManagementClient } from '../shared/aws-clients';
import { ManagementApiNotifier } from '../shared/connection-notifier';
import { DynamoConnectionRepository } from '../shared/connection-repository';
import { connectionsTableConfig } from '../shared/connections-config';
import { intEnv, requireEnv } from '../shared/env';
import { EnvNames } from '../shared/env-names';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../shared/errors';
import { json, rawBody, toErrorResponse, type HttpResult } from '../shared/http';
import { ErrorCodes, parseBroadcastEnvelope, type BroadcastEnvelope } from '../shared/protocol';
import { instrumented } from '../shared/telemetry';
import { BroadcastService } from './broadcast-service';

export const DEFAULT_FAN_OUT_CONCURRENCY = 50;

const connectionsTable = connectionsTableConfig();
const managementEndpoint = requireEnv(EnvNames.managementEndpoint);
const concurrency = intEnv(EnvNames.fanOutConcurrency, DEFAULT_FAN_OUT_CONCURRENCY);
if (concurrency < 1) throw new Error(`Environment variable ${EnvNames.fanOutConcurrency} must be at least 1`);

const service = new BroadcastService(
  new DynamoConnectionRepository(
    createDocumentClient(),
    connectionsTable.tableName,
    connectionsTable.ttlSeconds,
  ),
  new ManagementApiNotifier(createManagementClient(managementEndpoint)),
  concurrency,
);

function envelopeOf(event: APIGatewayProxyEventV2): BroadcastEnvelope {
  const parsed = parseBroadcastEnvelope(rawBody(event));
  if (parsed.ok) return parsed.value;
  const { code, message } = parsed.error;
  throw code === ErrorCodes.messageTooLarge
    ? new PayloadTooLargeError(message)
    : new ValidationError(message);
}

async function route(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  try {
    switch (event.routeKey) {
      case 'POST /broadcast/comments':
        return json(200, await service.broadcast(envelopeOf(event)));
      case 'GET /connections/count':
        return json(200, { count: await service.countConnections() });
      default:
        throw new NotFoundError('Not Found');
    }
  } catch (error) {
    return toErrorResponse(error);
  }
}

export const handler = instrumented(route);
