// The page cursor of listComments: the last comment id of a page, base64url-encoded so that clients
// treat it as opaque rather than building one themselves.
import { isValidId } from '../../contracts/protocol';

/** A cursor that was not produced by listComments: the caller sent garbage. */
export class InvalidCursorError extends Error {
  constructor() {
    super('Invalid pagination cursor');
    this.name = 'InvalidCursorError';
  }
}

/** base64url of the longest id (64 characters) is 86 characters; anything longer is not ours. */
const MAX_CURSOR_LENGTH = 88;

export function encodeCursor(commentId: string): string {
  return Buffer.from(commentId, 'utf8').toString('base64url');
}

/** The comment id a cursor stands for. @throws InvalidCursorError for anything encodeCursor did not make */
export function decodeCursor(cursor: string): string {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new InvalidCursorError();
  const commentId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isValidId(commentId)) throw new InvalidCursorError();
  return commentId;
}
