import {
  booleanEnv,
  intEnv,
  listEnv,
  MissingEnvError,
  optionalEnv,
  positiveIntEnv,
  requireEnv,
} from '../../contracts/env-reader';

describe('requireEnv', () => {
  it('returns the value when set', () => {
    // Act
    const value = requireEnv('TABLE', { TABLE: 'connections' });

    // Assess
    expect(value).toBe('connections');
  });

  it.each([
    ['missing', {}],
    ['empty', { CONNECTIONS_TABLE_NAME: '' }],
    ['blank', { CONNECTIONS_TABLE_NAME: '   ' }],
  ])('fails naming the variable when it is %s', (_state, env) => {
    // Act
    const read = (): string => requireEnv('CONNECTIONS_TABLE_NAME', env);

    // Assess
    expect(read).toThrow(MissingEnvError);
    expect(read).toThrow('Missing required environment variable CONNECTIONS_TABLE_NAME');
  });

  it('reads process.env by default', () => {
    // Prepare
    process.env.ENV_TEST_VALUE = 'from-process';

    // Act
    const value = requireEnv('ENV_TEST_VALUE');

    // Assess
    expect(value).toBe('from-process');
    delete process.env.ENV_TEST_VALUE;
  });
});

describe('optionalEnv', () => {
  it('falls back when unset or blank and otherwise returns the value', () => {
    // Act / Assess
    expect(optionalEnv('STAGE', 'dev', {})).toBe('dev');
    expect(optionalEnv('STAGE', 'dev', { STAGE: ' ' })).toBe('dev');
    expect(optionalEnv('STAGE', 'dev', { STAGE: 'prod' })).toBe('prod');
  });
});

describe('intEnv', () => {
  it('parses integers and falls back when unset', () => {
    // Act / Assess
    expect(intEnv('FAN_OUT_CONCURRENCY', 50, { FAN_OUT_CONCURRENCY: '8' })).toBe(8);
    expect(intEnv('FAN_OUT_CONCURRENCY', 50, {})).toBe(50);
    expect(intEnv('FAN_OUT_CONCURRENCY', 50, { FAN_OUT_CONCURRENCY: '' })).toBe(50);
  });

  it.each(['abc', '1.5', '-3'])('fails naming the variable for %j', (raw) => {
    // Act
    const read = (): number => intEnv('CONNECTION_TTL_SECONDS', 8100, { CONNECTION_TTL_SECONDS: raw });

    // Assess
    expect(read).toThrow(/CONNECTION_TTL_SECONDS/);
  });
});

describe('booleanEnv', () => {
  it.each<[string | undefined, boolean, boolean]>([
    ['true', false, true],
    ['false', true, false],
    [undefined, false, false],
    [undefined, true, true],
    ['  ', true, true],
  ])('reads %p with fallback %p as %p', (raw, fallback, expected) => {
    // Act
    const value = booleanEnv('FLAG', fallback, { FLAG: raw });

    // Assess
    expect(value).toBe(expected);
  });

  it.each(['TRUE', 'yes', '1', 'true '])('fails naming the variable on %p', (raw) => {
    // Act
    const read = (): boolean =>
      booleanEnv('ALLOW_ANONYMOUS_SUBSCRIBERS', false, { ALLOW_ANONYMOUS_SUBSCRIBERS: raw });

    // Assess
    expect(read).toThrow('Environment variable ALLOW_ANONYMOUS_SUBSCRIBERS must be "true" or "false"');
  });
});

describe('required typed readers (no fallback given)', () => {
  it.each([
    ['intEnv', () => intEnv('FAN_OUT_RETRY_BASE_MS', {})],
    ['positiveIntEnv', () => positiveIntEnv('FAN_OUT_CONCURRENCY', { FAN_OUT_CONCURRENCY: ' ' })],
    ['booleanEnv', () => booleanEnv('ALLOW_ANONYMOUS_SUBSCRIBERS', {})],
    ['listEnv', () => listEnv('CORS_ORIGINS', {})],
  ])('%s fails naming the variable when it is unset or blank', (_reader, read) => {
    // Act / Assess
    expect(read).toThrow(MissingEnvError);
    expect(read).toThrow(/Missing required environment variable [A-Z_]+$/);
  });

  it('read the value when it is set', () => {
    // Act / Assess
    expect(intEnv('FAN_OUT_RETRY_BASE_MS', { FAN_OUT_RETRY_BASE_MS: '0' })).toBe(0);
    expect(positiveIntEnv('FAN_OUT_CONCURRENCY', { FAN_OUT_CONCURRENCY: '8' })).toBe(8);
    expect(booleanEnv('ALLOW_ANONYMOUS_SUBSCRIBERS', { ALLOW_ANONYMOUS_SUBSCRIBERS: 'true' })).toBe(true);
    expect(listEnv('CORS_ORIGINS', { CORS_ORIGINS: 'a' })).toEqual(['a']);
  });

  it('read process.env by default', () => {
    // Prepare
    process.env.ENV_TEST_NUMBER = '12';

    // Act
    const value = positiveIntEnv('ENV_TEST_NUMBER');

    // Assess
    expect(value).toBe(12);
    delete process.env.ENV_TEST_NUMBER;
  });
});

describe('positiveIntEnv', () => {
  it('parses whole numbers from 1 and falls back when unset', () => {
    // Act / Assess
    expect(positiveIntEnv('FAN_OUT_BATCH_SIZE', 200, { FAN_OUT_BATCH_SIZE: '1' })).toBe(1);
    expect(positiveIntEnv('FAN_OUT_BATCH_SIZE', 200, {})).toBe(200);
    expect(positiveIntEnv('FAN_OUT_BATCH_SIZE', 200, { FAN_OUT_BATCH_SIZE: '' })).toBe(200);
  });

  it.each(['0', '-1', '2.5', 'lots'])('fails naming the variable for %j', (raw) => {
    // Act
    const read = (): number => positiveIntEnv('FAN_OUT_BATCH_SIZE', { FAN_OUT_BATCH_SIZE: raw });

    // Assess
    expect(read).toThrow(`Environment variable FAN_OUT_BATCH_SIZE must be a positive integer, got "${raw}"`);
  });
});

describe('listEnv', () => {
  it('splits on commas, trims each item and drops empty ones', () => {
    // Act
    const list = listEnv('CORS_ORIGINS', { CORS_ORIGINS: ' https://a.example , https://b.example,,' });

    // Assess
    expect(list).toEqual(['https://a.example', 'https://b.example']);
  });

  it('falls back when unset or blank', () => {
    // Act / Assess
    expect(listEnv('CORS_ORIGINS', ['*'], {})).toEqual(['*']);
    expect(listEnv('CORS_ORIGINS', ['*'], { CORS_ORIGINS: '  ' })).toEqual(['*']);
  });

  it('fails naming the variable when it holds no item at all', () => {
    // Act
    const read = (): readonly string[] => listEnv('CORS_ORIGINS', ['*'], { CORS_ORIGINS: ' , ,' });

    // Assess
    expect(read).toThrow('Environment variable CORS_ORIGINS must list at least one value, got " , ,"');
  });
});
