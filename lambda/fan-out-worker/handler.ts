import { EnvNames } from '../../contracts/env-names';
import { instrumented } from '../shared/telemetry';
import { correlationIdOfBatchEvent, parseFanOutBatch } from '../fan-out/fan-out-batch';
import { fanOutMaxGenerationsFromEnv } from '../fan-out/fan-out-config';
import { fanOutWiringFromEnv } from '../fan-out/fan-out-wiring';
import { FanOutWorker, type FanOutWorkerSummary } from './fan-out-worker';

const worker = new FanOutWorker({
  // The next generation of a batch is an async invocation of this same function.
  ...fanOutWiringFromEnv(EnvNames.lambdaFunctionName),
  maxGenerations: fanOutMaxGenerationsFromEnv(),
});

/**
 * Invoked asynchronously (InvocationType Event) with one FanOutBatch; throws to have Lambda retry it. Logs
 * under the batch's correlation id (the comment request's), else this invocation's request id.
 */
export const handler = instrumented(
  async (event: unknown): Promise<FanOutWorkerSummary> => worker.deliver(parseFanOutBatch(event)),
  { correlationId: correlationIdOfBatchEvent },
);
