import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

/**
 * Starts `local/start.ts` (what `npm start` runs) as a child process and resolves once it says it is
 * ready. Used by the e2e global setup and by the benchmarks, so both exercise the real entry point.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface LocalStackProcess {
  child: ChildProcess;
  outputsFile: string;
  stop(): Promise<void>;
}

export async function startLocalStackProcess(
  env: Record<string, string>,
  { readyTimeoutMs = 180_000 }: { readyTimeoutMs?: number } = {},
): Promise<LocalStackProcess> {
  const outputsFile = env.LOCAL_OUTPUTS_FILE;
  if (!outputsFile) throw new Error('LOCAL_OUTPUTS_FILE must be set');
  // As `npm start` runs it: tsx as a loader of this node, with no tsx process between to relay signals.
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO_ROOT,
    // As under `npm start`: node_modules/.bin on PATH lets NodejsFunction run esbuild directly, not via npx.
    env: {
      ...process.env,
      PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`local stack not ready within ${readyTimeoutMs} ms:\n${output}`));
    }, readyTimeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/\[local\] ready in/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local stack exited with ${code} before it was ready:\n${output}`));
    });
  });
  // Keep draining the pipes so a chatty stack never blocks on a full buffer; show errors as they come.
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.on('data', (chunk: Buffer) => {
    if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
  });
  return {
    child,
    outputsFile,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // A stack that ignores SIGTERM is killed; the timer is unref'd so it never holds the test run open.
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        killer.unref();
        await exited;
        clearTimeout(killer);
      }
    },
  };
}
