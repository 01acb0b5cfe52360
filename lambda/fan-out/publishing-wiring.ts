import { positiveIntEnv, requireEnv, type Env } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { createDocumentClient, createLambdaClient } from '../shared/aws-clients';
import { readEvent } from '../shared/event-log';
import { BroadcastService } from './broadcast-service';
import { EventPublisher } from './event-publisher';
import { fanOutBatchSizeFromEnv } from './fan-out-config';
import { fanOutWiringFromEnv } from './fan-out-wiring';
import { DynamoPublishClaims } from './publish-claims';

/** What both publishing paths are built from: the fan-out to the audience, and the publisher over it. */
export interface PublishingWiring {
  readonly broadcaster: BroadcastService;
  readonly publisher: EventPublisher;
  /** The function's one Lambda client: the fan-out dispatches worker batches with it. */
  readonly lambdaClient: LambdaClient;
}

/**
 * Builds the publishing path of the broadcast function and of the stream publisher from the environment,
 * once per cold start: the fan-out (connections, Management API, worker dispatch, settings), the publish
 * cursor and the event log of the comments table. Every variable is read before any client is built.
 */
export function publishingWiringFromEnv(env: Env = process.env): PublishingWiring {
  const commentsTable = requireEnv(EnvNames.commentsTable, env);
  const claimTtlMs = positiveIntEnv(EnvNames.publishClaimTtlMs, env);
  const batchSize = fanOutBatchSizeFromEnv(env);
  const documentClient = createDocumentClient(env);
  const lambdaClient = createLambdaClient(env);
  const broadcaster = new BroadcastService({
    ...fanOutWiringFromEnv(EnvNames.fanOutWorkerFunctionName, env, documentClient, lambdaClient),
    batchSize,
  });
  const publisher = new EventPublisher({
    claims: new DynamoPublishClaims(documentClient, commentsTable, { claimTtlMs }),
    broadcaster,
    events: { getEvent: (postId, seq) => readEvent(documentClient, commentsTable, postId, seq) },
  });
  return { broadcaster, publisher, lambdaClient };
}
