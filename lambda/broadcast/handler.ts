import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BroadcastRoutes, PREFER_HEADER, RESPOND_ASYNC } from '../../contracts/broadcast-routes';
import { correlationIdFromHeaders } from '../../contracts/correlation';
import { headerValue } from '../../contracts/headers';
import { requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { ErrorCodes, parseBroadcastEnvelope, type BroadcastEnvelope } from '../../contracts/protocol';
import { LambdaAsyncInvoker } from '../shared/async-invoke';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../shared/errors';
import { json, rawBody, toErrorResponse, type HttpResult } from '../shared/http';
import { currentCorrelationId, instrumented, logger } from '../shared/telemetry';
import { publishingWiringFromEnv } from '../fan-out/publishing-wiring';
import type { PublishNowResult } from '../fan-out/event-publisher';
import { correlationIdOfJob, isPublishJob, parsePublishJob, type PublishJob } from './publish-job';

const { broadcaster, publisher, lambdaClient } = publishingWiringFromEnv();
// A broadcast accepted with respond-async runs as an asynchronous invocation of this same function.
const background = new LambdaAsyncInvoker(lambdaClient, requireEnv(EnvNames.lambdaFunctionName));

function envelopeOf(event: APIGatewayProxyEventV2): BroadcastEnvelope {
  const parsed = parseBroadcastEnvelope(rawBody(event));
  if (parsed.ok) return parsed.value;
  const { code, message } = parsed.error;
  throw code === ErrorCodes.messageTooLarge
    ? new PayloadTooLargeError(message)
    : new ValidationError(message);
}

function prefersAsync(event: APIGatewayProxyEventV2): boolean {
  return (headerValue(event.headers, PREFER_HEADER) ?? '')
    .split(',')
    .some((preference) => preference.trim().toLowerCase() === RESPOND_ASYNC);
}

/** The answer to a publish: the fan-out's summary, or why the other path has (or will have) it. */
function publishAnswer(result: PublishNowResult): HttpResult {
  if (result.published) {
    // 202 Accepted: the audience was handed to fan-out workers, which deliver after this answer.
    return json(result.summary.batches > 0 ? 202 : 200, result.summary);
  }
  switch (result.reason) {
    case 'notStored':
      throw new NotFoundError(
        'No stored event has this seq: "eventId" and "seq" name stored comment events only',
      );
    case 'conflict':
      throw new ConflictError('The stored event with this seq has another "eventId"');
    default:
      // Accepted: the stream publisher delivers it, or already has.
      return json(202, { skipped: true, reason: result.reason });
  }
}

async function route(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  try {
    switch (event.routeKey) {
      case BroadcastRoutes.broadcastComments.routeKey: {
        const envelope = envelopeOf(event);
        const correlationId = currentCorrelationId();
        if (prefersAsync(event)) {
          const job: PublishJob = {
            kind: 'publish',
            jobId: randomUUID(),
            envelope,
            ...(correlationId === undefined ? {} : { correlationId }),
          };
          await background.invoke(job);
          return json(202, { broadcastId: job.jobId, accepted: true });
        }
        return publishAnswer(await publisher.publishNow(envelope, { correlationId }));
      }
      case BroadcastRoutes.connectionCount.routeKey:
        return json(200, { count: await broadcaster.countConnections() });
      default:
        throw new NotFoundError('Not Found');
    }
  } catch (error) {
    return toErrorResponse(error);
  }
}

/** A broadcast accepted with respond-async, run in the background. Throws to have Lambda retry it. */
async function runJob(event: unknown): Promise<PublishNowResult> {
  const job = parsePublishJob(event);
  const result = await publisher.publishNow(job.envelope, {
    // The id the 202 gave out names the broadcast in every log line and worker batch it leads to.
    broadcastId: job.jobId,
    ...(job.correlationId === undefined ? {} : { correlationId: job.correlationId }),
  });
  logger.info('Background broadcast done', {
    jobId: job.jobId,
    published: result.published,
    ...(result.published ? {} : { reason: result.reason }),
  });
  return result;
}

function isHttpEvent(event: unknown): event is APIGatewayProxyEventV2 {
  return typeof event === 'object' && event !== null && 'routeKey' in event && 'requestContext' in event;
}

// The comments API's correlation id (x-correlation-id), else this request's own API Gateway request id; a
// job logs under the request's that queued it.
export const handler = instrumented(
  async (event: unknown) => (isPublishJob(event) ? runJob(event) : route(event as APIGatewayProxyEventV2)),
  {
    correlationId: (event) =>
      isHttpEvent(event)
        ? correlationIdFromHeaders(event.headers, event.requestContext.requestId)
        : correlationIdOfJob(event),
  },
);
