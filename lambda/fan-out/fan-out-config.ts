import type { RetryPolicy } from '../../contracts/backoff';
import { intEnv, positiveIntEnv, type Env } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';

/**
 * How the broadcast and the fan-out worker deliver, read once at cold start from their environment. Every
 * value is required: the stack sets each one from the stage config, the only place they are chosen.
 */
export interface FanOutConfig {
  /** postToConnection calls in flight at once, per broadcast or per worker batch. */
  readonly concurrency: number;
  readonly retry: RetryPolicy;
}

export function fanOutConfigFromEnv(env: Env = process.env): FanOutConfig {
  const retry: RetryPolicy = {
    maxAttempts: positiveIntEnv(EnvNames.fanOutMaxAttempts, env),
    baseMs: intEnv(EnvNames.fanOutRetryBaseMs, env),
    maxMs: intEnv(EnvNames.fanOutRetryMaxMs, env),
  };
  if (retry.maxMs < retry.baseMs) {
    throw new Error(
      `Environment variable ${EnvNames.fanOutRetryMaxMs} must be at least ${EnvNames.fanOutRetryBaseMs}`,
    );
  }
  return { concurrency: positiveIntEnv(EnvNames.fanOutConcurrency, env), retry };
}

/** The broadcast's alone: connection ids per worker batch, the most it delivers inline. */
export function fanOutBatchSizeFromEnv(env: Env = process.env): number {
  return positiveIntEnv(EnvNames.fanOutBatchSize, env);
}

/** The worker's alone: generations of a batch that attempt delivery before its ids are dead-lettered. */
export function fanOutMaxGenerationsFromEnv(env: Env = process.env): number {
  return positiveIntEnv(EnvNames.fanOutMaxGenerations, env);
}
