/**
 * Idempotent writes: a client that did not get the answer to a POST (a timeout, a dropped connection, a
 * crash after the commit) sends it again with the same key, and gets the first answer instead of a second
 * comment. One key per user action; a retry of that action reuses it.
 */

/** The request header, as HTTP API (payload 2.0) hands it to the function: lower-cased. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * What a key may be: a UUID, a ULID or any other opaque token of 8 to 128 safe characters. It is stored
 * with the answer for a day, so it must not carry anything but its own identity.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

/** How long a key's first answer is kept and replayed: 24 hours, as the header's IETF draft suggests. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60;

export function isValidIdempotencyKey(value: unknown): value is string {
  return typeof value === 'string' && IDEMPOTENCY_KEY_PATTERN.test(value);
}
