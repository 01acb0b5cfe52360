import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ChangeRejection } from './comment-repository';
import { toStoredAnswer, type StoredAnswer } from './idempotency-record';

/**
 * The positions in every change transaction (the post's counter, the comment, the event, then the
 * idempotency record when there is one), which is how its cancellation reasons are told apart: DynamoDB
 * reports one reason per item, in the items' order.
 */
export const ChangeItemPositions = { counter: 0, comment: 1, event: 2 } as const;

/**
 * What the transaction writes: a new post (the post, its counter), a new comment, or a change to a comment
 * that must already exist (an edit or a deletion).
 */
export type ChangeKind = 'newPost' | 'newComment' | 'existingComment';

export type CancellationVerdict =
  /** Lost the race for the seq, or collided with another write: try again. */
  | { retry: true; counter?: Record<string, unknown> }
  | { retry: false; reason: ChangeRejection }
  /** The idempotency key was used before; `previous` is its record when the cancellation brought it. */
  | { retry: false; reason: 'keyUsed'; previous?: StoredAnswer };

/**
 * DynamoDB refused the write for capacity (throttled, or the table's throughput exceeded). Nothing was
 * written; the caller should try again after a pause: 503 with Retry-After, never a 500.
 */
export class StoreBusyError extends Error {
  constructor(message = 'The table is throttling writes') {
    super(message);
    this.name = 'StoreBusyError';
  }
}

const CAPACITY_CODES = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

/**
 * What a cancelled change transaction means. A used idempotency key is final: the first request's answer
 * stands. A failed condition on the comment is final too: for an edit or deletion the old item comes back
 * (ReturnValuesOnConditionCheckFailure) when the comment exists, so it is someone else's. A failed
 * condition on the counter is another writer having taken the seq first (the counter comes back, so the
 * next attempt knows the new lastSeq), and a TransactionConflict is a write racing ours: both are retried.
 * A capacity refusal throws StoreBusyError. Anything else (undefined) is not ours to interpret.
 */
export function judgeCancellation(
  error: unknown,
  kind: ChangeKind,
  idempotencyPosition?: number,
): CancellationVerdict | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  const reasons = error.CancellationReasons ?? [];
  if (idempotencyPosition !== undefined) {
    const record = reasons[idempotencyPosition];
    if (record?.Code === 'ConditionalCheckFailed') {
      return record.Item
        ? { retry: false, reason: 'keyUsed', previous: toStoredAnswer(unmarshall(record.Item)) }
        : { retry: false, reason: 'keyUsed' };
    }
  }
  if (reasons.some((reason) => CAPACITY_CODES.has(reason.Code ?? ''))) throw new StoreBusyError();
  // A new post's or comment's id is a fresh ULID: a collision is not a user error, so it is not judged here.
  if (kind === 'newPost') return undefined;
  const comment = reasons[ChangeItemPositions.comment];
  if (comment?.Code === 'ConditionalCheckFailed') {
    if (kind === 'newComment') return undefined;
    return { retry: false, reason: comment.Item ? 'notAuthor' : 'commentNotFound' };
  }
  const counter = reasons[ChangeItemPositions.counter];
  if (counter?.Code === 'ConditionalCheckFailed') {
    // The item comes back in DynamoDB's own JSON: the document client does not translate exceptions.
    return counter.Item ? { retry: true, counter: unmarshall(counter.Item) } : { retry: true };
  }
  if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return { retry: true };
  return undefined;
}
