import {
  FAULT_ENV,
  FaultSettingsError,
  faultsFromEnv,
  mergeFaults,
  NO_FAULTS,
  RateLimiter,
  type FaultSettings,
} from '../../../local/devtools/faults';

describe('faultsFromEnv', () => {
  it('gives no faults when no variable is set', () => {
    // Act
    const faults = faultsFromEnv({});

    // Assess
    expect(faults).toEqual(NO_FAULTS);
  });

  it('reads shares, numbers and switches from their variables', () => {
    // Prepare
    const env = {
      LOCAL_FAULT_GONE_RATE: '0.25',
      LOCAL_FAULT_THROTTLE_RATE: '1',
      LOCAL_FAULT_SLOW_MS: '1500',
      LOCAL_MANAGEMENT_RATE_LIMIT: '200',
      LOCAL_FAULT_BROADCAST_DOWN: 'true',
      LOCAL_FAULT_DROP_DISCONNECT: '1',
    };

    // Act
    const faults = faultsFromEnv(env);

    // Assess
    expect(faults).toEqual({
      ...NO_FAULTS,
      goneRate: 0.25,
      throttleRate: 1,
      slowMs: 1500,
      rateLimitPerSecond: 200,
      broadcastUnavailable: true,
      dropDisconnect: true,
    });
  });

  it('ignores empty variables', () => {
    // Act
    const faults = faultsFromEnv({ LOCAL_FAULT_GONE_RATE: '', LOCAL_FAULT_DROP_DISCONNECT: '' });

    // Assess
    expect(faults).toEqual(NO_FAULTS);
  });

  it('has a variable for every setting', () => {
    // Act / Assess
    expect(Object.keys(FAULT_ENV).sort()).toEqual(Object.keys(NO_FAULTS).sort());
  });

  it.each([
    ['a share above 1', { LOCAL_FAULT_GONE_RATE: '1.5' }, /goneRate is a share between 0 and 1/],
    ['a negative number', { LOCAL_MANAGEMENT_LATENCY_MS: '-5' }, /latencyMs must be a non-negative number/],
    ['a number that is not one', { LOCAL_FAULT_SLOW_MS: 'soon' }, /slowMs must be a non-negative number/],
    ['a switch that is not a boolean', { LOCAL_FAULT_BROADCAST_DOWN: 'yes' }, /must be a boolean/],
  ])('refuses %s, naming the setting', (_name, env, message) => {
    // Act
    const read = (): FaultSettings => faultsFromEnv(env);

    // Assess
    expect(read).toThrow(FaultSettingsError);
    expect(read).toThrow(message);
  });
});

describe('mergeFaults', () => {
  const current: FaultSettings = { ...NO_FAULTS, goneRate: 0.1, dropDisconnect: true };

  it('applies a partial update and keeps the other settings', () => {
    // Act
    const next = mergeFaults(current, { throttleRate: 0.5, rateLimitPerSecond: 10, dropDisconnect: false });

    // Assess
    expect(next).toEqual({
      ...current,
      throttleRate: 0.5,
      rateLimitPerSecond: 10,
      dropDisconnect: false,
    });
  });

  it('returns a new object and leaves the current one as it was', () => {
    // Prepare
    const before = { ...current };

    // Act
    const next = mergeFaults(current, { goneRate: 1 });

    // Assess
    expect(next).not.toBe(current);
    expect(current).toEqual(before);
  });

  it.each([
    ['an unknown key', { goneRate: 0.5, gonerate: 1 }, /Unknown fault "gonerate"/],
    ['a share above 1', { slowRate: 0.2, errorRate: 2 }, /errorRate is a share between 0 and 1/],
    ['a negative share', { throttleRate: -0.1 }, /throttleRate must be a non-negative number/],
    ['a number that is not finite', { latencyMs: Number.POSITIVE_INFINITY }, /latencyMs/],
    ['a string switch that is not a boolean', { broadcastUnavailable: 'sometimes' }, /must be a boolean/],
  ])('refuses %s and changes nothing', (_name, update, message) => {
    // Prepare
    const before = { ...current };

    // Act
    const merge = (): FaultSettings => mergeFaults(current, update);

    // Assess
    expect(merge).toThrow(FaultSettingsError);
    expect(merge).toThrow(message);
    expect(current).toEqual(before);
  });

  it('accepts a per-second rate limit above 1: it is a count, not a share', () => {
    // Act
    const next = mergeFaults(NO_FAULTS, { rateLimitPerSecond: 500 });

    // Assess
    expect(next.rateLimitPerSecond).toBe(500);
  });
});

describe('RateLimiter', () => {
  it('lets every call through when the limit is 0', () => {
    // Prepare
    const limiter = new RateLimiter();

    // Act
    const results = Array.from({ length: 100 }, () => limiter.tryAcquire(0, 10_000));

    // Assess
    expect(results.every(Boolean)).toBe(true);
  });

  it('allows the limit within one second and refuses the rest of that second', () => {
    // Prepare
    const limiter = new RateLimiter();

    // Act
    const results = [
      limiter.tryAcquire(2, 10_000),
      limiter.tryAcquire(2, 10_100),
      limiter.tryAcquire(2, 10_500),
      limiter.tryAcquire(2, 10_999),
    ];

    // Assess
    expect(results).toEqual([true, true, false, false]);
  });

  it('starts a new window a second after the last one started', () => {
    // Prepare
    const limiter = new RateLimiter();
    limiter.tryAcquire(1, 10_000);
    const refusedInWindow = limiter.tryAcquire(1, 10_999);

    // Act
    const nextWindow = [limiter.tryAcquire(1, 11_000), limiter.tryAcquire(1, 11_001)];

    // Assess
    expect(refusedInWindow).toBe(false);
    expect(nextWindow).toEqual([true, false]);
  });
});

describe('the stream consumer and crash-after-commit faults', () => {
  it('reads a count of stream consumer failures and the crash switch from their variables', () => {
    // Act
    const faults = faultsFromEnv({
      LOCAL_FAULT_STREAM_CONSUMER_FAILURES: '3',
      LOCAL_FAULT_CRASH_AFTER_COMMIT: 'true',
    });

    // Assess
    expect(faults).toEqual({ ...NO_FAULTS, streamConsumerFailures: 3, crashAfterCommit: true });
  });

  it('is off by default', () => {
    // Act / Assess
    expect(NO_FAULTS).toMatchObject({ streamConsumerFailures: 0, crashAfterCommit: false });
  });

  it.each([
    ['a fraction', 1.5, /streamConsumerFailures is a count of invocations: a whole number/],
    ['a negative count', -1, /streamConsumerFailures must be a non-negative number/],
  ])('refuses %s of stream consumer failures', (_name, value, message) => {
    // Act
    const merge = (): FaultSettings => mergeFaults(NO_FAULTS, { streamConsumerFailures: value });

    // Assess
    expect(merge).toThrow(FaultSettingsError);
    expect(merge).toThrow(message);
  });
});
