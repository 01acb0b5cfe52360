import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { ChangeRejection } from './comment-repository';

/**
 * The positions in every change transaction (the post's seq, the comment, the event), which is how its
 * cancellation reasons are told apart: DynamoDB reports one reason per item, in the items' order.
 */
export const ChangeItemPositions = { post: 0, comment: 1, event: 2 } as const;

/** Whether the change writes a new comment or one that must already exist (an edit or a deletion). */
export type ChangeKind = 'newComment' | 'existingComment';

export type CancellationVerdict = { retry: true } | { retry: false; reason: ChangeRejection };

/**
 * What a cancelled change transaction means. A failed condition on the comment is final: for an edit or
 * deletion the old item comes back (ReturnValuesOnConditionCheckFailure) when the comment exists, so it is
 * someone else's. A failed condition on the post is another writer having taken the seq first (or the post
 * having gone, which the next read of the seq tells), and a TransactionConflict is a write racing ours:
 * both are retried. Anything else (undefined) is not ours to interpret.
 */
export function judgeCancellation(error: unknown, kind: ChangeKind): CancellationVerdict | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  const reasons = error.CancellationReasons ?? [];
  const comment = reasons[ChangeItemPositions.comment];
  if (comment?.Code === 'ConditionalCheckFailed') {
    // A new comment's id is a fresh ULID: a collision is not a user error, so it is not judged here.
    if (kind === 'newComment') return undefined;
    return { retry: false, reason: comment.Item ? 'notAuthor' : 'commentNotFound' };
  }
  if (reasons[ChangeItemPositions.post]?.Code === 'ConditionalCheckFailed') return { retry: true };
  if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return { retry: true };
  return undefined;
}
