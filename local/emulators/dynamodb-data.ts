import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The folder DynamoDB Local keeps its tables in (`-dbPath`), so that posts and comments survive a restart.
 * With `-sharedDb` all of it is one SQLite file, `shared-local-instance.db`; a reset deletes that file and
 * nothing else, so a folder chosen by hand loses nothing that is not DynamoDB Local's.
 */
const DATA_FILE = /^shared-local-instance\.db/;
const LOCK_FILE = 'local-stack.pid';

/** Another local stack runs on the same data folder: two JVMs must not write one SQLite file. */
export class DataDirInUseError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `DynamoDB Local's data folder ${dir} is in use by another local stack (process ${pid}). ` +
        'Stop it, or give this one its own folder (LOCAL_DYNAMODB_PATH=<folder>, or =memory for tables in memory). ' +
        `If no stack is running, delete ${path.join(dir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  release(): void;
}

/** Claims the folder for this process (creating it); throws DataDirInUseError while a live process holds it. */
export function lockDataDir(dir: string, pid: number = process.pid): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const lockFile = path.join(dir, LOCK_FILE);
  const holder = lockHolder(lockFile);
  if (holder !== undefined && holder !== pid && isAlive(holder)) throw new DataDirInUseError(dir, holder);
  writeFileSync(lockFile, `${pid}\n`);
  return {
    release: () => {
      if (lockHolder(lockFile) === pid) rmSync(lockFile, { force: true });
    },
  };
}

function lockHolder(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes DynamoDB Local's data in the folder (run while it is stopped); returns the files it deleted. */
export function resetDataDir(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const deleted = names.filter((name) => DATA_FILE.test(name));
  for (const name of deleted) rmSync(path.join(dir, name), { force: true });
  return deleted;
}
