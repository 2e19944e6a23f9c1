// PGlite has no cross-process lock: two processes on one data dir would silently lose rows. So the
// embedded database is opened only after taking an exclusive lock file in the data dir.
//
// The lock file is created with O_EXCL and holds the owner's pid and process start time. A lock whose
// owner is gone (crash, kill -9) is stale and may be taken over; the takeover itself is guarded by a
// second O_EXCL file so two processes cannot both take over the same stale lock.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { AppError } from '../errors.js';

export const LOCK_FILE_NAME = 'switchyard.lock';

interface LockOwner {
  pid: number;
  startTime: string | null;
  hostname: string;
  acquiredAt: string;
}

export interface DataDirLock {
  path: string;
  release(): void;
}

/** Start time of a process from /proc (Linux), so a recycled pid is not mistaken for the owner. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name which may hold spaces.
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: the process exists but belongs to someone else.
  }
  const current = processStartTime(owner.pid);
  return owner.startTime === null || current === null || current === owner.startTime;
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

function tryCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE_NAME);
  const me: LockOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    hostname: hostname(),
    acquiredAt: new Date().toISOString(),
  };
  const content = JSON.stringify(me);

  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, content)) return makeHandle(path, content);

    const owner = readOwner(path);
    if (owner && isAlive(owner) && owner.pid !== process.pid) {
      throw new AppError(
        'platform.data_dir_locked',
        'conflict',
        `The data directory ${dataDir} is in use by another Switchyard process (pid ${owner.pid}, since ${owner.acquiredAt}). ` +
          'Stop it first, or use a different SWITCHYARD_DATA_DIR. To run several processes on one database, use PostgreSQL (DATABASE_URL).',
        { dataDir, pid: owner.pid },
      );
    }
    // Stale (or unreadable, i.e. a writer died between create and write): take it over, once.
    const takeoverPath = `${path}.takeover`;
    clearAbandonedTakeover(takeoverPath);
    if (!tryCreate(takeoverPath, content)) continue;
    try {
      const again = readOwner(path);
      if (again && isAlive(again) && again.pid !== process.pid) continue;
      rmSync(path, { force: true });
      if (tryCreate(path, content)) return makeHandle(path, content);
    } finally {
      rmSync(takeoverPath, { force: true });
    }
  }
  throw new AppError(
    'platform.data_dir_locked',
    'conflict',
    `Could not lock the data directory ${dataDir}; another process keeps taking it.`,
    {
      dataDir,
    },
  );
}

/** A takeover file lives for microseconds; one older than 10 s was left by a process that died in it. */
function clearAbandonedTakeover(takeoverPath: string): void {
  try {
    if (Date.now() - statSync(takeoverPath).mtimeMs > 10_000) rmSync(takeoverPath, { force: true });
  } catch {
    // absent: nothing to clear
  }
}

function makeHandle(path: string, content: string): DataDirLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only remove the file if it is still ours.
      try {
        if (readFileSync(path, 'utf8') === content) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
