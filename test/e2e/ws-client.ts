import WebSocket from 'ws';
import { parseServerEvent, type ClientMessage, type ServerEvent } from '../../contracts/protocol';
import { offeredProtocols, TOKEN_QUERY_PARAMETER } from '../../contracts/websocket-auth';

export interface ConnectOptions {
  /**
   * Where the token travels: `'query'` (`?token=`, as wscat and scripts send it) or `'protocol'` (in
   * Sec-WebSocket-Protocol, as the SDK and browsers do). @default 'query'
   */
  tokenTransport?: 'query' | 'protocol';
}

/**
 * A real WebSocket client for the e2e suite: records every server event and lets a test wait for the
 * one it expects. Waiting is event-driven with a generous deadline, never a fixed sleep.
 */
export class TestClient {
  readonly events: ServerEvent[] = [];
  private waiters: { predicate: (event: ServerEvent) => boolean; resolve: (event: ServerEvent) => void }[] =
    [];
  private closedWith: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const event = parseServerEvent(String(data));
      if (!event) return;
      this.events.push(event);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(event)) return true;
        waiter.resolve(event);
        return false;
      });
    });
    this.closedWith = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
  }

  /**
   * Connects with the token in the query string, or in Sec-WebSocket-Protocol with
   * `{tokenTransport: 'protocol'}`; no token tries an anonymous connect.
   */
  static async connect(url: string, token?: string, options: ConnectOptions = {}): Promise<TestClient> {
    const socket =
      options.tokenTransport === 'protocol'
        ? new WebSocket(url, offeredProtocols(token))
        : new WebSocket(token ? `${url}?${TOKEN_QUERY_PARAMETER}=${encodeURIComponent(token)}` : url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    return new TestClient(socket);
  }

  send(message: ClientMessage | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves with the first recorded or future event matching the predicate. */
  waitFor<T extends ServerEvent>(
    predicate: (event: ServerEvent) => event is T,
    timeoutMs?: number,
  ): Promise<T>;
  waitFor(predicate: (event: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  waitFor(predicate: (event: ServerEvent) => boolean, timeoutMs = 15_000): Promise<ServerEvent> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      const done = (event: ServerEvent): void => {
        clearTimeout(timer);
        resolve(event);
      };
      this.waiters.push({ predicate, resolve: done });
    });
  }

  /** Subscribes and waits for the snapshot that follows the `subscribed` acknowledgement. */
  async subscribe(postId: string): Promise<Extract<ServerEvent, { type: 'comments.list' }>> {
    this.send({ action: 'subscribe', postId });
    await this.waitFor((e) => e.type === 'subscribed' && e.data.postId === postId);
    return this.waitFor(
      (e): e is Extract<ServerEvent, { type: 'comments.list' }> =>
        e.type === 'comments.list' && e.data.postId === postId,
    );
  }

  ofType<K extends ServerEvent['type']>(type: K): Extract<ServerEvent, { type: K }>[] {
    return this.events.filter((e): e is Extract<ServerEvent, { type: K }> => e.type === type);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close(1000);
    await this.closedWith;
  }

  /** Drops the TCP connection without a close frame, as a crashed client or a lost network would. */
  kill(): void {
    this.socket.terminate();
  }
}
