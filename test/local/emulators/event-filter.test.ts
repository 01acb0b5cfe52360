import {
  compileFilterCriteria,
  compileFilterPattern,
  FilterPatternError,
  MAX_PATTERN_LENGTH,
} from '../../../local/emulators/event-filter';

/** A record as a DynamoDB stream mapping filters it: the Lambda event record, images in DynamoDB JSON. */
const insertEvent = {
  eventID: '1',
  eventName: 'INSERT',
  eventVersion: '1.1',
  eventSource: 'aws:dynamodb',
  dynamodb: {
    ApproximateCreationDateTime: 1767225600,
    Keys: { pk: { S: 'topic#news' }, sk: { S: 'event#000042' } },
    NewImage: {
      pk: { S: 'topic#news' },
      sk: { S: 'event#000042' },
      kind: { S: 'Comment.Created' },
      flagged: { BOOL: false },
      note: { NULL: true },
    },
    SequenceNumber: '111',
    SizeBytes: 26,
    StreamViewType: 'NEW_IMAGE',
  },
};

const matches = (pattern: unknown, record: unknown = insertEvent): boolean =>
  compileFilterPattern(JSON.stringify(pattern)).matches(record);

describe('compileFilterPattern', () => {
  describe('exact values', () => {
    it('matches a string in DynamoDB JSON at any depth', () => {
      expect(matches({ dynamodb: { NewImage: { kind: { S: ['Comment.Created'] } } } })).toBe(true);
      expect(matches({ dynamodb: { NewImage: { kind: { S: ['Comment.Deleted'] } } } })).toBe(false);
    });

    it('matches numbers, booleans and null by type and value', () => {
      const record = { count: 5, ratio: 0.5, on: true, none: null, text: '5' };
      expect(matches({ count: [5] }, record)).toBe(true);
      expect(matches({ ratio: [0.5] }, record)).toBe(true);
      expect(matches({ on: [true] }, record)).toBe(true);
      expect(matches({ on: [false] }, record)).toBe(false);
      expect(matches({ none: [null] }, record)).toBe(true);
      expect(matches({ text: [5] }, record)).toBe(false);
      expect(matches({ count: ['5'] }, record)).toBe(false);
    });

    it('does not let null match a missing field, nor the empty string a missing one', () => {
      expect(matches({ absent: [null] }, {})).toBe(false);
      expect(matches({ absent: [''] }, {})).toBe(false);
      expect(matches({ empty: [''] }, { empty: '' })).toBe(true);
    });

    it('only matches leaf values, so a pattern must name the DynamoDB type key', () => {
      expect(matches({ dynamodb: { NewImage: { kind: ['Comment.Created'] } } })).toBe(false);
    });
  });

  describe('operators', () => {
    it('prefix and suffix match strings only, optionally without case', () => {
      expect(matches({ dynamodb: { NewImage: { sk: { S: [{ prefix: 'event#' }] } } } })).toBe(true);
      expect(matches({ dynamodb: { NewImage: { sk: { S: [{ prefix: 'meta#' }] } } } })).toBe(false);
      expect(matches({ dynamodb: { Keys: { pk: { S: [{ suffix: '#news' }] } } } })).toBe(true);
      expect(matches({ dynamodb: { Keys: { pk: { S: [{ suffix: '#sport' }] } } } })).toBe(false);
      expect(matches({ id: [{ prefix: '1' }] }, { id: 12 })).toBe(false);
      expect(
        matches({ dynamodb: { Keys: { pk: { S: [{ prefix: { 'equals-ignore-case': 'TOPIC#' } }] } } } }),
      ).toBe(true);
      expect(matches({ file: [{ suffix: { 'equals-ignore-case': '.PNG' } }] }, { file: 'a.png' })).toBe(true);
    });

    it('equals-ignore-case compares strings without case', () => {
      expect(matches({ eventName: [{ 'equals-ignore-case': 'insert' }] })).toBe(true);
      expect(matches({ eventName: [{ 'equals-ignore-case': 'remove' }] })).toBe(false);
    });

    it('anything-but matches a present value outside the list, never a missing field', () => {
      expect(matches({ eventName: [{ 'anything-but': ['REMOVE', 'MODIFY'] }] })).toBe(true);
      expect(matches({ eventName: [{ 'anything-but': ['INSERT'] }] })).toBe(false);
      expect(matches({ eventName: [{ 'anything-but': 'INSERT' }] })).toBe(false);
      expect(matches({ size: [{ 'anything-but': [0] }] }, { size: 3 })).toBe(true);
      expect(matches({ size: [{ 'anything-but': [3] }] }, { size: 3 })).toBe(false);
      expect(matches({ absent: [{ 'anything-but': ['x'] }] }, {})).toBe(false);
    });

    it('anything-but takes a prefix, a suffix or equals-ignore-case', () => {
      expect(
        matches({ dynamodb: { NewImage: { sk: { S: [{ 'anything-but': { prefix: 'meta#' } }] } } } }),
      ).toBe(true);
      expect(
        matches({ dynamodb: { NewImage: { sk: { S: [{ 'anything-but': { prefix: 'event#' } }] } } } }),
      ).toBe(false);
      expect(matches({ file: [{ 'anything-but': { suffix: '.png' } }] }, { file: 'a.png' })).toBe(false);
      expect(matches({ name: [{ 'anything-but': { 'equals-ignore-case': 'BOB' } }] }, { name: 'bob' })).toBe(
        false,
      );
    });

    it('numeric matches an equality or a range, on numbers only', () => {
      const record = { price: 5, label: '5' };
      expect(matches({ price: [{ numeric: ['=', 5] }] }, record)).toBe(true);
      expect(matches({ price: [{ numeric: ['>', 0, '<=', 5] }] }, record)).toBe(true);
      expect(matches({ price: [{ numeric: ['>', 0, '<', 5] }] }, record)).toBe(false);
      expect(matches({ price: [{ numeric: ['>=', 5] }] }, record)).toBe(true);
      expect(matches({ price: [{ numeric: ['<', 5] }] }, record)).toBe(false);
      expect(matches({ label: [{ numeric: ['=', 5] }] }, record)).toBe(false);
    });

    it('does not apply numeric to DynamoDB N values, which are strings', () => {
      expect(matches({ n: { N: [{ numeric: ['>', 1] }] } }, { n: { N: '5' } })).toBe(false);
    });

    it('exists tells a present leaf from a missing one', () => {
      expect(matches({ dynamodb: { NewImage: { kind: { S: [{ exists: true }] } } } })).toBe(true);
      expect(matches({ dynamodb: { NewImage: { gone: { S: [{ exists: true }] } } } })).toBe(false);
      expect(matches({ dynamodb: { NewImage: { gone: { S: [{ exists: false }] } } } })).toBe(true);
      expect(matches({ dynamodb: { NewImage: { kind: { S: [{ exists: false }] } } } })).toBe(false);
      expect(matches({ none: [{ exists: true }] }, { none: null })).toBe(true);
    });

    it('treats an object where a leaf is expected as absent, as exists only sees leaves', () => {
      expect(matches({ dynamodb: { NewImage: { kind: [{ exists: true }] } } })).toBe(false);
      expect(matches({ dynamodb: { NewImage: { kind: [{ exists: false }] } } })).toBe(true);
    });
  });

  describe('AND and OR', () => {
    it('needs every field to match (AND)', () => {
      const pattern = (kind: string) => ({
        eventName: ['INSERT'],
        dynamodb: { NewImage: { sk: { S: [{ prefix: 'event#' }] }, kind: { S: [kind] } } },
      });
      expect(matches(pattern('Comment.Created'))).toBe(true);
      expect(matches(pattern('Comment.Deleted'))).toBe(false);
    });

    it('needs any matcher of a field to match (OR)', () => {
      expect(matches({ eventName: ['MODIFY', 'INSERT'] })).toBe(true);
      expect(matches({ eventName: ['MODIFY', { prefix: 'REM' }] })).toBe(false);
      expect(matches({ dynamodb: { NewImage: { gone: { S: ['x', { exists: false }] } } } })).toBe(true);
    });

    it('matches any of the $or alternatives, relative to where $or stands', () => {
      const pattern = {
        dynamodb: {
          NewImage: { $or: [{ kind: { S: ['Comment.Deleted'] } }, { flagged: { BOOL: [false] } }] },
        },
      };
      expect(matches(pattern)).toBe(true);
      expect(matches({ $or: [{ eventName: ['REMOVE'] }, { eventName: ['MODIFY'] }] })).toBe(false);
    });

    it('matches when any element of an array in the record matches', () => {
      const record = { tags: ['red', 'blue'], items: [{ id: 1 }, { id: 7 }] };
      expect(matches({ tags: ['blue'] }, record)).toBe(true);
      expect(matches({ tags: ['green'] }, record)).toBe(false);
      expect(matches({ items: { id: [7] } }, record)).toBe(true);
      expect(matches({ tags: [{ 'anything-but': ['red'] }] }, record)).toBe(true);
    });

    it('lets an empty matcher list match nothing and an empty pattern match everything', () => {
      expect(matches({ eventName: [] })).toBe(false);
      expect(matches({})).toBe(true);
    });
  });

  describe('patterns AWS refuses', () => {
    it.each([
      ['not JSON', '{"eventName": ["INSERT"'],
      ['not an object', '["INSERT"]'],
      ['a bare value where matchers belong', '{"eventName": "INSERT"}'],
      ['an unknown operator', '{"eventName": [{"wildcard": "IN*"}]}'],
      ['an operator object with two keys', '{"eventName": [{"prefix": "I", "suffix": "T"}]}'],
      ['a nested array matcher', '{"eventName": [["INSERT"]]}'],
      ['prefix without a string', '{"eventName": [{"prefix": 1}]}'],
      ['exists without a boolean', '{"eventName": [{"exists": "yes"}]}'],
      ['anything-but with an empty list', '{"eventName": [{"anything-but": []}]}'],
      ['anything-but with numeric', '{"n": [{"anything-but": {"numeric": [">", 1]}}]}'],
      ['numeric with an odd operand list', '{"n": [{"numeric": [">", 1, "<"]}]}'],
      ['numeric with an unknown operator', '{"n": [{"numeric": ["!=", 1]}]}'],
      ['numeric with a string bound', '{"n": [{"numeric": [">", "1"]}]}'],
      ['numeric with two lower bounds', '{"n": [{"numeric": [">", 1, ">=", 2]}]}'],
      ['numeric with an empty range', '{"n": [{"numeric": [">", 5, "<", 1]}]}'],
      ['numeric mixing = and a range', '{"n": [{"numeric": ["=", 1, "<", 5]}]}'],
      ['$or with one alternative', '{"$or": [{"a": ["x"]}]}'],
    ])('refuses %s', (_case, pattern) => {
      // Act
      const compile = () => compileFilterPattern(pattern);

      // Assess
      expect(compile).toThrow(FilterPatternError);
    });

    it('names the offending field and operator, with a stable code', () => {
      // Act
      let caught: unknown;
      try {
        compileFilterPattern('{"dynamodb": {"NewImage": {"sk": {"S": [{"begins-with": "event#"}]}}}}');
      } catch (error) {
        caught = error;
      }

      // Assess
      expect(caught).toBeInstanceOf(FilterPatternError);
      expect((caught as FilterPatternError).code).toBe('INVALID_FILTER_PATTERN');
      expect((caught as Error).message).toBe(
        '"dynamodb.NewImage.sk.S": unknown filter operator "begins-with"',
      );
    });

    it('refuses a pattern longer than Lambda allows', () => {
      const pattern = JSON.stringify({ eventName: ['x'.repeat(MAX_PATTERN_LENGTH)] });
      expect(() => compileFilterPattern(pattern)).toThrow(/over the 4096 limit/);
    });
  });
});

describe('compileFilterCriteria', () => {
  it('lets everything through without filters', () => {
    expect(compileFilterCriteria(undefined).matches(insertEvent)).toBe(true);
    expect(compileFilterCriteria({ Filters: [] }).matches(insertEvent)).toBe(true);
  });

  it('ORs the filters', () => {
    // Prepare
    const criteria = compileFilterCriteria({
      Filters: [{ Pattern: '{"eventName": ["REMOVE"]}' }, { Pattern: '{"eventName": ["INSERT"]}' }],
    });

    // Act & Assess
    expect(criteria.matches(insertEvent)).toBe(true);
    expect(criteria.matches({ ...insertEvent, eventName: 'MODIFY' })).toBe(false);
  });

  it('says which filter is wrong', () => {
    expect(() =>
      compileFilterCriteria({ Filters: [{ Pattern: '{"eventName": ["INSERT"]}' }, { Pattern: '{oops' }] }),
    ).toThrow(/^FilterCriteria\.Filters\[1\]: the pattern is not valid JSON/);
    expect(() => compileFilterCriteria({ Filters: [{}] })).toThrow(
      'FilterCriteria.Filters[0] has no Pattern string',
    );
  });

  it('compiles once and matches many records', () => {
    // Prepare
    const filter = compileFilterCriteria({
      Filters: [{ Pattern: '{"dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "event#"}]}}}}' }],
    });
    const records = ['event#1', 'meta#1', 'event#2'].map((sk) => ({
      dynamodb: { NewImage: { sk: { S: sk } } },
    }));

    // Act
    const kept = records.filter((record) => filter.matches(record));

    // Assess
    expect(kept.map((record) => record.dynamodb.NewImage.sk.S)).toEqual(['event#1', 'event#2']);
  });
});
