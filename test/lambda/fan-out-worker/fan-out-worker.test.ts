import type { FanOutBatch, FanOutDispatcher } from '../../../lambda/fan-out/fan-out-batch';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionAudience } from '../../../lambda/shared/connection-repository';
import {
  FanOutBatchFailedError,
  FanOutWorker,
  type FanOutWorkerOptions,
} from '../../../lambda/fan-out-worker/fan-out-worker';
import { metrics } from '../../../lambda/shared/telemetry';

const MAX_GENERATIONS = 3;

const batchOf = (connectionIds: string[], generation = 1): FanOutBatch => ({
  broadcastId: 'b-1',
  batch: 2,
  generation,
  envelope: { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e-1', seq: 3 },
  connectionIds,
});

const failure = (retryable: boolean): DeliveryResult => ({
  outcome: 'failed',
  error: Object.assign(new Error('no'), { name: retryable ? 'LimitExceededException' : 'Forbidden' }),
  retryable,
});

function worker(
  outcomes: Record<string, DeliveryResult>,
  overrides: Partial<FanOutWorkerOptions> = {},
): {
  worker: FanOutWorker;
  sent: { connectionId: string; payload: string }[];
  handedOn: FanOutBatch[];
  connections: ConnectionAudience;
} {
  const sent: { connectionId: string; payload: string }[] = [];
  const handedOn: FanOutBatch[] = [];
  const notifier: ConnectionNotifier = {
    send: async (connectionId, payload) => {
      sent.push({ connectionId, payload });
      return outcomes[connectionId] ?? { outcome: 'delivered' };
    },
  };
  const dispatcher: FanOutDispatcher = {
    dispatch: async (batch) => {
      handedOn.push(batch);
    },
  };
  const connections = { removeConnection: jest.fn(async () => 1) } as unknown as ConnectionAudience;
  return {
    worker: new FanOutWorker({
      connections,
      notifier,
      dispatcher,
      concurrency: 2,
      retry: { maxAttempts: 2, baseMs: 0, maxMs: 0 },
      maxGenerations: MAX_GENERATIONS,
      sleep: async () => undefined,
      ...overrides,
    }),
    sent,
    handedOn,
    connections,
  };
}

describe('FanOutWorker', () => {
  it('pushes the envelope, exactly as queued, to every connection of its batch', async () => {
    // Prepare
    const { worker: subject, sent, handedOn } = worker({});
    const batch = batchOf(['a', 'b', 'c']);

    // Act
    const summary = await subject.deliver(batch);

    // Assess
    expect(summary).toEqual({
      broadcastId: 'b-1',
      batch: 2,
      generation: 1,
      connectionCount: 3,
      delivered: 3,
      stale: 0,
      retried: 0,
      failed: 0,
      handedOn: 0,
    });
    expect(sent.map((push) => push.connectionId).sort()).toEqual(['a', 'b', 'c']);
    for (const push of sent) expect(JSON.parse(push.payload)).toEqual(batch.envelope);
    expect(handedOn).toEqual([]);
  });

  it('deletes gone connections and counts them stale, which needs no further attempt', async () => {
    // Prepare
    const { worker: subject, handedOn, connections } = worker({ b: { outcome: 'gone' } });

    // Act
    const summary = await subject.deliver(batchOf(['a', 'b']));

    // Assess
    expect(summary).toMatchObject({ delivered: 1, stale: 1, failed: 0, handedOn: 0 });
    expect(connections.removeConnection).toHaveBeenCalledWith('b');
    expect(handedOn).toEqual([]);
  });

  it('hands on exactly the ids that failed with a retryable error, as the next generation, and succeeds', async () => {
    // Prepare: b keeps failing with a retryable error, d is refused for good (403/413).
    const { worker: subject, sent, handedOn } = worker({ b: failure(true), d: failure(false) });

    // Act
    const summary = await subject.deliver(batchOf(['a', 'b', 'c', 'd']));

    // Assess
    expect(summary).toMatchObject({ delivered: 2, retried: 1, failed: 2, handedOn: 1 });
    expect(sent.filter((push) => push.connectionId === 'b')).toHaveLength(2);
    expect(sent.filter((push) => push.connectionId === 'd')).toHaveLength(1);
    expect(handedOn).toEqual([{ ...batchOf(['b'], 2), connectionIds: ['b'] }]);
  });

  it('neither retries nor dead-letters connections refused for good, even when none was reached', async () => {
    // Prepare
    const { worker: subject, handedOn } = worker({ a: failure(false), b: failure(false) });

    // Act
    const summary = await subject.deliver(batchOf(['a', 'b']));

    // Assess
    expect(summary).toMatchObject({ delivered: 0, failed: 2, handedOn: 0 });
    expect(handedOn).toEqual([]);
  });

  it('fails when it reached none of its connections, so Lambda retries the event as is', async () => {
    // Prepare
    const { worker: subject, handedOn } = worker({ a: failure(true), b: failure(true) });

    // Act
    const run = subject.deliver(batchOf(['a', 'b']));

    // Assess
    await expect(run).rejects.toThrow(FanOutBatchFailedError);
    expect(handedOn).toEqual([]);
  });

  it('dead-letters a batch handed on beyond the last generation without pushing anything', async () => {
    // Prepare
    const { worker: subject, sent } = worker({});

    // Act
    const run = subject.deliver(batchOf(['a'], MAX_GENERATIONS + 1));

    // Assess
    await expect(run).rejects.toThrow(/after 3 generations/);
    expect(sent).toEqual([]);
  });

  it('delivers the last generation, and hands its failures on to be dead-lettered', async () => {
    // Prepare
    const { worker: subject, handedOn } = worker({ b: failure(true) });

    // Act
    await subject.deliver(batchOf(['a', 'b'], MAX_GENERATIONS));

    // Assess
    expect(handedOn.map((batch) => [batch.generation, batch.connectionIds])).toEqual([
      [MAX_GENERATIONS + 1, ['b']],
    ]);
  });

  it('fails the whole batch when the failed ids cannot be handed on', async () => {
    // Prepare
    const dispatcher: FanOutDispatcher = {
      dispatch: () => Promise.reject(Object.assign(new Error('rate'), { name: 'TooManyRequestsException' })),
    };
    const { worker: subject } = worker({ b: failure(true) }, { dispatcher });

    // Act
    const run = subject.deliver(batchOf(['a', 'b']));

    // Assess
    await expect(run).rejects.toThrow('rate');
  });

  describe('FanOutDuration', () => {
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('measures each batch it delivers, in milliseconds', async () => {
      // Prepare
      const addMetric = jest.spyOn(metrics, 'addMetric');
      let now = 0;
      const { worker: subject } = worker({}, { now: () => (now += 75) });

      // Act
      await subject.deliver(batchOf(['a', 'b']));

      // Assess
      expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', 75);
    });

    it('measures nothing for a batch beyond the last generation, which it does not deliver', async () => {
      // Prepare
      const addMetric = jest.spyOn(metrics, 'addMetric');
      const { worker: subject } = worker({});

      // Act
      await expect(subject.deliver(batchOf(['a'], MAX_GENERATIONS + 1))).rejects.toThrow(
        FanOutBatchFailedError,
      );

      // Assess
      expect(addMetric.mock.calls.map(([name]) => name)).not.toContain('FanOutDuration');
    });
  });

  it('hands the correlation id on with the failed ids', async () => {
    // Prepare
    const { worker: subject, handedOn } = worker({ b: failure(true) });

    // Act
    await subject.deliver({ ...batchOf(['a', 'b']), correlationId: 'corr-1' });

    // Assess
    expect(handedOn.map((batch) => batch.correlationId)).toEqual(['corr-1']);
  });
});
