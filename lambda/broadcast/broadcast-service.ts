import type { ConnectionNotifier } from '../shared/connection-notifier';
import { encodeEvent } from '../shared/connection-notifier';
import type { ConnectionRepository } from '../shared/connection-repository';
import { broadcastPostId, type BroadcastEnvelope } from '../shared/protocol';
import { countMetric, logger } from '../shared/telemetry';
import { fanOut } from './fan-out';

/** The broadcast API's answer, the shape the original backend's callers read `connectionCount` from. */
export interface BroadcastSummary {
  connectionCount: number;
  delivered: number;
  stale: number;
  failed: number;
}

export class BroadcastService {
  constructor(
    private readonly connections: ConnectionRepository,
    private readonly notifier: ConnectionNotifier,
    /** postToConnection calls in flight at once: high enough for latency, low enough for API throttles. */
    private readonly concurrency: number,
  ) {}

  /** Sends the envelope to its post's subscribers when `data.postId` is set, otherwise to everyone. */
  async broadcast(envelope: BroadcastEnvelope): Promise<BroadcastSummary> {
    const postId = broadcastPostId(envelope);
    const targets =
      postId === undefined ? this.connections.allConnections() : this.connections.postSubscribers(postId);
    const result = await fanOut(targets, encodeEvent(envelope), {
      connections: this.connections,
      notifier: this.notifier,
      concurrency: this.concurrency,
    });
    countMetric('Delivered', result.delivered);
    countMetric('StaleConnections', result.stale);
    countMetric('DeliveryFailures', result.failed);
    countMetric('StaleConnectionCleanupFailures', result.cleanupFailures);
    const { connectionCount, delivered, stale, failed } = result;
    logger.info('Broadcast sent', { type: envelope.type, postId, connectionCount, delivered, stale, failed });
    return { connectionCount, delivered, stale, failed };
  }

  async countConnections(): Promise<number> {
    return this.connections.countConnections();
  }
}
