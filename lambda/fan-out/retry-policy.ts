/**
 * How a push that failed with a retryable error (throttled, 5xx, network) is tried again. Every
 * postToConnection of every fan-out in the account shares API Gateway's Management API quota, so
 * retries back off exponentially with full jitter: the n-th retry waits a random time in
 * [0, min(maxDelayMs, baseDelayMs * 2^(n-1))], which spreads a burst of throttled calls out instead of
 * sending them back in lockstep (https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
 */
export interface RetryPolicy {
  /** Attempts per connection, the first one included: 1 means no retry. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2000 };

/** The delay before retry number `retry` (1 for the first retry). `random` returns a number in [0, 1). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
