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

/** Answers client messages on the connection they came from; every reply is a `{type, data}` event. */
export class SubscriptionService {
  constructor(
    private readonly connections: ConnectionRepository,
    private readonly comments: CommentRepository,
    private readonly notifier: ConnectionNotifier,
    private readonly snapshotLimit: number = SNAPSHOT_LIMIT,
  ) {}

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
