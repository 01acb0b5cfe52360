import type { ConnectionNotifier, DeliveryResult } from '../shared/connection-notifier';
import type { ConnectionRepository } from '../shared/connection-repository';
import { logger } from '../shared/telemetry';
import { forEachBounded } from './bounded-concurrency';

export interface FanOutResult {
  /** Connections the message was addressed to. */
  connectionCount: number;
  delivered: number;
  /** Connections API Gateway reported gone (410); their rows have been deleted. */
  stale: number;
  failed: number;
  /** Stale connections whose rows could not be deleted; TTL reaps them later. */
  cleanupFailures: number;
}

export interface FanOutDependencies {
  connections: ConnectionRepository;
  notifier: ConnectionNotifier;
  /** postToConnection calls kept in flight at once. */
  concurrency: number;
}

async function* eachConnection(pages: AsyncIterable<string[]>): AsyncIterable<string> {
  for await (const page of pages) yield* page;
}

/**
 * Pushes one already-encoded payload to every connection of `targets`, page by page, with bounded
 * concurrency. Never throws for a single connection: each outcome is counted instead. A connection
 * reported gone is deleted (with its subscriptions) before its slot is released, so by the time this
 * returns every stale row it met is gone too.
 */
export async function fanOut(
  targets: AsyncIterable<string[]>,
  payload: string,
  { connections, notifier, concurrency }: FanOutDependencies,
): Promise<FanOutResult> {
  const result: FanOutResult = { connectionCount: 0, delivered: 0, stale: 0, failed: 0, cleanupFailures: 0 };

  const deliver = async (connectionId: string): Promise<void> => {
    result.connectionCount += 1;
    const { outcome, error } = await send(notifier, connectionId, payload);
    switch (outcome) {
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
        logger.error('Delivery to connection failed', { connectionId, errorName: error?.name, error });
        return;
    }
  };

  await forEachBounded(eachConnection(targets), concurrency, deliver);
  return result;
}

/** The notifier's contract is never to throw; one that does must not abort the rest of the fan-out. */
async function send(
  notifier: ConnectionNotifier,
  connectionId: string,
  payload: string,
): Promise<DeliveryResult> {
  try {
    return await notifier.send(connectionId, payload);
  } catch (error) {
    return { outcome: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
  }
}
