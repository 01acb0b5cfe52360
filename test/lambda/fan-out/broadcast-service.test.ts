import { BroadcastService, type BroadcastServiceOptions } from '../../../lambda/fan-out/broadcast-service';
import type { FanOutBatch, FanOutDispatcher } from '../../../lambda/fan-out/fan-out-batch';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionAudience } from '../../../lambda/shared/connection-repository';
import { metrics } from '../../../lambda/shared/telemetry';

/** A connection audience of fixed pages, recording the order of reads and deletes. */
function fakeConnections(pages: string[][], log: string[]): ConnectionAudience {
  async function* audience(name: string): AsyncIterable<string[]> {
    for (const [index, page] of pages.entries()) {
      log.push(`read ${name} page ${index + 1}`);
      yield page;
    }
  }
  return {
    removeConnection: jest.fn(async (connectionId: string) => {
      log.push(`remove ${connectionId}`);
      return 1;
    }),
    postSubscribers: (postId: string) => audience(`post ${postId}`),
    allConnections: () => audience('all'),
    countConnections: jest.fn(async () => 42),
  };
}

function fakeNotifier(
  log: string[],
  outcomes: Record<string, DeliveryResult | Error> = {},
): ConnectionNotifier {
  return {
    send: async (connectionId: string) => {
      log.push(`send ${connectionId}`);
      const outcome = outcomes[connectionId] ?? { outcome: 'delivered' };
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

/**
 * Records every batch queued, in order. `fail` names the batches (by number) whose queuing fails, or
 * says which ones do.
 */
function fakeDispatcher(
  log: string[],
  fail: number[] | ((batch: FanOutBatch) => boolean) = [],
): FanOutDispatcher & { batches: FanOutBatch[] } {
  const batches: FanOutBatch[] = [];
  const fails = typeof fail === 'function' ? fail : (batch: FanOutBatch) => fail.includes(batch.batch);
  return {
    batches,
    dispatch: async (batch: FanOutBatch) => {
      log.push(`queue batch ${batch.batch} (${batch.connectionIds.length})`);
      if (fails(batch)) throw Object.assign(new Error('rate exceeded'), { name: 'TooManyRequests' });
      batches.push(batch);
    },
  };
}

const throttled: DeliveryResult = { outcome: 'failed', error: new Error('throttled'), retryable: true };
const forbidden: DeliveryResult = { outcome: 'failed', error: new Error('forbidden'), retryable: false };

const ids = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`);

function service(
  pages: string[][],
  log: string[],
  overrides: Partial<BroadcastServiceOptions> = {},
): BroadcastService {
  return new BroadcastService({
    connections: fakeConnections(pages, log),
    notifier: fakeNotifier(log),
    dispatcher: fakeDispatcher(log),
    concurrency: 1,
    retry: { maxAttempts: 3, baseMs: 0, maxMs: 0 },
    batchSize: 3,
    newBroadcastId: () => 'b-1',
    sleep: async () => undefined,
    ...overrides,
  });
}

describe('BroadcastService', () => {
  describe('an audience that fits in one batch', () => {
    it('is delivered inline, page by page, and answered with the outcome counts', async () => {
      // Prepare
      const log: string[] = [];

      // Act
      const summary = await service([['a', 'b'], ['c']], log).broadcast({
        type: 'comment.created',
        data: { postId: 'p1' },
      });

      // Assess
      expect(log).toEqual(['read post p1 page 1', 'read post p1 page 2', 'send a', 'send b', 'send c']);
      expect(summary).toEqual({
        broadcastId: 'b-1',
        connectionCount: 3,
        delivered: 3,
        stale: 0,
        retried: 0,
        failed: 0,
        queued: 0,
        batches: 0,
        handedOn: 0,
      });
    });

    it('addresses every connection when the envelope names no post', async () => {
      // Prepare
      const log: string[] = [];

      // Act
      await service([['a']], log).broadcast({ type: 'system.notice' });

      // Assess
      expect(log).toEqual(['read all page 1', 'send a']);
    });

    it('tallies each outcome, retries only what may succeed, and removes only gone connections', async () => {
      // Prepare
      const log: string[] = [];
      const connections = fakeConnections([['a', 'b', 'c']], log);
      const notifier = fakeNotifier(log, {
        b: { outcome: 'gone' },
        c: { outcome: 'failed', error: new Error('throttled'), retryable: true },
      });

      // Act
      const summary = await service([], log, { connections, notifier }).broadcast({ type: 'system.notice' });

      // Assess
      expect(summary).toMatchObject({ connectionCount: 3, delivered: 1, stale: 1, retried: 2, failed: 1 });
      expect(log.filter((line) => line === 'send c')).toHaveLength(3);
      expect(connections.removeConnection).toHaveBeenCalledTimes(1);
      expect(connections.removeConnection).toHaveBeenCalledWith('b');
    });

    it('answers an empty audience with zero counts', async () => {
      // Act
      const summary = await service([], []).broadcast({ type: 'comment.created', data: { postId: 'quiet' } });

      // Assess
      expect(summary).toMatchObject({ connectionCount: 0, delivered: 0, queued: 0, batches: 0, handedOn: 0 });
    });
  });

  describe('connections an inline delivery could not reach', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    const envelope = { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1', seq: 4 };

    it('hands the ones whose failure may pass to a worker, as generation 2 of batch 1, after its own retries', async () => {
      // Prepare
      const log: string[] = [];
      const dispatcher = fakeDispatcher(log);
      const notifier = fakeNotifier(log, { b: throttled, c: forbidden });
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      const summary = await service([['a', 'b', 'c']], log, { notifier, dispatcher }).broadcast(envelope, {
        correlationId: 'corr-1',
      });

      // Assess
      expect(log.filter((line) => line === 'send b')).toHaveLength(3);
      expect(dispatcher.batches).toEqual([
        {
          broadcastId: 'b-1',
          correlationId: 'corr-1',
          envelope,
          batch: 1,
          generation: 2,
          connectionIds: ['b'],
        },
      ]);
      expect(summary).toEqual({
        broadcastId: 'b-1',
        connectionCount: 3,
        delivered: 1,
        stale: 0,
        retried: 2,
        failed: 2,
        queued: 0,
        batches: 0,
        handedOn: 1,
      });
      expect(addMetric).toHaveBeenCalledWith('FanOutBatchesHandedOn', 'Count', 1);
    });

    it('hands nothing on when every failure is for good (403, 413)', async () => {
      // Prepare
      const dispatcher = fakeDispatcher([]);
      const notifier = fakeNotifier([], { a: forbidden });

      // Act
      const summary = await service([['a', 'b']], [], { notifier, dispatcher }).broadcast(envelope);

      // Assess
      expect(dispatcher.batches).toEqual([]);
      expect(summary).toMatchObject({ delivered: 1, failed: 1, handedOn: 0 });
    });

    it('still answers when they cannot be handed on, counting the loss and reporting none handed on', async () => {
      // Prepare
      const dispatcher = fakeDispatcher([], [1]);
      const notifier = fakeNotifier([], { a: throttled });
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      const summary = await service([['a', 'b']], [], { notifier, dispatcher }).broadcast(envelope);

      // Assess
      expect(summary).toMatchObject({ connectionCount: 2, delivered: 1, failed: 1, handedOn: 0 });
      expect(addMetric).toHaveBeenCalledWith('FanOutHandOnFailures', 'Count', 1);
      expect(addMetric.mock.calls.map(([name]) => name)).not.toContain('FanOutBatchesHandedOn');
    });

    it('hands on what a batch it had to deliver itself missed, under that batch’s number', async () => {
      // Prepare
      const dispatcher = fakeDispatcher([], (batch) => batch.batch === 2 && batch.generation === 1);
      const notifier = fakeNotifier([], { a4: throttled });

      // Act
      const summary = await service([ids('a', 7)], [], {
        notifier,
        dispatcher,
        dispatchConcurrency: 1,
      }).broadcast(envelope);

      // Assess
      expect(
        dispatcher.batches.map(({ batch, generation, connectionIds }) => ({
          batch,
          generation,
          connectionIds,
        })),
      ).toEqual([
        { batch: 1, generation: 1, connectionIds: ['a0', 'a1', 'a2'] },
        { batch: 2, generation: 2, connectionIds: ['a4'] },
        { batch: 3, generation: 1, connectionIds: ['a6'] },
      ]);
      expect(summary).toMatchObject({
        connectionCount: 7,
        delivered: 2,
        failed: 1,
        queued: 4,
        batches: 2,
        handedOn: 1,
      });
    });
  });

  describe('an audience larger than one batch', () => {
    it('is cut into batches of batchSize ids, queued for the workers, none delivered here', async () => {
      // Prepare
      const log: string[] = [];
      const dispatcher = fakeDispatcher(log);
      const envelope = { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1', seq: 4 };

      // Act
      const summary = await service([ids('a', 2), ids('b', 5), ids('c', 1)], log, {
        dispatcher,
        dispatchConcurrency: 1,
      }).broadcast(envelope);

      // Assess
      expect(summary).toEqual({
        broadcastId: 'b-1',
        connectionCount: 8,
        delivered: 0,
        stale: 0,
        retried: 0,
        failed: 0,
        queued: 8,
        batches: 3,
        handedOn: 0,
      });
      expect(dispatcher.batches).toEqual([
        { broadcastId: 'b-1', batch: 1, generation: 1, envelope, connectionIds: ['a0', 'a1', 'b0'] },
        { broadcastId: 'b-1', batch: 2, generation: 1, envelope, connectionIds: ['b1', 'b2', 'b3'] },
        { broadcastId: 'b-1', batch: 3, generation: 1, envelope, connectionIds: ['b4', 'c0'] },
      ]);
      expect(log.some((line) => line.startsWith('send'))).toBe(false);
    });

    it('queues the first batches before it has read the whole audience', async () => {
      // Prepare
      const log: string[] = [];

      // Act
      await service([ids('a', 4), ids('b', 4), ids('c', 4)], log, { dispatchConcurrency: 1 }).broadcast({
        type: 'system.notice',
      });

      // Assess
      expect(log).toEqual([
        'read all page 1',
        'queue batch 1 (3)',
        'read all page 2',
        'queue batch 2 (3)',
        'read all page 3',
        'queue batch 3 (3)',
        'queue batch 4 (3)',
      ]);
    });

    it('delivers a batch that cannot be queued itself, so no batch is dropped', async () => {
      // Prepare
      const log: string[] = [];
      const dispatcher = fakeDispatcher(log, [2]);

      // Act
      const summary = await service([ids('a', 7)], log, { dispatcher, dispatchConcurrency: 1 }).broadcast({
        type: 'system.notice',
      });

      // Assess
      expect(summary).toMatchObject({ connectionCount: 7, delivered: 3, queued: 4, batches: 2 });
      expect(dispatcher.batches.map((batch) => batch.connectionIds)).toEqual([['a0', 'a1', 'a2'], ['a6']]);
      expect(log.filter((line) => line.startsWith('send'))).toEqual(['send a3', 'send a4', 'send a5']);
    });

    it('queues at most dispatchConcurrency batches at once', async () => {
      // Prepare
      let active = 0;
      let maxActive = 0;
      const dispatcher: FanOutDispatcher = {
        dispatch: async () => {
          active += 1;
          maxActive = Math.max(maxActive, active);
          await new Promise((resolve) => setTimeout(resolve, 2));
          active -= 1;
        },
      };

      // Act
      const summary = await service([ids('a', 30)], [], { dispatcher, dispatchConcurrency: 4 }).broadcast({
        type: 'system.notice',
      });

      // Assess
      expect(summary).toMatchObject({ queued: 30, batches: 10 });
      expect(maxActive).toBe(4);
    });
  });

  describe('correlation', () => {
    it('passes the correlation id on in every batch it queues', async () => {
      // Prepare
      const dispatcher = fakeDispatcher([]);

      // Act
      await service([ids('a', 7)], [], { dispatcher }).broadcast(
        { type: 'system.notice' },
        { correlationId: 'corr-1' },
      );

      // Assess
      expect(dispatcher.batches.map((batch) => batch.correlationId)).toEqual(['corr-1', 'corr-1', 'corr-1']);
    });

    it('queues batches without one when it has none', async () => {
      // Prepare
      const dispatcher = fakeDispatcher([]);

      // Act
      await service([ids('a', 4)], [], { dispatcher }).broadcast({ type: 'system.notice' });

      // Assess
      expect(dispatcher.batches.every((batch) => !('correlationId' in batch))).toBe(true);
    });
  });

  describe('FanOutDuration', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    /** A clock that advances `step` ms on every reading. */
    const ticking = (step: number): (() => number) => {
      let now = 1000;
      return () => (now += step);
    };

    it('measures an inline delivery, in milliseconds', async () => {
      // Prepare
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      await service([['a', 'b']], [], { now: ticking(25) }).broadcast({ type: 'system.notice' });

      // Assess
      expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', 25);
    });

    it('measures nothing for an empty audience, or for batches the workers deliver', async () => {
      // Prepare
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      await service([], [], { now: ticking(25) }).broadcast({ type: 'system.notice' });
      await service([ids('a', 6)], [], { now: ticking(25) }).broadcast({ type: 'system.notice' });

      // Assess
      expect(addMetric.mock.calls.map(([name]) => name)).not.toContain('FanOutDuration');
    });

    it('measures a batch it had to deliver itself', async () => {
      // Prepare
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      await service([ids('a', 6)], [], {
        dispatcher: fakeDispatcher([], [2]),
        dispatchConcurrency: 1,
        now: ticking(40),
      }).broadcast({ type: 'system.notice' });

      // Assess
      expect(addMetric.mock.calls.filter(([name]) => name === 'FanOutDuration')).toEqual([
        ['FanOutDuration', 'Milliseconds', 40],
      ]);
    });
  });

  it('counts connections through the repository', async () => {
    // Act
    const count = await service([], []).countConnections();

    // Assess
    expect(count).toBe(42);
  });

  it('refuses a batch size below 1', () => {
    expect(() => service([], [], { batchSize: 0 })).toThrow(RangeError);
  });
});
