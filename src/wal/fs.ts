/**
 * The file-system seam of the WAL. Everything in `src/wal` that touches the disk on the write
 * path goes through a {@link WalFs}, so tests (and the torture suite, via `walFsModule`) can inject
 * faults: fail the k-th `fdatasync` with `EIO`, return `ENOSPC` from a write, tear a write.
 *
 * The interface is synchronous on purpose: the writer worker runs a blocking loop (it sleeps in
 * `Atomics.wait`), and a sync call has none of the promise/callback overhead of `fs.promises`.
 */
import * as fs from 'node:fs';

/** The subset of `node:fs` the WAL writer uses. Signatures follow `node:fs` (sync variants). */
export interface WalFs {
  /** `fs.openSync`. The WAL uses `'r'` (read only), `'r+'` (read/write) and `'w+'` (create a segment). */
  openSync(path: string, flags: string, mode?: number): number;
  /** `fs.closeSync`. */
  closeSync(fd: number): void;
  /** Positioned write (`pwrite`). Returns the number of bytes written (may be short). */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Positioned read (`pread`). Returns the number of bytes read (0 at end of file). */
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** `fdatasync`: the data (and the size) reach the disk; what an ack waits for. Throws `EIO`/`ENOSPC`. */
  fdatasyncSync(fd: number): void;
  /** `fsync`: data and all metadata; used for directories (a new or renamed entry) and tile files. */
  fsyncSync(fd: number): void;
  /** `ftruncate`: cuts a torn tail or a failed batch, and finishes a seal. */
  ftruncateSync(fd: number, length: number): void;
  /** `fs.fstatSync`; only `size` is used. */
  fstatSync(fd: number): { readonly size: number };
  /** `rename`: the atomic step of a file update (write temp, fsync, rename, fsync dir), e.g. hash tiles. */
  renameSync(oldPath: string, newPath: string): void;
  /** `fs.unlinkSync`: removes a half-created segment or a temp file. */
  unlinkSync(path: string): void;
  /** `fs.readdirSync`: lists the segments of the WAL directory. */
  readdirSync(path: string): string[];
  /** `fs.mkdirSync`: creates the WAL directory. */
  mkdirSync(path: string, options?: { recursive?: boolean }): void;
}

/** The default {@link WalFs}: plain `node:fs`. */
export const nodeWalFs: WalFs = Object.freeze({
  openSync: (path: string, flags: string, mode?: number): number => fs.openSync(path, flags, mode),
  closeSync: (fd: number): void => fs.closeSync(fd),
  writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number =>
    fs.writeSync(fd, buffer, offset, length, position),
  readSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number =>
    fs.readSync(fd, buffer, offset, length, position),
  fdatasyncSync: (fd: number): void => fs.fdatasyncSync(fd),
  fsyncSync: (fd: number): void => fs.fsyncSync(fd),
  ftruncateSync: (fd: number, length: number): void => fs.ftruncateSync(fd, length),
  fstatSync: (fd: number): { size: number } => fs.fstatSync(fd),
  renameSync: (oldPath: string, newPath: string): void => fs.renameSync(oldPath, newPath),
  unlinkSync: (path: string): void => fs.unlinkSync(path),
  readdirSync: (path: string): string[] => fs.readdirSync(path),
  mkdirSync: (path: string, options?: { recursive?: boolean }): void => {
    fs.mkdirSync(path, options);
  },
});

/**
 * fsyncs a directory, so that a file created (or renamed, or unlinked) in it survives a power
 * loss: on Linux the new directory entry is only durable after the directory itself is synced.
 * Goes through `wfs.openSync`/`fsyncSync`, so an injected fsync fault hits it too.
 * A no-op on Windows, where directories cannot be opened.
 */
export function fsyncDir(dir: string, wfs: WalFs = nodeWalFs): void {
  if (process.platform === 'win32') return;
  const fd = wfs.openSync(dir, 'r');
  try {
    wfs.fsyncSync(fd);
  } finally {
    wfs.closeSync(fd);
  }
}

/** A single `read` call stays below 2 GiB (a larger length aborts Node's native read). */
const kReadChunkBytes = 64 * 1024 * 1024;

/**
 * Reads exactly `length` bytes at `position` (fewer only at end of file); returns the count.
 * Positions and lengths are 64-bit safe: reads are issued in chunks of at most 64 MiB.
 */
export function readFully(
  wfs: WalFs,
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  let done = 0;
  while (done < length) {
    const n = wfs.readSync(fd, buffer, offset + done, Math.min(kReadChunkBytes, length - done), position + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/**
 * Writes exactly `length` bytes at `position`, looping over short writes (a short write is how
 * `ENOSPC` usually starts: the next call then fails). Throws the underlying error.
 */
export function writeFully(
  wfs: WalFs,
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): void {
  let done = 0;
  while (done < length) {
    const n = wfs.writeSync(fd, buffer, offset + done, length - done, position + done);
    if (n <= 0) throw Object.assign(new Error(`write returned ${n}`), { code: 'EIO' });
    done += n;
  }
}
