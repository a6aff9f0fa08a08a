/**
 * One writer per WAL directory: a `LOCK` file names its owner. Sinks (`openSink`) and
 * `recoverWal`'s output take it; a second opener gets `ERR_IRONLOG_WAL_LOCKED`.
 *
 * ## The protocol, and why two openers can never both win
 *
 * Every file this module creates holds one JSON line, `{"pid","token","start","boot","host"}`:
 * `token` is 128 random bits, unique to one acquire attempt; `start` is the process start time
 * and `boot` the kernel boot id (Linux `/proc`; absent elsewhere), so a pid reused after a crash
 * or a reboot is not taken for the old owner.
 *
 * 1. **Take**: write the owner record into `LOCK.<token>.tmp`, fsync it, then `link` it to
 *    `LOCK`. `link` fails with EEXIST when `LOCK` exists, so exactly one of any number of
 *    concurrent openers creates it, and `LOCK` is complete from the instant it exists: nobody can
 *    read a half-written lock (the old `open('wx')` then `write` left an empty `LOCK` that a
 *    second opener read as stale and removed). The fsync before the link keeps a power loss from
 *    leaving an empty `LOCK` behind.
 * 2. **Judge**: an existing `LOCK` that cannot be read or parsed is never stale: the opener is
 *    refused and the message says to remove it by hand. A lock is stale only when its record says
 *    so: another boot id, or no process with that pid, or one with a different start time.
 * 3. **Take over a stale lock with token X** (the dangerous step: two openers that both saw X
 *    dead must not both remove `LOCK`, or the slower one removes the faster one's new lock):
 *    - `link` our record to `LOCK.claim.X`. Only one process can hold that name, so only one
 *      process at a time may remove a file whose token is X. The loser is refused (the claimant
 *      is alive) or, if the claimant died, removes the dead claim by the same rule, one level up
 *      (`LOCK.claim.<its token>`).
 *    - Holding the claim, read `LOCK` again and unlink it only if it still holds token X. This
 *      cannot remove anything but X's lock: `LOCK` with token X leaves only by the hands of a
 *      claim-X holder (its owner is dead), and we are the only one; and a `LOCK` that no longer
 *      holds X never holds X again (tokens are never reused, and only their dead owner links them).
 *    - Remove the claim, then go back to step 1: the re-`link` decides between us and anyone who
 *      came in meanwhile, so a takeover is again exactly-one-wins.
 * 4. **Release**: unlink `LOCK` only when it still holds our token.
 *
 * What this cannot see: owners in another pid namespace (a container) or on another host
 * sharing the directory (NFS): a WAL directory belongs to one host's processes. Two sinks in one
 * process are refused through an in-process registry (their pids are equal); threads of one
 * process that do not share the registry are refused by the file (the owner's pid and start time
 * are theirs, so it is alive).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';

const kHeldInThisProcess = new Set<string>();

/** Name of the lock file in a WAL directory. */
export const LOCK_FILE_NAME = 'LOCK';

const kTmpPattern = /^LOCK\.([0-9a-f]{32})\.tmp$/;
const kClaimPattern = /^LOCK\.claim\.([0-9a-f]{32})$/;
/** Takeover rounds before giving up (each one means the lock changed hands under us). */
const kMaxAttempts = 8;
/** Dead claimants stacked on one another that a takeover clears before giving up. */
const kMaxClaimDepth = 4;

/** What a lock file says about its owner. */
interface OwnerRecord {
  readonly pid: number;
  readonly token: string;
  /** Process start time (Linux: clock ticks since boot, `/proc/<pid>/stat` field 22). */
  readonly start?: string | undefined;
  /** Kernel boot id (Linux: `/proc/sys/kernel/random/boot_id`). */
  readonly boot?: string | undefined;
  readonly host?: string | undefined;
}

type ReadResult =
  | { readonly kind: 'missing' }
  | { readonly kind: 'unreadable'; readonly why: string }
  | { readonly kind: 'owner'; readonly owner: OwnerRecord };

function readProcFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of `pid` as the kernel counts it, or undefined (no /proc, no such process). */
function processStart(pid: number): string | undefined {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 22 of the line is starttime; the fields after ')' begin with field 3.
  return fields[22 - 3];
}

let bootIdCache: string | undefined | null = null;
function bootId(): string | undefined {
  if (bootIdCache === null) bootIdCache = readProcFile('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
  return bootIdCache;
}

function ownRecord(token: string): OwnerRecord {
  return { pid: process.pid, token, start: processStart(process.pid), boot: bootId(), host: os.hostname() };
}

function parseOwner(text: string): OwnerRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as { pid?: unknown; token?: unknown; start?: unknown; boot?: unknown; host?: unknown };
  const { pid, token } = r;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 1) return undefined;
  if (typeof token !== 'string' || !/^[0-9a-f]{32}$/.test(token)) return undefined;
  const opt = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
  return { pid, token, start: opt(r.start), boot: opt(r.boot), host: opt(r.host) };
}

function readOwner(file: string): ReadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', why: `cannot be read (${errnoCode(err) ?? String(err)})` };
  }
  if (text.trim() === '') return { kind: 'unreadable', why: 'is empty' };
  const legacy = /^\s*(\d+)\s*$/.exec(text);
  if (legacy) {
    // ironlog 0.1.0 wrote only the pid: without a token it cannot be taken over safely.
    const pid = Number(legacy[1]);
    const running = ownerAlive({ pid, token: '' }) ? ', and a process with that pid is running' : '';
    return { kind: 'unreadable', why: `holds only a pid (${pid}: the lock of an older ironlog${running})` };
  }
  const owner = parseOwner(text);
  return owner
    ? { kind: 'owner', owner }
    : { kind: 'unreadable', why: `does not hold an owner record (${JSON.stringify(text.slice(0, 60))})` };
}

/** True unless the record's owner is provably gone (another boot, no such pid, another process under that pid). */
function ownerAlive(owner: OwnerRecord): boolean {
  const boot = bootId();
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  if (owner.start !== undefined) {
    const start = processStart(owner.pid);
    // The pid exists: if it started at another time it is another process that reused the pid.
    if (start !== undefined && start !== owner.start) return false;
  }
  return true;
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Unlinks `file` only if it still holds `token` (see the protocol, step 3). */
function unlinkIfToken(file: string, token: string): void {
  const now = readOwner(file);
  if (now.kind === 'owner' && now.owner.token === token) unlinkQuietly(file);
}

function locked(abs: string, message: string): IronlogError {
  return new IronlogError(ErrorCodes.WAL_LOCKED, `${abs} ${message}`);
}

function describe(owner: OwnerRecord): string {
  return `process ${owner.pid}${owner.host !== undefined && owner.host !== os.hostname() ? ` on ${owner.host}` : ''}`;
}

/**
 * Removes `file` (`LOCK` or a claim), whose owner `dead` was judged gone, under the claim
 * `LOCK.claim.<dead.token>`; see the protocol, step 3. Returns when the caller should retry the
 * link; throws `ERR_IRONLOG_WAL_LOCKED` when a live process is taking it over.
 */
function removeDead(abs: string, tmp: string, file: string, dead: OwnerRecord, depth: number): void {
  const claim = path.join(abs, `LOCK.claim.${dead.token}`);
  try {
    fs.linkSync(tmp, claim);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') {
      throw new IronlogError(ErrorCodes.IO, `cannot create ${claim}: ${(err as Error).message}`, { cause: err });
    }
    const other = readOwner(claim);
    if (other.kind === 'missing') return;
    if (other.kind === 'unreadable') {
      throw locked(abs, `has a takeover claim ${claim} that ${other.why}; if no process uses the directory, remove it`);
    }
    if (ownerAlive(other.owner)) {
      throw locked(abs, `is being taken over by ${describe(other.owner)} (lock of dead process ${dead.pid})`);
    }
    if (depth >= kMaxClaimDepth)
      throw locked(abs, `has ${depth} dead takeover claims stacked; remove the LOCK.claim.* files`);
    removeDead(abs, tmp, claim, other.owner, depth + 1);
    return;
  }
  const ours = path.basename(tmp).slice('LOCK.'.length, -'.tmp'.length);
  try {
    unlinkIfToken(file, dead.token);
  } finally {
    unlinkIfToken(claim, ours);
  }
}

/** Removes temp files and claims that dead processes left behind (they hold no lock). */
function sweepLeftovers(abs: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return;
  }
  for (const name of names) {
    if (!kTmpPattern.test(name) && !kClaimPattern.test(name)) continue;
    const file = path.join(abs, name);
    const r = readOwner(file);
    // A claim names the token it removes, but holds its claimant's record: a dead claimant's
    // claim protects nothing any more (the LOCK it was about is gone: we hold LOCK now).
    if (r.kind === 'owner' && !ownerAlive(r.owner)) unlinkQuietly(file);
  }
}

/** A held directory lock; `release()` is idempotent. */
export interface DirLock {
  /** Absolute path of the `LOCK` file. */
  readonly path: string;
  /** Removes `LOCK` (if it is still ours) and forgets the directory in this process. */
  release(): void;
}

/**
 * Takes the lock of `dir` (which must exist). Throws `ERR_IRONLOG_WAL_LOCKED` when a live
 * process (or another sink of this process) holds it, or when `LOCK` cannot be read (an
 * unreadable lock is never taken for stale); `ERR_IRONLOG_IO` when the directory cannot be written.
 */
export function acquireDirLock(dir: string): DirLock {
  const abs = path.resolve(dir);
  const lockPath = path.join(abs, LOCK_FILE_NAME);
  if (kHeldInThisProcess.has(abs)) {
    throw locked(abs, 'is already open by another writer (a sink or recoverWal) in this process');
  }
  const token = randomBytes(16).toString('hex');
  const tmp = path.join(abs, `LOCK.${token}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, `${JSON.stringify(ownRecord(token))}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    unlinkQuietly(tmp);
    throw new IronlogError(ErrorCodes.IO, `cannot create the lock file in ${abs}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    for (let attempt = 0; attempt < kMaxAttempts; attempt++) {
      try {
        fs.linkSync(tmp, lockPath);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') {
          throw new IronlogError(ErrorCodes.IO, `cannot create ${lockPath}: ${(err as Error).message}`, { cause: err });
        }
        const held = readOwner(lockPath);
        if (held.kind === 'missing') continue;
        if (held.kind === 'unreadable') {
          throw locked(
            abs,
            `is locked: ${lockPath} ${held.why}, so its owner cannot be checked; if no process uses the directory, remove it`,
          );
        }
        if (ownerAlive(held.owner)) {
          throw locked(abs, `is open by ${describe(held.owner)} (lock file ${lockPath})`);
        }
        removeDead(abs, tmp, lockPath, held.owner, 0);
        continue;
      }
      kHeldInThisProcess.add(abs);
      sweepLeftovers(abs);
      let released = false;
      return {
        path: lockPath,
        release() {
          if (released) return;
          released = true;
          kHeldInThisProcess.delete(abs);
          unlinkIfToken(lockPath, token);
        },
      };
    }
    throw locked(abs, `is contended: ${lockPath} changed hands ${kMaxAttempts} times while taking it`);
  } finally {
    unlinkQuietly(tmp);
  }
}
