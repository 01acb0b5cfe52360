import {
  isHttpToken,
  MAX_PROTOCOL_HEADER_LENGTH,
  offeredProtocols,
  parseProtocolOffer,
  protocolHeaderOf,
  TOKEN_PROTOCOL_PREFIX,
  WEBSOCKET_PROTOCOL,
  type ProtocolOfferProblem,
} from '../../contracts/websocket-auth';

/** Shaped like a real JWT: three base64url segments. */
const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLV8tYWJj';

describe('offeredProtocols', () => {
  it('offers the protocol, then the token behind its prefix', () => {
    // Act
    const protocols = offeredProtocols(JWT);

    // Assess
    expect(protocols).toEqual(['realtime-comments.v1', `realtime-comments.bearer.${JWT}`]);
    expect(protocols.every(isHttpToken)).toBe(true);
  });

  it.each([undefined, ''])('offers the protocol alone without a token (%p)', (token) => {
    // Act
    const protocols = offeredProtocols(token);

    // Assess
    expect(protocols).toEqual([WEBSOCKET_PROTOCOL]);
  });

  it.each([
    ['a space', 'a b'],
    ['a comma', 'a,b'],
    ['standard base64 padding and slashes', 'ab/c+d=='],
    ['a non-ASCII letter', 'tökén'],
  ])('refuses a token with %s, without naming it', (_case, token) => {
    // Act
    const offer = (): string[] => offeredProtocols(token);

    // Assess
    expect(offer).toThrow(TypeError);
    expect(offer).toThrow(/Sec-WebSocket-Protocol/);
    expect(() => offeredProtocols(token)).not.toThrow(token);
  });

  it('refuses a token too long for the header', () => {
    // Act
    const offer = (): string[] => offeredProtocols('a'.repeat(MAX_PROTOCOL_HEADER_LENGTH));

    // Assess
    expect(offer).toThrow('The token is too long for Sec-WebSocket-Protocol');
  });
});

describe('parseProtocolOffer', () => {
  it('reads what the SDK sends, as a browser joins it', () => {
    // Act
    const offer = parseProtocolOffer(offeredProtocols(JWT).join(', '));

    // Assess
    expect(offer).toEqual({ kind: 'valid', protocol: WEBSOCKET_PROTOCOL, token: JWT });
  });

  it.each([
    ['joined without spaces (ws, wscat -s)', `realtime-comments.v1,realtime-comments.bearer.${JWT}`],
    ['token first', `realtime-comments.bearer.${JWT}, realtime-comments.v1`],
    ['with tabs and spaces around entries', ` realtime-comments.v1\t,  realtime-comments.bearer.${JWT} `],
    [
      'a later version offered too',
      `realtime-comments.v2, realtime-comments.v1, realtime-comments.bearer.${JWT}`,
    ],
  ])('reads a valid offer %s', (_case, header) => {
    // Act
    const offer = parseProtocolOffer(header);

    // Assess
    expect(offer).toEqual({ kind: 'valid', protocol: WEBSOCKET_PROTOCOL, token: JWT });
  });

  it('reads the protocol without a token: an anonymous or query-string client', () => {
    // Act
    const offer = parseProtocolOffer('realtime-comments.v1');

    // Assess
    expect(offer).toEqual({ kind: 'valid', protocol: WEBSOCKET_PROTOCOL });
  });

  it('says there is no offer without a header', () => {
    // Act
    const offer = parseProtocolOffer(undefined);

    // Assess
    expect(offer).toEqual({ kind: 'none' });
  });

  it.each<[string, string, ProtocolOfferProblem]>([
    ['an empty header', '', 'empty_entry'],
    ['a blank header', '  ', 'empty_entry'],
    ['an empty entry', `realtime-comments.v1,,${TOKEN_PROTOCOL_PREFIX}${JWT}`, 'empty_entry'],
    ['a trailing comma', 'realtime-comments.v1,', 'empty_entry'],
    [
      'an entry that is not an HTTP token',
      `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}a/b=`,
      'not_a_token',
    ],
    ['a quoted entry', `"realtime-comments.v1"`, 'not_a_token'],
    ['a control character', `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}a\u0000b`, 'not_a_token'],
    ['the same entry twice', 'realtime-comments.v1, realtime-comments.v1', 'duplicate_entry'],
    ['a bare JWT without the prefix', `realtime-comments.v1, ${JWT}`, 'unknown_entry'],
    ['another application protocol', 'realtime-comments.v1, graphql-ws', 'unknown_entry'],
    [
      'two tokens',
      `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${JWT}, ${TOKEN_PROTOCOL_PREFIX}${JWT}x`,
      'several_tokens',
    ],
    ['an empty token', `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}`, 'empty_token'],
    ['a token without the protocol', `${TOKEN_PROTOCOL_PREFIX}${JWT}`, 'no_protocol'],
    [
      'only an unknown version',
      `realtime-comments.v2, ${TOKEN_PROTOCOL_PREFIX}${JWT}`,
      'unsupported_version',
    ],
    ['a version 0', 'realtime-comments.v0', 'unsupported_version'],
    [
      'an overly long header',
      `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${'a'.repeat(MAX_PROTOCOL_HEADER_LENGTH)}`,
      'too_long',
    ],
  ])('refuses %s', (_case, header, problem) => {
    // Act
    const offer = parseProtocolOffer(header);

    // Assess
    expect(offer).toEqual({ kind: 'invalid', problem });
  });
});

describe('protocolHeaderOf', () => {
  it('reads the header whatever the case of its name, as API Gateway passes it', () => {
    // Act
    const header = protocolHeaderOf({ Host: 'h', 'Sec-WebSocket-Protocol': 'realtime-comments.v1' });

    // Assess
    expect(header).toBe('realtime-comments.v1');
  });

  it('joins repeated headers from multiValueHeaders', () => {
    // Act
    const header = protocolHeaderOf(
      { 'sec-websocket-protocol': `${TOKEN_PROTOCOL_PREFIX}${JWT}` },
      { 'sec-websocket-protocol': ['realtime-comments.v1', `${TOKEN_PROTOCOL_PREFIX}${JWT}`] },
    );

    // Assess
    expect(header).toBe(`realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${JWT}`);
  });

  it.each([
    ['no headers', undefined, undefined],
    ['null headers', null, null],
    ['other headers only', { Authorization: 'Bearer x' }, { Authorization: ['Bearer x'] }],
  ])('is undefined with %s', (_case, headers, multiValueHeaders) => {
    // Act
    const header = protocolHeaderOf(headers, multiValueHeaders);

    // Assess
    expect(header).toBeUndefined();
  });
});
