import { fanOutConfigFromEnv, DEFAULT_FAN_OUT_CONFIG } from '../../../lambda/fan-out/fan-out-config';
import { backoffDelayMs, type RetryPolicy } from '../../../lambda/fan-out/retry-policy';

const policy: RetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2000 };

describe('backoffDelayMs', () => {
  it('doubles the ceiling with each retry up to the cap, and draws the delay below it (full jitter)', () => {
    // Act
    const ceilings = [1, 2, 3, 4, 5, 6, 7].map((retry) => backoffDelayMs(retry, policy, () => 0.999999));

    // Assess
    expect(ceilings).toEqual([49, 99, 199, 399, 799, 1599, 1999]);
  });

  it('can draw no delay at all', () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });
});

describe('fanOutConfigFromEnv', () => {
  it('falls back to the defaults', () => {
    expect(fanOutConfigFromEnv({})).toEqual(DEFAULT_FAN_OUT_CONFIG);
  });

  it('reads every setting from its variable', () => {
    // Act
    const config = fanOutConfigFromEnv({
      FAN_OUT_CONCURRENCY: '7',
      FAN_OUT_BATCH_SIZE: '25',
      FAN_OUT_MAX_ATTEMPTS: '4',
      FAN_OUT_RETRY_BASE_MS: '10',
      FAN_OUT_RETRY_MAX_MS: '80',
      FAN_OUT_MAX_GENERATIONS: '2',
    });

    // Assess
    expect(config).toEqual({
      concurrency: 7,
      batchSize: 25,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 80 },
      maxGenerations: 2,
    });
  });

  it.each([
    ['FAN_OUT_CONCURRENCY', '0'],
    ['FAN_OUT_BATCH_SIZE', '0'],
    ['FAN_OUT_MAX_ATTEMPTS', '0'],
    ['FAN_OUT_MAX_GENERATIONS', '0'],
    ['FAN_OUT_BATCH_SIZE', 'lots'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => fanOutConfigFromEnv({ [name]: value })).toThrow(name);
  });

  it('refuses a cap below the base delay', () => {
    expect(() => fanOutConfigFromEnv({ FAN_OUT_RETRY_BASE_MS: '100', FAN_OUT_RETRY_MAX_MS: '10' })).toThrow(
      'FAN_OUT_RETRY_MAX_MS',
    );
  });
});
