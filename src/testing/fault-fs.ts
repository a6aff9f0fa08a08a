/**
 * A fault-injecting {@link WalFs} for tests and the torture suite, switched from any thread
 * through a small SharedArrayBuffer. Load it in the writer worker with
 * `openSink({ walFsModule: faultFsModulePath, walFsModuleData: faults.sab })`.
 *
 * Not part of the durable path: nothing in ironlog loads it unless a caller asks for it.
 */
import { fileURLToPath } from 'node:url';
import type { WalFs } from '../wal/fs.js';

/** Control slots (Int32) of the fault SAB. */
const Slot = {
  /** Fail this many coming writes (-1: every write until cleared). */
  FAIL_WRITES: 0,
  WRITE_ERRNO: 1,
  /** Fail this many coming fdatasync/fsync calls (-1: all until cleared). */
  FAIL_SYNCS: 2,
  SYNC_ERRNO: 3,
  /** 1: the next fdatasync/fsync ends the writer thread (process.exit inside the worker). */
  EXIT_ON_SYNC: 4,
  /** Length of the path filter (UTF-8 bytes after the slots); 0: faults hit every file. */
  PATH_BYTES: 5,
  /** Counters. */
  WRITES: 8,
  SYNCS: 9,
  INJECTED: 10,
} as const;
const kSlots = 16;
/** Room for the path filter ({@link FaultSwitch.onlyUnder}) after the slots. */
const kPathFilterBytes = 1024;

/** Errnos the switch can inject. */
export type InjectedErrno = 'EIO' | 'ENOSPC';
const kErrnos: readonly InjectedErrno[] = ['EIO', 'ENOSPC'];

/** Absolute path of this module, for `options.walFsModule`. */
export const faultFsModulePath: string = fileURLToPath(import.meta.url);

/** The switchboard a test holds; `sab` goes to the writer as `walFsModuleData`. */
export class FaultSwitch {
  readonly sab: SharedArrayBuffer;
  readonly #i32: Int32Array;

  constructor(sab: SharedArrayBuffer = new SharedArrayBuffer(kSlots * 4 + kPathFilterBytes)) {
    this.sab = sab;
    this.#i32 = new Int32Array(sab);
  }

  /** Fails the next `count` writes (-1: all of them until {@link clear}) with `errno`. */
  failWrites(errno: InjectedErrno, count = -1): void {
    Atomics.store(this.#i32, Slot.WRITE_ERRNO, kErrnos.indexOf(errno));
    Atomics.store(this.#i32, Slot.FAIL_WRITES, count);
  }

  /** Fails the next `count` fdatasync/fsync calls (-1: all until {@link clear}) with `errno`. */
  failSyncs(errno: InjectedErrno, count = -1): void {
    Atomics.store(this.#i32, Slot.SYNC_ERRNO, kErrnos.indexOf(errno));
    Atomics.store(this.#i32, Slot.FAIL_SYNCS, count);
  }

  /** Makes the writer worker exit (as if it crashed) at its next fdatasync/fsync. */
  exitWriterOnNextSync(): void {
    Atomics.store(this.#i32, Slot.EXIT_ON_SYNC, 1);
  }

  /**
   * From now on the injected write and sync faults hit only files (and directories) whose path
   * starts with `dir` (e.g. one shadow directory); `''` lifts the filter. Set it before the
   * faults, while none is armed.
   */
  onlyUnder(dir: string): void {
    const bytes = Buffer.from(dir, 'utf8');
    if (this.sab.byteLength < kSlots * 4 + bytes.length)
      throw new RangeError('fault switch: no room for this path filter');
    new Uint8Array(this.sab, kSlots * 4, bytes.length).set(bytes);
    Atomics.store(this.#i32, Slot.PATH_BYTES, bytes.length);
  }

  clear(): void {
    Atomics.store(this.#i32, Slot.FAIL_WRITES, 0);
    Atomics.store(this.#i32, Slot.FAIL_SYNCS, 0);
  }

  get writes(): number {
    return Atomics.load(this.#i32, Slot.WRITES);
  }

  get syncs(): number {
    return Atomics.load(this.#i32, Slot.SYNCS);
  }

  /** How many faults were injected so far. */
  get injected(): number {
    return Atomics.load(this.#i32, Slot.INJECTED);
  }
}

function errnoError(errno: InjectedErrno, syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `${errno}: ${errno === 'ENOSPC' ? 'no space left on device' : 'i/o error'} (injected), ${syscall}`,
  );
  err.code = errno;
  err.errno = errno === 'ENOSPC' ? -28 : -5;
  err.syscall = syscall;
  return err;
}

/** Decrements a "fail N more" slot; true when this call must fail. */
function take(i32: Int32Array, slot: number): boolean {
  for (;;) {
    const n = Atomics.load(i32, slot);
    if (n === 0) return false;
    if (n < 0) return true;
    if (Atomics.compareExchange(i32, slot, n, n - 1) === n) return true;
  }
}

/** The `walFsModule` entry point: wraps `base` so that the switchboard can fail its calls. */
export function createWalFs(base: WalFs, data: unknown): WalFs {
  if (!(data instanceof SharedArrayBuffer)) throw new TypeError('fault-fs needs walFsModuleData: FaultSwitch.sab');
  const i32 = new Int32Array(data);
  // The path of every fd opened through this fs, for the path filter (onlyUnder).
  const paths = new Map<number, string>();
  const filtered = (fd: number): boolean => {
    const n = Atomics.load(i32, Slot.PATH_BYTES);
    if (n === 0 || data.byteLength < kSlots * 4 + n) return false;
    const prefix = Buffer.from(new Uint8Array(data, kSlots * 4, n)).toString('utf8');
    return !(paths.get(fd) ?? '').startsWith(prefix);
  };
  const failSync = (fd: number): void => {
    Atomics.add(i32, Slot.SYNCS, 1);
    if (Atomics.compareExchange(i32, Slot.EXIT_ON_SYNC, 1, 0) === 1) {
      // In a worker thread this ends only the thread: the writer "crashes" mid-commit.
      process.exit(70);
    }
    if (!filtered(fd) && take(i32, Slot.FAIL_SYNCS)) {
      Atomics.add(i32, Slot.INJECTED, 1);
      throw errnoError(kErrnos[Atomics.load(i32, Slot.SYNC_ERRNO)] ?? 'EIO', 'fdatasync');
    }
  };
  return {
    ...base,
    openSync(path, flags, mode) {
      const fd = base.openSync(path, flags, mode);
      paths.set(fd, path);
      return fd;
    },
    closeSync(fd) {
      paths.delete(fd);
      base.closeSync(fd);
    },
    writeSync(fd, buffer, offset, length, position) {
      Atomics.add(i32, Slot.WRITES, 1);
      if (!filtered(fd) && take(i32, Slot.FAIL_WRITES)) {
        Atomics.add(i32, Slot.INJECTED, 1);
        throw errnoError(kErrnos[Atomics.load(i32, Slot.WRITE_ERRNO)] ?? 'EIO', 'write');
      }
      return base.writeSync(fd, buffer, offset, length, position);
    },
    fdatasyncSync(fd) {
      failSync(fd);
      base.fdatasyncSync(fd);
    },
    fsyncSync(fd) {
      failSync(fd);
      base.fsyncSync(fd);
    },
  };
}
