import {
  ErrorCodes,
  isValidId,
  parseServerEvent,
  type ClientMessage,
  type CommentsListEvent,
  type ErrorEvent,
} from '../contracts/protocol';
import { Backoff, backoffDelay, resolveBackoff, type BackoffOptions } from './backoff';
import { ClientErrorCodes, RealtimeCommentsError } from './errors';
import { PostStream, type CommentEvent, type StreamStep } from './post-stream';
import {
  OPEN,
  frameText,
  handshakeStatus,
  type WebSocketConstructor,
  type WebSocketErrorEvent,
  type WebSocketLike,
} from './websocket';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface TokenRequest {
  /** True right after a handshake was refused with 401: a cached token must not be returned again. */
  readonly refresh: boolean;
}

/** A fixed token, or a function asked for one before every connection attempt. */
export type TokenSource = string | ((request: TokenRequest) => Promise<string>);

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
   * Sent as `?token=` (browsers cannot set headers on a WebSocket handshake). A function is called before
   * every connection attempt, so it can hand out a fresh token; omit it for anonymous connections where
   * the stage allows them.
   */
  readonly token?: TokenSource;
  /** @default globalThis.WebSocket (browsers, Node 22+); on Node 20 pass `WebSocket` from the `ws` package. */
  readonly WebSocket?: WebSocketConstructor;
  /** A `ping` this often keeps the connection inside API Gateway's 10-minute idle timeout. @default 300_000 */
  readonly pingIntervalMs?: number;
  /** Without any frame this long after a ping, the connection is taken for dead and replaced; 0 never. @default 10_000 */
  readonly pongTimeoutMs?: number;
  /** Replace the connection this long after it opened, ahead of API Gateway's 2-hour maximum. @default 6_900_000 */
  readonly maxConnectionMs?: number;
  /** Reconnect delays. @default {initialMs: 500, maxMs: 30_000, factor: 2}, with full jitter */
  readonly backoff?: BackoffOptions;
  /** A connection open this long resets the backoff (so does the first subscribe it gets answered). @default 10_000 */
  readonly stableAfterMs?: number;
  /** Event ids remembered per post to drop second copies. @default 1000 */
  readonly dedupeWindow?: number;
  /** A subscribe without `subscribed` or `error` in this time is sent again. @default 10_000 */
  readonly subscribeTimeoutMs?: number;
  /**
   * How long a gap in `seq` may wait for the missing event (two broadcasts can overtake each other)
   * before the client resubscribes with `lastSeq` to have it replayed. @default 1_000
   */
  readonly gapGraceMs?: number;
  /** Replays asked for one gap before falling back to a fresh snapshot. @default 2 */
  readonly maxReplayAttempts?: number;
  readonly logger?: ClientLogger;
  /** The jitter source; tests inject their own. @default Math.random */
  readonly random?: () => number;
}

export interface SubscriptionHandlers {
  /** A comment created, edited or deleted, in `seq` order, each exactly once. */
  onEvent(event: CommentEvent): void;
  /**
   * The post's comments as a whole: replace what you have. `event.data.reset` is true when the server
   * could not replay what this client missed (it was away too long), so the list starts afresh.
   */
  onSnapshot(event: CommentsListEvent): void;
  /** Errors concerning this subscription; `error.retrying` false means it has ended. */
  onError?(error: RealtimeCommentsError): void;
}

export interface SubscribeOptions {
  /** Resume after this event (e.g. one saved before a page reload) rather than from a fresh snapshot. */
  readonly lastSeq?: number;
}

export interface ClientEvents {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  error: (error: RealtimeCommentsError) => void;
}

type Timer = ReturnType<typeof setTimeout>;

/** One WebSocket and what is pending on it. */
interface Link {
  readonly socket: WebSocketLike;
  readonly serial: number;
  opened: boolean;
  /** Closed, lost or closed on purpose: its late events are ignored. */
  down: boolean;
  /** Replaced by a newer link: still read until that one is subscribed, never sent on. */
  retiring: boolean;
  failure?: WebSocketErrorEvent;
  /** Posts to subscribe on this link; one subscribe is in flight at a time, so each answer is attributable. */
  queue: string[];
  inFlight?: { postId: string; timer: Timer };
  timers: { ping?: ReturnType<typeof setInterval>; pong?: Timer; max?: Timer; stable?: Timer; drain?: Timer };
}

interface Subscription {
  readonly postId: string;
  readonly handlers: SubscriptionHandlers;
  readonly stream: PostStream;
  gapTimer?: Timer;
  replayAttempts: number;
  retryTimer?: Timer;
  retries: number;
}

/** Server errors that end a subscription: sending the same subscribe again cannot succeed. */
const FINAL_SUBSCRIBE_ERRORS: ReadonlySet<string> = new Set([
  ErrorCodes.postNotFound,
  ErrorCodes.invalidPostId,
  ErrorCodes.tooManySubscriptions,
]);

/** Codes browsers allow a script to close with: 1000 or 3000–4999. */
const CLOSE_NORMAL = 1000;
const CLOSE_NO_PONG = 4000;

/**
 * A client for the realtime comments WebSocket API: one connection, kept open (pings, reconnects with
 * backoff, replaced ahead of API Gateway's 2-hour limit), any number of post subscriptions, and every
 * subscription's events delivered in order, once, including those missed while disconnected.
 * See client/README.md.
 */
export class RealtimeCommentsClient {
  private readonly url: string;
  private readonly token: TokenSource | undefined;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly maxConnectionMs: number;
  private readonly stableAfterMs: number;
  private readonly dedupeWindow: number;
  private readonly subscribeTimeoutMs: number;
  private readonly gapGraceMs: number;
  private readonly maxReplayAttempts: number;
  private readonly backoffOptions: Required<BackoffOptions>;
  private readonly random: () => number;
  private readonly logger: ClientLogger;
  private readonly backoff: Backoff;

  private currentState: ConnectionState = 'idle';
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    state: new Set(),
    error: new Set(),
  };
  private readonly subscriptions = new Map<string, Subscription>();
  /** The open link everything is sent on. */
  private current: Link | undefined;
  /** A link being opened; it becomes `current` once open. */
  private next: Link | undefined;
  private readonly retiring = new Set<Link>();
  /** A token is being fetched or `next` is opening: one attempt at a time. */
  private attempting = false;
  private retryTimer: Timer | undefined;
  /** Bumped by close(): an attempt that was waiting for its token is then abandoned. */
  private generation = 0;
  private refreshToken = false;
  private unauthorizedRetried = false;
  private linkSerial = 0;

  constructor(options: RealtimeCommentsClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(`url must be a ws: or wss: URL, got ${url.protocol}`);
    }
    this.url = options.url;
    this.token = options.token;
    const implementation =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!implementation) {
      throw new TypeError('No WebSocket implementation: pass one, e.g. `WebSocket` from the ws package');
    }
    this.WebSocketImpl = implementation;
    this.pingIntervalMs = positive('pingIntervalMs', options.pingIntervalMs ?? 5 * 60_000);
    this.pongTimeoutMs = nonNegative('pongTimeoutMs', options.pongTimeoutMs ?? 10_000);
    this.maxConnectionMs = positive(
      'maxConnectionMs',
      options.maxConnectionMs ?? 2 * 60 * 60_000 - 5 * 60_000,
    );
    this.stableAfterMs = positive('stableAfterMs', options.stableAfterMs ?? 10_000);
    this.dedupeWindow = nonNegative('dedupeWindow', options.dedupeWindow ?? 1000);
    this.subscribeTimeoutMs = positive('subscribeTimeoutMs', options.subscribeTimeoutMs ?? 10_000);
    this.gapGraceMs = nonNegative('gapGraceMs', options.gapGraceMs ?? 1_000);
    this.maxReplayAttempts = nonNegative('maxReplayAttempts', options.maxReplayAttempts ?? 2);
    this.backoffOptions = resolveBackoff(options.backoff);
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? {};
    this.backoff = new Backoff(this.backoffOptions, this.random);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Listens for state changes or errors; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    const set = this.listeners[event] as Set<ClientEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Opens the connection and keeps it open until close(). Does nothing unless idle or closed. */
  connect(): void {
    if (this.currentState !== 'idle' && this.currentState !== 'closed') return;
    this.backoff.reset();
    this.unauthorizedRetried = false;
    this.setState('connecting');
    void this.attempt();
  }

  /**
   * Connects again now: while open, a new connection is opened and subscribed before the old one is
   * closed (e.g. after the user signed in as someone else); while waiting to reconnect, the wait is cut
   * short (e.g. on the browser's `online` event). Connects when idle or closed.
   */
  reconnect(): void {
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.connect();
      return;
    }
    if (this.attempting) return;
    this.clearRetryTimer();
    void this.attempt();
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept: connect() resumes them. */
  close(): void {
    this.generation += 1;
    this.attempting = false;
    this.clearRetryTimer();
    for (const link of [this.current, this.next, ...this.retiring]) {
      if (link) this.closeLink(link, CLOSE_NORMAL, 'client closed');
    }
    this.current = undefined;
    this.next = undefined;
    for (const subscription of this.subscriptions.values()) this.clearSubscriptionTimers(subscription);
    this.setState('closed');
  }

  /**
   * Follows a post: `handlers.onSnapshot` first gets its comments, then `onEvent` every change, in order
   * and once each, across reconnects. Returns the function that ends the subscription.
   */
  subscribe(postId: string, handlers: SubscriptionHandlers, options: SubscribeOptions = {}): () => void {
    if (!isValidId(postId)) throw new TypeError(`postId must match ^[A-Za-z0-9_-]{1,64}$, got ${postId}`);
    if (this.subscriptions.has(postId)) {
      throw new Error(`Already subscribed to post ${postId}: call its unsubscribe function first`);
    }
    const { lastSeq } = options;
    if (lastSeq !== undefined && !(Number.isSafeInteger(lastSeq) && lastSeq >= 0)) {
      throw new TypeError(`lastSeq must be a whole number >= 0, got ${lastSeq}`);
    }
    const subscription: Subscription = {
      postId,
      handlers,
      stream: new PostStream({
        dedupeWindow: this.dedupeWindow,
        ...(lastSeq === undefined ? {} : { lastSeq }),
      }),
      replayAttempts: 0,
      retries: 0,
    };
    this.subscriptions.set(postId, subscription);
    if (this.current) this.enqueue(this.current, postId);
    return () => this.unsubscribe(subscription);
  }

  /** The seq of the last event delivered for a post (save it to resume after a reload); undefined if none. */
  lastSeq(postId: string): number | undefined {
    return this.subscriptions.get(postId)?.stream.lastSeq;
  }

  // ---- connection attempts -------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    if (this.attempting || this.isStopped()) return;
    this.attempting = true;
    this.clearRetryTimer();
    const generation = this.generation;
    let token: string | undefined;
    try {
      token = await this.resolveToken();
    } catch (error) {
      if (generation !== this.generation) return;
      this.attempting = false;
      this.report(
        new RealtimeCommentsError(
          ClientErrorCodes.tokenFailed,
          `The token function failed: ${describe(error)}`,
          {
            retrying: true,
            cause: error,
          },
        ),
      );
      this.scheduleAttempt();
      return;
    }
    if (generation !== this.generation) return;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(this.connectUrl(token));
    } catch (error) {
      this.attempting = false;
      this.report(
        new RealtimeCommentsError(
          ClientErrorCodes.connectionFailed,
          `Cannot open a WebSocket: ${describe(error)}`,
          {
            retrying: true,
            cause: error,
          },
        ),
      );
      this.scheduleAttempt();
      return;
    }
    this.next = this.createLink(socket);
    this.logger.debug?.('connecting', { url: this.url, link: this.next.serial });
  }

  private async resolveToken(): Promise<string | undefined> {
    const source = this.token;
    if (source === undefined || typeof source === 'string') return source;
    const refresh = this.refreshToken;
    this.refreshToken = false;
    const token: unknown = await source({ refresh });
    if (typeof token !== 'string') throw new TypeError('the token function must resolve to a string');
    return token;
  }

  private connectUrl(token: string | undefined): string {
    const url = new URL(this.url);
    if (token) url.searchParams.set('token', token);
    return url.toString();
  }

  /** Tries again after the backoff delay (or at once); the state shows 'reconnecting' unless a link still serves. */
  private scheduleAttempt(immediately = false): void {
    if (this.isStopped()) return;
    if (!this.current) this.setState('reconnecting');
    this.clearRetryTimer();
    const delay = immediately ? 0 : this.backoff.next();
    this.logger.debug?.('reconnecting', { delayMs: delay, attempt: this.backoff.attempts });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delay);
  }

  private createLink(socket: WebSocketLike): Link {
    const link: Link = {
      socket,
      serial: ++this.linkSerial,
      opened: false,
      down: false,
      retiring: false,
      queue: [],
      timers: {},
    };
    if ('binaryType' in socket) socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', () => this.onOpen(link));
    socket.addEventListener('message', (event) => this.onFrame(link, event.data));
    socket.addEventListener('error', (event) => {
      link.failure ??= event;
    });
    socket.addEventListener('close', (event) => this.onLinkDown(link, event));
    return link;
  }

  private onOpen(link: Link): void {
    if (link.down) return;
    if (link !== this.next) {
      this.closeLink(link, CLOSE_NORMAL, 'superseded');
      return;
    }
    link.opened = true;
    this.next = undefined;
    this.attempting = false;
    this.unauthorizedRetried = false;
    const previous = this.current;
    this.current = link;
    this.armTimers(link);
    // Make before break: the old link keeps delivering (duplicates are dropped) until this one has
    // resubscribed every post with its lastSeq, so nothing falls between the two.
    if (previous) this.retire(previous);
    this.logger.info?.('connected', { link: link.serial, replacing: previous?.serial });
    this.setState('open');
    for (const postId of this.subscriptions.keys()) link.queue.push(postId);
    this.pump(link);
  }

  private onLinkDown(link: Link, event?: { code: number; reason: string }): void {
    if (link.down) return;
    this.takeDown(link);
    if (link === this.next) {
      this.next = undefined;
      this.attempting = false;
      const status = handshakeStatus(link.failure);
      if (status === 401) {
        this.report(
          new RealtimeCommentsError(
            ClientErrorCodes.unauthorized,
            'The handshake was refused: 401 Unauthorized',
            {
              retrying: true,
            },
          ),
        );
        // A token that expired while cached: ask for a fresh one and retry at once, but only once in a
        // row; after that the usual backoff applies.
        if (typeof this.token === 'function' && !this.unauthorizedRetried) {
          this.unauthorizedRetried = true;
          this.refreshToken = true;
          this.scheduleAttempt(true);
          return;
        }
      } else {
        const detail = status ? `HTTP ${status}` : (event?.code ?? 'no close code');
        this.report(
          new RealtimeCommentsError(
            ClientErrorCodes.connectionFailed,
            `The connection did not open (${detail})`,
            {
              retrying: true,
            },
          ),
        );
      }
      this.scheduleAttempt();
      return;
    }
    if (link === this.current) {
      this.current = undefined;
      this.logger.info?.('connection lost', { link: link.serial, code: event?.code, reason: event?.reason });
      if (this.isStopped()) return;
      this.setState('reconnecting');
      // A replacement already on its way (the link was being recycled) will resubscribe everything.
      if (this.attempting) return;
      this.scheduleAttempt();
    }
  }

  /** Ends a link on purpose; its close event is then ignored. */
  private closeLink(link: Link, code: number, reason: string): void {
    if (link.down) return;
    this.takeDown(link);
    try {
      link.socket.close(code, reason);
    } catch (error) {
      this.logger.debug?.('close failed', { link: link.serial, error: describe(error) });
    }
  }

  private takeDown(link: Link): void {
    link.down = true;
    this.clearLinkTimers(link);
    if (link.inFlight) clearTimeout(link.inFlight.timer);
    link.inFlight = undefined;
    link.queue = [];
    this.retiring.delete(link);
  }

  private retire(link: Link): void {
    link.retiring = true;
    this.clearLinkTimers(link);
    // Its pending subscribe is sent again on the new link; its answer, if any, no longer matters.
    if (link.inFlight) clearTimeout(link.inFlight.timer);
    link.inFlight = undefined;
    link.queue = [];
    this.retiring.add(link);
    link.timers.drain = setTimeout(
      () => this.closeLink(link, CLOSE_NORMAL, 'replaced'),
      this.subscribeTimeoutMs,
    );
  }

  /** Closes retired links once the current one has every subscription answered. */
  private settleRetiring(): void {
    const current = this.current;
    if (!current || current.inFlight || current.queue.length > 0) return;
    for (const link of [...this.retiring]) this.closeLink(link, CLOSE_NORMAL, 'replaced');
  }

  private armTimers(link: Link): void {
    link.timers.ping = setInterval(() => this.ping(link), this.pingIntervalMs);
    link.timers.max = setTimeout(() => this.recycle(link), this.maxConnectionMs);
    link.timers.stable = setTimeout(() => this.backoff.reset(), this.stableAfterMs);
  }

  private clearLinkTimers(link: Link): void {
    clearInterval(link.timers.ping);
    clearTimeout(link.timers.pong);
    clearTimeout(link.timers.max);
    clearTimeout(link.timers.stable);
    clearTimeout(link.timers.drain);
    link.timers = {};
  }

  private ping(link: Link): void {
    if (!this.send(link, { action: 'ping' })) return;
    if (this.pongTimeoutMs > 0 && !link.timers.pong) {
      link.timers.pong = setTimeout(() => {
        // A half-open TCP connection (a phone changing networks) shows nothing until TCP gives up, and a
        // close handshake on it would wait as long: treat it as lost now, then close it.
        this.logger.warn?.('no answer to ping; replacing the connection', { link: link.serial });
        this.onLinkDown(link, { code: CLOSE_NO_PONG, reason: 'no answer to ping' });
        try {
          link.socket.close(CLOSE_NO_PONG, 'no answer to ping');
        } catch (error) {
          this.logger.debug?.('close failed', { link: link.serial, error: describe(error) });
        }
      }, this.pongTimeoutMs);
    }
  }

  private recycle(link: Link): void {
    if (link !== this.current || this.attempting) return;
    this.logger.info?.('replacing the connection before its maximum duration', { link: link.serial });
    void this.attempt();
  }

  private send(link: Link, message: ClientMessage): boolean {
    if (link.down || link.socket.readyState !== OPEN) return false;
    try {
      link.socket.send(JSON.stringify(message));
      return true;
    } catch (error) {
      this.logger.warn?.('send failed', {
        link: link.serial,
        action: message.action,
        error: describe(error),
      });
      return false;
    }
  }

  // ---- subscriptions -------------------------------------------------------------------------------

  private enqueue(link: Link, postId: string): void {
    if (link.down || link.retiring) return;
    if (link.queue.includes(postId) || link.inFlight?.postId === postId) return;
    link.queue.push(postId);
    this.pump(link);
  }

  /** Sends the next queued subscribe once the previous one is answered. */
  private pump(link: Link): void {
    if (!link.opened || link.down || link.retiring || link.inFlight) return;
    for (let postId = link.queue.shift(); postId !== undefined; postId = link.queue.shift()) {
      const subscription = this.subscriptions.get(postId);
      if (!subscription) continue;
      const lastSeq = subscription.stream.resumeFrom();
      const sent = this.send(
        link,
        lastSeq === undefined ? { action: 'subscribe', postId } : { action: 'subscribe', postId, lastSeq },
      );
      if (!sent) return;
      const queued = postId;
      link.inFlight = {
        postId,
        timer: setTimeout(() => this.onSubscribeTimeout(link, queued), this.subscribeTimeoutMs),
      };
      return;
    }
    if (link === this.current) this.settleRetiring();
  }

  private unsubscribe(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.postId) !== subscription) return;
    this.dropSubscription(subscription);
    const current = this.current;
    if (current) {
      current.queue = current.queue.filter((postId) => postId !== subscription.postId);
      this.send(current, { action: 'unsubscribe', postId: subscription.postId });
    }
  }

  private dropSubscription(subscription: Subscription): void {
    this.subscriptions.delete(subscription.postId);
    this.clearSubscriptionTimers(subscription);
  }

  private clearSubscriptionTimers(subscription: Subscription): void {
    clearTimeout(subscription.gapTimer);
    clearTimeout(subscription.retryTimer);
    subscription.gapTimer = undefined;
    subscription.retryTimer = undefined;
  }

  private onSubscribed(link: Link, postId: string): void {
    if (link.inFlight?.postId === postId) {
      clearTimeout(link.inFlight.timer);
      link.inFlight = undefined;
    }
    const subscription = this.subscriptions.get(postId);
    if (!subscription) {
      // Unsubscribed while the subscribe was in flight; the server may have handled the two in either order.
      if (link === this.current) this.send(link, { action: 'unsubscribe', postId });
    } else {
      subscription.retries = 0;
      this.backoff.reset();
      if (subscription.stream.hasGap) this.scheduleGapRepair(subscription);
    }
    this.pump(link);
  }

  private onServerError(link: Link, data: ErrorEvent['data']): void {
    const inFlight = link.inFlight;
    const code = data?.code ?? ErrorCodes.internalError;
    const message = data?.message ?? 'The server reported an error';
    // Errors do not name the post; with one subscribe in flight per link, it is that one's.
    const subscription = inFlight ? this.subscriptions.get(inFlight.postId) : undefined;
    if (inFlight) {
      clearTimeout(inFlight.timer);
      link.inFlight = undefined;
    }
    if (!subscription) {
      this.report(new RealtimeCommentsError(code, message, { retrying: false }));
    } else if (FINAL_SUBSCRIBE_ERRORS.has(code)) {
      this.dropSubscription(subscription);
      this.report(
        new RealtimeCommentsError(code, message, { postId: subscription.postId, retrying: false }),
        subscription,
      );
    } else {
      this.report(
        new RealtimeCommentsError(code, message, { postId: subscription.postId, retrying: true }),
        subscription,
      );
      // INVALID_LAST_SEQ cannot come from a lastSeq this client kept: start over from a snapshot.
      if (code === ErrorCodes.invalidLastSeq) subscription.stream.restart();
      this.retryLater(subscription);
    }
    this.pump(link);
  }

  private onSubscribeTimeout(link: Link, postId: string): void {
    if (link.inFlight?.postId !== postId) return;
    link.inFlight = undefined;
    const subscription = this.subscriptions.get(postId);
    if (subscription) {
      this.report(
        new RealtimeCommentsError(ClientErrorCodes.subscribeTimeout, `No answer to subscribe ${postId}`, {
          postId,
          retrying: true,
        }),
        subscription,
      );
      this.retryLater(subscription);
    }
    this.pump(link);
  }

  private retryLater(subscription: Subscription): void {
    if (subscription.retryTimer) return;
    const delay = backoffDelay(subscription.retries, this.backoffOptions, this.random);
    subscription.retries += 1;
    subscription.retryTimer = setTimeout(() => {
      subscription.retryTimer = undefined;
      if (this.subscriptions.get(subscription.postId) === subscription && this.current) {
        this.enqueue(this.current, subscription.postId);
      }
    }, delay);
  }

  /**
   * A gap waits `gapGraceMs` for the missing event (it may just be late), then the post is subscribed again
   * with lastSeq so the server replays it. After `maxReplayAttempts` replays that did not fill it, a
   * fresh snapshot replaces the state instead.
   */
  private scheduleGapRepair(subscription: Subscription): void {
    if (subscription.gapTimer) return;
    subscription.gapTimer = setTimeout(() => {
      subscription.gapTimer = undefined;
      if (this.subscriptions.get(subscription.postId) !== subscription || !subscription.stream.hasGap) return;
      subscription.replayAttempts += 1;
      if (subscription.replayAttempts > this.maxReplayAttempts) {
        this.logger.warn?.('replay did not fill the gap; asking for a snapshot', {
          postId: subscription.postId,
        });
        subscription.stream.restart();
        subscription.replayAttempts = 0;
      } else {
        this.logger.debug?.('gap in seq; asking for a replay', {
          postId: subscription.postId,
          lastSeq: subscription.stream.lastSeq,
        });
      }
      // Without a current link, the next one resubscribes every post anyway.
      if (this.current) this.enqueue(this.current, subscription.postId);
    }, this.gapGraceMs);
  }

  // ---- incoming frames -----------------------------------------------------------------------------

  private onFrame(link: Link, data: unknown): void {
    if (link.down) return;
    clearTimeout(link.timers.pong);
    delete link.timers.pong;
    const text = frameText(data);
    const event = text === undefined ? undefined : parseServerEvent(text);
    if (!event) {
      this.logger.debug?.('ignoring a frame that is not a protocol event', { link: link.serial });
      return;
    }
    switch (event.type) {
      case 'comment.created':
      case 'comment.updated':
        this.withSubscription(event.data?.postId, (subscription) =>
          this.apply(subscription, subscription.stream.acceptEvent(event)),
        );
        return;
      case 'comments.list':
        this.withSubscription(event.data?.postId, (subscription) =>
          this.apply(subscription, subscription.stream.acceptSnapshot(event)),
        );
        return;
      case 'subscribed':
        if (typeof event.data?.postId === 'string') this.onSubscribed(link, event.data.postId);
        return;
      case 'error':
        this.onServerError(link, event.data);
        return;
      default:
        return;
    }
  }

  private withSubscription(postId: unknown, use: (subscription: Subscription) => void): void {
    if (typeof postId !== 'string') return;
    const subscription = this.subscriptions.get(postId);
    if (subscription) use(subscription);
  }

  private apply(subscription: Subscription, step: StreamStep): void {
    const active = (): boolean => this.subscriptions.get(subscription.postId) === subscription;
    if (step.snapshot && active()) {
      this.callHandler(subscription, () =>
        subscription.handlers.onSnapshot(step.snapshot as CommentsListEvent),
      );
    }
    for (const event of step.events) {
      if (!active()) return;
      this.callHandler(subscription, () => subscription.handlers.onEvent(event));
    }
    if (step.gap) this.scheduleGapRepair(subscription);
    else if (!subscription.stream.hasGap) subscription.replayAttempts = 0;
  }

  // ---- reporting -----------------------------------------------------------------------------------

  private callHandler(subscription: Subscription, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.error?.('a subscription handler threw', {
        postId: subscription.postId,
        error: describe(error),
      });
      this.emit(
        'error',
        new RealtimeCommentsError(ClientErrorCodes.handlerFailed, `A handler threw: ${describe(error)}`, {
          postId: subscription.postId,
          retrying: false,
          cause: error,
        }),
      );
    }
  }

  /** Tells the subscription (when the error is about one) and then every `error` listener. */
  private report(error: RealtimeCommentsError, subscription?: Subscription): void {
    this.logger.warn?.(error.message, { code: error.code, postId: error.postId, retrying: error.retrying });
    const onError = subscription?.handlers.onError;
    if (onError) {
      try {
        onError(error);
      } catch (thrown) {
        this.logger.error?.('an onError handler threw', { postId: error.postId, error: describe(thrown) });
      }
    }
    this.emit('error', error);
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...values: Parameters<ClientEvents[K]>) => void)(...args);
      } catch (error) {
        this.logger.error?.(`a "${event}" listener threw`, { error: describe(error) });
      }
    }
  }

  private setState(next: ConnectionState): void {
    const previous = this.currentState;
    if (previous === next) return;
    this.currentState = next;
    this.emit('state', next, previous);
  }

  private isStopped(): boolean {
    return this.currentState === 'closed' || this.currentState === 'idle';
  }

  private clearRetryTimer(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
