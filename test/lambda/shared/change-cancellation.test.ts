import {
  InternalServerError,
  TransactionCanceledException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import {
  ChangeItemPositions,
  judgeCancellation,
  StoreBusyError,
  type ChangeKind,
} from '../../../lambda/shared/change-cancellation';

/** Reasons in transaction order: counter, comment, event, then the idempotency record when there is one. */
const cancelled = (...reasons: (CancellationReason | string)[]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((reason) => (typeof reason === 'string' ? { Code: reason } : reason)),
  });
const CCF = 'ConditionalCheckFailed';
/** What a ReturnValuesOnConditionCheckFailure item looks like: DynamoDB's own JSON, not plain values. */
const counterItem = { pk: { S: 'post#P1' }, sk: { S: 'seq' }, lastSeq: { N: '5' } };
const recordItem = {
  pk: { S: 'idem#bob#key-0001' },
  sk: { S: 'write' },
  requestHash: { S: 'hash-0' },
  result: { S: '{"id":"C0"}' },
  expiresAt: { N: '1798000100' },
};
const IDEMPOTENCY = 3;
const kinds: ChangeKind[] = ['newPost', 'newComment', 'existingComment'];

describe('ChangeItemPositions', () => {
  it('puts the counter first, then the comment, then the event', () => {
    // Act / Assess
    expect(ChangeItemPositions).toEqual({ counter: 0, comment: 1, event: 2 });
  });
});

describe('judgeCancellation', () => {
  it.each(kinds)('leaves an error that is not a cancellation to the caller (%s)', (kind) => {
    // Prepare
    const error = new InternalServerError({ message: 'boom', $metadata: {} });

    // Act / Assess
    expect(judgeCancellation(error, kind)).toBeUndefined();
    expect(judgeCancellation(new Error('x'), kind, IDEMPOTENCY)).toBeUndefined();
    expect(judgeCancellation(undefined, kind)).toBeUndefined();
  });

  it('leaves a cancellation without reasons to the caller', () => {
    // Prepare
    const error = new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {} });

    // Act / Assess
    expect(judgeCancellation(error, 'existingComment', IDEMPOTENCY)).toBeUndefined();
  });

  describe('the idempotency record', () => {
    it.each(kinds)('answers keyUsed with the record unmarshalled when it came back (%s)', (kind) => {
      // Prepare
      const error = cancelled('None', 'None', 'None', { Code: CCF, Item: recordItem });

      // Act
      const verdict = judgeCancellation(error, kind, IDEMPOTENCY);

      // Assess
      expect(verdict).toEqual({
        retry: false,
        reason: 'keyUsed',
        previous: { requestHash: 'hash-0', result: '{"id":"C0"}' },
      });
    });

    it('answers keyUsed without a previous answer when the record did not come back', () => {
      // Act
      const verdict = judgeCancellation(cancelled('None', 'None', CCF), 'newPost', 2);

      // Assess
      expect(verdict).toEqual({ retry: false, reason: 'keyUsed' });
    });

    it('is judged first: a used key is final whatever else failed with it', () => {
      // Prepare: the seq was lost and an item throttled, but the key is taken: retrying cannot help
      const error = cancelled({ Code: CCF, Item: counterItem }, 'ThrottlingError', 'None', CCF);

      // Act
      const verdict = judgeCancellation(error, 'newComment', IDEMPOTENCY);

      // Assess
      expect(verdict).toEqual({ retry: false, reason: 'keyUsed' });
    });

    it('is only looked for at the position the caller names', () => {
      // Prepare: without a record in the transaction, position 3 means nothing
      const error = cancelled('None', 'None', 'None', CCF);

      // Act / Assess
      expect(judgeCancellation(error, 'existingComment')).toBeUndefined();
      expect(
        judgeCancellation(cancelled('None', 'None', 'None', 'None'), 'newComment', IDEMPOTENCY),
      ).toBeUndefined();
    });
  });

  describe('capacity', () => {
    it.each(
      kinds.flatMap((kind) =>
        ['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded'].map(
          (code) => [code, kind] as const,
        ),
      ),
    )('throws StoreBusyError for %s at any position (%s)', (code, kind) => {
      // Prepare
      const error = cancelled('None', 'None', code);

      // Act
      const judge = (): unknown => judgeCancellation(error, kind, IDEMPOTENCY);

      // Assess
      expect(judge).toThrow(StoreBusyError);
    });

    it('names itself, so the HTTP layer can answer 503 by name', () => {
      // Act
      const error = new StoreBusyError();

      // Assess
      expect(error.name).toBe('StoreBusyError');
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toBe('The table is throttling writes');
    });
  });

  describe('a new post', () => {
    it.each([
      ['a post id collision', cancelled(CCF, CCF)],
      ['a conflict', cancelled('TransactionConflict', 'None')],
    ])('leaves %s to the caller: its id is a fresh ULID', (_name, error) => {
      // Act / Assess
      expect(judgeCancellation(error, 'newPost')).toBeUndefined();
    });
  });

  describe('the comment', () => {
    it('leaves a failed condition on a new comment to the caller: an id collision is not a user error', () => {
      // Act / Assess
      expect(judgeCancellation(cancelled('None', CCF, 'None'), 'newComment')).toBeUndefined();
    });

    it('answers commentNotFound when an existing comment’s condition failed and nothing came back', () => {
      // Act / Assess
      expect(judgeCancellation(cancelled('None', CCF, 'None'), 'existingComment')).toEqual({
        retry: false,
        reason: 'commentNotFound',
      });
    });

    it('answers notAuthor when the comment came back: it exists, so it is someone else’s', () => {
      // Prepare
      const error = cancelled('None', { Code: CCF, Item: { userId: { S: 'alice' } } }, 'None');

      // Act / Assess
      expect(judgeCancellation(error, 'existingComment')).toEqual({ retry: false, reason: 'notAuthor' });
    });

    it('is judged before the counter: a refused change is not retried', () => {
      // Act
      const verdict = judgeCancellation(
        cancelled({ Code: CCF, Item: counterItem }, CCF, 'None'),
        'existingComment',
      );

      // Assess
      expect(verdict).toEqual({ retry: false, reason: 'commentNotFound' });
    });
  });

  describe('the counter', () => {
    it.each<ChangeKind>(['newComment', 'existingComment'])(
      'retries a lost race with the counter as the winner left it, unmarshalled (%s)',
      (kind) => {
        // Act
        const verdict = judgeCancellation(cancelled({ Code: CCF, Item: counterItem }, 'None', 'None'), kind);

        // Assess
        expect(verdict).toEqual({ retry: true, counter: { pk: 'post#P1', sk: 'seq', lastSeq: 5 } });
      },
    );

    it('retries without a counter when none came back (the post may be gone)', () => {
      // Act / Assess
      expect(judgeCancellation(cancelled(CCF, 'None', 'None'), 'newComment')).toEqual({ retry: true });
    });

    it.each([0, 1, 2])('retries a conflict with another transaction at position %d', (position) => {
      // Prepare
      const reasons = ['None', 'None', 'None'];
      reasons[position] = 'TransactionConflict';

      // Act / Assess
      expect(judgeCancellation(cancelled(...reasons), 'existingComment', IDEMPOTENCY)).toEqual({
        retry: true,
      });
    });
  });

  it.each([
    ['a failed condition on the event (history is never overwritten)', cancelled('None', 'None', CCF)],
    ['a validation error', cancelled('None', 'ValidationError', 'None')],
    ['an item collection over its size limit', cancelled('None', 'ItemCollectionSizeLimitExceeded', 'None')],
  ])('leaves %s to the caller', (_name, error) => {
    // Act / Assess
    expect(judgeCancellation(error, 'newComment')).toBeUndefined();
    expect(judgeCancellation(error, 'existingComment')).toBeUndefined();
  });
});
