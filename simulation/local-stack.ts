import { readFileSync } from 'node:fs';
import type { ClientCpuCosts } from './models/environment';
import {
  AWS_SERVICES,
  DEV_STAGE,
  streamSettings,
  type FunctionSettings,
  type SimulationSettings,
} from './settings';

/**
 * The local stack as a model, to check the simulation against what the benchmark measured on this
 * machine (bench/results/latest.json, fan-out to real clients):
 * - one gateway process answers every Management API call (and every Lambda Invoke), at most as fast as
 *   the "Management API alone" row of the same size measured: calls queue there, they are never refused;
 * - each function is one worker thread: every invocation of the fan-out worker runs at once in it, with no
 *   concurrency limit and no cold start, sharing its one SDK client, so at most 50 pushes are on the wire
 *   for all batches together (the SDK's default agent), and one thread's CPU for their client work;
 * - DynamoDB Local answers in the time the benchmark's read-cost row measured;
 * - the comments API commits and calls the broadcast API after the idle create latency the bench measured.
 */
export interface BenchFanOutRow {
  clients: number;
  ours: { p50Ms: number; maxMs: number; deliveriesPerSecond: number };
  managementApi: { p50Ms: number; maxMs: number; deliveriesPerSecond: number };
}

export interface BenchFile {
  startedAt: string;
  config: { stage: string; ceilingConcurrency: number; fanOutConcurrency: number };
  fanOut: BenchFanOutRow[];
  createLatency: { rows: { subscribers: number; p50Ms: number; p99Ms: number }[] };
  readCost: { query: { durationMs: number } };
  coldStart: { function: string; initMs: number }[];
}

export function readBench(path: string): BenchFile {
  return JSON.parse(readFileSync(path, 'utf8')) as BenchFile;
}

/** Module init of a function from the bench's cold-start rows, in ms of one core. */
export function initMsOf(bench: BenchFile, entry: string): number {
  const row = bench.coldStart.find((r) => r.function === entry);
  if (!row) throw new Error(`bench results have no cold-start row for ${entry}`);
  return row.initMs;
}

/** The fan-out functions as deployed (arm64, the stage's memory), init as measured. */
export function deployedFunctions(bench: BenchFile, memoryMb: number): FunctionSettings {
  const broadcastInitMs = initMsOf(bench, 'lambda/broadcast/handler.ts');
  return {
    memoryMb,
    broadcastInitMs,
    workerInitMs: initMsOf(bench, 'lambda/fan-out-worker/handler.ts'),
    // The bench has no row for the stream publisher; it loads the same wiring as the broadcast function.
    publisherInitMs: broadcastInitMs,
    broadcastTimeoutMs: 29_000,
    workerTimeoutMs: 60_000,
    publisherTimeoutMs: 60_000,
  };
}

export function localStackSettings(
  bench: BenchFile,
  clients: number,
  clientCpu: ClientCpuCosts,
  seed: number,
): SimulationSettings {
  const row = bench.fanOut.find((r) => r.clients === clients);
  if (!row) throw new Error(`bench results have no fan-out row for ${clients} clients`);
  const idle = bench.createLatency.rows.find((r) => r.subscribers === 0);
  const queryMs = bench.readCost.query.durationMs;
  return {
    seed,
    stage: DEV_STAGE,
    managementApi: {
      // Loopback plus the gateway's own work for one call beyond its queue: small, and not measured apart.
      latency: { p50Ms: 1, p99Ms: 5 },
      admission: { kind: 'server', callsPerSecond: row.managementApi.deliveriesPerSecond },
      errorShare: 0,
    },
    lambda: {
      ...AWS_SERVICES.lambda,
      mode: 'local',
      invokeLatency: { p50Ms: 2, p99Ms: 10 },
      asyncStartDelay: { p50Ms: 1, p99Ms: 1 },
      errorRetryDelaysMs: [1_000, 2_000],
      // A throttled event waits in the local queue and runs as soon as an invocation ends.
      throttleRetryFirstMs: 1,
      throttleRetryMaxMs: 1,
    },
    dynamodb: {
      ...AWS_SERVICES.dynamodb,
      latency: { p50Ms: queryMs, p99Ms: queryMs * 2 },
      transferMsPerMb: 0,
      partitionReadUnitsPerSecond: Number.POSITIVE_INFINITY,
      partitionWriteUnitsPerSecond: Number.POSITIVE_INFINITY,
    },
    stream: streamSettings(DEV_STAGE),
    functions: {
      ...deployedFunctions(bench, DEV_STAGE.fanOutMemoryMb),
      broadcastInitMs: 0,
      workerInitMs: 0,
      publisherInitMs: 0,
    },
    fastPathDelay: { p50Ms: idle?.p50Ms ?? 17, p99Ms: Math.max(idle?.p99Ms ?? 17, idle?.p50Ms ?? 17) },
    clientCpu,
    staleShare: 0,
  };
}
