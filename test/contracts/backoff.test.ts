import { backoffCeiling, backoffDelay, sleep, type RetryPolicy } from '../../contracts/backoff';

const policy: RetryPolicy = { maxAttempts: 6, baseMs: 50, maxMs: 2000 };

describe('backoffDelay', () => {
  it('doubles the ceiling with each retry up to the cap, and draws the delay below it (full jitter)', () => {
    // Act
    const ceilings = [1, 2, 3, 4, 5, 6, 7].map((retry) => backoffDelay(retry, policy, () => 0.999999));

    // Assess
    expect(ceilings).toEqual([49, 99, 199, 399, 799, 1599, 1999]);
  });

  it('can draw no delay at all', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });

  it('grows by the given factor', () => {
    // Act
    const delays = [1, 2, 3].map((retry) =>
      backoffDelay(retry, { baseMs: 10, maxMs: 1000, factor: 3 }, () => 0.5),
    );

    // Assess
    expect(delays).toEqual([5, 15, 45]);
  });
});

describe('backoffCeiling', () => {
  it('is the base on the first retry and never exceeds the cap', () => {
    // Act / Assess
    expect(backoffCeiling(1, policy)).toBe(50);
    expect(backoffCeiling(6, policy)).toBe(1600);
    expect(backoffCeiling(7, policy)).toBe(2000);
  });

  it('stays at the cap for an attempt number large enough to overflow the exponent', () => {
    expect(backoffCeiling(5000, policy)).toBe(2000);
    expect(backoffCeiling(Number.MAX_SAFE_INTEGER, policy)).toBe(2000);
  });
});

describe('sleep', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('resolves once the time has passed, not before', async () => {
    // Prepare
    jest.useFakeTimers();
    let done = false;

    // Act
    const waiting = sleep(100).then(() => {
      done = true;
    });
    await jest.advanceTimersByTimeAsync(99);
    const early = done;
    await jest.advanceTimersByTimeAsync(1);
    await waiting;

    // Assess
    expect(early).toBe(false);
    expect(done).toBe(true);
  });
});
