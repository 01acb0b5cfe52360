import {
  backoffCeiling as contractBackoffCeiling,
  backoffDelay as contractBackoffDelay,
  type BackoffBounds,
} from '../contracts/backoff';

/**
 * Reconnect delays, by the project's one backoff rule (contracts/backoff.ts): exponential growth capped
 * at a maximum, with full jitter. Jitter matters here because a gateway restart drops every client at the
 * same moment: without it they would all come back in the same millisecond, again and again. The SDK keeps
 * its own published names (`initialMs`, attempts counted from 0) and adapts them to the contract's.
 */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay. @default 500 */
  readonly initialMs?: number;
  /** No delay is longer than this. @default 30_000 */
  readonly maxMs?: number;
  /** Each retry's ceiling is the previous one times this. @default 2 */
  readonly factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 500, maxMs: 30_000, factor: 2 };

export function resolveBackoff(options: BackoffOptions = {}): Required<BackoffOptions> {
  const resolved = { ...DEFAULT_BACKOFF, ...options };
  if (!(resolved.initialMs > 0))
    throw new RangeError(`backoff.initialMs must be > 0, got ${resolved.initialMs}`);
  if (!(resolved.maxMs >= resolved.initialMs)) {
    throw new RangeError(`backoff.maxMs must be >= initialMs, got ${resolved.maxMs}`);
  }
  if (!(resolved.factor >= 1)) throw new RangeError(`backoff.factor must be >= 1, got ${resolved.factor}`);
  return resolved;
}

/** The largest delay of retry number `attempt` (0-based): initialMs · factor^attempt, capped at maxMs. */
export function backoffCeiling(attempt: number, options: Required<BackoffOptions>): number {
  return contractBackoffCeiling(attempt + 1, bounds(options));
}

/** A delay in [0, ceiling): `random` is Math.random unless a test injects its own. */
export function backoffDelay(
  attempt: number,
  options: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  return contractBackoffDelay(attempt + 1, bounds(options), random);
}

function bounds({ initialMs, maxMs, factor }: Required<BackoffOptions>): BackoffBounds {
  return { baseMs: initialMs, maxMs, factor };
}

/** Counts consecutive failures; `reset()` once a connection has proved itself. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: Required<BackoffOptions>,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next retry; each call grows the ceiling until maxMs. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.options, this.random);
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  /** Retries since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
