import { newId } from '../../../lambda/shared/ids';
import { ID_PATTERN } from '../../../contracts/protocol';

const CROCKFORD = /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{26}$/;

describe('newId', () => {
  it('makes 26-character Crockford base32 ids that clients may send back', () => {
    // Act
    const id = newId();

    // Assess
    expect(id).toHaveLength(26);
    expect(id).toMatch(CROCKFORD);
    expect(id).toMatch(ID_PATTERN);
  });

  it('is strictly increasing for ids made in the same millisecond', () => {
    // Prepare
    const now = Date.now() + 60_000;

    // Act
    const ids = Array.from({ length: 1000 }, () => newId(now));

    // Assess
    for (let i = 1; i < ids.length; i += 1) {
      expect((ids[i] ?? '') > (ids[i - 1] ?? '')).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('sorts by time across milliseconds', () => {
    // Prepare
    const base = Date.now() + 120_000;

    // Act
    const earlier = newId(base);
    const later = newId(base + 1);

    // Assess
    expect(later > earlier).toBe(true);
    expect(later.slice(0, 10) > earlier.slice(0, 10)).toBe(true);
  });

  it('stays increasing when the clock steps backwards', () => {
    // Prepare
    const base = Date.now() + 180_000;
    const first = newId(base);

    // Act
    const second = newId(base - 5_000);

    // Assess
    expect(second > first).toBe(true);
  });

  it('encodes the timestamp in the first 10 characters', () => {
    // Prepare: later than every other test's clock, as ids keep the latest time they have seen
    const time = Date.now() + 240_000;

    // Act
    const id = newId(time);

    // Assess
    const decoded = [...id.slice(0, 10)].reduce(
      (value, char) => value * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(char),
      0,
    );
    expect(decoded).toBe(time);
  });
});
