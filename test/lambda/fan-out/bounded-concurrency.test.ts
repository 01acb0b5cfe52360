import { forEachBounded } from '../../../lambda/fan-out/bounded-concurrency';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A worker whose calls stay pending until the test settles them, tracking how many run at once. */
function controlledWorker(): {
  worker: (item: number) => Promise<void>;
  pending: Map<number, Deferred>;
  started: number[];
  maxActive: () => number;
} {
  const pending = new Map<number, Deferred>();
  const started: number[] = [];
  let active = 0;
  let max = 0;
  const worker = async (item: number): Promise<void> => {
    started.push(item);
    active += 1;
    max = Math.max(max, active);
    const gate = deferred();
    pending.set(item, gate);
    try {
      await gate.promise;
    } finally {
      active -= 1;
      pending.delete(item);
    }
  };
  return { worker, pending, started, maxActive: () => max };
}

describe('forEachBounded', () => {
  it('never runs more than the limit at once, and starts the next item as soon as a slot frees', async () => {
    // Prepare
    const { worker, pending, started, maxActive } = controlledWorker();
    const items = Array.from({ length: 10 }, (_, i) => i);

    // Act
    const run = forEachBounded(items, 3, worker);
    await settle();
    const startedAtFirst = [...started];
    pending.get(1)?.resolve();
    await settle();
    const startedAfterOne = [...started];
    while (pending.size > 0) {
      for (const gate of [...pending.values()]) gate.resolve();
      await settle();
    }
    await run;

    // Assess
    expect(startedAtFirst).toEqual([0, 1, 2]);
    expect(startedAfterOne).toEqual([0, 1, 2, 3]);
    expect(started).toEqual(items);
    expect(maxActive()).toBe(3);
  });

  it('respects the limit when workers finish out of order', async () => {
    // Prepare
    const { worker, pending, started, maxActive } = controlledWorker();
    const items = Array.from({ length: 25 }, (_, i) => i);

    // Act: always release the newest pending call first
    const run = forEachBounded(items, 4, worker);
    await settle();
    while (pending.size > 0) {
      expect(pending.size).toBeLessThanOrEqual(4);
      [...pending.values()].at(-1)?.resolve();
      await settle();
    }
    await run;

    // Assess
    expect([...started].sort((a, b) => a - b)).toEqual(items);
    expect(maxActive()).toBe(4);
  });

  it('pulls from an async source only when a slot is free', async () => {
    // Prepare
    const { worker, pending } = controlledWorker();
    let pulled = 0;
    async function* source(): AsyncIterable<number> {
      for (let i = 0; i < 5; i += 1) {
        pulled += 1;
        yield i;
      }
    }

    // Act
    const run = forEachBounded(source(), 2, worker);
    await settle();
    const pulledWhileBusy = pulled;
    while (pending.size > 0) {
      for (const gate of [...pending.values()]) gate.resolve();
      await settle();
    }
    await run;

    // Assess
    expect(pulledWhileBusy).toBe(2);
    expect(pulled).toBe(5);
  });

  it('stops starting items after a worker rejects, waits for those in flight, then rethrows the first error', async () => {
    // Prepare
    const { worker, pending, started } = controlledWorker();
    const items = Array.from({ length: 10 }, (_, i) => i);
    let settled = false;

    // Act
    const run = forEachBounded(items, 2, worker).finally(() => {
      settled = true;
    });
    const outcome = expect(run).rejects.toThrow('first');
    await settle();
    pending.get(0)?.reject(new Error('first'));
    await settle();
    const settledWhileOneInFlight = settled;
    pending.get(1)?.reject(new Error('second'));
    await settle();

    // Assess
    await outcome;
    expect(settledWhileOneInFlight).toBe(false);
    expect(started).toEqual([0, 1]);
  });

  it('waits for in-flight work before rethrowing an error from the source', async () => {
    // Prepare
    const { worker, pending } = controlledWorker();
    async function* source(): AsyncIterable<number> {
      yield 1;
      throw new Error('query failed');
    }
    let settled = false;

    // Act
    const run = forEachBounded(source(), 5, worker).finally(() => {
      settled = true;
    });
    const outcome = expect(run).rejects.toThrow('query failed');
    await settle();
    const settledWhileInFlight = settled;
    pending.get(1)?.resolve();

    // Assess
    await outcome;
    expect(settledWhileInFlight).toBe(false);
  });

  it('turns a worker that throws synchronously into a rejection', async () => {
    // Prepare
    const worker = (): Promise<void> => {
      throw new Error('sync');
    };

    // Act
    const run = forEachBounded([1, 2], 2, worker);

    // Assess
    await expect(run).rejects.toThrow('sync');
  });

  it('resolves at once for an empty source', async () => {
    // Prepare
    const worker = jest.fn(async (): Promise<void> => undefined);

    // Act
    await forEachBounded([], 3, worker);

    // Assess
    expect(worker).not.toHaveBeenCalled();
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', async (limit) => {
    // Act
    const run = forEachBounded([1], limit, async () => undefined);

    // Assess
    await expect(run).rejects.toThrow(RangeError);
  });
});
