import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BroadcastRoutes } from '../../contracts/broadcast-routes';
import { correlationIdFromHeaders } from '../../contracts/correlation';
import { EnvNames } from '../../contracts/env-names';
import { ErrorCodes, parseBroadcastEnvelope, type BroadcastEnvelope } from '../../contracts/protocol';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../shared/errors';
import { json, rawBody, toErrorResponse, type HttpResult } from '../shared/http';
import { currentCorrelationId, instrumented } from '../shared/telemetry';
import { fanOutBatchSizeFromEnv } from '../fan-out/fan-out-config';
import { fanOutWiringFromEnv } from '../fan-out/fan-out-wiring';
import { BroadcastService } from './broadcast-service';

const service = new BroadcastService({
  ...fanOutWiringFromEnv(EnvNames.fanOutWorkerFunctionName),
  batchSize: fanOutBatchSizeFromEnv(),
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
      case BroadcastRoutes.broadcastComments.routeKey: {
        const summary = await service.broadcast(envelopeOf(event), {
          correlationId: currentCorrelationId(),
        });
        // 202 Accepted: the audience was handed to fan-out workers, which deliver after this answer.
        return json(summary.batches > 0 ? 202 : 200, summary);
      }
      case BroadcastRoutes.connectionCount.routeKey:
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
