import { encodeEvent, type ConnectionNotifier } from '../shared/connection-notifier';
import type { ConnectionAudience } from '../shared/connection-repository';
import { countMetric, durationMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import type { FanOutBatch, FanOutDispatcher } from '../fan-out/fan-out-batch';
import { countFanOutMetrics, fanOut, type FanOutCounts, type FanOutDependencies } from '../fan-out/fan-out';

export interface FanOutWorkerOptions {
  connections: ConnectionAudience;
  notifier: ConnectionNotifier;
  /** Hands the ids that still failed on to a new invocation of this worker. */
  dispatcher: FanOutDispatcher;
  concurrency: number;
  retry: FanOutDependencies['retry'];
  /** Generations a batch may go through; a batch handed on beyond that is dead-lettered. */
  maxGenerations: number;
  sleep?: FanOutDependencies['sleep'];
  random?: FanOutDependencies['random'];
  /** Milliseconds from any fixed origin, for FanOutDuration. @default performance.now */
  now?: () => number;
}

export interface FanOutWorkerSummary extends FanOutCounts {
  broadcastId: string;
  batch: number;
  generation: number;
  /** Ids handed on to the next generation (the ones counted in `failed`), or 0. */
  handedOn: number;
}

/**
 * Thrown to make Lambda retry this event (twice, minutes apart) and then send it to the worker's
 * dead-letter queue. Only thrown when no connection of the event was reached, so a retry of the whole
 * event can send nobody a second copy.
 */
export class FanOutBatchFailedError extends Error {
  constructor(batch: FanOutBatch, reason: string) {
    super(`Fan-out batch ${batch.broadcastId}#${batch.batch} (generation ${batch.generation}): ${reason}`);
    this.name = 'FanOutBatchFailedError';
  }
}

/**
 * Delivers one batch of a broadcast (lambda/fan-out-worker/handler.ts runs it on every async invocation).
 *
 * Lambda retries a failed async event as a whole, so a batch that reached some of its connections must
 * not fail: that retry would send them the event again. Instead:
 * - every connection reached (or gone): done;
 * - some reached, some failed after every retry: the failed ids alone are handed on as a new event of the
 *   next generation, and this one succeeds;
 * - none reached: this event fails, and Lambda's own retries (then its dead-letter queue) take it as is;
 * - an event beyond `maxGenerations` is failed without a delivery attempt, so the dead-letter queue holds
 *   exactly the ids that were never reached, ready to be redriven.
 * A connection can still get a second copy when handing on fails after a partial delivery, or when a run
 * times out midway. Clients drop a copy whose `eventId` they have already seen.
 */
export class FanOutWorker {
  private readonly now: () => number;

  constructor(private readonly options: FanOutWorkerOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  async deliver(batch: FanOutBatch): Promise<FanOutWorkerSummary> {
    const context = {
      broadcastId: batch.broadcastId,
      batch: batch.batch,
      generation: batch.generation,
      size: batch.connectionIds.length,
    };
    if (batch.generation > this.options.maxGenerations) {
      // Counted on each of Lambda's attempts at this event, as every failed run is.
      countMetric(MetricNames.fanOutBatchFailures);
      logger.error('Fan-out batch still failing after every generation; dead-lettering its ids', context);
      throw new FanOutBatchFailedError(
        batch,
        `${batch.connectionIds.length} connections still unreached after ${this.options.maxGenerations} generations`,
      );
    }

    const started = this.now();
    const result = await fanOut([batch.connectionIds], encodeEvent(batch.envelope), this.options);
    durationMetric(MetricNames.fanOutDuration, this.now() - started);
    countFanOutMetrics(result);
    const { connectionCount, delivered, stale, retried, failed } = result;
    const summary: FanOutWorkerSummary = {
      broadcastId: batch.broadcastId,
      batch: batch.batch,
      generation: batch.generation,
      connectionCount,
      delivered,
      stale,
      retried,
      failed,
      handedOn: 0,
    };
    logger.info('Fan-out batch delivered', { ...summary });
    const retryable = result.retryableFailedConnectionIds;
    // Refusals for good (403, 413) are counted and logged above; handing them on would only fail again.
    if (retryable.length === 0) return summary;

    if (delivered === 0) {
      countMetric(MetricNames.fanOutBatchFailures);
      throw new FanOutBatchFailedError(batch, `none of its ${failed} failed connections could be reached`);
    }
    const next: FanOutBatch = {
      ...batch,
      generation: batch.generation + 1,
      connectionIds: retryable,
    };
    try {
      await this.options.dispatcher.dispatch(next);
    } catch (error) {
      countMetric(MetricNames.fanOutHandOnFailures);
      logger.error('Could not hand on the failed connections; failing the whole batch', {
        ...context,
        failed,
        errorName: (error as Error).name,
        error: error as Error,
      });
      throw error;
    }
    countMetric(MetricNames.fanOutBatchesHandedOn);
    return { ...summary, handedOn: retryable.length };
  }
}
