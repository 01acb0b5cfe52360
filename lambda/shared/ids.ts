import { randomBytes } from 'node:crypto';

/**
 * ULIDs (https://github.com/ulid/spec): 26 Crockford base32 characters, 48 bits of milliseconds then 80
 * random bits. They sort by creation time as plain strings, which is what lets a comment's sort key be its
 * id and a Query return a post's comments oldest first. Within one millisecond the random part is
 * incremented so that ids from one process stay strictly increasing.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_CHARS = 16;

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(time: number): string {
  let out = '';
  let rest = time;
  for (let i = 0; i < 10; i += 1) {
    out = ALPHABET.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function freshRandom(): number[] {
  const bytes = randomBytes(RANDOM_CHARS);
  return Array.from(bytes, (b) => b % 32);
}

function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i -= 1) {
    const digit = next[i] ?? 0;
    if (digit < 31) {
      next[i] = digit + 1;
      return next;
    }
    next[i] = 0;
  }
  // 80 bits overflowed within one millisecond: practically impossible; start a fresh random run.
  return freshRandom();
}

export function newId(now: number = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = now;
    lastRandom = freshRandom();
  }
  return encodeTime(lastTime) + lastRandom.map((d) => ALPHABET.charAt(d)).join('');
}
