/**
 * Runs `worker` over every item of `source` with at most `limit` calls in flight. Items are pulled only
 * when a slot is free, so a paged source (one DynamoDB Query per page) is read as the work progresses
 * instead of being buffered up front.
 *
 * If a worker rejects, no further items are started; the calls already in flight are awaited and the
 * first rejection is rethrown. If the source throws, in-flight calls are awaited before it is rethrown,
 * so nothing is left running after this returns.
 */
export async function forEachBounded<T>(
  source: AsyncIterable<T> | Iterable<T>,
  limit: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Concurrency limit must be a positive integer, got ${limit}`);
  }
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  /** Resolves the loop's wait for a free slot; a settled task calls it. */
  let slotFreed: (() => void) | undefined;

  const start = (item: T): void => {
    const task: Promise<void> = Promise.resolve()
      .then(() => worker(item))
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        inFlight.delete(task);
        slotFreed?.();
      });
    inFlight.add(task);
  };

  try {
    for await (const item of source) {
      if (failure) break;
      start(item);
      // Wait for a free slot before pulling the next item from the source.
      // (One waiter, woken by whichever task settles first: Promise.race over every task in flight would
      // add a reaction to each of them per item, O(limit) work and garbage for every item.)
      while (inFlight.size >= limit) await new Promise<void>((resolve) => (slotFreed = resolve));
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failure) throw failure.error;
}
