/**
 * How a WebSocket client presents its token on `$connect`, defined once for the client SDK, the
 * `$connect` authorizer and integration, the local gateway and the tests. Import-free: the SDK bundles it.
 *
 * Browsers cannot set headers on a WebSocket handshake, but they send the subprotocols a page asks for:
 * `new WebSocket(url, [WEBSOCKET_PROTOCOL, TOKEN_PROTOCOL_PREFIX + jwt])` sends
 * `Sec-WebSocket-Protocol: realtime-comments.v1, realtime-comments.bearer.<JWT>`, so the token stays out of
 * the URL (which browsers print on every failed connection and proxies log). API Gateway hands the header
 * to the REQUEST authorizer; the `$connect` integration must then answer with the protocol it selected, and
 * only that one (never the token value), or the browser fails the handshake. `?token=<JWT>` keeps working
 * for wscat and scripts. See docs/protocol.md ("Connecting").
 */

/** The subprotocol a client speaks, versioned: a client that offers only a later version is refused. */
export const WEBSOCKET_PROTOCOL = 'realtime-comments.v1';

/**
 * The offered "subprotocol" that carries the token: this prefix, then the JWT as it is. Each offered value
 * must be an HTTP token (RFC 6455 section 4.1; tchar in RFC 7230 section 3.2.6); a JWT is base64url
 * segments joined by dots, and the prefix is letters, '-' and '.', so the value needs no encoding.
 */
export const TOKEN_PROTOCOL_PREFIX = 'realtime-comments.bearer.';

/** The query-string form, `?token=<JWT>`, for clients that cannot offer subprotocols (wscat, scripts). */
export const TOKEN_QUERY_PARAMETER = 'token';

export const SEC_WEBSOCKET_PROTOCOL = 'Sec-WebSocket-Protocol';

/**
 * Far above any real offer (a Cognito token is about 1 KB, and the authorizer refuses tokens over 8 KB):
 * a longer header is refused before it is split.
 */
export const MAX_PROTOCOL_HEADER_LENGTH = 9 * 1024;

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Any version of this protocol's name, so that an offer of another version is told apart from junk. */
const PROTOCOL_NAME = /^realtime-comments\.v[0-9]+$/;

/** Why an offered protocol list was refused. Safe to log: none of them repeats the token. */
export type ProtocolOfferProblem =
  | 'too_long'
  | 'empty_entry'
  | 'not_a_token'
  | 'duplicate_entry'
  | 'unknown_entry'
  | 'several_tokens'
  | 'empty_token'
  | 'no_protocol'
  | 'unsupported_version';

/** What a handshake's Sec-WebSocket-Protocol header says. */
export type ProtocolOffer =
  /** No header: a client that offers no subprotocol (the query-string form, or anonymous). */
  | { kind: 'none' }
  /** The protocol to select (and echo), and the token when one was offered. */
  | { kind: 'valid'; protocol: typeof WEBSOCKET_PROTOCOL; token?: string }
  | { kind: 'invalid'; problem: ProtocolOfferProblem };

/** True when `value` is an HTTP token (RFC 7230 tchar only), as every offered subprotocol must be. */
export function isHttpToken(value: string): boolean {
  return HTTP_TOKEN.test(value);
}

/**
 * The subprotocols a client offers: the protocol, then the token when there is one. Throws a TypeError
 * (naming no part of the token) when the token cannot travel in the header: browsers would throw a
 * SyntaxError for it, and such a token is no JWT.
 */
export function offeredProtocols(token?: string): string[] {
  if (token === undefined || token === '') return [WEBSOCKET_PROTOCOL];
  if (!isHttpToken(token)) {
    throw new TypeError(
      `The token cannot be sent in ${SEC_WEBSOCKET_PROTOCOL}: it has characters outside an HTTP token (a JWT has none)`,
    );
  }
  const protocols = [WEBSOCKET_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token];
  if (protocols.join(', ').length > MAX_PROTOCOL_HEADER_LENGTH) {
    throw new TypeError(`The token is too long for ${SEC_WEBSOCKET_PROTOCOL}`);
  }
  return protocols;
}

/**
 * Reads a handshake's Sec-WebSocket-Protocol header. Strict, so that the `$connect` authorizer and
 * integration agree on every input: entries are comma-separated HTTP tokens, unique, each either a
 * version of the protocol's name or one token value; the current version must be among them.
 */
export function parseProtocolOffer(header: string | undefined): ProtocolOffer {
  if (header === undefined) return { kind: 'none' };
  if (header.length > MAX_PROTOCOL_HEADER_LENGTH) return invalid('too_long');
  const entries = header.split(',').map((entry) => entry.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (entries.some((entry) => entry === '')) return invalid('empty_entry');
  if (!entries.every(isHttpToken)) return invalid('not_a_token');
  if (new Set(entries).size !== entries.length) return invalid('duplicate_entry');
  const tokens: string[] = [];
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.startsWith(TOKEN_PROTOCOL_PREFIX)) tokens.push(entry.slice(TOKEN_PROTOCOL_PREFIX.length));
    else if (PROTOCOL_NAME.test(entry)) names.push(entry);
    else return invalid('unknown_entry');
  }
  if (tokens.length > 1) return invalid('several_tokens');
  const [token] = tokens;
  if (token === '') return invalid('empty_token');
  if (names.length === 0) return invalid('no_protocol');
  if (!names.includes(WEBSOCKET_PROTOCOL)) return invalid('unsupported_version');
  return token === undefined
    ? { kind: 'valid', protocol: WEBSOCKET_PROTOCOL }
    : { kind: 'valid', protocol: WEBSOCKET_PROTOCOL, token };
}

/**
 * The Sec-WebSocket-Protocol header of an API Gateway event (REQUEST authorizer or `$connect`
 * integration), whatever the case of its name. Repeated headers are joined, as HTTP allows for a list.
 */
export function protocolHeaderOf(
  headers?: Readonly<Record<string, string | undefined>> | null,
  multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null,
): string | undefined {
  const name = SEC_WEBSOCKET_PROTOCOL.toLowerCase();
  for (const [key, values] of Object.entries(multiValueHeaders ?? {})) {
    if (key.toLowerCase() === name && values && values.length > 0) return values.join(', ');
  }
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === name && value !== undefined) return value;
  }
  return undefined;
}

function invalid(problem: ProtocolOfferProblem): ProtocolOffer {
  return { kind: 'invalid', problem };
}
