import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createDocumentClient, createLambdaClient, createManagementClient } from '../shared/aws-clients';
import { ManagementApiNotifier } from '../shared/connection-notifier';
import { DynamoConnectionRepository } from '../shared/connection-repository';
import { connectionsTableConfig } from '../shared/connections-config';
import { correlationIdFromHeaders } from '../../contracts/correlation';
import { requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../shared/errors';
import { json, rawBody, toErrorResponse, type HttpResult } from '../shared/http';
import { ErrorCodes, parseBroadcastEnvelope, type BroadcastEnvelope } from '../../contracts/protocol';
import { currentCorrelationId, instrumented } from '../shared/telemetry';
import { BroadcastService } from './broadcast-service';
import { LambdaFanOutDispatcher } from '../fan-out/fan-out-batch';
import { fanOutConfigFromEnv } from '../fan-out/fan-out-config';

const connectionsTable = connectionsTableConfig();
const managementEndpoint = requireEnv(EnvNames.managementEndpoint);
const workerFunctionName = requireEnv(EnvNames.fanOutWorkerFunctionName);
const { concurrency, retry, batchSize } = fanOutConfigFromEnv();

const service = new BroadcastService({
  connections: new DynamoConnectionRepository(
    createDocumentClient(),
    connectionsTable.tableName,
    connectionsTable.ttlSeconds,
  ),
  // The fan-out retries throttles and 5xx itself and counts each retry, so the SDK must not retry too.
  notifier: new ManagementApiNotifier(createManagementClient(managementEndpoint, { maxAttempts: 1 })),
  dispatcher: new LambdaFanOutDispatcher(createLambdaClient(), workerFunctionName),
  concurrency,
  retry,
  batchSize,
});

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
      case 'POST /broadcast/comments': {
        const summary = await service.broadcast(envelopeOf(event), {
          correlationId: currentCorrelationId(),
        });
        // 202 Accepted: the audience was handed to fan-out workers, which deliver after this answer.
        return json(summary.batches > 0 ? 202 : 200, summary);
      }
      case 'GET /connections/count':
        return json(200, { count: await service.countConnections() });
      default:
        throw new NotFoundError('Not Found');
    }
  } catch (error) {
    return toErrorResponse(error);
  }
}

// The comments API's correlation id (x-correlation-id), else this request's own API Gateway request id.
export const handler = instrumented(route, {
  correlationId: (event) => correlationIdFromHeaders(event.headers, event.requestContext.requestId),
});
