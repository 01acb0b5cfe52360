import { poolSize, type BenchConfig } from './config';
import { cpuBusyShare, machineInfo } from './machine';
import { MeasurementContext } from './measurement-context';
import { measureColdStarts } from './measurements/cold-start';
import { measureConcurrentBroadcasts } from './measurements/concurrent-broadcasts';
import { measureCreateLatency } from './measurements/create-latency';
import { measurePostWriteRate } from './measurements/post-write-rate';
import { measureFanOutStrategies } from './measurements/fan-out-strategies';
import { measureFanOutToClients } from './measurements/fan-out-to-clients';
import { measureReadCost } from './measurements/read-cost';
import { readingNotes } from './reading-notes';
import type { BenchResult } from './result';
import { loadBenchTarget, resetFaults } from './target';

export interface HarnessOptions {
  /** The local stack's outputs file (`npm start` / the e2e setup / bench/run.ts write one). */
  outputsFile: string;
  /** Its synthesized cloud assembly (LOCAL_ASSEMBLY_DIR), for the cold-start measurement. */
  assemblyDir: string;
  config: BenchConfig;
  log?: (line: string) => void;
  /**
   * Called once every measurement is done, before the client connections are closed. run.ts stops its own
   * stack here: closing 10,000 clients first would start 10,000 $disconnects on a stack about to go away.
   * Without it, the clients close with close frames so that a shared stack is left clean.
   */
  beforeClosingClients?: () => Promise<void>;
  /** Measured by run.ts before it starts its stack; otherwise sampled here, with the stack idle. */
  cpuBusyBeforeStart?: number;
}

/**
 * Runs every measurement (bench/measurements/) against the local stack named by the outputs file, in
 * this order, and returns the result.
 */
export async function runBench(options: HarnessOptions): Promise<BenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench] ${line}\n`));
  const { config } = options;
  const target = loadBenchTarget(options.outputsFile);
  const startedAt = new Date();
  const machine = machineInfo(options.cpuBusyBeforeStart ?? (await cpuBusyShare(1_000)));
  await resetFaults(target);

  // Cold starts first, while the machine is idle: they time fresh processes.
  const coldStart = await measureColdStarts(options.assemblyDir, config.coldStartRuns, log);

  const context = await MeasurementContext.start(target, config, log);
  try {
    const setup = await context.connect();
    await context.warmUp();
    const readCost = await measureReadCost(context);
    const fanOut = await measureFanOutToClients(context);
    const createLatency = await measureCreateLatency(context);
    const postWriteRate = await measurePostWriteRate(context);
    const concurrentBroadcasts = await measureConcurrentBroadcasts(context);
    const strategies = await measureFanOutStrategies(context);
    const finishedAt = new Date();
    return {
      schemaVersion: 1,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      machine,
      config,
      liveConnections: poolSize(config),
      setup,
      fanOut,
      strategies,
      createLatency,
      postWriteRate,
      readCost,
      concurrentBroadcasts,
      coldStart,
      notes: [...context.notes, ...readingNotes(machine, createLatency, strategies)],
    };
  } finally {
    if (options.beforeClosingClients) {
      await options.beforeClosingClients();
    } else {
      await resetFaults(target).catch(() => undefined);
      log('closing client connections …');
      await context.pool.closePool('api', true).catch(() => undefined);
    }
    await context.pool.stop();
  }
}
