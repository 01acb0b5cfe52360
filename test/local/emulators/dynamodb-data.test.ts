import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DataDirInUseError, lockDataDir, resetDataDir } from '../../../local/emulators/dynamodb-data';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dynamodb-data-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A process id that is certainly not running: one that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 0;
}

describe('lockDataDir', () => {
  it('refuses a folder another live process holds, naming it and the way out', () => {
    // Prepare
    lockDataDir(dir, process.ppid);

    // Act / Assess
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir)).toThrow(`process ${process.ppid}`);
    expect(() => lockDataDir(dir)).toThrow('LOCAL_DYNAMODB_PATH');
  });

  it('takes over the lock of a process that has died', async () => {
    // Prepare
    lockDataDir(dir, await deadPid());

    // Act / Assess
    expect(() => lockDataDir(dir)).not.toThrow();
  });

  it('creates the folder, and release frees it for the next start', () => {
    // Prepare
    const folder = path.join(dir, 'nested', 'dynamodb');
    const lock = lockDataDir(folder, process.ppid);

    // Act
    lock.release();

    // Assess
    expect(existsSync(folder)).toBe(true);
    expect(() => lockDataDir(folder)).not.toThrow();
  });
});

describe('resetDataDir', () => {
  it("deletes DynamoDB Local's data file and nothing else", () => {
    // Prepare
    for (const name of ['shared-local-instance.db', 'shared-local-instance.db-journal', 'notes.txt']) {
      writeFileSync(path.join(dir, name), 'x');
    }

    // Act
    const deleted = resetDataDir(dir);

    // Assess
    expect(deleted.sort()).toEqual(['shared-local-instance.db', 'shared-local-instance.db-journal']);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('deletes nothing from a folder that does not exist', () => {
    // Act / Assess
    expect(resetDataDir(path.join(dir, 'missing'))).toEqual([]);
  });
});
