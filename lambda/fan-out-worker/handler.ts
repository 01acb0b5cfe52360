import { createDocumentClient, createLambdaClient, createManagementClient } from '../shared/aws-clients';
import { ManagementApiNotifier } from '../shared/connection-notifier';
import { DynamoConnectionRepository } from '../shared/connection-repository';
import { connectionsTableConfig } from '../shared/connections-config';
import { requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { instrumented } from '../shared/telemetry';
import {
  correlationIdOfBatchEvent,
  LambdaFanOutDispatcher,
  parseFanOutBatch,
} from '../fan-out/fan-out-batch';
import { fanOutConfigFromEnv } from '../fan-out/fan-out-config';
import { FanOutWorker, type FanOutWorkerSummary } from './fan-out-worker';

const connectionsTable = connectionsTableConfig();
const managementEndpoint = requireEnv(EnvNames.managementEndpoint);
const { concurrency, retry, maxGenerations } = fanOutConfigFromEnv();

const worker = new FanOutWorker({
  connections: new DynamoConnectionRepository(
    createDocumentClient(),
    connectionsTable.tableName,
    connectionsTable.ttlSeconds,
  ),
  // The fan-out retries throttles and 5xx itself and counts each retry, so the SDK must not retry too.
  notifier: new ManagementApiNotifier(createManagementClient(managementEndpoint, { maxAttempts: 1 })),
  // The next generation of a batch is an async invocation of this same function.
  dispatcher: new LambdaFanOutDispatcher(createLambdaClient(), requireEnv(EnvNames.lambdaFunctionName)),
  concurrency,
  retry,
  maxGenerations,
});

/**
 * Invoked asynchronously (InvocationType Event) with one FanOutBatch; throws to have Lambda retry it. Logs
 * under the batch's correlation id (the comment request's), else this invocation's request id.
 */
export const handler = instrumented(
  async (event: unknown): Promise<FanOutWorkerSummary> => worker.deliver(parseFanOutBatch(event)),
  { correlationId: correlationIdOfBatchEvent },
);
