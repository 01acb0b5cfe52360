import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { requireEnv, type Env } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { createDocumentClient, createLambdaClient, createManagementClient } from '../shared/aws-clients';
import { ManagementApiNotifier } from '../shared/connection-notifier';
import { DynamoConnectionAudience } from '../shared/connection-repository';
import type { FanOutDependencies } from './fan-out';
import { LambdaFanOutDispatcher, type FanOutDispatcher } from './fan-out-batch';
import { fanOutConfigFromEnv } from './fan-out-config';

/** What both the broadcast and the fan-out worker deliver with. */
export interface FanOutWiring extends Pick<
  FanOutDependencies,
  'connections' | 'notifier' | 'concurrency' | 'retry'
> {
  /** Queues batches as asynchronous invocations of a worker. */
  readonly dispatcher: FanOutDispatcher;
}

/**
 * The variable naming the function batches are dispatched to: the broadcast queues them for the fan-out
 * worker; the worker hands the ids that still failed on to itself, by the name Lambda gives it.
 */
export type DispatchTargetVariable =
  typeof EnvNames.fanOutWorkerFunctionName | typeof EnvNames.lambdaFunctionName;

/**
 * Builds the fan-out's adapters from the environment, once per cold start: the connections table (read and
 * delete only), the Management API notifier, the Lambda dispatcher and the delivery settings. Every
 * variable is read before any client is built, so a misconfigured function fails its cold start naming
 * the missing one.
 */
export function fanOutWiringFromEnv(
  dispatchTarget: DispatchTargetVariable,
  env: Env = process.env,
  /** The function's one DynamoDB client, when it needs the table for more than the fan-out. */
  documentClient?: DynamoDBDocumentClient,
  /** The function's one Lambda client, when it invokes more than the fan-out's workers. */
  lambdaClient?: LambdaClient,
): FanOutWiring {
  const { concurrency, retry } = fanOutConfigFromEnv(env);
  const tableName = requireEnv(EnvNames.connectionsTable, env);
  const managementEndpoint = requireEnv(EnvNames.managementEndpoint, env);
  const functionName = requireEnv(dispatchTarget, env);
  return {
    connections: new DynamoConnectionAudience(documentClient ?? createDocumentClient(env), tableName),
    // The fan-out retries throttles and 5xx itself and counts each retry, so the SDK must not retry too.
    notifier: new ManagementApiNotifier(createManagementClient(managementEndpoint, { maxAttempts: 1 })),
    dispatcher: new LambdaFanOutDispatcher(lambdaClient ?? createLambdaClient(env), functionName),
    concurrency,
    retry,
  };
}
