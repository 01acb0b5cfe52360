import { isRecord } from '../contracts/json';
import {
  ErrorCodes,
  isValidId,
  type ClientMessage,
  type Comment,
  type ErrorEvent,
  type PongEvent,
  type ServerEvent,
} from '../contracts/protocol';
import type { ClientEventListeners } from './client-events';
import type { Link, LinkObserver } from './connection';
import { RealtimeCommentsError } from './errors';
import type { ClientSettings } from './options';
import { PostSync, type PostState, type PostSyncHost, type SubscriptionHandlers } from './post-sync';
import { SubscribeQueues } from './subscribe-queue';

export type { PostState, SubscriptionHandlers } from './post-sync';

export interface SubscribeOptions {
  /** Resume after this event (e.g. one saved before a page reload) rather than from a fresh snapshot. */
  readonly lastSeq?: number;
}

/** What the subscriptions need of the connection. */
export interface SubscribeTransport {
  /** The open link subscribes are sent on; undefined while there is none. */
  readonly link: Link | undefined;
  send(link: Link, message: ClientMessage): boolean;
  resetBackoff(): void;
  closeRetired(): void;
}

export type SubscriptionSettings = Pick<
  ClientSettings,
  'dedupeWindow' | 'subscribeTimeoutMs' | 'gapGraceMs' | 'backoff' | 'random' | 'logger'
>;

const NO_COMMENTS: readonly Comment[] = Object.freeze([]);

/**
 * The posts the application follows, each subscribed on whichever link is current: routes what arrives
 * to the post it concerns (PostSync), and answers and errors to the request they answer.
 */
export class Subscriptions implements LinkObserver {
  private readonly posts = new Map<string, PostSync>();
  private readonly queues: SubscribeQueues;
  private readonly host: PostSyncHost;

  constructor(
    private readonly settings: SubscriptionSettings,
    private readonly listeners: ClientEventListeners,
    private readonly transport: SubscribeTransport,
  ) {
    this.queues = new SubscribeQueues(settings.subscribeTimeoutMs, {
      subscribeMessage: (postId) => this.posts.get(postId)?.subscribeMessage(),
      timedOut: (_link, postId) => this.posts.get(postId)?.subscribeTimedOut(),
      drained: (link) => {
        if (link === this.transport.link) this.transport.closeRetired();
      },
      send: (link, message) => this.transport.send(link, message),
    });
    this.host = {
      get link() {
        return transport.link;
      },
      send: (link, message) => transport.send(link, message),
      subscribe: (postId) => this.subscribe(postId),
      subscribing: (postId) => this.queues.pending(transport.link, postId),
      report: (error, onError) => this.listeners.report(error, onError),
      end: (sync) => this.drop(sync),
    };
  }

  /** Starts following a post; returns the function that ends it. */
  add(postId: string, handlers: SubscriptionHandlers, { lastSeq }: SubscribeOptions): () => void {
    if (!isValidId(postId)) throw new TypeError(`postId must match ^[A-Za-z0-9_-]{1,64}$, got ${postId}`);
    if (this.posts.has(postId)) {
      throw new Error(`Already subscribed to post ${postId}: call its unsubscribe function first`);
    }
    if (lastSeq !== undefined && !(Number.isSafeInteger(lastSeq) && lastSeq >= 0)) {
      throw new TypeError(`lastSeq must be a whole number >= 0, got ${lastSeq}`);
    }
    const sync = new PostSync(postId, handlers, this.settings, this.host, lastSeq);
    this.posts.set(postId, sync);
    this.subscribe(postId);
    return () => this.unsubscribe(sync);
  }

  lastSeq(postId: string): number | undefined {
    return this.posts.get(postId)?.stream.lastSeq;
  }

  comments(postId: string): readonly Comment[] {
    return this.posts.get(postId)?.comments ?? NO_COMMENTS;
  }

  state(postId: string): PostState | undefined {
    return this.posts.get(postId)?.state;
  }

  /** Stops every retry and repair; the subscriptions are kept, and the next link resumes them. */
  clearTimers(): void {
    for (const sync of this.posts.values()) sync.clearTimers();
  }

  opened(link: Link): void {
    this.queues.enqueue(link, this.posts.keys());
  }

  released(link: Link): void {
    this.queues.release(link);
    for (const sync of this.posts.values()) sync.released(link);
  }

  received(link: Link, event: ServerEvent): void {
    switch (event.type) {
      case 'comment.created':
      case 'comment.updated':
        this.postOf(event.data)?.onEvent(event);
        return;
      case 'comments.list':
        this.postOf(event.data)?.onList(event);
        return;
      case 'comments.page':
        this.postOf(event.data)?.onPage(link, event);
        return;
      case 'subscribed':
        if (typeof event.data?.postId === 'string') this.onSubscribed(link, event.data.postId);
        return;
      case 'pong':
        this.onPong(event.data);
        return;
      case 'error':
        this.onServerError(link, event.data);
        return;
      default:
        return;
    }
  }

  private postOf(data: unknown): PostSync | undefined {
    const postId = isRecord(data) ? data.postId : undefined;
    return typeof postId === 'string' ? this.posts.get(postId) : undefined;
  }

  private subscribe(postId: string): void {
    const link = this.transport.link;
    // Without a current link, the next one subscribes every post anyway.
    if (link) this.queues.enqueue(link, [postId]);
  }

  private unsubscribe(sync: PostSync): void {
    if (this.posts.get(sync.postId) !== sync) return;
    this.drop(sync);
    const current = this.transport.link;
    if (current) {
      this.queues.remove(current, sync.postId);
      this.transport.send(current, { action: 'unsubscribe', postId: sync.postId });
    }
  }

  private drop(sync: PostSync): void {
    if (this.posts.get(sync.postId) === sync) this.posts.delete(sync.postId);
    sync.end();
  }

  private onSubscribed(link: Link, postId: string): void {
    this.queues.settle(link, postId);
    const sync = this.posts.get(postId);
    if (!sync) {
      // Unsubscribed while the subscribe was in flight; the server may have handled the two in either order.
      if (link === this.transport.link) this.transport.send(link, { action: 'unsubscribe', postId });
    } else {
      this.transport.resetBackoff();
      sync.subscribed(link);
    }
    this.queues.pump(link);
  }

  /** A pong carries the server's seq of every post this connection follows; older servers send none. */
  private onPong(data: PongEvent['data']): void {
    const seqs = data?.seqs;
    if (!isRecord(seqs)) return;
    for (const [postId, seq] of Object.entries(seqs)) {
      if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0)
        this.posts.get(postId)?.serverSeq(seq);
    }
  }

  /**
   * An error answers the subscribe or the page request it names the post of (`data.postId`); from servers
   * that do not name it, the subscribe in flight on the link, the only one there can be.
   */
  private onServerError(link: Link, data: ErrorEvent['data']): void {
    const code = data?.code ?? ErrorCodes.internalError;
    const message = data?.message ?? 'The server reported an error';
    const named = typeof data?.postId === 'string' ? data.postId : undefined;
    const sync = named === undefined ? undefined : this.posts.get(named);
    // Only a page request carries a cursor; for any other error a subscribe in flight comes first.
    if (sync?.awaitsPage(link) && code === ErrorCodes.invalidCursor) {
      sync.pageRefused(code, message);
      return;
    }
    const refused = this.queues.settle(link, named);
    const target = refused === undefined ? undefined : this.posts.get(refused);
    if (target) {
      target.subscribeRefused(code, message);
    } else if (refused === undefined && sync?.awaitsPage(link)) {
      sync.pageRefused(code, message);
    } else {
      const postId = named ?? refused;
      this.listeners.report(
        new RealtimeCommentsError(code, message, { retrying: false, ...(postId ? { postId } : {}) }),
      );
    }
    if (refused !== undefined) this.queues.pump(link);
  }
}
