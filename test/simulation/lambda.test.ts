import { VirtualClock } from '../../simulation/clock';
import { LambdaModel, type FunctionSpec, type LambdaSettings } from '../../simulation/models/lambda';
import { seededRandom } from '../../simulation/random';
import { AWS_SERVICES } from '../../simulation/settings';
import { LambdaFanOutDispatcher } from '../../lambda/fan-out/fan-out-batch';
import { callerOn, FREE_CPU } from './model-fixtures';

const FIXED = { p50Ms: 10, p99Ms: 10 };
const SETTINGS: LambdaSettings = {
  ...AWS_SERVICES.lambda,
  invokeLatency: FIXED,
  asyncStartDelay: FIXED,
};

interface Run {
  at: number;
  event: unknown;
}

function world(settings: Partial<LambdaSettings> = {}) {
  const clock = new VirtualClock();
  const lambda = new LambdaModel(clock, seededRandom(3), { ...SETTINGS, ...settings });
  const runs: Run[] = [];
  const register = (spec: Partial<FunctionSpec> & { work?: (event: unknown) => Promise<unknown> }) =>
    lambda.register({
      name: 'fn',
      memoryMb: 1769,
      timeoutMs: 60_000,
      maxRetries: 2,
      maxEventAgeMs: 6 * 60 * 60 * 1000,
      initMs: 100,
      init: () => async (event) => {
        runs.push({ at: clock.now(), event });
        return spec.work ? spec.work(event) : undefined;
      },
      ...spec,
    });
  return { clock, lambda, runs, register };
}

describe('LambdaModel', () => {
  it('runs an async event after the queue delay, with a cold start of init ÷ CPU share, then warm', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world();
    register({ memoryMb: 256, initMs: 72 });

    // Act
    lambda.enqueue('fn', JSON.stringify({ n: 1 }));
    await clock.run();
    clock.schedule(0, () => lambda.enqueue('fn', JSON.stringify({ n: 2 })));
    const second = clock.now();
    await clock.run();

    // Assess: 10 ms in the queue, then 72 ms of one core at 256/1769 of a vCPU.
    expect(runs[0]?.event).toEqual({ n: 1 });
    expect(runs[0]?.at).toBeCloseTo(10 + 72 / (256 / 1769), 6);
    expect(runs[1]?.at).toBeCloseTo(second + 10, 6);
    expect(lambda.stats('fn').coldStarts).toBe(1);
    expect(lambda.stats('fn').invocations).toBe(2);
  });

  it('throttles events beyond reserved concurrency and retries them after about 1 s, then 2 s …', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world();
    register({ reservedConcurrency: 2, initMs: 0, work: () => clock.sleep(1500) });

    // Act
    for (let i = 0; i < 3; i += 1) lambda.enqueue('fn', JSON.stringify({ i }));
    await clock.run();

    // Assess
    const stats = lambda.stats('fn');
    expect(runs).toHaveLength(3);
    expect(stats.concurrency.peak).toBe(2);
    expect(stats.throttles).toBeGreaterThanOrEqual(1);
    // The third waited for at least one throttle backoff (0.5–1.5 s) and started after a slot freed.
    expect(runs[2]?.at).toBeGreaterThan(1500);
  });

  it('retries a failed run twice, about 1 and 2 minutes later, then dead-letters the event', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world();
    register({
      initMs: 0,
      work: async () => {
        throw new Error('boom');
      },
    });

    // Act
    lambda.enqueue('fn', JSON.stringify({ batch: 7 }));
    await clock.run();

    // Assess
    expect(runs.map((r) => Math.round(r.at))).toEqual([10, 60_010, 180_010]);
    expect(lambda.deadLetters).toEqual([
      expect.objectContaining({ functionName: 'fn', condition: 'RetriesExhausted', event: { batch: 7 } }),
    ]);
  });

  it('dead-letters an event that outlived its maximum age while throttled', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world();
    register({ reservedConcurrency: 1, maxEventAgeMs: 5_000, initMs: 0, work: () => clock.sleep(10_000) });

    // Act
    lambda.enqueue('fn', '{"first":true}');
    lambda.enqueue('fn', '{"second":true}');
    await clock.run();

    // Assess
    expect(runs).toHaveLength(1);
    expect(lambda.deadLetters).toEqual([
      expect.objectContaining({ condition: 'EventAgeExceeded', event: { second: true } }),
    ]);
  });

  it('creates at most the scaling burst of new environments at once, and counts the account limit', async () => {
    // Prepare
    const { clock, lambda, register } = world({
      scalingBurst: 3,
      scalingRefillPerSecond: 1,
      accountConcurrency: 100,
    });
    register({ initMs: 0, work: () => clock.sleep(100) });

    // Act
    for (let i = 0; i < 5; i += 1) lambda.enqueue('fn', '{}');
    await clock.run();

    // Assess
    const stats = lambda.stats('fn');
    expect(stats.scalingRefusals).toBeGreaterThanOrEqual(2);
    expect(stats.invocations).toBe(5);
    expect(lambda.account.peak).toBe(3);
  });

  it('runs every invocation at once in one environment in the local mode', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world({ mode: 'local' });
    register({ initMs: 500, work: () => clock.sleep(100) });

    // Act
    for (let i = 0; i < 10; i += 1) lambda.enqueue('fn', '{}');
    await clock.run();

    // Assess
    expect(runs.every((r) => r.at === 0)).toBe(true);
    expect(lambda.stats('fn').concurrency.peak).toBe(10);
    expect(lambda.stats('fn').coldStarts).toBe(0);
  });

  it('holds a function to its reserved concurrency in the local mode, as the local stack does', async () => {
    // Prepare
    const { clock, lambda, runs, register } = world({
      mode: 'local',
      throttleRetryFirstMs: 1,
      throttleRetryMaxMs: 1,
    });
    register({ reservedConcurrency: 2, initMs: 500, work: () => clock.sleep(100) });

    // Act
    for (let i = 0; i < 10; i += 1) lambda.enqueue('fn', '{}');
    await clock.run();

    // Assess
    expect(runs).toHaveLength(10);
    expect(lambda.stats('fn').concurrency.peak).toBe(2);
    expect(lambda.stats('fn').coldStarts).toBe(0);
  });

  it("answers our LambdaFanOutDispatcher's Invoke with 202, and 413 above the async payload limit", async () => {
    // Prepare
    const { clock, lambda, runs, register } = world({ maxAsyncPayloadBytes: 2_000 });
    register({ initMs: 0 });
    const dispatcher = new LambdaFanOutDispatcher(lambda.client(callerOn(clock), FREE_CPU), 'fn');
    const batch = (ids: number) => ({
      broadcastId: 'b',
      batch: 1,
      generation: 1,
      envelope: { type: 'comment.created' },
      connectionIds: Array.from({ length: ids }, (_, i) => `id-${i}`),
    });

    // Act
    const small = dispatcher.dispatch(batch(3));
    const large = dispatcher.dispatch(batch(500)).catch((error: Error) => error.name);
    await clock.run();

    // Assess
    await expect(small).resolves.toBeUndefined();
    await expect(large).resolves.toBe('RequestEntityTooLargeException');
    expect(runs.map((r) => (r.event as { connectionIds: string[] }).connectionIds.length)).toEqual([3]);
  });
});
