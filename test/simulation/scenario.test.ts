import '../../simulation/quiet-telemetry';
import { summarize, type ScenarioResult } from '../../simulation/results';
import { AWS_SERVICES, PROD_STAGE, streamSettings, type SimulationSettings } from '../../simulation/settings';
import { buildWorld, runWorld, type Workload } from '../../simulation/system';

/**
 * A small broadcast through the real fan-out code on the modelled services, made hard on purpose: a tight
 * quota (429s), a worker cap below the batches (async throttling), failing pushes (retries, hand-ons) and
 * stale connections (410 and cleanup). Whatever happens, every addressed connection must end delivered,
 * stale or dead-lettered, and the same seed must give the same run.
 */
const stage = {
  ...PROD_STAGE,
  fanOutConcurrency: 8,
  fanOutBatchSize: 100,
  fanOutWorkerConcurrency: 2,
  fanOutRetry: { maxAttempts: 4, baseMs: 20, maxMs: 200 },
};

function settings(seed: number, overrides: Partial<SimulationSettings> = {}): SimulationSettings {
  return {
    seed,
    stage,
    ...AWS_SERVICES,
    managementApi: {
      latency: { p50Ms: 20, p99Ms: 80 },
      admission: { kind: 'tokenBucket', ratePerSecond: 300, burst: 50, otherTrafficPerSecond: 0 },
      errorShare: 0.05,
    },
    stream: streamSettings(stage),
    functions: {
      memoryMb: 256,
      broadcastInitMs: 76,
      workerInitMs: 72,
      publisherInitMs: 76,
      broadcastTimeoutMs: 29_000,
      workerTimeoutMs: 60_000,
      publisherTimeoutMs: 60_000,
    },
    clientCpu: { managementCallMs: 0.3, invokeCallMs: 0.3, dynamodbCallMs: 0.3, dynamodbItemMs: 0.002 },
    staleShare: 0.05,
    ...overrides,
  };
}

const WORKLOAD: Workload = { posts: 2, subscribersPerPost: 300, stream: true };

async function simulate(s: SimulationSettings, workload = WORKLOAD): Promise<ScenarioResult> {
  const world = buildWorld(s, workload);
  await runWorld(world);
  return summarize(world, { name: 'test', label: 'test', wallMs: 0, payloadBytes: 300 });
}

describe('a small, hard broadcast through the real fan-out code', () => {
  let first: ScenarioResult;

  beforeAll(async () => {
    first = await simulate(settings(42));
  });

  it('accounts for every addressed connection: delivered, stale or dead-lettered, none lost', () => {
    const { addressed, delivered, stale, deadLettered, lost } = first.outcomes;
    expect(addressed).toBe(600);
    expect(lost).toBe(0);
    expect(delivered + stale + deadLettered).toBe(addressed);
    expect(stale).toBeGreaterThan(0);
    expect(first.outcomes.duplicates).toBe(0);
  });

  it('went through the hard parts: 429s, retries, async throttles and both publishing paths', () => {
    expect(first.managementApi.throttled).toBeGreaterThan(0);
    expect(first.code.retried).toBeGreaterThan(0);
    expect(first.code.batchesQueued).toBe(6);
    expect(first.lambda.asyncThrottles).toBeGreaterThan(0);
    expect(first.lambda.peakWorkerConcurrency).toBe(2);
    expect(first.code.fastPathPublished).toBe(2);
    expect(first.stream?.invocations).toBeGreaterThan(0);
  });

  it('is deterministic: the same seed gives the same run, another seed another', async () => {
    const again = await simulate(settings(42));
    const other = await simulate(settings(43));
    const comparable = (r: ScenarioResult) => ({ ...r, run: { ...r.run, wallMs: 0 } });
    expect(comparable(again)).toEqual(comparable(first));
    expect(other.timing.lastDeliveryMs).not.toBe(first.timing.lastDeliveryMs);
  });

  it('dead-letters exactly the connections a failing Management API never reached', async () => {
    const down = await simulate(
      settings(7, { managementApi: { ...settings(7).managementApi, errorShare: 1 } }),
      { posts: 1, subscribersPerPost: 250, stream: false },
    );
    const { addressed, delivered, stale, deadLettered, lost } = down.outcomes;
    expect(delivered).toBe(0);
    expect(lost).toBe(0);
    expect(stale + deadLettered).toBe(addressed);
    expect(down.lambda.deadLetterRecords).toBeGreaterThan(0);
  });
});
