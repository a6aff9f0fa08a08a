/**
 * One sink per WAL directory. A `LOCK` file holds the owner's pid; a lock left by a process that
 * no longer exists (after kill -9) is stale and taken over. Two sinks in one process are refused
 * through an in-process registry, because the pid alone cannot tell them apart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';

const kHeldInThisProcess = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A held directory lock; `release()` is idempotent. */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** Takes the lock of `dir` (which must exist) or throws `ERR_IRONLOG_WAL_LOCKED`. */
export function acquireDirLock(dir: string): DirLock {
  const abs = path.resolve(dir);
  const lockPath = path.join(abs, 'LOCK');
  if (kHeldInThisProcess.has(abs)) {
    throw new IronlogError(ErrorCodes.WAL_LOCKED, `${abs} is already open by another sink in this process`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      kHeldInThisProcess.add(abs);
      let released = false;
      return {
        path: lockPath,
        release() {
          if (released) return;
          released = true;
          kHeldInThisProcess.delete(abs);
          try {
            fs.unlinkSync(lockPath);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new IronlogError(ErrorCodes.IO, `cannot create ${lockPath}: ${(err as Error).message}`, { cause: err });
      }
    }
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
    } catch {
      // Vanished or unreadable between the two calls: try again.
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
      throw new IronlogError(ErrorCodes.WAL_LOCKED, `${abs} is open by process ${owner} (lock file ${lockPath})`);
    }
    // Stale: its owner is gone (or it is our own pid from a sink that was never closed).
    try {
      fs.unlinkSync(lockPath);
    } catch {
      // Someone else removed it first; the next attempt decides.
    }
  }
  throw new IronlogError(ErrorCodes.WAL_LOCKED, `cannot take the lock ${lockPath}: another process keeps taking it`);
}
