import { parseServerEvent, type ClientMessage, type ServerEvent } from '../contracts/protocol';
import { offeredProtocols, TOKEN_QUERY_PARAMETER } from '../contracts/websocket-auth';
import { Backoff } from './backoff';
import type { ClientEventListeners } from './client-events';
import { ClientErrorCodes, RealtimeCommentsError, errorMessage, type ClientErrorCode } from './errors';
import type { ClientSettings } from './options';
import { OPEN, frameText, handshakeStatus, type WebSocketErrorEvent, type WebSocketLike } from './websocket';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

type Timer = ReturnType<typeof setTimeout>;

/** One WebSocket and the timers that keep it alive. */
export interface Link {
  readonly socket: WebSocketLike;
  readonly serial: number;
  opened: boolean;
  /** Closed, lost or closed on purpose: its late events are ignored. */
  down: boolean;
  /** Replaced by a newer link: still read until that one is subscribed, never sent on. */
  retiring: boolean;
  failure?: WebSocketErrorEvent;
  timers: { ping?: ReturnType<typeof setInterval>; pong?: Timer; max?: Timer; stable?: Timer; drain?: Timer };
}

/** What the subscriptions are told about the links. */
export interface LinkObserver {
  /** A link opened and took over from the previous one, if any: every post is to be subscribed on it. */
  opened(link: Link): void;
  /** A protocol event arrived on a link that is still read (the current one or one retiring). */
  received(link: Link, event: ServerEvent): void;
  /** A link went down or retired: nothing more is sent on it and its pending subscribe no longer counts. */
  released(link: Link): void;
}

/** The connection reads every setting but those of the subscriptions' own gap repair and dedupe. */
export type ConnectionSettings = Omit<ClientSettings, 'dedupeWindow' | 'gapGraceMs'>;

/** Codes browsers allow a script to close with: 1000 or 3000–4999. */
const CLOSE_NORMAL = 1000;
const CLOSE_NO_PONG = 4000;

/**
 * The client's one connection, kept open until close(): pings, reconnects with backoff, and replaced
 * ahead of API Gateway's 2-hour limit. It is carried by one WebSocket (a link) at a time, two while a
 * replacement takes over: make before break.
 */
export class Connection {
  private readonly backoff: Backoff;
  private currentState: ConnectionState = 'idle';
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

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly listeners: ClientEventListeners,
    private readonly observer: LinkObserver,
  ) {
    this.backoff = new Backoff(settings.backoff, settings.random);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The open link subscribes are sent on; undefined while there is none. */
  get link(): Link | undefined {
    return this.current;
  }

  connect(): void {
    if (this.currentState !== 'idle' && this.currentState !== 'closed') return;
    this.backoff.reset();
    this.unauthorizedRetried = false;
    this.setState('connecting');
    void this.attempt();
  }

  reconnect(): void {
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.connect();
      return;
    }
    if (this.attempting) return;
    this.clearRetryTimer();
    void this.attempt();
  }

  close(): void {
    this.generation += 1;
    this.attempting = false;
    this.clearRetryTimer();
    for (const link of [this.current, this.next, ...this.retiring]) {
      if (link) this.closeLink(link, CLOSE_NORMAL, 'client closed');
    }
    this.current = undefined;
    this.next = undefined;
    this.setState('closed');
  }

  send(link: Link, message: ClientMessage): boolean {
    if (link.down || link.socket.readyState !== OPEN) return false;
    try {
      link.socket.send(JSON.stringify(message));
      return true;
    } catch (error) {
      this.settings.logger.warn?.('send failed', {
        link: link.serial,
        action: message.action,
        error: errorMessage(error),
      });
      return false;
    }
  }

  /** An answered subscribe proves the connection works: the next reconnect starts from the shortest delay. */
  resetBackoff(): void {
    this.backoff.reset();
  }

  /** Closes the links the current one replaced; called once it has every subscription answered. */
  closeRetired(): void {
    for (const link of [...this.retiring]) this.closeLink(link, CLOSE_NORMAL, 'replaced');
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
      this.reportRetrying(ClientErrorCodes.tokenFailed, `The token function failed: ${errorMessage(error)}`, {
        cause: error,
      });
      this.scheduleAttempt();
      return;
    }
    if (generation !== this.generation) return;
    let socket: WebSocketLike;
    try {
      socket =
        this.settings.tokenTransport === 'protocol'
          ? new this.settings.WebSocket(this.settings.url, offeredProtocols(token))
          : new this.settings.WebSocket(this.queryUrl(token));
    } catch (error) {
      this.attempting = false;
      this.reportRetrying(
        ClientErrorCodes.connectionFailed,
        `Cannot open a WebSocket: ${errorMessage(error)}`,
        { cause: error },
      );
      this.scheduleAttempt();
      return;
    }
    this.next = this.createLink(socket);
    this.settings.logger.debug?.('connecting', { url: this.settings.url, link: this.next.serial });
  }

  private async resolveToken(): Promise<string | undefined> {
    const source = this.settings.token;
    if (source === undefined || typeof source === 'string') return source;
    const refresh = this.refreshToken;
    this.refreshToken = false;
    const token: unknown = await source({ refresh });
    if (typeof token !== 'string') throw new TypeError('the token function must resolve to a string');
    return token;
  }

  /** The `tokenTransport: 'query'` form; by default the token travels in Sec-WebSocket-Protocol instead. */
  private queryUrl(token: string | undefined): string {
    const url = new URL(this.settings.url);
    if (token) url.searchParams.set(TOKEN_QUERY_PARAMETER, token);
    return url.toString();
  }

  /** Tries again after the backoff delay (or at once); the state shows 'reconnecting' unless a link still serves. */
  private scheduleAttempt(immediately = false): void {
    if (this.isStopped()) return;
    if (!this.current) this.setState('reconnecting');
    this.clearRetryTimer();
    const delay = immediately ? 0 : this.backoff.next();
    this.settings.logger.debug?.('reconnecting', { delayMs: delay, attempt: this.backoff.attempts });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delay);
  }

  // ---- links ---------------------------------------------------------------------------------------

  private createLink(socket: WebSocketLike): Link {
    const link: Link = {
      socket,
      serial: ++this.linkSerial,
      opened: false,
      down: false,
      retiring: false,
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
    this.settings.logger.info?.('connected', { link: link.serial, replacing: previous?.serial });
    this.setState('open');
    this.observer.opened(link);
  }

  private onFrame(link: Link, data: unknown): void {
    if (link.down) return;
    clearTimeout(link.timers.pong);
    delete link.timers.pong;
    const text = frameText(data);
    const event = text === undefined ? undefined : parseServerEvent(text);
    if (!event) {
      this.settings.logger.debug?.('ignoring a frame that is not a protocol event', { link: link.serial });
      return;
    }
    this.observer.received(link, event);
  }

  private onLinkDown(link: Link, event?: { code: number; reason: string }): void {
    if (link.down) return;
    this.takeDown(link);
    if (link === this.next) {
      this.next = undefined;
      this.attempting = false;
      const status = handshakeStatus(link.failure);
      if (status === 401) {
        this.reportRetrying(ClientErrorCodes.unauthorized, 'The handshake was refused: 401 Unauthorized');
        // A token that expired while cached: ask for a fresh one and retry at once, but only once in a
        // row; after that the usual backoff applies.
        if (typeof this.settings.token === 'function' && !this.unauthorizedRetried) {
          this.unauthorizedRetried = true;
          this.refreshToken = true;
          this.scheduleAttempt(true);
          return;
        }
      } else {
        const detail = status ? `HTTP ${status}` : (event?.code ?? 'no close code');
        this.reportRetrying(ClientErrorCodes.connectionFailed, `The connection did not open (${detail})`);
      }
      this.scheduleAttempt();
      return;
    }
    if (link === this.current) {
      this.current = undefined;
      this.settings.logger.info?.('connection lost', {
        link: link.serial,
        code: event?.code,
        reason: event?.reason,
      });
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
      this.settings.logger.debug?.('close failed', { link: link.serial, error: errorMessage(error) });
    }
  }

  private takeDown(link: Link): void {
    link.down = true;
    this.clearLinkTimers(link);
    this.observer.released(link);
    this.retiring.delete(link);
  }

  private retire(link: Link): void {
    link.retiring = true;
    this.clearLinkTimers(link);
    this.observer.released(link);
    this.retiring.add(link);
    link.timers.drain = setTimeout(
      () => this.closeLink(link, CLOSE_NORMAL, 'replaced'),
      this.settings.subscribeTimeoutMs,
    );
  }

  private armTimers(link: Link): void {
    link.timers.ping = setInterval(() => this.ping(link), this.settings.pingIntervalMs);
    link.timers.max = setTimeout(() => this.recycle(link), this.settings.maxConnectionMs);
    link.timers.stable = setTimeout(() => this.backoff.reset(), this.settings.stableAfterMs);
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
    if (this.settings.pongTimeoutMs > 0 && !link.timers.pong) {
      link.timers.pong = setTimeout(() => {
        // A half-open TCP connection (a phone changing networks) shows nothing until TCP gives up, and a
        // close handshake on it would wait as long: treat it as lost now, then close it.
        this.settings.logger.warn?.('no answer to ping; replacing the connection', { link: link.serial });
        this.onLinkDown(link, { code: CLOSE_NO_PONG, reason: 'no answer to ping' });
        try {
          link.socket.close(CLOSE_NO_PONG, 'no answer to ping');
        } catch (error) {
          this.settings.logger.debug?.('close failed', { link: link.serial, error: errorMessage(error) });
        }
      }, this.settings.pongTimeoutMs);
    }
  }

  private recycle(link: Link): void {
    if (link !== this.current || this.attempting) return;
    this.settings.logger.info?.('replacing the connection before its maximum duration', {
      link: link.serial,
    });
    void this.attempt();
  }

  /** Failures of the connection itself: the client keeps trying, so `retrying` is always true. */
  private reportRetrying(code: ClientErrorCode, message: string, details: { cause?: unknown } = {}): void {
    this.listeners.report(new RealtimeCommentsError(code, message, { retrying: true, ...details }));
  }

  private setState(next: ConnectionState): void {
    const previous = this.currentState;
    if (previous === next) return;
    this.currentState = next;
    this.listeners.emit('state', next, previous);
  }

  private isStopped(): boolean {
    return this.currentState === 'closed' || this.currentState === 'idle';
  }

  private clearRetryTimer(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
