import { spawn } from 'node:child_process';

/**
 * Makes a child process (DynamoDB Local's JVM) die with this one, however this one ends — even by SIGKILL
 * or an out-of-memory kill, which no handler of ours ever sees. Node has no `prctl(PR_SET_PDEATHSIG)`, and
 * util-linux's `setpriv --pdeathsig` is Linux-only, so the watchdog is a POSIX shell blocked reading a pipe
 * from this process: the kernel closes the pipe when this process exits, for whatever reason; the shell's
 * `read` returns and it sends the child SIGTERM. It costs one idle `sh` per watched child.
 *
 * `release()` ends the watchdog without touching the child: call it once the child has been stopped (or has
 * exited), so that a watchdog never signals a process id the system has since given to someone else.
 * There is no watchdog on Windows (no `sh`): the stack's own exit handlers are all there is.
 */
export interface OrphanWatchdog {
  release(): void;
}

const WATCHDOG_SCRIPT = 'read -r _; kill -TERM "$1" 2>/dev/null';

export function killWithThisProcess(childPid: number): OrphanWatchdog {
  if (process.platform === 'win32') return { release: () => undefined };
  const watchdog = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'orphan-watchdog', String(childPid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Without a shell there is no watchdog; the stack still stops its children on every exit it handles.
  watchdog.on('error', () => undefined);
  watchdog.stdin?.on('error', () => undefined);
  // The watchdog must never keep this process alive: it is there for when this process is gone.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    release: () => {
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    },
  };
}
