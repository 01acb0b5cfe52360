import type { CommentRepository } from '../shared/comment-repository';
import type { ConnectionRepository } from '../shared/connection-repository';
import { encodeEvent, type ConnectionNotifier, type DeliveryResult } from '../shared/connection-notifier';
import {
  byteLength,
  ErrorCodes,
  errorEvent,
  type ClientMessage,
  type Comment,
  type CommentsListEvent,
  type ProtocolError,
  type SequencedChangeEvent,
  type ServerEvent,
} from '../../contracts/protocol';
import { countMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';

/** The connection a client message arrived on. */
export interface ClientConnection {
  connectionId: string;
  /** Epoch milliseconds; subscription rows expire together with their connection. */
  connectedAt: number;
}

/** The snapshot sent after a subscribe is one page, like the first page of the comments API. */
export const SNAPSHOT_LIMIT = 100;

/**
 * The most missed events a resubscribe replays. Further behind than this, a snapshot is cheaper for both
 * sides than hundreds of pushes, so the client gets a reset snapshot instead.
 */
export const REPLAY_LIMIT = 500;

export interface SubscriptionOptions {
  /** Comments sent in the snapshot after a subscribe. @default SNAPSHOT_LIMIT */
  snapshotLimit?: number;
  /**
   * Subscriptions one connection may hold at once: each is a row, and every broadcast to its post a push.
   * The stage's maxSubscriptionsPerConnection.
   */
  maxSubscriptions: number;
  /** @default REPLAY_LIMIT */
  replayLimit?: number;
  /** Judges which events have expired. @default the system clock */
  clock?: () => Date;
}

/** Why a resubscribe got a reset snapshot instead of a replay; logged, so operators can tell them apart. */
type ResetCause = 'ahead' | 'beyondReplayLimit' | 'expired';

/** Answers client messages on the connection they came from; every reply is a `{type, data}` event. */
export class SubscriptionService {
  private readonly snapshotLimit: number;
  private readonly maxSubscriptions: number;
  private readonly replayLimit: number;
  private readonly clock: () => Date;

  constructor(
    private readonly connections: ConnectionRepository,
    private readonly comments: CommentRepository,
    private readonly notifier: ConnectionNotifier,
    {
      snapshotLimit = SNAPSHOT_LIMIT,
      maxSubscriptions,
      replayLimit = REPLAY_LIMIT,
      clock = () => new Date(),
    }: SubscriptionOptions,
  ) {
    if (!Number.isInteger(maxSubscriptions) || maxSubscriptions < 1) {
      throw new RangeError(`maxSubscriptions must be a positive integer, got ${maxSubscriptions}`);
    }
    if (!Number.isInteger(replayLimit) || replayLimit < 0) {
      throw new RangeError(`replayLimit must be a non-negative integer, got ${replayLimit}`);
    }
    this.snapshotLimit = snapshotLimit;
    this.maxSubscriptions = maxSubscriptions;
    this.replayLimit = replayLimit;
    this.clock = clock;
  }

  async handle(client: ClientConnection, message: ClientMessage): Promise<void> {
    switch (message.action) {
      case 'subscribe':
        return this.subscribe(client, message.postId, message.lastSeq);
      case 'unsubscribe':
        return this.unsubscribe(client, message.postId);
      case 'ping':
        await this.reply(client, { type: 'pong' });
        return;
    }
  }

  /** Tells the client what was wrong with its message; nothing is stored. */
  async reject(client: ClientConnection, error: ProtocolError): Promise<void> {
    await this.reply(client, errorEvent(error));
  }

  private async subscribe(client: ClientConnection, postId: string, lastSeq?: number): Promise<void> {
    if ((await this.comments.getPost(postId)) === undefined) {
      await this.reject(client, { code: ErrorCodes.postNotFound, message: `Post ${postId} does not exist` });
      return;
    }
    if (!(await this.withinLimit(client, postId))) {
      countMetric(MetricNames.subscriptionLimitReached);
      await this.reject(client, {
        code: ErrorCodes.tooManySubscriptions,
        message: `A connection may subscribe to at most ${this.maxSubscriptions} posts; unsubscribe from one first`,
      });
      return;
    }
    // Subscribe before reading the post's seq: every event after the seq read below then reaches this
    // connection live, and every event up to it is in the snapshot or the replay. One that lands in
    // between arrives twice (live and in the snapshot or replay), never not at all; clients drop the
    // second copy by eventId.
    await this.connections.addSubscription({
      connectionId: client.connectionId,
      postId,
      connectedAt: client.connectedAt,
    });
    const subscribed = await this.reply(client, { type: 'subscribed', data: { postId } });
    if (subscribed.outcome === 'gone') return;
    const currentSeq = await this.comments.getLastSeq(postId);
    if (currentSeq === undefined) {
      await this.reject(client, { code: ErrorCodes.postNotFound, message: `Post ${postId} does not exist` });
      return;
    }
    if (lastSeq === undefined) {
      await this.sendSnapshot(client, postId, currentSeq, false);
      return;
    }
    await this.resume(client, postId, lastSeq, currentSeq);
  }

  /**
   * The comments and the seq they stand at. `seq` was read (consistently) before the page, so the page
   * reflects at least every event up to it; reading the seq again after the page and retrying until the two
   * agree makes `seq` exact, so a live event after it is never already in the snapshot. Under constant
   * writes the last pair is sent as is: a client may then see a change twice, never miss one.
   */
  private async sendSnapshot(
    client: ClientConnection,
    postId: string,
    seq: number,
    reset: boolean,
  ): Promise<void> {
    const readPage = async () =>
      (await this.comments.listComments(postId, { limit: this.snapshotLimit, consistent: true })).comments;
    let atSeq = seq;
    let comments = await readPage();
    for (let attempt = 0; attempt < SNAPSHOT_SEQ_ATTEMPTS; attempt += 1) {
      const after = await this.comments.getLastSeq(postId);
      if (after === undefined || after === atSeq) break;
      atSeq = after;
      comments = await readPage();
    }
    await this.reply(client, snapshotEvent(postId, comments, atSeq, reset));
  }

  /**
   * Sends the events after `lastSeq` up to `currentSeq`, each exactly as it was broadcast, in seq order;
   * or, when that cannot be done exactly, a snapshot marked `reset`.
   */
  private async resume(
    client: ClientConnection,
    postId: string,
    lastSeq: number,
    currentSeq: number,
  ): Promise<void> {
    const missed = await this.missedEvents(postId, lastSeq, currentSeq);
    if (!Array.isArray(missed)) {
      logger.info('Resubscribe answered with a reset snapshot', {
        connectionId: client.connectionId,
        postId,
        lastSeq,
        currentSeq,
        cause: missed,
      });
      countMetric(MetricNames.replayResets);
      await this.sendSnapshot(client, postId, currentSeq, true);
      return;
    }
    countMetric(MetricNames.eventsReplayed, missed.length);
    for (const event of missed) {
      // A failed push is not retried here: the client sees the hole in seq and resubscribes.
      const sent = await this.reply(client, event);
      if (sent.outcome === 'gone') return;
    }
  }

  /** Exactly the events lastSeq + 1 … currentSeq, or why they cannot be had. */
  private async missedEvents(
    postId: string,
    lastSeq: number,
    currentSeq: number,
  ): Promise<SequencedChangeEvent[] | ResetCause> {
    // A client ahead of the post remembers another history (a restored table, another stage).
    if (lastSeq > currentSeq) return 'ahead';
    if (currentSeq - lastSeq > this.replayLimit) return 'beyondReplayLimit';
    if (lastSeq === currentSeq) return [];
    const events = await this.comments.listEvents(postId, {
      afterSeq: lastSeq,
      throughSeq: currentSeq,
      now: Math.floor(this.clock().getTime() / 1000),
    });
    // Anything short of every seq in the range means some expired: events expire oldest first, but TTL
    // deletes them in no particular order, so the whole range is checked. The client cannot then be
    // brought up to date event by event.
    const complete =
      events.length === currentSeq - lastSeq &&
      events.every((event, index) => event.seq === lastSeq + 1 + index);
    return complete ? events : 'expired';
  }

  /**
   * Room for one more subscription, or this post is already one of them (subscribing again only
   * re-sends the snapshot, or the replay). Two subscribes racing on one connection may both pass at limit - 1: the cap
   * can be overshot by the messages in flight at once, which is enough to stop a client subscribing to
   * everything, and needs no counter to keep in step with unsubscribe and $disconnect.
   */
  private async withinLimit(client: ClientConnection, postId: string): Promise<boolean> {
    const count = await this.connections.countSubscriptions(client.connectionId);
    if (count < this.maxSubscriptions) return true;
    return this.connections.isSubscribed(client.connectionId, postId);
  }

  private async unsubscribe(client: ClientConnection, postId: string): Promise<void> {
    await this.connections.removeSubscription(client.connectionId, postId);
    await this.reply(client, { type: 'unsubscribed', data: { postId } });
  }

  private async reply(client: ClientConnection, event: ServerEvent): Promise<DeliveryResult> {
    const result = await this.notifier.send(client.connectionId, encodeEvent(event));
    // 'gone' means the client left while we worked; its $disconnect cleans up, so it is not a failure.
    if (result.outcome === 'failed') {
      logger.warn('Reply to client failed', {
        connectionId: client.connectionId,
        eventType: event.type,
        errorName: result.error?.name,
      });
      countMetric(MetricNames.replyFailures);
    }
    return result;
  }
}

/** How often a snapshot re-reads the page when the post's seq moved while it was read. */
const SNAPSHOT_SEQ_ATTEMPTS = 3;

/**
 * API Gateway refuses a pushed message over 128 KB (413), which would leave a subscriber without its
 * snapshot. Keep well under it: the newest comments that do not fit are left out and the snapshot says so
 * (`truncated`), so the client can page the rest from the comments API.
 */
export const MAX_SNAPSHOT_BYTES = 120 * 1024;

export function snapshotEvent(
  postId: string,
  comments: Comment[],
  seq: number,
  reset: boolean,
): CommentsListEvent {
  const build = (page: Comment[], truncated: boolean): CommentsListEvent => ({
    type: 'comments.list',
    data: {
      postId,
      comments: page,
      count: page.length,
      seq,
      ...(reset ? { reset: true } : {}),
      ...(truncated ? { truncated: true } : {}),
    },
  });
  let kept = comments;
  let event = build(kept, false);
  while (kept.length > 0 && byteLength(JSON.stringify(event)) > MAX_SNAPSHOT_BYTES) {
    kept = kept.slice(0, -1);
    event = build(kept, true);
  }
  return event;
}
