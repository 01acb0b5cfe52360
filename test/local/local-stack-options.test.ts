import * as path from 'node:path';
import {
  DEFAULT_CACHE_DIR,
  DEFAULT_DYNAMODB_PATH,
  FAST_START_JAVA_OPTIONS,
  optionsFromCommandLine,
  optionsFromEnv,
  UsageError,
} from '../../local/local-stack-options';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

describe('optionsFromEnv: fan-out settings', () => {
  it('leaves the batch size and the async retry delay to the template and the emulator by default', () => {
    // Act
    const options = optionsFromEnv({});

    // Assess
    expect(options.fanOutBatchSize).toBeUndefined();
    expect(options.asyncRetryDelayMs).toBeUndefined();
  });

  it('reads LOCAL_FAN_OUT_BATCH_SIZE and LOCAL_ASYNC_RETRY_DELAY_MS', () => {
    // Act
    const options = optionsFromEnv({ LOCAL_FAN_OUT_BATCH_SIZE: '5', LOCAL_ASYNC_RETRY_DELAY_MS: '20' });

    // Assess
    expect(options).toMatchObject({ fanOutBatchSize: 5, asyncRetryDelayMs: 20 });
  });

  it.each(['0', 'many'])('refuses LOCAL_FAN_OUT_BATCH_SIZE=%s', (value) => {
    expect(() => optionsFromEnv({ LOCAL_FAN_OUT_BATCH_SIZE: value })).toThrow('LOCAL_FAN_OUT_BATCH_SIZE');
  });
});

describe('optionsFromEnv: data and cache', () => {
  it("keeps DynamoDB Local's data and the synthesis cache under .local/ by default, and resets nothing", () => {
    // Act
    const options = optionsFromEnv({});

    // Assess
    expect(options.dynamoDbPath).toBe(DEFAULT_DYNAMODB_PATH);
    expect(options.cacheDir).toBe(DEFAULT_CACHE_DIR);
    expect(options.reset).toBe(false);
    expect(path.relative(REPO_ROOT, DEFAULT_DYNAMODB_PATH)).toBe(path.join('.local', 'dynamodb'));
    expect(path.relative(REPO_ROOT, DEFAULT_CACHE_DIR)).toBe(path.join('.local', 'cache'));
  });

  it('keeps the tables in memory with LOCAL_DYNAMODB_PATH=memory, and turns the cache off with LOCAL_CACHE_DIR=off', () => {
    // Act
    const options = optionsFromEnv({ LOCAL_DYNAMODB_PATH: 'memory', LOCAL_CACHE_DIR: 'off' });

    // Assess
    expect(options.dynamoDbPath).toBeUndefined();
    expect(options.cacheDir).toBeUndefined();
  });

  it('reads LOCAL_RESET and resolves the folders it is given', () => {
    // Act
    const options = optionsFromEnv({
      LOCAL_RESET: 'true',
      LOCAL_DYNAMODB_PATH: 'data',
      LOCAL_CACHE_DIR: 'c',
    });

    // Assess
    expect(options).toMatchObject({
      reset: true,
      dynamoDbPath: path.resolve('data'),
      cacheDir: path.resolve('c'),
    });
  });
});

describe("optionsFromEnv: DynamoDB Local's JVM", () => {
  it('starts it with the quick-start options unless told otherwise', () => {
    // Act / Assess
    expect(optionsFromEnv({}).dynamoDbJavaOptions).toBe(FAST_START_JAVA_OPTIONS);
    expect(optionsFromEnv({ LOCAL_DYNAMODB_JAVA_OPTIONS: '-Xmx512m' }).dynamoDbJavaOptions).toBe('-Xmx512m');
  });

  it('leaves the JVM its own defaults with LOCAL_DYNAMODB_JAVA_OPTIONS=default (as the benchmark runs)', () => {
    // Act / Assess
    expect(optionsFromEnv({ LOCAL_DYNAMODB_JAVA_OPTIONS: 'default' }).dynamoDbJavaOptions).toBe('');
  });
});

describe('optionsFromCommandLine', () => {
  it('applies --reset and --no-cache on top of the environment', () => {
    // Act
    const options = optionsFromCommandLine(['--reset', '--no-cache'], { LOCAL_APP_PORT: '4000' });

    // Assess
    expect(options).toMatchObject({ reset: true, appPort: 4000 });
    expect(options.cacheDir).toBeUndefined();
  });

  it('refuses an unknown option with the usage', () => {
    // Act / Assess
    expect(() => optionsFromCommandLine(['--rest'], {})).toThrow(UsageError);
    expect(() => optionsFromCommandLine(['--rest'], {})).toThrow(/Unknown option --rest.*\n.*--reset/);
  });
});
