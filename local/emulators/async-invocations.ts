import type { LocalFunction } from '../cloudformation/local-model';
import { DEFAULT_ASYNC_RETRY_ATTEMPTS } from '../cloudformation/local-model';
import { DEAD_LETTERS_PATH } from '../devtools/control-paths';
import type { LocalLambda } from './lambda-runtime';
import type { StreamOnFailureRecord } from './stream-records';

/** Lambda waits about a minute before the first retry and two before the second; locally it is seconds. */
export const DEFAULT_ASYNC_RETRY_DELAY_MS = 1000;

/** An exhausted async event, in the shape of the record Lambda sends to an on-failure destination. */
export interface DeadLetter {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted' | 'EventAgeExceeded';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: 200; executedVersion: '$LATEST'; functionError: 'Unhandled' };
  responsePayload: { errorType: string; errorMessage: string };
  /** The on-failure destination the template configures (its local ARN); absent when there is none. */
  destination?: string;
}

/**
 * What a stream event source mapping sends to its on-failure destination for a batch it gave up on (where
 * the records are in the stream, not the records), tagged with that destination as a DeadLetter is.
 */
export type StreamDeadLetter = StreamOnFailureRecord & { destination?: string };

/** One entry of the dead-letter list: an exhausted async event, or a stream batch given up on. */
export type DeadLetterRecord = DeadLetter | StreamDeadLetter;

export interface AsyncInvokeStats {
  /** Event invocations accepted (202). */
  accepted: number;
  /** Runs retried after a failure. */
  retried: number;
  deadLettered: number;
  /** Events accepted and not yet finished: running, or waiting for a retry. */
  pending: number;
  /** Times an event found its function at its reserved concurrency and waited for a free slot. */
  throttled: number;
}

export interface AsyncInvocationsOptions {
  /** By function key, as the gateways take them. */
  lambdas: Map<string, Pick<LocalLambda, 'invoke'>>;
  /** The function's ARN, as dead-letter records name it. */
  functionArn: (fn: LocalFunction) => string;
  /** Delay before the first retry of a failed Event invocation, doubled for each next one. */
  retryDelayMs?: number;
  log?: (message: string) => void;
}

interface AsyncEvent {
  fn: LocalFunction;
  payload: unknown;
  requestId: string;
  receivedAt: number;
  attempts: number;
}

export interface LambdaError {
  name: string;
  message: string;
}

/** What Lambda reports of a function's error: its name and message. */
export const errorOf = (error: unknown): LambdaError =>
  error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };

/**
 * What Lambda does with asynchronous (Event) invocations after their 202, run locally: each runs in the
 * background; a failed run is retried as the function's EventInvokeConfig says, then dead-lettered; a
 * function with reserved concurrency runs at most that many at once (synchronous calls included, through
 * {@link acquire}), and an event beyond it is throttled: it waits, and runs once a slot is free.
 *
 * Lambda keeps a throttled asynchronous event and tries it again after about a second, backing off up to
 * five minutes, until its maximum event age. Locally it waits in a queue per function and runs as soon as
 * an invocation of that function ends (its maximum event age still applies), so that the cap holds as on
 * AWS without minutes of backoff; docs/capacity.md models the backoff itself.
 */
export class AsyncInvocations {
  private readonly retryDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly letters: DeadLetterRecord[] = [];
  private readonly counts: AsyncInvokeStats = {
    accepted: 0,
    retried: 0,
    deadLettered: 0,
    pending: 0,
    throttled: 0,
  };
  /** Invocations running now, by function key: what reserved concurrency caps. */
  private readonly running = new Map<string, number>();
  /** Throttled events, by function key, in the order they arrived. */
  private readonly throttledEvents = new Map<string, AsyncEvent[]>();
  private stopped = false;

  constructor(private readonly options: AsyncInvocationsOptions) {
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_ASYNC_RETRY_DELAY_MS;
  }

  get deadLetters(): readonly DeadLetterRecord[] {
    return this.letters;
  }

  /** Keeps what a stream event source mapping gave up on in the same list, in the order it happened. */
  addStreamDeadLetter(letter: StreamDeadLetter): void {
    this.letters.push(letter);
  }

  clearDeadLetters(): void {
    this.letters.length = 0;
  }

  stats(): AsyncInvokeStats {
    return { ...this.counts };
  }

  /** Resolves once no accepted Event invocation is running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.counts.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the retries still waiting; runs in flight finish (or fail) without being retried. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const waiting of this.throttledEvents.values()) for (const _ of waiting.splice(0)) this.finish();
  }

  /** Takes one of the function's concurrency; false when it is at its reserved concurrency. */
  acquire(fn: LocalFunction): boolean {
    const running = this.running.get(fn.key) ?? 0;
    if (fn.reservedConcurrency !== undefined && running >= fn.reservedConcurrency) return false;
    this.running.set(fn.key, running + 1);
    return true;
  }

  /** Gives the slot back; the function's longest-waiting throttled event, if any, takes it. */
  release(fn: LocalFunction): void {
    this.running.set(fn.key, (this.running.get(fn.key) ?? 1) - 1);
    // Run at once, not on a later tick: it takes the slot before any newer event can, so waiting is FIFO.
    const next = this.throttledEvents.get(fn.key)?.shift();
    if (next) void this.run(next);
  }

  accept(fn: LocalFunction, payload: unknown, requestId: string): void {
    const event: AsyncEvent = { fn, payload, requestId, receivedAt: Date.now(), attempts: 0 };
    this.counts.accepted += 1;
    this.counts.pending += 1;
    setImmediate(() => void this.run(event));
  }

  private async run(event: AsyncEvent): Promise<void> {
    const { fn } = event;
    if (!this.acquire(fn)) {
      this.throttle(event);
      return;
    }
    const lambda = this.options.lambdas.get(fn.key);
    event.attempts += 1;
    try {
      if (!lambda) throw new Error(`No local runtime for ${fn.key}`);
      await lambda.invoke(event.payload);
      this.finish();
    } catch (error) {
      if (this.stopped) return this.finish();
      const failure = errorOf(error);
      const maxRetries = fn.asyncInvoke?.maximumRetryAttempts ?? DEFAULT_ASYNC_RETRY_ATTEMPTS;
      const maxAgeMs = (fn.asyncInvoke?.maximumEventAgeSeconds ?? Number.POSITIVE_INFINITY) * 1000;
      const delayMs = this.retryDelayMs * 2 ** (event.attempts - 1);
      if (event.attempts > maxRetries) return this.deadLetter(event, failure, 'RetriesExhausted');
      if (Date.now() + delayMs - event.receivedAt > maxAgeMs) {
        return this.deadLetter(event, failure, 'EventAgeExceeded');
      }
      this.counts.retried += 1;
      this.log(
        `${fn.functionName}: async invocation ${event.requestId} failed (attempt ${event.attempts} of ` +
          `${maxRetries + 1}): ${failure.name}: ${failure.message}; retrying in ${delayMs} ms`,
      );
      this.later(event, delayMs);
    } finally {
      this.release(fn);
    }
  }

  /** The function is at its reserved concurrency: the event waits for a slot, or its maximum age. */
  private throttle(event: AsyncEvent): void {
    if (this.stopped) return this.finish();
    this.counts.throttled += 1;
    const maxAgeMs = (event.fn.asyncInvoke?.maximumEventAgeSeconds ?? Number.POSITIVE_INFINITY) * 1000;
    if (Date.now() - event.receivedAt > maxAgeMs) {
      const failure = {
        name: 'TooManyRequestsException',
        message: `Rate exceeded: ${event.fn.functionName} stayed at its reserved concurrency`,
      };
      return this.deadLetter(event, failure, 'EventAgeExceeded');
    }
    const waiting = this.throttledEvents.get(event.fn.key) ?? [];
    waiting.push(event);
    this.throttledEvents.set(event.fn.key, waiting);
  }

  private later(event: AsyncEvent, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.run(event);
    }, delayMs);
    this.timers.add(timer);
  }

  private deadLetter(
    event: AsyncEvent,
    failure: LambdaError,
    condition: DeadLetter['requestContext']['condition'],
  ): void {
    const letter: DeadLetter = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: event.requestId,
        functionArn: `${this.options.functionArn(event.fn)}:$LATEST`,
        condition,
        approximateInvokeCount: event.attempts,
      },
      requestPayload: event.payload,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: failure.name, errorMessage: failure.message },
    };
    if (event.fn.asyncInvoke?.onFailure) letter.destination = event.fn.asyncInvoke.onFailure;
    this.letters.push(letter);
    this.counts.deadLettered += 1;
    this.log(
      `${event.fn.functionName}: async invocation ${event.requestId} dead-lettered after ${event.attempts} ` +
        `attempts (${condition}): ${failure.name}: ${failure.message} — see ${DEAD_LETTERS_PATH}`,
    );
    this.finish();
  }

  private finish(): void {
    this.counts.pending -= 1;
    if (this.counts.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}
