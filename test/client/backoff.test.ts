import { Backoff, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../../client';
import { resolveBackoff } from '../../client/backoff';
import { backoffDelay as contractBackoffDelay } from '../../contracts/backoff';

describe('backoff', () => {
  it('grows the ceiling by the factor from initialMs up to maxMs', () => {
    const ceilings = Array.from({ length: 9 }, (_, attempt) => backoffCeiling(attempt, DEFAULT_BACKOFF));

    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('never overflows on very many attempts', () => {
    expect(backoffCeiling(10_000, DEFAULT_BACKOFF)).toBe(30_000);
  });

  it('draws each delay uniformly between 0 and the ceiling (full jitter)', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999999)).toBe(3999);
  });

  it('keeps real random delays inside [0, ceiling)', () => {
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const ceiling = backoffCeiling(attempt, DEFAULT_BACKOFF);
      for (let draw = 0; draw < 200; draw += 1) {
        const delay = backoffDelay(attempt, DEFAULT_BACKOFF);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    }
  });

  it('follows the contract rule, with attempts counted from 0 instead of 1', () => {
    const options = resolveBackoff({ initialMs: 100, maxMs: 5000, factor: 3 });
    const bounds = { baseMs: 100, maxMs: 5000, factor: 3 };

    const delays = Array.from({ length: 8 }, (_, attempt) => backoffDelay(attempt, options, () => 0.75));
    const expected = Array.from({ length: 8 }, (_, attempt) =>
      contractBackoffDelay(attempt + 1, bounds, () => 0.75),
    );

    expect(delays).toEqual(expected);
  });

  it('counts attempts until reset', () => {
    const backoff = new Backoff(resolveBackoff({ initialMs: 100, maxMs: 1000, factor: 3 }), () => 0.5);

    const first = [backoff.next(), backoff.next(), backoff.next(), backoff.next()];
    backoff.reset();

    expect(first).toEqual([50, 150, 450, 500]);
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(50);
  });

  it('refuses settings that cannot make a backoff', () => {
    expect(() => resolveBackoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => resolveBackoff({ initialMs: 1000, maxMs: 500 })).toThrow(RangeError);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(RangeError);
  });
});
