import { resolveBackoff, type BackoffOptions } from './backoff';
import type { WebSocketConstructor } from './websocket';

export interface TokenRequest {
  /** True right after a handshake was refused with 401: a cached token must not be returned again. */
  readonly refresh: boolean;
}

/** A fixed token, or a function asked for one before every connection attempt. */
export type TokenSource = string | ((request: TokenRequest) => Promise<string>);

/**
 * Where the token travels on the handshake. `'protocol'`: in `Sec-WebSocket-Protocol`, as the subprotocol
 * list `['realtime-comments.v1', 'realtime-comments.bearer.<JWT>']`, out of every URL. `'query'`: as
 * `?token=<JWT>` in the URL, which browsers print in the console when a connection fails and proxies may
 * log; only for servers that cannot read the header. See contracts/websocket-auth.ts.
 */
export type TokenTransport = 'protocol' | 'query';

/** `console` fits; every method is optional and the default logs nothing. The token is never logged. */
export interface ClientLogger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

export interface RealtimeCommentsClientOptions {
  /** The WebSocket API URL (`WebSocketUrl` output), e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  readonly url: string;
  /**
   * A JWT, sent in the handshake's `Sec-WebSocket-Protocol` header (see `tokenTransport`). A function is
   * called before every connection attempt, so it can hand out a fresh token; omit it (or resolve '') for
   * anonymous connections where the stage allows them.
   */
  readonly token?: TokenSource;
  /** Where the token travels. @default 'protocol' (never in the URL) */
  readonly tokenTransport?: TokenTransport;
  /** @default globalThis.WebSocket (browsers, Node 22+); on Node 20 pass `WebSocket` from the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * A `ping` this often keeps the connection inside API Gateway's 10-minute idle timeout, and its `pong`
   * (the server's seq of every post followed) reveals a last event that was lost: it is repaired within
   * this interval. A ping and its pong are two messages a minute per client, about 2 900 a day: a small
   * price for noticing a loss within a minute rather than at the next comment. @default 60_000
   */
  readonly pingIntervalMs?: number;
  /** Without any frame this long after a ping, the connection is taken for dead and replaced; 0 never. @default 10_000 */
  readonly pongTimeoutMs?: number;
  /** Replace the connection this long after it opened, ahead of API Gateway's 2-hour maximum. @default 6_900_000 */
  readonly maxConnectionMs?: number;
  /** Reconnect delays, and those between retries of a subscribe, a page or a replay. @default {initialMs: 500, maxMs: 30_000, factor: 2}, with full jitter */
  readonly backoff?: BackoffOptions;
  /** A connection open this long resets the backoff (so does the first subscribe it gets answered). @default 10_000 */
  readonly stableAfterMs?: number;
  /** Event ids remembered per post to drop second copies. @default 1000 */
  readonly dedupeWindow?: number;
  /**
   * A subscribe without `subscribed` or `error`, a subscribe without its snapshot, or a `listComments`
   * without its page, in this time, is sent again. @default 10_000
   */
  readonly subscribeTimeoutMs?: number;
  /**
   * How long a gap in `seq` may wait for the missing event (two broadcasts can overtake each other)
   * before the client resubscribes with `lastSeq` to have it replayed. A replay that does not fill it is
   * asked for again after this plus a jittered, growing delay (`backoff`), for as long as it takes.
   * @default 1_000
   */
  readonly gapGraceMs?: number;
  readonly logger?: ClientLogger;
  /** The jitter source; tests inject their own. @default Math.random */
  readonly random?: () => number;
}

/** The options with every default filled in and every value checked, read by the client's parts. */
export interface ClientSettings {
  readonly url: string;
  readonly token: TokenSource | undefined;
  readonly tokenTransport: TokenTransport;
  readonly WebSocket: WebSocketConstructor;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly maxConnectionMs: number;
  readonly stableAfterMs: number;
  readonly dedupeWindow: number;
  readonly subscribeTimeoutMs: number;
  readonly gapGraceMs: number;
  readonly backoff: Required<BackoffOptions>;
  readonly random: () => number;
  readonly logger: ClientLogger;
}

/** Fills in the defaults; a value that cannot work throws here, when the client is made, not later. */
export function resolveClientOptions(options: RealtimeCommentsClientOptions): ClientSettings {
  const url = new URL(options.url);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`url must be a ws: or wss: URL, got ${url.protocol}`);
  }
  const implementation = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!implementation) {
    throw new TypeError('No WebSocket implementation: pass one, e.g. `WebSocket` from the ws package');
  }
  return {
    url: options.url,
    token: options.token,
    tokenTransport: tokenTransport(options.tokenTransport ?? 'protocol'),
    WebSocket: implementation,
    pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs ?? 60_000),
    pongTimeoutMs: nonNegative('pongTimeoutMs', options.pongTimeoutMs ?? 10_000),
    maxConnectionMs: positive('maxConnectionMs', options.maxConnectionMs ?? 2 * 60 * 60_000 - 5 * 60_000),
    stableAfterMs: positive('stableAfterMs', options.stableAfterMs ?? 10_000),
    dedupeWindow: nonNegative('dedupeWindow', options.dedupeWindow ?? 1000),
    subscribeTimeoutMs: positive('subscribeTimeoutMs', options.subscribeTimeoutMs ?? 10_000),
    gapGraceMs: nonNegative('gapGraceMs', options.gapGraceMs ?? 1_000),
    backoff: resolveBackoff(options.backoff),
    random: options.random ?? Math.random,
    logger: options.logger ?? {},
  };
}

function tokenTransport(value: TokenTransport): TokenTransport {
  if (value !== 'protocol' && value !== 'query') {
    throw new TypeError(`tokenTransport must be 'protocol' or 'query', got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}
