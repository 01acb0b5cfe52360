import { intEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy';

/** How the broadcast and the fan-out worker deliver, read once at cold start from their environment. */
export interface FanOutConfig {
  /** postToConnection calls in flight at once, per broadcast or per worker batch. */
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  /** Connection ids per worker batch. */
  readonly batchSize: number;
  /** Generations of a worker batch that attempt delivery before the ids still failing are dead-lettered. */
  readonly maxGenerations: number;
}

export const DEFAULT_FAN_OUT_CONFIG: FanOutConfig = {
  concurrency: 50,
  retry: DEFAULT_RETRY_POLICY,
  batchSize: 200,
  maxGenerations: 3,
};

type Env = Record<string, string | undefined>;

function positiveIntEnv(name: string, fallback: number, env: Env): number {
  const value = intEnv(name, fallback, env);
  if (value < 1) throw new Error(`Environment variable ${name} must be at least 1`);
  return value;
}

export function fanOutConfigFromEnv(env: Env = process.env): FanOutConfig {
  const defaults = DEFAULT_FAN_OUT_CONFIG;
  const retry: RetryPolicy = {
    maxAttempts: positiveIntEnv(EnvNames.fanOutMaxAttempts, defaults.retry.maxAttempts, env),
    baseDelayMs: intEnv(EnvNames.fanOutRetryBaseMs, defaults.retry.baseDelayMs, env),
    maxDelayMs: intEnv(EnvNames.fanOutRetryMaxMs, defaults.retry.maxDelayMs, env),
  };
  if (retry.maxDelayMs < retry.baseDelayMs) {
    throw new Error(
      `Environment variable ${EnvNames.fanOutRetryMaxMs} must be at least ${EnvNames.fanOutRetryBaseMs}`,
    );
  }
  return {
    concurrency: positiveIntEnv(EnvNames.fanOutConcurrency, defaults.concurrency, env),
    retry,
    batchSize: positiveIntEnv(EnvNames.fanOutBatchSize, defaults.batchSize, env),
    maxGenerations: positiveIntEnv(EnvNames.fanOutMaxGenerations, defaults.maxGenerations, env),
  };
}
