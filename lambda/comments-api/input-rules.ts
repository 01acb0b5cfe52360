import { ID_PATTERN, isValidId } from '../../contracts/protocol';
import { ValidationError } from '../shared/errors';

/** Limits carried over from the original API's request models (README, "The original backend"). */
export const MAX_COMMENT_LENGTH = 2000;
export const MAX_TITLE_LENGTH = 200;
export const MAX_BODY_LENGTH = 10_000;
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 100;

// Tab, line feed and carriage return are legitimate in multi-line text; every other C0/C1 control
// character is either invisible or a terminal escape, and has no business in stored user content.
const FORBIDDEN_CONTROL = /(?![\t\n\r])\p{Cc}/u;
// A lone UTF-16 surrogate ("\ud800" in JSON) is not text: it cannot be encoded as UTF-8 for storage.
const LONE_SURROGATE = /\p{Cs}/u;

export function requireWellFormed(field: string, text: string): void {
  if (FORBIDDEN_CONTROL.test(text)) throw new ValidationError(`${field} must not contain control characters`);
  if (LONE_SURROGATE.test(text)) throw new ValidationError(`${field} must be valid Unicode text`);
}

// The original validated with Python's len(), which counts code points, not UTF-16 units: an emoji is 1.
export function codePointLength(text: string): number {
  return [...text].length;
}

/** Trims, then enforces 1..max code points, no control characters, no lone surrogates. Returns the trimmed text. */
export function requireText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw new ValidationError(`${field} must not be empty`);
  if (codePointLength(text) > max) throw new ValidationError(`${field} must be at most ${max} characters`);
  requireWellFormed(field, text);
  return text;
}

// Malformed ids are answered with 400 rather than 404: the request is wrong whatever the table holds,
// and it never reaches DynamoDB.
export function requireId(field: string, value: string): string {
  if (!isValidId(value)) throw new ValidationError(`${field} must match ${ID_PATTERN.source}`);
  return value;
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return limit;
}
