import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { REPO_ROOT } from '../../../local/launch/local-stack-process';
import { waitUntil } from '../emulators/fake-lambda';

const FIXTURE = path.join(__dirname, 'fixtures', 'watched-child.ts');

/** Whether a process id is alive (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the fixture (a parent with a watched `sleep`) and returns it with the child's pid. Node itself
 * runs it, with tsx as a loader: tsx's CLI would put a process of its own between, and killing that one
 * would not be killing the parent.
 */
async function startParent(mode = ''): Promise<{ parent: ChildProcess; childPid: number }> {
  const parent = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  parents.push(parent);
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  return { parent, childPid: Number(line.toString().trim()) };
}

const parents: ChildProcess[] = [];
const started: number[] = [];

afterEach(() => {
  for (const parent of parents.splice(0)) if (parent.exitCode === null) parent.kill('SIGKILL');
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('killWithThisProcess', () => {
  it('stops the child when its parent is killed with SIGKILL, which no handler sees', async () => {
    // Prepare
    const { parent, childPid } = await startParent();
    started.push(childPid);
    expect(alive(childPid)).toBe(true);

    // Act
    parent.kill('SIGKILL');

    // Assess
    await waitUntil(() => !alive(childPid), 5000);
  });

  it('leaves the child alone once released', async () => {
    // Prepare
    const { parent, childPid } = await startParent('release');
    started.push(childPid);

    // Act
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Assess
    expect(alive(childPid)).toBe(true);
  });
});
