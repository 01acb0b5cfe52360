import {
  ErrorCodes,
  errorEvent,
  type ClientMessage,
  type ProtocolError,
  type SequencedChangeEvent,
  type ServerEvent,
} from '../../contracts/protocol';
import { MetricNames } from '../../contracts/telemetry-names';
import { InvalidCursorError } from '../shared/comment-cursor';
import type { CommentRepository } from '../shared/comment-repository';
import { encodeEvent, type ConnectionNotifier, type DeliveryResult } from '../shared/connection-notifier';
import type { ConnectionRepository } from '../shared/connection-repository';
import { countMetric, logger } from '../shared/telemetry';
import { CommentPages, SNAPSHOT_LIMIT } from './comment-pages';

export { MAX_SNAPSHOT_BYTES, SNAPSHOT_LIMIT, snapshotEvent } from './comment-pages';

/** The connection a client message arrived on. */
export interface ClientConnection {
  connectionId: string;
  /** Epoch milliseconds; subscription rows expire together with their connection. */
  connectedAt: number;
}

/**
 * The most missed events a resubscribe replays. Further behind than this, a snapshot is cheaper for both
 * sides than hundreds of pushes, so the client gets a reset snapshot instead.
 */
export const REPLAY_LIMIT = 500;

export interface SubscriptionOptions {
  /** Comments per snapshot page. @default SNAPSHOT_LIMIT */
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
  private readonly maxSubscriptions: number;
  private readonly replayLimit: number;
  private readonly clock: () => Date;
  private readonly pages: CommentPages;

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
    this.maxSubscriptions = maxSubscriptions;
    this.replayLimit = replayLimit;
    this.clock = clock;
    this.pages = new CommentPages(comments, snapshotLimit);
  }

  async handle(client: ClientConnection, message: ClientMessage): Promise<void> {
    switch (message.action) {
      case 'subscribe':
        return this.subscribe(client, message.postId, message.lastSeq);
      case 'unsubscribe':
        return this.unsubscribe(client, message.postId);
      case 'listComments':
        return this.listComments(client, message.postId, message.cursor);
      case 'ping':
        return this.heartbeat(client);
    }
  }

  /** Tells the client what was wrong with its message; nothing is stored. */
  async reject(client: ClientConnection, error: ProtocolError, postId = error.postId): Promise<void> {
    await this.reply(client, errorEvent(postId === undefined ? error : { ...error, postId }));
  }

  private async subscribe(client: ClientConnection, postId: string, lastSeq?: number): Promise<void> {
    if ((await this.comments.getPost(postId)) === undefined) {
      await this.rejectMissingPost(client, postId);
      return;
    }
    // Subscribe before reading the post's seq: every event after the seq read below then reaches this
    // connection live (fan-out reads subscribers consistently), and every event up to it is in the snapshot
    // or the replay. One that lands in between arrives twice, never not at all; clients drop the second copy.
    const outcome = await this.connections.addSubscription(
      { connectionId: client.connectionId, postId, connectedAt: client.connectedAt },
      this.maxSubscriptions,
    );
    if (outcome === 'limitReached') {
      countMetric(MetricNames.subscriptionLimitReached);
      await this.reject(
        client,
        {
          code: ErrorCodes.tooManySubscriptions,
          message: `A connection may subscribe to at most ${this.maxSubscriptions} posts; unsubscribe from one first`,
        },
        postId,
      );
      return;
    }
    // The connection's row is gone: $disconnect ran, or it was found stale. Nothing to answer on.
    if (outcome === 'connectionGone') return;
    const subscribed = await this.reply(client, { type: 'subscribed', data: { postId } });
    if (subscribed.outcome === 'gone') return;
    const currentSeq = await this.comments.getLastSeq(postId);
    if (currentSeq === undefined) {
      await this.rejectMissingPost(client, postId);
      return;
    }
    if (lastSeq === undefined) {
      await this.reply(client, await this.pages.snapshot(postId, currentSeq, false));
      return;
    }
    await this.resume(client, postId, lastSeq, currentSeq);
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
      await this.reply(client, await this.pages.snapshot(postId, currentSeq, true));
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

  /** The next page of a post's comments; the client completes a snapshot that said `hasMore` with these. */
  private async listComments(client: ClientConnection, postId: string, cursor?: string): Promise<void> {
    if ((await this.comments.getPost(postId)) === undefined) {
      await this.rejectMissingPost(client, postId);
      return;
    }
    try {
      await this.reply(client, await this.pages.page(postId, cursor));
    } catch (error) {
      if (!(error instanceof InvalidCursorError)) throw error;
      await this.reject(
        client,
        { code: ErrorCodes.invalidCursor, message: '"cursor" must be a cursor the server sent' },
        postId,
      );
    }
  }

  /**
   * The answer to a ping carries the current seq of every post the connection follows: a client whose
   * last event of a post is older notices that it missed something, and asks for a replay, even when
   * nothing else changes. Costs one Query on the connection's own rows and one batch read of counters.
   */
  private async heartbeat(client: ClientConnection): Promise<void> {
    const postIds = await this.connections.subscribedPosts(client.connectionId);
    const seqs = postIds.length === 0 ? new Map() : await this.comments.getLastSeqs(postIds);
    await this.reply(client, { type: 'pong', data: { seqs: Object.fromEntries(seqs) } });
  }

  private async unsubscribe(client: ClientConnection, postId: string): Promise<void> {
    await this.connections.removeSubscription(client.connectionId, postId);
    await this.reply(client, { type: 'unsubscribed', data: { postId } });
  }

  private rejectMissingPost(client: ClientConnection, postId: string): Promise<void> {
    return this.reject(
      client,
      { code: ErrorCodes.postNotFound, message: `Post ${postId} does not exist` },
      postId,
    );
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
