import type { ClientMessage } from '../contracts/protocol';
import type { Link } from './connection';

type Timer = ReturnType<typeof setTimeout>;

/** What the queues ask of the posts they subscribe. */
export interface SubscribeQueueHooks {
  /** The subscribe to send for a post right now; undefined when the post is no longer followed. */
  subscribeMessage(postId: string): ClientMessage | undefined;
  /** A subscribe got no answer in time; it is no longer in flight. */
  timedOut(link: Link, postId: string): void;
  /** Nothing is queued or in flight on the link any more. */
  drained(link: Link): void;
  send(link: Link, message: ClientMessage): boolean;
}

/** Posts to subscribe on one link, and the one subscribe in flight there. */
interface LinkQueue {
  posts: string[];
  inFlight?: { postId: string; timer: Timer };
}

/**
 * One subscribe in flight per link at a time. Servers that predate `data.postId` on errors do not say
 * which message an error refuses; with one subscribe in flight it can only be that one. A post asked for
 * while its subscribe is in flight is not sent twice: every end of the one in flight (its answer, an
 * error, a timeout, the link going down) leads the post to check again and ask anew if it still needs to.
 */
export class SubscribeQueues {
  private readonly queues = new WeakMap<Link, LinkQueue>();

  constructor(
    private readonly timeoutMs: number,
    private readonly hooks: SubscribeQueueHooks,
  ) {}

  /** Queues posts on a link (each once) and sends the next subscribe if none is in flight. */
  enqueue(link: Link, postIds: Iterable<string>): void {
    if (link.down || link.retiring) return;
    const queue = this.queueOf(link);
    for (const postId of postIds) {
      if (!queue.posts.includes(postId) && queue.inFlight?.postId !== postId) queue.posts.push(postId);
    }
    this.pump(link);
  }

  /** A subscribe for the post is queued or in flight on the link. */
  pending(link: Link | undefined, postId: string): boolean {
    const queue = link && this.queues.get(link);
    return !!queue && (queue.inFlight?.postId === postId || queue.posts.includes(postId));
  }

  /**
   * Takes the in-flight subscribe off the link when it is the one for `postId` (any one when omitted);
   * returns its post. Call pump() after handling the answer.
   */
  settle(link: Link, postId?: string): string | undefined {
    const inFlight = this.queues.get(link)?.inFlight;
    if (!inFlight || (postId !== undefined && inFlight.postId !== postId)) return undefined;
    clearTimeout(inFlight.timer);
    (this.queues.get(link) as LinkQueue).inFlight = undefined;
    return inFlight.postId;
  }

  /** Sends the next queued subscribe once the previous one is answered. */
  pump(link: Link): void {
    if (!link.opened || link.down || link.retiring) return;
    const queue = this.queueOf(link);
    if (queue.inFlight) return;
    for (let postId = queue.posts.shift(); postId !== undefined; postId = queue.posts.shift()) {
      const message = this.hooks.subscribeMessage(postId);
      if (!message) continue;
      // A failed send means the link is going down: the next one subscribes every post again.
      if (!this.hooks.send(link, message)) return;
      const sent = postId;
      queue.inFlight = { postId, timer: setTimeout(() => this.onTimeout(link, sent), this.timeoutMs) };
      return;
    }
    this.hooks.drained(link);
  }

  /** Forgets a post queued on the link (it was unsubscribed); one in flight is answered all the same. */
  remove(link: Link, postId: string): void {
    const queue = this.queues.get(link);
    if (queue) queue.posts = queue.posts.filter((queued) => queued !== postId);
  }

  /** The link went down or retired: nothing more is sent on it and its subscribe in flight no longer counts. */
  release(link: Link): void {
    const queue = this.queues.get(link);
    if (queue?.inFlight) clearTimeout(queue.inFlight.timer);
    this.queues.delete(link);
  }

  private onTimeout(link: Link, postId: string): void {
    const queue = this.queues.get(link);
    if (queue?.inFlight?.postId !== postId) return;
    queue.inFlight = undefined;
    this.hooks.timedOut(link, postId);
    this.pump(link);
  }

  private queueOf(link: Link): LinkQueue {
    let queue = this.queues.get(link);
    if (!queue) {
      queue = { posts: [] };
      this.queues.set(link, queue);
    }
    return queue;
  }
}
