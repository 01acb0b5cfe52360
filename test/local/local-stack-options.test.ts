import { optionsFromEnv } from '../../local/local-stack-options';

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
