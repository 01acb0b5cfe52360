import type { Comment, Post, SequencedChangeEvent } from '../../contracts/protocol';
import type { IdempotentWrite, StoredAnswer } from './idempotency-record';

export { StoreBusyError } from './change-cancellation';

export interface CommentPage {
  comments: Comment[];
  /** Opaque; present when more comments follow. */
  nextCursor?: string;
}

export interface ListCommentsOptions {
  limit: number;
  cursor?: string;
  /** A strongly consistent read: sees every change committed before it. @default false */
  consistent?: boolean;
}

/** The identity and lifetime of the event a change records; chosen by the caller, which owns the clock. */
export interface EventStamp {
  /** A ULID (ids.ts). */
  eventId: string;
  /** ISO time of the change. */
  createdAt: string;
  /** Epoch seconds after which the event may be deleted (the table's TTL attribute). */
  expiresAt: number;
}

/** An edit by `userId`, who must be the comment's author. */
export interface CommentEdit {
  postId: string;
  commentId: string;
  userId: string;
  content: string;
  updatedAt: string;
  /** When the comment was created: the edit's event carries the whole comment as it is after the edit. */
  createdAt: string;
}

/** A deletion by `userId`, who must be the comment's author. */
export interface CommentRemoval {
  postId: string;
  commentId: string;
  userId: string;
}

/** Why a change was refused. Nothing was written: not the change, not its event, not the post's seq. */
export type ChangeRejection = 'postNotFound' | 'commentNotFound' | 'notAuthor';

/**
 * A change either happened, as exactly this stored event, or was refused; or its idempotency key had
 * already been used, and nothing was written: `previous` is what that first request stored.
 */
export type ChangeOutcome =
  | { ok: true; event: SequencedChangeEvent }
  | { ok: false; reason: ChangeRejection }
  | { ok: false; reason: 'keyUsed'; previous: StoredAnswer };

/** A post was stored, or its idempotency key had already been used and nothing was written. */
export type PostOutcome = { ok: true } | { ok: false; reason: 'keyUsed'; previous: StoredAnswer };

/** Which events to read: `afterSeq < seq <= throughSeq`, as of `now`. */
export interface EventRange {
  afterSeq: number;
  throughSeq: number;
  /** Epoch seconds: events whose `expiresAt` is before this are treated as gone (TTL deletes lazily). */
  now: number;
}

/**
 * Posts, comments and the per-post log of comment changes: the port the comment service and the
 * subscribe route depend on. Every comment write also appends its event, with the post's next `seq`, in
 * one transaction: a change without its event, or an event without its change, cannot be stored.
 */
export interface CommentRepository {
  /** Stores the post and its counter (lastSeq 0), and the idempotency record when given, together. */
  createPost(post: Post, idempotent?: IdempotentWrite): Promise<PostOutcome>;
  getPost(postId: string): Promise<Post | undefined>;
  /** The seq of the post's latest event (0 before the first), read consistently; undefined without the post. */
  getLastSeq(postId: string): Promise<number | undefined>;
  /** The lastSeq of each post that exists, read consistently in one batch (at most 100 posts). */
  getLastSeqs(postIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Stores the comment (refused when its post does not exist) and its `comment.created` event, and the
   * idempotency record when given, in one transaction.
   */
  createComment(comment: Comment, stamp: EventStamp, idempotent?: IdempotentWrite): Promise<ChangeOutcome>;
  getComment(postId: string, commentId: string): Promise<Comment | undefined>;
  listComments(postId: string, options: ListCommentsOptions): Promise<CommentPage>;
  /** Sets content and updatedAt (refused unless the comment exists and is the user's) and records the event. */
  updateComment(edit: CommentEdit, stamp: EventStamp): Promise<ChangeOutcome>;
  /** Deletes the comment (refused unless it exists and is the user's) and records the event. */
  deleteComment(removal: CommentRemoval, stamp: EventStamp): Promise<ChangeOutcome>;
  /** The stored event with this seq, read consistently; undefined when there is none. */
  getEvent(postId: string, seq: number): Promise<SequencedChangeEvent | undefined>;
  /** The unexpired events in the range, oldest first, read consistently; gaps are the caller's to judge. */
  listEvents(postId: string, range: EventRange): Promise<SequencedChangeEvent[]>;
}

/**
 * Writers to one post kept winning the race for its next seq for longer than a request may wait. Nothing
 * was written; the caller should try again in a moment (503 with Retry-After).
 */
export class SeqContentionError extends Error {
  constructor(postId: string, attempts: number, waitedMs: number) {
    super(`Could not take the next event seq of post ${postId} in ${attempts} attempts over ${waitedMs} ms`);
    this.name = 'SeqContentionError';
  }
}
