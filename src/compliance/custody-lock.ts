/**
 * The exclusive lock that serializes appends to one custody log across processes (and across
 * hosts sharing the directory). A second appender waits for it, so the chain never forks.
 *
 * The lock is a file `custody.lock` created with `O_CREAT | O_EXCL`, holding its owner
 * (`{ pid, host, bootId, startTicks, token, timeMs }`). It is stale, and taken over, when:
 * - its owner ran on this host and that process is gone (no such pid, or a pid reused by a
 *   process that started later, or a holder from an earlier boot), or
 * - its owner ran on another host (or the file cannot be read) and it is older than
 *   {@link kCustodyLockStaleMs}: an append holds the lock for milliseconds.
 * Takeovers are serialized by a second exclusive file, `custody.lock.takeover`, under which the
 * lock is read again and removed only if it is still the stale one that was judged.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';

/** A lock (or a takeover claim) older than this, whose owner cannot be checked, is stale. */
export const kCustodyLockStaleMs = 30_000;
/** How long an appender waits for the lock before failing with `ERR_IRONLOG_CUSTODY_LOCKED`. */
export const kCustodyLockWaitMs = 120_000;

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly bootId: string;
  readonly startTicks: string;
  readonly token: string;
  readonly timeMs: number;
}

function readFirstLine(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

const kBootId = readFirstLine('/proc/sys/kernel/random/boot_id');

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), '' where there is none. */
function processStartTicks(pid: number): string {
  const stat = readFirstLine(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const end = stat.lastIndexOf(')');
  if (end < 0) return '';
  return stat.slice(end + 2).split(' ')[19] ?? '';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (
      typeof o.pid === 'number' &&
      typeof o.host === 'string' &&
      typeof o.bootId === 'string' &&
      typeof o.startTicks === 'string' &&
      typeof o.token === 'string' &&
      typeof o.timeMs === 'number'
    ) {
      return o as LockOwner;
    }
  } catch {
    // Being written, or damaged: judged by its age.
  }
  return undefined;
}

function ageMs(file: string): number | undefined {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** True when the owner recorded in `text` (of a file `ageMs` old) can no longer hold the lock. */
function isStale(text: string, age: number): boolean {
  const owner = parseOwner(text);
  if (owner === undefined || owner.host !== os.hostname()) return age > kCustodyLockStaleMs;
  if (owner.bootId !== kBootId) return true;
  if (owner.pid === process.pid) return false; // ourselves: another append of this process
  if (!pidAlive(owner.pid)) return true;
  // A live pid that started after the owner did is a reused pid.
  const ticks = processStartTicks(owner.pid);
  return ticks !== '' && owner.startTicks !== '' && ticks !== owner.startTicks;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A held custody lock; `release()` is idempotent. */
export interface CustodyLock {
  release(): void;
}

/** Removes the lock at `lockPath` if it is still the stale one (`text`), under the takeover claim. */
function takeOver(lockPath: string, text: string): void {
  const claim = `${lockPath}.takeover`;
  let fd: number;
  try {
    fd = fs.openSync(claim, 'wx', 0o644);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    // A claimer that died holding the claim: claims last microseconds.
    const age = ageMs(claim);
    if (age !== undefined && age > kCustodyLockStaleMs) fs.rmSync(claim, { force: true });
    return;
  }
  try {
    fs.closeSync(fd);
    const now = readFirstLine(lockPath);
    const age = ageMs(lockPath);
    if (now === text && age !== undefined && isStale(now, age)) fs.rmSync(lockPath, { force: true });
  } finally {
    fs.rmSync(claim, { force: true });
  }
}

/**
 * Takes the custody lock in `dir` (waiting up to `waitMs` for a live holder), or throws
 * `ERR_IRONLOG_CUSTODY_LOCKED`; other failures are `ERR_IRONLOG_IO`.
 */
export async function acquireCustodyLock(dir: string, waitMs: number = kCustodyLockWaitMs): Promise<CustodyLock> {
  const lockPath = path.join(dir, 'custody.lock');
  const token = randomBytes(12).toString('hex');
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    bootId: kBootId,
    startTicks: processStartTicks(process.pid),
    token,
    timeMs: Date.now(),
  };
  const deadline = Date.now() + waitMs;
  let pause = 1;
  for (;;) {
    try {
      const fd = fs.openSync(lockPath, 'wx', 0o644);
      try {
        fs.writeSync(fd, `${JSON.stringify({ ...owner, timeMs: Date.now() })}\n`);
      } finally {
        fs.closeSync(fd);
      }
      let released = false;
      return {
        release(): void {
          if (released) return;
          released = true;
          // Only our own lock: a holder judged stale and replaced must not remove its successor's.
          if (parseOwner(readFirstLine(lockPath))?.token === token) fs.rmSync(lockPath, { force: true });
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new IronlogError(ErrorCodes.IO, `cannot create the custody lock ${lockPath}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const text = readFirstLine(lockPath);
    const age = ageMs(lockPath);
    if (age !== undefined && isStale(text, age)) {
      try {
        takeOver(lockPath, text);
      } catch (err) {
        throw new IronlogError(ErrorCodes.IO, `cannot take over the stale custody lock ${lockPath}: ${String(err)}`, {
          cause: err,
        });
      }
      // Taken over, or another process is taking it over: try again after a short pause (no spin
      // while a takeover claim left by a crashed claimer ages out).
      pause = 1;
    }
    if (Date.now() >= deadline) {
      throw new IronlogError(
        ErrorCodes.CUSTODY_LOCKED,
        `the custody log in ${dir} stayed locked for ${Math.round(waitMs / 1000)} s (holder: ${text || 'unknown'}; lock file ${lockPath})`,
      );
    }
    // Appends hold the lock for a write and an fdatasync: poll fast, back off a little, add jitter.
    await sleep(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 25);
  }
}
