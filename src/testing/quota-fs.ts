/**
 * A size-limited {@link WalFs} for the disk-full torture scenario and tests: every file the WAL
 * touches counts towards a byte quota; a write or an ftruncate that would grow past it writes
 * what fits (a short write) and then fails with `ENOSPC`, as a full disk does. The quota lives in
 * a SharedArrayBuffer, so the test thread fills and frees the "disk" while the writer worker runs:
 * `openSink({ walFsModule: quotaFsModulePath, walFsModuleData: quota.sab })`.
 *
 * Not part of the durable path: nothing in ironlog loads it unless a caller asks for it.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WalFs } from '../wal/fs.js';

/** Float64 slots of the quota SAB. */
const Slot = { LIMIT: 0, USED: 1, ENOSPC: 2 } as const;
const kSlots = 4;

/** Absolute path of this module, for `options.walFsModule`. */
export const quotaFsModulePath: string = fileURLToPath(import.meta.url);

/**
 * The quota a test holds; `sab` goes to the writer as `walFsModuleData`. Slots are read and
 * written by one writer thread and one controlling thread; plain Float64 stores are enough for
 * a limit that only needs to be seen eventually.
 */
export class DiskQuota {
  readonly sab: SharedArrayBuffer;
  readonly #f64: Float64Array;

  constructor(limitBytes: number, sab: SharedArrayBuffer = new SharedArrayBuffer(kSlots * 8)) {
    this.sab = sab;
    this.#f64 = new Float64Array(sab);
    this.#f64[Slot.LIMIT] = limitBytes;
  }

  /** The quota in bytes (Infinity: unlimited). */
  get limitBytes(): number {
    return this.#f64[Slot.LIMIT] as number;
  }
  set limitBytes(n: number) {
    this.#f64[Slot.LIMIT] = n;
  }
  /** Bytes the WAL's files take now (as the quota counts them). */
  get usedBytes(): number {
    return this.#f64[Slot.USED] as number;
  }
  /** How many times `ENOSPC` was returned. */
  get enospcCount(): number {
    return this.#f64[Slot.ENOSPC] as number;
  }
}

function enospc(syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device (quota), ${syscall}`);
  err.code = 'ENOSPC';
  err.errno = -28;
  err.syscall = syscall;
  return err;
}

/** The `walFsModule` entry point: wraps `base` with the quota in `data` (a {@link DiskQuota} SAB). */
export function createWalFs(base: WalFs, data: unknown): WalFs {
  if (!(data instanceof SharedArrayBuffer)) throw new TypeError('quota-fs needs walFsModuleData: DiskQuota.sab');
  const f64 = new Float64Array(data);
  /** Size of every file counted so far, by path; fd to path. */
  const sizes = new Map<string, number>();
  const paths = new Map<number, string>();
  const used = (): number => f64[Slot.USED] as number;
  const grow = (delta: number): void => {
    f64[Slot.USED] = used() + delta;
  };
  const room = (): number => (f64[Slot.LIMIT] as number) - used();
  const track = (p: string): void => {
    if (sizes.has(p)) return;
    let size = 0;
    try {
      size = fs.statSync(p).size;
    } catch {
      size = 0;
    }
    sizes.set(p, size);
    grow(size);
  };
  const setSize = (p: string, size: number): void => {
    grow(size - (sizes.get(p) ?? 0));
    sizes.set(p, size);
  };
  return {
    ...base,
    openSync(p, flags, mode) {
      const fd = base.openSync(p, flags, mode);
      let isFile = true;
      try {
        isFile = fs.fstatSync(fd).isFile();
      } catch {
        isFile = true;
      }
      if (isFile) {
        track(p);
        if (flags.startsWith('w')) setSize(p, 0);
        paths.set(fd, p);
      }
      return fd;
    },
    closeSync(fd) {
      paths.delete(fd);
      base.closeSync(fd);
    },
    writeSync(fd, buffer, offset, length, position) {
      const p = paths.get(fd);
      if (p === undefined) return base.writeSync(fd, buffer, offset, length, position);
      const size = sizes.get(p) ?? 0;
      const end = position + length;
      const growth = Math.max(0, end - size);
      let n = length;
      if (growth > room()) {
        // What fits: overwriting existing bytes needs no space, growing needs room().
        n = Math.max(0, size + Math.max(0, room()) - position);
        n = Math.min(n, length);
        if (n <= 0) {
          f64[Slot.ENOSPC] = (f64[Slot.ENOSPC] as number) + 1;
          throw enospc('write');
        }
      }
      const wrote = base.writeSync(fd, buffer, offset, n, position);
      if (position + wrote > size) setSize(p, position + wrote);
      return wrote;
    },
    ftruncateSync(fd, len) {
      const p = paths.get(fd);
      if (p !== undefined) {
        const size = sizes.get(p) ?? 0;
        if (len > size && len - size > room()) {
          f64[Slot.ENOSPC] = (f64[Slot.ENOSPC] as number) + 1;
          throw enospc('ftruncate');
        }
        base.ftruncateSync(fd, len);
        setSize(p, len);
        return;
      }
      base.ftruncateSync(fd, len);
    },
    unlinkSync(p) {
      base.unlinkSync(p);
      if (sizes.has(p)) setSize(p, 0);
      sizes.delete(p);
    },
    renameSync(from, to) {
      base.renameSync(from, to);
      const s = sizes.get(from);
      if (s !== undefined) {
        sizes.delete(from);
        if (sizes.has(to)) setSize(to, 0);
        sizes.set(to, s);
      }
    },
  };
}
