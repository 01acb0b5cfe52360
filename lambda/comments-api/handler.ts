import { correlationIdFromHeaders } from '../../contracts/correlation';
import { positiveIntEnv, requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { createDocumentClient } from '../shared/aws-clients';
import { DynamoCommentRepository } from '../shared/dynamo-comment-repository';
import { newId } from '../shared/ids';
import { currentCorrelationId, instrumented } from '../shared/telemetry';
import { HttpBroadcastClient } from './broadcast-client';
import { CommentService } from './comment-service';
import { createHandler } from './routes';
import { createSigV4Transport, regionFromEnv } from './sigv4-transport';

export { createHandler };

// Configuration is read before any client is built, so a misconfigured function fails its cold start
// with the missing variable's name instead of failing requests later.
const tableName = requireEnv(EnvNames.commentsTable);
const broadcastUrl = requireEnv(EnvNames.broadcastUrl);
// Writes wait for the broadcast at most this long; the function's own timeout must leave room for it.
const broadcastTimeoutMs = positiveIntEnv(EnvNames.broadcastTimeoutMs);
const websocketUrl = requireEnv(EnvNames.websocketUrl);
const eventRetentionSeconds = positiveIntEnv(EnvNames.eventRetentionSeconds);
const region = regionFromEnv();

const service = new CommentService({
  comments: new DynamoCommentRepository(createDocumentClient(), tableName),
  // The broadcast API is IAM-authorised: every request to it is signed with the function role's credentials.
  broadcaster: new HttpBroadcastClient({
    baseUrl: broadcastUrl,
    timeoutMs: broadcastTimeoutMs,
    send: createSigV4Transport({ region }),
    correlationId: currentCorrelationId,
  }),
  clock: () => new Date(),
  newId,
  websocketEndpoint: websocketUrl,
  eventRetentionSeconds,
});

// The caller's x-correlation-id when it is a valid id, else API Gateway's request id (as in the access log).
export const handler = instrumented(createHandler(service), {
  correlationId: (event) => correlationIdFromHeaders(event.headers, event.requestContext.requestId),
});
