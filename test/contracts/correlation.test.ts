import {
  CORRELATION_ID_HEADER,
  correlationIdFromHeaders,
  isValidCorrelationId,
} from '../../contracts/correlation';

describe('isValidCorrelationId', () => {
  it.each([
    ['a ULID', '01J9ZQ3V6W8X9Y0Z1A2B3C4D5E'],
    ['a UUID', 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef'],
    ['an API Gateway request id (base64 with padding)', 'JKJaXmPLvHcESHA='],
    ['64 characters', 'a'.repeat(64)],
  ])('accepts %s', (_name, value) => {
    expect(isValidCorrelationId(value)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'a'.repeat(65)],
    ['a space', 'a b'],
    ['a line feed (log injection)', 'a\nb'],
    ['JSON', '{"level":"ERROR"}'],
    ['a slash', 'a/b'],
    ['not a string', 42],
    ['undefined', undefined],
  ])('refuses %s', (_name, value) => {
    expect(isValidCorrelationId(value)).toBe(false);
  });
});

describe('correlationIdFromHeaders', () => {
  it(`takes a valid ${CORRELATION_ID_HEADER} header`, () => {
    expect(correlationIdFromHeaders({ 'x-correlation-id': 'corr-1' }, 'request-1')).toBe('corr-1');
  });

  it('matches the header name in any case', () => {
    expect(correlationIdFromHeaders({ 'X-Correlation-Id': 'corr-2' }, 'request-1')).toBe('corr-2');
  });

  it.each([
    ['no headers', undefined],
    ['no such header', { accept: 'application/json' }],
    ['an invalid id', { 'x-correlation-id': 'not valid!' }],
    ['an empty header', { 'x-correlation-id': '' }],
  ])('falls back with %s', (_name, headers) => {
    expect(correlationIdFromHeaders(headers, 'request-1')).toBe('request-1');
  });
});
