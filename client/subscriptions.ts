import {
  ErrorCodes,
  isValidId,
  type ClientMessage,
  type CommentsListEvent,
  type ErrorEvent,
  type ServerEvent,
} from '../contracts/protocol';
import { backoffDelay } from './backoff';
import type { ClientEventListeners } from './client-events';
import type { Link, LinkObserver } from './connection';
import { ClientErrorCodes, RealtimeCommentsError, errorMessage } from './errors';
import type { ClientSettings } from './options';
import { PostStream, type CommentEvent, type StreamStep } from './post-stream';

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
  'dedupeWindow' | 'subscribeTimeoutMs' | 'gapGraceMs' | 'maxReplayAttempts' | 'backoff' | 'random' | 'logger'
>;

type Timer = ReturnType<typeof setTimeout>;

interface Subscription {
  readonly postId: string;
  readonly handlers: SubscriptionHandlers;
  readonly stream: PostStream;
  gapTimer?: Timer;
  replayAttempts: number;
  retryTimer?: Timer;
  retries: number;
}

/** Posts to subscribe on one link; one subscribe is in flight at a time, so each answer is attributable. */
interface SubscribeQueue {
  posts: string[];
  inFlight?: { postId: string; timer: Timer };
}

/** Server errors that end a subscription: sending the same subscribe again cannot succeed. */
const FINAL_SUBSCRIBE_ERRORS: ReadonlySet<string> = new Set([
  ErrorCodes.postNotFound,
  ErrorCodes.invalidPostId,
  ErrorCodes.tooManySubscriptions,
]);

/**
 * The posts the application follows, each subscribed on whichever link is current, and their events
 * handed over in order and once each: subscribe timeouts and retries, gaps in `seq` repaired by replay
 * or a fresh snapshot.
 */
export class Subscriptions implements LinkObserver {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly queues = new WeakMap<Link, SubscribeQueue>();

  constructor(
    private readonly settings: SubscriptionSettings,
    private readonly listeners: ClientEventListeners,
    private readonly transport: SubscribeTransport,
  ) {}

  /** Starts following a post; returns the function that ends it. */
  add(postId: string, handlers: SubscriptionHandlers, { lastSeq }: SubscribeOptions): () => void {
    if (!isValidId(postId)) throw new TypeError(`postId must match ^[A-Za-z0-9_-]{1,64}$, got ${postId}`);
    if (this.subscriptions.has(postId)) {
      throw new Error(`Already subscribed to post ${postId}: call its unsubscribe function first`);
    }
    if (lastSeq !== undefined && !(Number.isSafeInteger(lastSeq) && lastSeq >= 0)) {
      throw new TypeError(`lastSeq must be a whole number >= 0, got ${lastSeq}`);
    }
    const subscription: Subscription = {
      postId,
      handlers,
      stream: new PostStream({
        dedupeWindow: this.settings.dedupeWindow,
        ...(lastSeq === undefined ? {} : { lastSeq }),
      }),
      replayAttempts: 0,
      retries: 0,
    };
    this.subscriptions.set(postId, subscription);
    const link = this.transport.link;
    if (link) this.enqueue(link, postId);
    return () => this.unsubscribe(subscription);
  }

  lastSeq(postId: string): number | undefined {
    return this.subscriptions.get(postId)?.stream.lastSeq;
  }

  /** Stops every retry and gap repair; the subscriptions are kept, and the next link resumes them. */
  clearTimers(): void {
    for (const subscription of this.subscriptions.values()) this.clearSubscriptionTimers(subscription);
  }

  opened(link: Link): void {
    // A `state` listener may have closed the client before this link got here.
    if (link.down) return;
    const queue = this.queueOf(link);
    for (const postId of this.subscriptions.keys()) queue.posts.push(postId);
    this.pump(link);
  }

  released(link: Link): void {
    const queue = this.queues.get(link);
    if (queue?.inFlight) clearTimeout(queue.inFlight.timer);
    this.queues.delete(link);
  }

  received(link: Link, event: ServerEvent): void {
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

  // ---- the subscribe queue -------------------------------------------------------------------------

  private queueOf(link: Link): SubscribeQueue {
    let queue = this.queues.get(link);
    if (!queue) {
      queue = { posts: [] };
      this.queues.set(link, queue);
    }
    return queue;
  }

  private enqueue(link: Link, postId: string): void {
    if (link.down || link.retiring) return;
    const queue = this.queueOf(link);
    if (queue.posts.includes(postId) || queue.inFlight?.postId === postId) return;
    queue.posts.push(postId);
    this.pump(link);
  }

  /** Sends the next queued subscribe once the previous one is answered. */
  private pump(link: Link): void {
    if (!link.opened || link.down || link.retiring) return;
    const queue = this.queueOf(link);
    if (queue.inFlight) return;
    for (let postId = queue.posts.shift(); postId !== undefined; postId = queue.posts.shift()) {
      const subscription = this.subscriptions.get(postId);
      if (!subscription) continue;
      const lastSeq = subscription.stream.resumeFrom();
      const sent = this.transport.send(
        link,
        lastSeq === undefined ? { action: 'subscribe', postId } : { action: 'subscribe', postId, lastSeq },
      );
      if (!sent) return;
      const queued = postId;
      queue.inFlight = {
        postId,
        timer: setTimeout(() => this.onSubscribeTimeout(link, queued), this.settings.subscribeTimeoutMs),
      };
      return;
    }
    if (link === this.transport.link) this.transport.closeRetired();
  }

  /** Takes the in-flight subscribe off the link when it is the one for `postId` (any one when omitted). */
  private settle(link: Link, postId?: string): { postId: string } | undefined {
    const queue = this.queues.get(link);
    const inFlight = queue?.inFlight;
    if (!queue || !inFlight || (postId !== undefined && inFlight.postId !== postId)) return undefined;
    clearTimeout(inFlight.timer);
    queue.inFlight = undefined;
    return inFlight;
  }

  private unsubscribe(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.postId) !== subscription) return;
    this.dropSubscription(subscription);
    const current = this.transport.link;
    if (current) {
      const queue = this.queues.get(current);
      if (queue) queue.posts = queue.posts.filter((postId) => postId !== subscription.postId);
      this.transport.send(current, { action: 'unsubscribe', postId: subscription.postId });
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

  // ---- answers to subscribes -----------------------------------------------------------------------

  private onSubscribed(link: Link, postId: string): void {
    this.settle(link, postId);
    const subscription = this.subscriptions.get(postId);
    if (!subscription) {
      // Unsubscribed while the subscribe was in flight; the server may have handled the two in either order.
      if (link === this.transport.link) this.transport.send(link, { action: 'unsubscribe', postId });
    } else {
      subscription.retries = 0;
      this.transport.resetBackoff();
      if (subscription.stream.hasGap) this.scheduleGapRepair(subscription);
    }
    this.pump(link);
  }

  private onServerError(link: Link, data: ErrorEvent['data']): void {
    const code = data?.code ?? ErrorCodes.internalError;
    const message = data?.message ?? 'The server reported an error';
    // Errors do not name the post; with one subscribe in flight per link, it is that one's.
    const inFlight = this.settle(link);
    const subscription = inFlight ? this.subscriptions.get(inFlight.postId) : undefined;
    if (!subscription) {
      this.listeners.report(new RealtimeCommentsError(code, message, { retrying: false }));
    } else if (FINAL_SUBSCRIBE_ERRORS.has(code)) {
      this.dropSubscription(subscription);
      this.listeners.report(
        new RealtimeCommentsError(code, message, { postId: subscription.postId, retrying: false }),
        subscription.handlers.onError,
      );
    } else {
      this.listeners.report(
        new RealtimeCommentsError(code, message, { postId: subscription.postId, retrying: true }),
        subscription.handlers.onError,
      );
      // INVALID_LAST_SEQ cannot come from a lastSeq this client kept: start over from a snapshot.
      if (code === ErrorCodes.invalidLastSeq) subscription.stream.restart();
      this.retryLater(subscription);
    }
    this.pump(link);
  }

  private onSubscribeTimeout(link: Link, postId: string): void {
    const queue = this.queues.get(link);
    if (queue?.inFlight?.postId !== postId) return;
    queue.inFlight = undefined;
    const subscription = this.subscriptions.get(postId);
    if (subscription) {
      this.listeners.report(
        new RealtimeCommentsError(ClientErrorCodes.subscribeTimeout, `No answer to subscribe ${postId}`, {
          postId,
          retrying: true,
        }),
        subscription.handlers.onError,
      );
      this.retryLater(subscription);
    }
    this.pump(link);
  }

  private retryLater(subscription: Subscription): void {
    if (subscription.retryTimer) return;
    const delay = backoffDelay(subscription.retries, this.settings.backoff, this.settings.random);
    subscription.retries += 1;
    subscription.retryTimer = setTimeout(() => {
      subscription.retryTimer = undefined;
      const link = this.transport.link;
      if (this.subscriptions.get(subscription.postId) === subscription && link) {
        this.enqueue(link, subscription.postId);
      }
    }, delay);
  }

  // ---- delivery ------------------------------------------------------------------------------------

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
      if (subscription.replayAttempts > this.settings.maxReplayAttempts) {
        this.settings.logger.warn?.('replay did not fill the gap; asking for a snapshot', {
          postId: subscription.postId,
        });
        subscription.stream.restart();
        subscription.replayAttempts = 0;
      } else {
        this.settings.logger.debug?.('gap in seq; asking for a replay', {
          postId: subscription.postId,
          lastSeq: subscription.stream.lastSeq,
        });
      }
      // Without a current link, the next one resubscribes every post anyway.
      const link = this.transport.link;
      if (link) this.enqueue(link, subscription.postId);
    }, this.settings.gapGraceMs);
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

  private callHandler(subscription: Subscription, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.settings.logger.error?.('a subscription handler threw', {
        postId: subscription.postId,
        error: errorMessage(error),
      });
      this.listeners.emit(
        'error',
        new RealtimeCommentsError(ClientErrorCodes.handlerFailed, `A handler threw: ${errorMessage(error)}`, {
          postId: subscription.postId,
          retrying: false,
          cause: error,
        }),
      );
    }
  }
}
