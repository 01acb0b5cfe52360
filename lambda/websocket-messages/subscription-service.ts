import type { CommentRepository } from '../shared/comment-repository';
import type { ConnectionRepository } from '../shared/connection-repository';
import { encodeEvent, type ConnectionNotifier, type DeliveryResult } from '../shared/connection-notifier';
import {
  ErrorCodes,
  errorEvent,
  type ClientMessage,
  type ProtocolError,
  type ServerEvent,
} from '../shared/protocol';
import { countMetric, logger } from '../shared/telemetry';

/** The connection a client message arrived on. */
export interface ClientConnection {
  connectionId: string;
  /** Epoch milliseconds; subscription rows expire together with their connection. */
  connectedAt: number;
}

/** The snapshot sent after a subscribe is one page, like the first page of the comments API. */
export const SNAPSHOT_LIMIT = 100;

/** Subscriptions one connection may hold at once: each is a row, and every broadcast to its post a push. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 20;

export interface SubscriptionLimits {
  /** Comments sent in the snapshot after a subscribe. @default SNAPSHOT_LIMIT */
  snapshotLimit?: number;
  /** @default DEFAULT_MAX_SUBSCRIPTIONS */
  maxSubscriptions?: number;
}

/** Answers client messages on the connection they came from; every reply is a `{type, data}` event. */
export class SubscriptionService {
  private readonly snapshotLimit: number;
  private readonly maxSubscriptions: number;

  constructor(
    private readonly connections: ConnectionRepository,
    private readonly comments: CommentRepository,
    private readonly notifier: ConnectionNotifier,
    { snapshotLimit = SNAPSHOT_LIMIT, maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS }: SubscriptionLimits = {},
  ) {
    if (!Number.isInteger(maxSubscriptions) || maxSubscriptions < 1) {
      throw new RangeError(`maxSubscriptions must be a positive integer, got ${maxSubscriptions}`);
    }
    this.snapshotLimit = snapshotLimit;
    this.maxSubscriptions = maxSubscriptions;
  }

  async handle(client: ClientConnection, message: ClientMessage): Promise<void> {
    switch (message.action) {
      case 'subscribe':
        return this.subscribe(client, message.postId);
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

  private async subscribe(client: ClientConnection, postId: string): Promise<void> {
    if ((await this.comments.getPost(postId)) === undefined) {
      await this.reject(client, { code: ErrorCodes.postNotFound, message: `Post ${postId} does not exist` });
      return;
    }
    if (!(await this.withinLimit(client, postId))) {
      countMetric('SubscriptionLimitReached');
      await this.reject(client, {
        code: ErrorCodes.tooManySubscriptions,
        message: `A connection may subscribe to at most ${this.maxSubscriptions} posts; unsubscribe from one first`,
      });
      return;
    }
    // Subscribe before reading the snapshot: a comment created in between then arrives twice (broadcast
    // and snapshot) rather than not at all.
    await this.connections.addSubscription({
      connectionId: client.connectionId,
      postId,
      connectedAt: client.connectedAt,
    });
    const subscribed = await this.reply(client, { type: 'subscribed', data: { postId } });
    if (subscribed.outcome === 'gone') return;
    const { comments } = await this.comments.listComments(postId, { limit: this.snapshotLimit });
    await this.reply(client, { type: 'comments.list', data: { postId, comments, count: comments.length } });
  }

  /**
   * Room for one more subscription, or this post is already one of them (subscribing again only
   * re-sends the snapshot). Two subscribes racing on one connection may both pass at limit - 1: the cap
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
      countMetric('ReplyFailures');
    }
    return result;
  }
}
