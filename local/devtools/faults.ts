/**
 * Fault injection for tests and demos. Each switch can be set from the environment at start and changed
 * at run time through the gateway's admin route (`GET`/`PUT`/`DELETE /_local/faults`).
 */
export interface FaultSettings {
  /** Share (0..1) of postToConnection calls answered 410 GoneException; the connection is dropped too. */
  goneRate: number;
  /** Share of postToConnection calls answered 429 LimitExceededException. */
  throttleRate: number;
  /** Share of postToConnection calls answered 500. */
  errorRate: number;
  /** Share of postToConnection calls delayed by `slowMs`. */
  slowRate: number;
  slowMs: number;
  /** Added to every Management API call, like the network round trip to API Gateway. */
  latencyMs: number;
  /** Management API calls per second before answering 429, like the account's API Gateway quota; 0 = none. */
  rateLimitPerSecond: number;
  /** The broadcast HTTP routes answer 503, as when the broadcast API is down. */
  broadcastUnavailable: boolean;
  /** $disconnect is never invoked, as when API Gateway loses it: rows are left for 410 cleanup or TTL. */
  dropDisconnect: boolean;
  /**
   * The next N invocations of every stream event source mapping fail as if the function threw. Setting it
   * arms that many at once (0 disarms); reading it says how many are left (see {@link FailureCounter}).
   */
  streamConsumerFailures: number;
  /**
   * The comments function crashes right after its commit: a request to the broadcast API ends the caller's
   * execution environment before it is answered (devtools/crash-after-commit.ts).
   */
  crashAfterCommit: boolean;
}

/**
 * A fault counted in failures to come rather than a switch: the fault control arms it when the setting
 * changes and reads what is left when the settings are shown.
 */
export interface FailureCounter {
  arm(count: number): void;
  left(): number;
}

export const FAULT_ENV: Record<keyof FaultSettings, string> = {
  goneRate: 'LOCAL_FAULT_GONE_RATE',
  throttleRate: 'LOCAL_FAULT_THROTTLE_RATE',
  errorRate: 'LOCAL_FAULT_ERROR_RATE',
  slowRate: 'LOCAL_FAULT_SLOW_RATE',
  slowMs: 'LOCAL_FAULT_SLOW_MS',
  latencyMs: 'LOCAL_MANAGEMENT_LATENCY_MS',
  rateLimitPerSecond: 'LOCAL_MANAGEMENT_RATE_LIMIT',
  broadcastUnavailable: 'LOCAL_FAULT_BROADCAST_DOWN',
  dropDisconnect: 'LOCAL_FAULT_DROP_DISCONNECT',
  streamConsumerFailures: 'LOCAL_FAULT_STREAM_CONSUMER_FAILURES',
  crashAfterCommit: 'LOCAL_FAULT_CRASH_AFTER_COMMIT',
};

export const NO_FAULTS: FaultSettings = {
  goneRate: 0,
  throttleRate: 0,
  errorRate: 0,
  slowRate: 0,
  slowMs: 0,
  latencyMs: 0,
  rateLimitPerSecond: 0,
  broadcastUnavailable: false,
  dropDisconnect: false,
  streamConsumerFailures: 0,
  crashAfterCommit: false,
};

export class FaultSettingsError extends Error {}

function coerce(key: keyof FaultSettings, value: unknown): number | boolean {
  if (typeof NO_FAULTS[key] === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0' || value === '') return false;
    throw new FaultSettingsError(`${key} must be a boolean`);
  }
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < 0) {
    throw new FaultSettingsError(`${key} must be a non-negative number`);
  }
  if (key.endsWith('Rate') && key !== 'rateLimitPerSecond' && number > 1) {
    throw new FaultSettingsError(`${key} is a share between 0 and 1`);
  }
  if (key === 'streamConsumerFailures' && !Number.isInteger(number)) {
    throw new FaultSettingsError(`${key} is a count of invocations: a whole number`);
  }
  return number;
}

/** Applies a partial update; unknown keys or bad values throw and change nothing. */
export function mergeFaults(current: FaultSettings, update: Record<string, unknown>): FaultSettings {
  const next: FaultSettings = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (!(key in NO_FAULTS)) throw new FaultSettingsError(`Unknown fault "${key}"`);
    (next as unknown as Record<string, number | boolean>)[key] = coerce(key as keyof FaultSettings, value);
  }
  return next;
}

export function faultsFromEnv(env: Record<string, string | undefined>): FaultSettings {
  const update: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(FAULT_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') update[key] = value;
  }
  return mergeFaults(NO_FAULTS, update);
}

/** A one-second window counter: enough to emulate API Gateway's per-second request quota. */
export class RateLimiter {
  private windowStart = 0;
  private count = 0;

  tryAcquire(limitPerSecond: number, now = Date.now()): boolean {
    if (limitPerSecond <= 0) return true;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    return this.count <= limitPerSecond;
  }
}
