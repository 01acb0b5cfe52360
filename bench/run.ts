/**
 * `npm run bench`: starts its own local stack on ports of its own, runs every measurement against it
 * (bench/harness.ts), prints the tables and writes bench/results/<timestamp>.{json,svg,md} plus the
 * latest.* copies the README shows, and writes the tables into docs/performance.md between its markers.
 * Sizes come from BENCH_* variables (bench/config.ts). With BENCH_OUTPUTS_FILE set it uses that running local stack instead of starting one.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  REPO_ROOT,
  startLocalStackProcess,
  type LocalStackProcess,
} from '../local/launch/local-stack-process';
import { booleanEnv, optionalEnv, positiveIntEnv } from '../contracts/env-reader';
import { configFromEnv } from './config';
import { runBench } from './harness';
import { cpuBusyShare } from './machine';
import { updatePerformanceDoc } from './performance-doc';
import { toMarkdown, writeResults } from './report';

process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

const PERFORMANCE_DOC = path.join(REPO_ROOT, 'docs', 'performance.md');

/** However the run goes, it ends by itself: past this, the stack is stopped and the process exits. */
const WATCHDOG_MS = positiveIntEnv('BENCH_MAX_MINUTES', 20) * 60_000;

/** If the stack dies mid-run, say so with the end of what it printed, rather than only "fetch failed". */
function watchForCrash(stack: LocalStackProcess): void {
  let tail = '';
  stack.child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  });
  stack.child.once('exit', (code, signal) => {
    if (!stopping)
      log(`the local stack exited during the run (${signal ?? `code ${code}`}):\n${tail.trim()}`);
  });
}

let stopping = false;

async function main(): Promise<void> {
  const started = Date.now();
  // Every setting is read before anything starts, so a malformed one fails at once, not after the run.
  const config = configFromEnv();
  const defaultResultsDir = path.join(REPO_ROOT, 'bench', 'results');
  const resultsDir = path.resolve(optionalEnv('BENCH_RESULTS_DIR', defaultResultsDir));
  const latest = booleanEnv('BENCH_LATEST', true);
  // Only the repository's own latest run is what the docs quote: a run kept elsewhere leaves them alone.
  const updateDocs = latest && resultsDir === defaultResultsDir;
  let stack: LocalStackProcess | undefined;
  let outputsFile = optionalEnv('BENCH_OUTPUTS_FILE', '');
  let assemblyDir = optionalEnv('LOCAL_ASSEMBLY_DIR', path.join(REPO_ROOT, 'cdk.out.local'));
  const stopStack = async (): Promise<void> => {
    const running = stack;
    stack = undefined;
    if (running) {
      stopping = true;
      log('stopping the local stack …');
      await running.stop();
    }
  };
  process.once('SIGINT', () => {
    void stopStack().finally(() => process.exit(130));
  });
  const watchdog = setTimeout(() => {
    log(`still running after ${WATCHDOG_MS / 60_000} min: giving up`);
    void stopStack().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  watchdog.unref();
  // Other work on the machine skews every number: measure it before anything of ours runs.
  const cpuBusyBeforeStart = await cpuBusyShare(2_000);
  try {
    if (!outputsFile) {
      const workDir = path.join(REPO_ROOT, '.local', 'bench');
      mkdirSync(workDir, { recursive: true });
      outputsFile = path.join(workDir, 'outputs.json');
      assemblyDir = optionalEnv('LOCAL_ASSEMBLY_DIR', path.join(workDir, 'cdk.out'));
      const env = {
        LOCAL_STAGE: config.stage,
        LOCAL_HOST: '127.0.0.1',
        LOCAL_APP_PORT: optionalEnv('BENCH_APP_PORT', '23000'),
        LOCAL_GATEWAY_PORT: optionalEnv('BENCH_GATEWAY_PORT', '23001'),
        LOCAL_DYNAMODB_PORT: optionalEnv('BENCH_DYNAMODB_PORT', '28000'),
        LOCAL_OUTPUTS_FILE: outputsFile,
        LOCAL_ASSEMBLY_DIR: assemblyDir,
        // Every run measures from empty tables, whatever `npm start` keeps, on the JVM's own defaults (its
        // steady state, rather than the quick start `npm start` trades for).
        LOCAL_DYNAMODB_PATH: 'memory',
        LOCAL_DYNAMODB_JAVA_OPTIONS: 'default',
      };
      log(
        `starting the local stack (ports ${env.LOCAL_APP_PORT}/${env.LOCAL_GATEWAY_PORT}/${env.LOCAL_DYNAMODB_PORT}) …`,
      );
      stack = await startLocalStackProcess(env);
      watchForCrash(stack);
      log(`local stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    const result = await runBench({
      outputsFile,
      assemblyDir,
      config,
      log,
      cpuBusyBeforeStart,
      ...(stack ? { beforeClosingClients: stopStack } : {}),
    });
    const files = await writeResults(result, resultsDir, { latest });
    process.stdout.write(`\n${toMarkdown(result)}\n`);
    log(`wrote ${path.relative(REPO_ROOT, files.json)}, .svg and .md (and latest.*)`);
    if (updateDocs) {
      await updatePerformanceDoc(PERFORMANCE_DOC, result, resultsDir);
      log(`wrote its tables into ${path.relative(REPO_ROOT, PERFORMANCE_DOC)}`);
    }
  } finally {
    await stopStack();
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: Error) => {
  console.error(`[bench] failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
