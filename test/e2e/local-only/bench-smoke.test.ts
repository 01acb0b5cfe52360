import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_BENCH_CONFIG, type BenchConfig } from '../../../bench/config';
import { runBench } from '../../../bench/harness';
import { writeResults } from '../../../bench/report';
import type { BenchResult } from '../../../bench/result';
import { loadBenchTarget, resetFaults } from '../../../bench/target';

/**
 * The benchmark harness (`npm run bench`) at tiny sizes against the e2e local stack, so that it cannot rot:
 * every measurement runs, every client gets every event, and the files are written. Nothing here is timed.
 */
const TINY: BenchConfig = {
  ...DEFAULT_BENCH_CONFIG,
  workers: 2,
  fanOutSizes: [5],
  strategyAudiences: [10],
  createSubscribers: 5,
  smallSubscribers: 5,
  creates: 3,
  postWriteRateWriters: 3,
  postWriteRateMs: 1000,
  concurrentBroadcasts: 5,
  coldStartRuns: 1,
  strategyBudgetMs: 10_000,
  deliveryTimeoutMs: 15_000,
};

function outputsFile(): string {
  const file = process.env.E2E_LOCAL_OUTPUTS_FILE;
  if (!file) throw new Error('the bench smoke test needs the local stack');
  return file;
}

let result: BenchResult;
let resultsDir: string;
const log: string[] = [];

beforeAll(async () => {
  resultsDir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  result = await runBench({
    outputsFile: outputsFile(),
    assemblyDir: process.env.E2E_LOCAL_ASSEMBLY_DIR ?? '',
    config: TINY,
    log: (line) => log.push(line),
  });
}, 240_000);

afterAll(async () => {
  await resetFaults(loadBenchTarget(outputsFile()));
  if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
});

it('delivers the fan-out to every client on each path', () => {
  expect(result.fanOut).toHaveLength(1);
  const [row] = result.fanOut;
  expect(row?.clients).toBe(5);
  for (const stats of [row?.ours, row?.plainWs, row?.managementApi]) {
    expect(stats).toMatchObject({ expected: 5, received: 5, lost: 0 });
    expect(stats?.p50Ms).toEqual(expect.any(Number));
    expect(stats?.deliveriesPerSecond).toEqual(expect.any(Number));
  }
});

it('runs the three strategies under the latency fault with nothing lost', () => {
  expect(result.strategies).toMatchObject({ latencyMs: 20, theoreticalBoundPerSecond: 2500 });
  expect(result.strategies.rows.map((row) => row.strategy)).toEqual([
    'broadcast handler',
    'sequential loop',
    'Promise.all',
  ]);
  for (const row of result.strategies.rows) {
    expect(row).toMatchObject({
      audience: 10,
      attempted: 10,
      delivered: 10,
      received: 10,
      failed: 0,
      lost: 0,
    });
  }
});

it('measures comment creates with and without subscribers, every fan-out complete', () => {
  expect(result.createLatency.rows).toEqual([
    expect.objectContaining({ subscribers: 0, creates: 3 }),
    expect.objectContaining({ subscribers: 5, creates: 3, completeFanOuts: 3 }),
  ]);
});

it('counts one delivery per subscriber per event without faults', () => {
  expect(result.createLatency.rows[1]?.deliveriesPerSubscriberPerEvent).toBe(1);
});

it('measures writes to one post: only 201 or 503, each 201 stored once', () => {
  expect(result.postWriteRate).toMatchObject({ writers: 3, otherFailures: 0, seqGapless: true });
  expect(result.postWriteRate?.created).toBeGreaterThan(0);
});

it('reads the subscribers with a Query and the baseline with a Scan of every row', () => {
  const { query, scan } = result.readCost;
  expect(query.itemsReturned).toBe(5);
  expect(scan.itemsReturned).toBe(5);
  // 10 connection rows plus 10 + 5 subscription rows at least (other tests' rows may be there too).
  expect(scan.itemsRead).toBeGreaterThanOrEqual(25);
  expect(query.consumedCapacityUnits).toBeGreaterThan(0);
});

it('delivers every one of the concurrent broadcasts', () => {
  expect(result.concurrentBroadcasts).toMatchObject({
    broadcasts: 5,
    subscribers: 5,
    expectedDeliveries: 25,
    reportedDelivered: 25,
    received: 25,
    failedRequests: 0,
  });
});

it('sizes every bundle and times its initialisation', () => {
  expect(result.coldStart.length).toBeGreaterThanOrEqual(4);
  for (const row of result.coldStart) {
    expect(row.error).toBeUndefined();
    expect(row.bundleBytes).toBeGreaterThan(0);
    expect(row.initMs).toEqual(expect.any(Number));
  }
});

it('writes the JSON, the SVG chart and the markdown table', async () => {
  const files = await writeResults(result, resultsDir, { latest: true });

  expect(JSON.parse(readFileSync(path.join(resultsDir, 'latest.json'), 'utf8'))).toEqual(
    JSON.parse(JSON.stringify(result)),
  );
  expect(readFileSync(files.svg, 'utf8')).toContain('<svg');
  expect(readFileSync(files.markdown, 'utf8')).toContain('| clients | path |');
  expect(result.machine.cpus).toBeGreaterThan(0);
  expect(log.some((line) => line.startsWith('connecting'))).toBe(true);
});
