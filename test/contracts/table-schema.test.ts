import { commentKeys, commentsTableSchema, EVENT_SEQ_DIGITS } from '../../contracts/table-schema';

describe('commentKeys', () => {
  it('zero-pads an event seq to 12 digits under the event prefix', () => {
    // Act / Assess
    expect(commentKeys.eventSortKey(1)).toBe('event#000000000001');
    expect(commentKeys.eventSortKey(123_456_789_012)).toBe('event#123456789012');
    expect(EVENT_SEQ_DIGITS).toBe(12);
  });

  it('sorts event sort keys in seq order, as a Query returns them', () => {
    // Prepare
    const seqs = [10, 9, 100, 1, 11, 2];

    // Act
    const sorted = seqs.map(commentKeys.eventSortKey).sort();

    // Assess
    expect(sorted).toEqual([1, 2, 9, 10, 11, 100].map(commentKeys.eventSortKey));
  });

  it('keeps events, comments and the post apart within a post’s item collection', () => {
    // Act / Assess
    expect(commentKeys.eventSortKey(1).startsWith(commentKeys.eventPrefix)).toBe(true);
    expect(commentKeys.eventSortKey(1).startsWith(commentKeys.commentPrefix)).toBe(false);
    expect(commentKeys.commentSortKey('event#1').startsWith(commentKeys.eventPrefix)).toBe(false);
    expect(commentKeys.postSortKey.startsWith(commentKeys.eventPrefix)).toBe(false);
  });
});

describe('commentsTableSchema', () => {
  it('expires items by expiresAt (only event items carry it)', () => {
    // Act / Assess
    expect(commentsTableSchema.timeToLiveAttribute).toBe('expiresAt');
  });
});
