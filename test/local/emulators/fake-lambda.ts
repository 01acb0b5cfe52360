import { sleep } from '../../../contracts/backoff';
import type { LocalLambda } from '../../../local/emulators/lambda-runtime';

/** The parts of an API Gateway event the local-stack tests read; the rest is checked with toMatchObject. */
export interface RecordedEvent {
  requestContext: { routeKey: string; connectionId: string; eventType?: string } & Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * A stand-in for a LocalLambda: `invoke` is a jest.fn that records each event and answers with `respond`.
 * `waitForEvent` lets a test wait for an invocation that a socket or a timer causes, without sleeping.
 */
export class FakeLambda {
  readonly events: RecordedEvent[] = [];
  readonly invoke: jest.Mock<Promise<unknown>, [RecordedEvent]>;
  private waiters: {
    predicate: (event: RecordedEvent) => boolean;
    resolve: (event: RecordedEvent) => void;
  }[] = [];

  constructor(respond: (event: RecordedEvent) => unknown = () => undefined) {
    this.invoke = jest.fn(async (event: RecordedEvent) => {
      this.events.push(event);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(event)) return true;
        waiter.resolve(event);
        return false;
      });
      return respond(event);
    });
  }

  /** Resolves with the first recorded or future event matching the predicate. */
  waitForEvent(
    predicate: (event: RecordedEvent) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<RecordedEvent> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(
          new Error(`no matching invocation within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`),
        );
      }, timeoutMs);
      const done = (event: RecordedEvent): void => {
        clearTimeout(timer);
        resolve(event);
      };
      this.waiters.push({ predicate, resolve: done });
    });
  }
}

/** The `lambdas` map the gateways take, keyed by function key. */
export function lambdaMap(lambdas: Record<string, FakeLambda>): Map<string, LocalLambda> {
  return new Map(Object.entries(lambdas).map(([key, fake]) => [key, fake as unknown as LocalLambda]));
}

/** Polls a condition a test cannot wait for by event (e.g. the server has dropped a connection). */
export async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}
