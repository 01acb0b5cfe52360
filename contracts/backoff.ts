/**
 * Exponential backoff with full jitter, the one delay rule for every retry in the project: the fan-out's
 * retries of throttled pushes, the comment repository's retries of a lost seq race, and the client SDK's
 * reconnects and resubscribes. The n-th retry waits a random time in [0, min(maxMs, baseMs * 2^(n-1))],
 * which spreads a burst of failed calls out instead of sending them back in lockstep
 * (https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
 */
export interface BackoffBounds {
  /** The ceiling of the first retry's delay. */
  readonly baseMs: number;
  /** No delay ever exceeds this. */
  readonly maxMs: number;
  /** Each retry's ceiling is the previous one's times this. @default 2 */
  readonly factor?: number;
}

/**
 * How a failed call is tried again: the bounds of the delays and how many attempts in all. Defined once:
 * the stage config sets it per stage and the functions read it from their environment.
 */
export interface RetryPolicy extends BackoffBounds {
  /** Attempts in all, the first one included: 1 means no retry. */
  readonly maxAttempts: number;
}

/**
 * The delay before retry number `attempt` (1 for the first retry). `random` returns a number in [0, 1).
 * The exponent is capped so that a very large attempt number cannot overflow to Infinity or NaN.
 */
export function backoffDelay(attempt: number, bounds: BackoffBounds, random: () => number): number {
  return Math.floor(random() * backoffCeiling(attempt, bounds));
}

/** The largest delay of retry number `attempt`: baseMs * factor^(attempt - 1), capped at maxMs. */
export function backoffCeiling(attempt: number, { baseMs, maxMs, factor = 2 }: BackoffBounds): number {
  // Past maxMs the exponent no longer matters; capping it keeps a huge attempt from overflowing to NaN.
  const exponent = Math.min(Math.max(attempt - 1, 0), 1024);
  const ceiling = baseMs * factor ** exponent;
  return Number.isFinite(ceiling) ? Math.min(maxMs, ceiling) : maxMs;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
