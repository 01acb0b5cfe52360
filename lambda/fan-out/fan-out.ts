import { backoffDelay, sleep as realSleep, type RetryPolicy } from '../../contracts/backoff';
import { MetricNames } from '../../contracts/telemetry-names';
import type { ConnectionNotifier, DeliveryResult } from '../shared/connection-notifier';
import type { ConnectionAudience } from '../shared/connection-repository';
import { countMetric, logger } from '../shared/telemetry';
import { forEachBounded } from './bounded-concurrency';

/** What one fan-out did. Each addressed connection ends in exactly one of delivered, stale or failed. */
export interface FanOutCounts {
  /** Connections the message was addressed to. */
  connectionCount: number;
  delivered: number;
  /** Connections API Gateway reported gone (410); their rows have been deleted. */
  stale: number;
  /** Retry attempts made (not connections): a push that succeeded on its third attempt adds 2. */
  retried: number;
  /** Connections still not reached after every allowed attempt, or refused for good (403, 413). */
  failed: number;
}

export interface FanOutResult extends FanOutCounts {
  /** Stale connections whose rows could not be deleted; TTL reaps them later. */
  cleanupFailures: number;
  /**
   * The connections counted in `failed` whose last error may pass (throttled, 5xx, network), so that a
   * caller can hand exactly these on. A refusal for good (403, 413) is counted and logged, never retried.
   */
  retryableFailedConnectionIds: string[];
}

export interface FanOutDependencies {
  /** Where the connections API Gateway reports gone are removed. */
  connections: ConnectionAudience;
  notifier: ConnectionNotifier;
  /** postToConnection calls kept in flight at once; a connection waiting out its backoff keeps its slot. */
  concurrency: number;
  /**
   * How a retryable failure is tried again. Every postToConnection of every fan-out in the account shares
   * API Gateway's Management API quota, which is why the retries back off with full jitter.
   */
  retry: RetryPolicy;
  /** Injectable so tests need not wait. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable so tests can pin the jitter. @default Math.random */
  random?: () => number;
}

export const emptyFanOutResult = (): FanOutResult => ({
  connectionCount: 0,
  delivered: 0,
  stale: 0,
  retried: 0,
  failed: 0,
  cleanupFailures: 0,
  retryableFailedConnectionIds: [],
});

/** Adds `part` into `total` (for a broadcast that delivers some batches itself). */
export function addFanOutResult(total: FanOutResult, part: FanOutResult): void {
  total.connectionCount += part.connectionCount;
  total.delivered += part.delivered;
  total.stale += part.stale;
  total.retried += part.retried;
  total.failed += part.failed;
  total.cleanupFailures += part.cleanupFailures;
  total.retryableFailedConnectionIds.push(...part.retryableFailedConnectionIds);
}

/** Emits the outcome counts as metrics (each function's own service dimension tells who sent them). */
export function countFanOutMetrics(result: FanOutResult): void {
  countMetric(MetricNames.delivered, result.delivered);
  countMetric(MetricNames.staleConnections, result.stale);
  countMetric(MetricNames.deliveryRetries, result.retried);
  countMetric(MetricNames.deliveryFailures, result.failed);
  countMetric(MetricNames.staleConnectionCleanupFailures, result.cleanupFailures);
}

async function* eachConnection(pages: AsyncIterable<string[]> | Iterable<string[]>): AsyncIterable<string> {
  for await (const page of pages) yield* page;
}

/**
 * Pushes one already-encoded payload to every connection of `targets`, page by page, with bounded
 * concurrency. A push that fails with a retryable error (throttled, 5xx, network) is tried again after
 * an exponential, fully jittered backoff, up to `retry.maxAttempts` attempts in all; 410 is never retried
 * (the connection is deleted, with its subscriptions, before its slot is released) and neither are 413
 * or 403. Never throws for a single connection: each outcome is counted instead.
 */
export async function fanOut(
  targets: AsyncIterable<string[]> | Iterable<string[]>,
  payload: string,
  { connections, notifier, concurrency, retry, sleep = realSleep, random = Math.random }: FanOutDependencies,
): Promise<FanOutResult> {
  const result = emptyFanOutResult();

  const deliver = async (connectionId: string): Promise<void> => {
    result.connectionCount += 1;
    let attempt = 1;
    let outcome = await send(notifier, connectionId, payload);
    while (outcome.outcome === 'failed' && outcome.retryable === true && attempt < retry.maxAttempts) {
      await sleep(backoffDelay(attempt, retry, random));
      attempt += 1;
      result.retried += 1;
      outcome = await send(notifier, connectionId, payload);
    }
    switch (outcome.outcome) {
      case 'delivered':
        result.delivered += 1;
        return;
      case 'gone':
        result.stale += 1;
        try {
          await connections.removeConnection(connectionId);
        } catch (cleanupError) {
          result.cleanupFailures += 1;
          logger.error('Failed to delete stale connection', {
            connectionId,
            errorName: (cleanupError as Error).name,
            error: cleanupError as Error,
          });
        }
        return;
      case 'failed':
        result.failed += 1;
        if (outcome.retryable === true) result.retryableFailedConnectionIds.push(connectionId);
        logger.error('Delivery to connection failed', {
          connectionId,
          errorName: outcome.error?.name,
          attempts: attempt,
          retryable: outcome.retryable === true,
          error: outcome.error,
        });
        return;
    }
  };

  await forEachBounded(eachConnection(targets), concurrency, deliver);
  return result;
}

/**
 * The notifier's contract is never to throw; one that does must not abort the rest of the fan-out. Such
 * a throw is treated as retryable, like a network error: it says nothing about the connection itself.
 */
async function send(
  notifier: ConnectionNotifier,
  connectionId: string,
  payload: string,
): Promise<DeliveryResult> {
  try {
    return await notifier.send(connectionId, payload);
  } catch (error) {
    return {
      outcome: 'failed',
      error: error instanceof Error ? error : new Error(String(error)),
      retryable: true,
    };
  }
}
