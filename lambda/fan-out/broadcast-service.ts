import { randomUUID } from 'node:crypto';
import type { ConnectionNotifier } from '../shared/connection-notifier';
import { encodeEvent } from '../shared/connection-notifier';
import type { ConnectionAudience } from '../shared/connection-repository';
import { broadcastPostId, type BroadcastEnvelope } from '../../contracts/protocol';
import { countMetric, durationMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import { forEachBounded } from './bounded-concurrency';
import type { FanOutBatch, FanOutDispatcher } from './fan-out-batch';
import {
  addFanOutResult,
  countFanOutMetrics,
  emptyFanOutResult,
  fanOut,
  type FanOutCounts,
  type FanOutDependencies,
} from './fan-out';

/**
 * The broadcast API's answer. `connectionCount` is the audience. A small audience is delivered before
 * the answer, and `delivered`, `stale`, `retried` and `failed` say how that went. A large one is cut into
 * `batches` that fan-out workers deliver after the answer: `queued` counts the connections handed to
 * them, and their outcomes are counted in the workers' metrics and logs (under `broadcastId`), not here.
 */
export interface BroadcastSummary extends FanOutCounts {
  broadcastId: string;
  queued: number;
  batches: number;
  /**
   * Connections an inline delivery could not reach after its retries, for a reason that may pass
   * (throttled, 5xx): handed to a fan-out worker as the next generation, which keeps trying. Counted in
   * `failed` too, as they were not reached by this delivery.
   */
  handedOn: number;
}

export interface BroadcastServiceOptions {
  connections: ConnectionAudience;
  notifier: ConnectionNotifier;
  /** Queues batches for the fan-out workers. */
  dispatcher: FanOutDispatcher;
  /** postToConnection calls in flight at once for an inline delivery. */
  concurrency: number;
  retry: FanOutDependencies['retry'];
  /** Connection ids per worker batch; an audience of at most this many is delivered inline. */
  batchSize: number;
  /** Worker invocations in flight at once while batches are queued. @default 10 */
  dispatchConcurrency?: number;
  /** @default crypto.randomUUID */
  newBroadcastId?: () => string;
  sleep?: FanOutDependencies['sleep'];
  random?: FanOutDependencies['random'];
  /** Milliseconds from any fixed origin, for FanOutDuration. @default performance.now */
  now?: () => number;
}

export interface BroadcastOptions {
  /** Passed on in every worker batch, so that the workers log under the same id. */
  correlationId?: string;
  /**
   * The broadcast's id, when its caller already gave one out (a background broadcast's 202).
   * @default a new one
   */
  broadcastId?: string;
}

const DEFAULT_DISPATCH_CONCURRENCY = 10;

/**
 * Sends one envelope to its audience: the subscribers of `data.postId`, or every connection.
 *
 * The audience is read page by page, strongly consistent, from the post's subscriber rows. When it fits
 * in one batch it is delivered right here, before the answer; connections it could not reach after its
 * retries, for a reason that may pass, are handed to a worker as the next generation, so a throttled or
 * failing Management API delays them rather than losing them. Otherwise it is cut into batches of `batchSize` ids, each queued as an
 * asynchronous invocation of the fan-out worker, and the answer goes back as soon as the last batch is
 * queued: the caller (the comments API) never waits for a large fan-out, and the batches are delivered in
 * parallel by as many worker instances as there are batches. A batch that cannot be queued is delivered
 * here instead, so none is dropped.
 */
export class BroadcastService {
  private readonly dispatchConcurrency: number;
  private readonly newBroadcastId: () => string;
  private readonly now: () => number;

  constructor(private readonly options: BroadcastServiceOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`Batch size must be a positive integer, got ${options.batchSize}`);
    }
    this.dispatchConcurrency = options.dispatchConcurrency ?? DEFAULT_DISPATCH_CONCURRENCY;
    this.newBroadcastId = options.newBroadcastId ?? randomUUID;
    this.now = options.now ?? (() => performance.now());
  }

  async broadcast(envelope: BroadcastEnvelope, options: BroadcastOptions = {}): Promise<BroadcastSummary> {
    const { connections, batchSize } = this.options;
    const broadcastId = options.broadcastId ?? this.newBroadcastId();
    const postId = broadcastPostId(envelope);
    const pages = postId === undefined ? connections.allConnections() : connections.postSubscribers(postId);
    const reader = pages[Symbol.asyncIterator]();

    // Read just far enough to know whether the audience fits in one batch.
    const head: string[] = [];
    let exhausted = false;
    while (!exhausted && head.length <= batchSize) {
      const page = await reader.next();
      if (page.done) exhausted = true;
      else head.push(...page.value);
    }

    const payload = encodeEvent(envelope);
    const broadcast = {
      broadcastId,
      envelope,
      ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    };
    const summary: BroadcastSummary = exhausted
      ? await this.deliverAll(broadcast, head, payload)
      : await this.enqueue(broadcast, payload, head, reader);
    const { connectionCount, delivered, stale, retried, failed, queued, batches, handedOn } = summary;
    logger.info('Broadcast sent', {
      broadcastId,
      type: envelope.type,
      postId,
      connectionCount,
      delivered,
      stale,
      retried,
      failed,
      queued,
      batches,
      handedOn,
    });
    return summary;
  }

  /** A small audience, delivered here; what may still pass is handed on. */
  private async deliverAll(
    broadcast: BroadcastIdentity,
    connectionIds: string[],
    payload: string,
  ): Promise<BroadcastSummary> {
    const result = await this.deliverInline(connectionIds, payload);
    const handedOn = await this.handOn(broadcast, 1, result.retryableFailedConnectionIds);
    return { broadcastId: broadcast.broadcastId, ...this.counts(result), queued: 0, batches: 0, handedOn };
  }

  /**
   * Queues the ids an inline delivery could not reach as generation 2 of their batch: the worker retries
   * them with its own backoff, hands on what still fails, and dead-letters what never gets through. When
   * even that cannot be queued they are lost to this push, logged and counted; their clients repair the
   * gap from the event log at their next heartbeat.
   */
  private async handOn(
    broadcast: BroadcastIdentity,
    batch: number,
    connectionIds: string[],
  ): Promise<number> {
    if (connectionIds.length === 0) return 0;
    try {
      await this.options.dispatcher.dispatch({ ...broadcast, batch, generation: 2, connectionIds });
      countMetric(MetricNames.fanOutBatchesHandedOn);
      return connectionIds.length;
    } catch (error) {
      countMetric(MetricNames.fanOutHandOnFailures);
      logger.error('Could not hand on the connections an inline delivery missed', {
        broadcastId: broadcast.broadcastId,
        batch,
        size: connectionIds.length,
        errorName: (error as Error).name,
        error: error as Error,
      });
      return 0;
    }
  }

  async countConnections(): Promise<number> {
    return this.options.connections.countConnections();
  }

  private async deliverInline(connectionIds: string[], payload: string) {
    const started = this.now();
    const result = await fanOut([connectionIds], payload, this.options);
    // An empty audience is no fan-out: its zero would only drag the percentiles down.
    if (connectionIds.length > 0) durationMetric(MetricNames.fanOutDuration, this.now() - started);
    countFanOutMetrics(result);
    return result;
  }

  private counts(result: FanOutCounts): FanOutCounts {
    const { connectionCount, delivered, stale, retried, failed } = result;
    return { connectionCount, delivered, stale, retried, failed };
  }

  /** Cuts the audience into batches as its pages arrive and queues each for a fan-out worker. */
  private async enqueue(
    broadcast: BroadcastIdentity,
    payload: string,
    head: string[],
    reader: AsyncIterator<string[]>,
  ): Promise<BroadcastSummary> {
    const { batchSize, dispatcher } = this.options;
    async function* batches(): AsyncIterable<string[]> {
      let pending = head;
      for (;;) {
        let start = 0;
        for (; pending.length - start >= batchSize; start += batchSize) {
          yield pending.slice(start, start + batchSize);
        }
        pending = pending.slice(start);
        const page = await reader.next();
        if (page.done) break;
        pending.push(...page.value);
      }
      if (pending.length > 0) yield pending;
    }

    let connectionCount = 0;
    let queued = 0;
    let queuedBatches = 0;
    let batchNumber = 0;
    const inline = emptyFanOutResult();
    let handedOn = 0;
    await forEachBounded(batches(), this.dispatchConcurrency, async (connectionIds) => {
      batchNumber += 1;
      const batch = batchNumber;
      connectionCount += connectionIds.length;
      try {
        await dispatcher.dispatch({ ...broadcast, batch, generation: 1, connectionIds });
        queued += connectionIds.length;
        queuedBatches += 1;
      } catch (error) {
        countMetric(MetricNames.fanOutDispatchFailures);
        logger.error('Could not queue a fan-out batch; delivering it inline', {
          broadcastId: broadcast.broadcastId,
          batch,
          size: connectionIds.length,
          errorName: (error as Error).name,
          error: error as Error,
        });
        const result = await this.deliverInline(connectionIds, payload);
        addFanOutResult(inline, result);
        handedOn += await this.handOn(broadcast, batch, result.retryableFailedConnectionIds);
      }
    });
    countMetric(MetricNames.fanOutBatchesQueued, queuedBatches);
    countMetric(MetricNames.fanOutConnectionsQueued, queued);
    return {
      broadcastId: broadcast.broadcastId,
      ...this.counts(inline),
      connectionCount,
      queued,
      batches: queuedBatches,
      handedOn,
    };
  }
}

/** What every batch of one broadcast shares. */
type BroadcastIdentity = Pick<FanOutBatch, 'broadcastId' | 'correlationId' | 'envelope'>;
