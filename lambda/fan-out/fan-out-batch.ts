import type { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaAsyncInvoker } from '../shared/async-invoke';
import { isValidCorrelationId } from '../../contracts/correlation';
import { isRecord } from '../../contracts/json';
import type { BroadcastEnvelope } from '../../contracts/protocol';

/**
 * One slice of a broadcast's audience, handed to the fan-out worker function as its (asynchronous)
 * invocation event. The broadcast cuts large audiences into these; a worker that could not reach some of
 * its connections hands on a new one with exactly those ids and the next generation.
 */
export interface FanOutBatch {
  /** Shared by every batch of one broadcast, for following it through the logs. */
  broadcastId: string;
  /**
   * The comment request's correlation id (contracts/correlation.ts), which the worker logs under.
   * Absent from events queued before it existed and from hand-made redrives: the worker then uses its
   * own request id.
   */
  correlationId?: string;
  /** 1-based position of this batch in its broadcast. */
  batch: number;
  /** 1 for the batches the broadcast queued; +1 each time a worker hands on the ids that still failed. */
  generation: number;
  /** Pushed exactly as the broadcast API received it. */
  envelope: BroadcastEnvelope;
  connectionIds: string[];
}

export class InvalidFanOutBatchError extends Error {
  constructor(message: string) {
    super(`Not a fan-out batch: ${message}`);
    this.name = 'InvalidFanOutBatchError';
  }
}

const positiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;

/**
 * Checks the shape of a worker event. Only the broadcast function (and the worker itself) may invoke the
 * worker, so this guards against our own mistakes and hand-made redrives, not against a hostile caller.
 */
export function parseFanOutBatch(event: unknown): FanOutBatch {
  if (!isRecord(event)) throw new InvalidFanOutBatchError('the event is not an object');
  const { broadcastId, correlationId, batch, generation, envelope, connectionIds } = event;
  if (typeof broadcastId !== 'string' || broadcastId === '') {
    throw new InvalidFanOutBatchError('"broadcastId" must be a non-empty string');
  }
  if (!positiveInteger(batch)) throw new InvalidFanOutBatchError('"batch" must be a whole number >= 1');
  if (!positiveInteger(generation)) {
    throw new InvalidFanOutBatchError('"generation" must be a whole number >= 1');
  }
  if (!isRecord(envelope) || typeof envelope.type !== 'string') {
    throw new InvalidFanOutBatchError('"envelope" must be an object with a string "type"');
  }
  if (
    !Array.isArray(connectionIds) ||
    connectionIds.length === 0 ||
    !connectionIds.every((id) => typeof id === 'string' && id !== '')
  ) {
    throw new InvalidFanOutBatchError('"connectionIds" must be a non-empty array of strings');
  }
  return {
    broadcastId,
    // Only a label for the logs: one that is not a valid id is dropped rather than failing the delivery.
    ...(isValidCorrelationId(correlationId) ? { correlationId } : {}),
    batch,
    generation,
    envelope: envelope as unknown as BroadcastEnvelope,
    connectionIds: connectionIds as string[],
  };
}

/**
 * The correlation id of a worker event, read before the event is checked, so that the invocation of a
 * refused event (its trace, anything logged) carries it too.
 */
export function correlationIdOfBatchEvent(event: unknown): string | undefined {
  const correlationId = isRecord(event) ? event.correlationId : undefined;
  return isValidCorrelationId(correlationId) ? correlationId : undefined;
}

/** Where batches go to be delivered: the port the broadcast and the worker depend on. */
export interface FanOutDispatcher {
  /** Resolves once the batch is queued for delivery (not delivered); rejects when it could not be queued. */
  dispatch(batch: FanOutBatch): Promise<void>;
}

/**
 * Queues a batch as an asynchronous invocation of the worker function: Lambda runs it in the background,
 * retries a failed run twice, then sends the event to the worker's on-failure destination (the
 * dead-letter queue). A batch is at most a 128 KB envelope plus its ids, well within the 1 MB limit.
 */
export class LambdaFanOutDispatcher implements FanOutDispatcher {
  private readonly invoker: LambdaAsyncInvoker;

  constructor(client: LambdaClient, functionName: string) {
    this.invoker = new LambdaAsyncInvoker(client, functionName);
  }

  dispatch(batch: FanOutBatch): Promise<void> {
    return this.invoker.invoke(batch);
  }
}
