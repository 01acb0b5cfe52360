import {
  fanOutBatchSizeFromEnv,
  fanOutConfigFromEnv,
  fanOutMaxGenerationsFromEnv,
} from '../../../lambda/fan-out/fan-out-config';

/** What the stack sets on a delivering function (the dev stage's values). */
const DELIVERY_ENV = {
  FAN_OUT_CONCURRENCY: '50',
  FAN_OUT_MAX_ATTEMPTS: '6',
  FAN_OUT_RETRY_BASE_MS: '50',
  FAN_OUT_RETRY_MAX_MS: '2000',
};

const readers: Record<string, (env: Record<string, string>) => unknown> = {
  FAN_OUT_CONCURRENCY: fanOutConfigFromEnv,
  FAN_OUT_MAX_ATTEMPTS: fanOutConfigFromEnv,
  FAN_OUT_RETRY_BASE_MS: fanOutConfigFromEnv,
  FAN_OUT_RETRY_MAX_MS: fanOutConfigFromEnv,
  FAN_OUT_BATCH_SIZE: fanOutBatchSizeFromEnv,
  FAN_OUT_MAX_GENERATIONS: fanOutMaxGenerationsFromEnv,
};

describe('fanOutConfigFromEnv', () => {
  it('reads every setting from its variable', () => {
    // Act
    const env = {
      FAN_OUT_CONCURRENCY: '7',
      FAN_OUT_BATCH_SIZE: '25',
      FAN_OUT_MAX_ATTEMPTS: '4',
      FAN_OUT_RETRY_BASE_MS: '10',
      FAN_OUT_RETRY_MAX_MS: '80',
      FAN_OUT_MAX_GENERATIONS: '2',
    };
    const config = {
      ...fanOutConfigFromEnv(env),
      batchSize: fanOutBatchSizeFromEnv(env),
      maxGenerations: fanOutMaxGenerationsFromEnv(env),
    };

    // Assess
    expect(config).toEqual({
      concurrency: 7,
      batchSize: 25,
      retry: { maxAttempts: 4, baseMs: 10, maxMs: 80 },
      maxGenerations: 2,
    });
  });

  it.each(Object.keys(readers))('fails naming %s when it is missing: the stage config sets it', (name) => {
    // Prepare
    const env: Record<string, string> = {
      ...DELIVERY_ENV,
      FAN_OUT_BATCH_SIZE: '50',
      FAN_OUT_MAX_GENERATIONS: '3',
    };
    delete env[name];

    // Act / Assess
    expect(() => readers[name]?.(env)).toThrow(`Missing required environment variable ${name}`);
  });

  it.each([
    ['FAN_OUT_CONCURRENCY', '0'],
    ['FAN_OUT_BATCH_SIZE', '0'],
    ['FAN_OUT_MAX_ATTEMPTS', '0'],
    ['FAN_OUT_MAX_GENERATIONS', '0'],
    ['FAN_OUT_BATCH_SIZE', 'lots'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(() => readers[name]?.({ ...DELIVERY_ENV, [name]: value })).toThrow(name);
  });

  it('refuses a cap below the base delay', () => {
    expect(() =>
      fanOutConfigFromEnv({ ...DELIVERY_ENV, FAN_OUT_RETRY_BASE_MS: '100', FAN_OUT_RETRY_MAX_MS: '10' }),
    ).toThrow('FAN_OUT_RETRY_MAX_MS');
  });
});
