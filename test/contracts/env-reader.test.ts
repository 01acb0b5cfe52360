import { booleanEnv, intEnv, MissingEnvError, optionalEnv, requireEnv } from '../../contracts/env-reader';

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
