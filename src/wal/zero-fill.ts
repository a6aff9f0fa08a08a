/**
 * Preallocation of the open segment: keeping it zero-filled some way past the end of data.
 * Overwriting pre-allocated zeros does not change the file size, so the `fdatasync` after a
 * batch has no metadata to journal and costs about half (`docs/wal-format.md` §8, "Zero fill").
 * The zero-filled space is also the writer's disk reserve: after
 * `ENOSPC` a failed write inside it is undone by overwriting it with zeros ({@link writeZeros}),
 * which needs no free blocks, so the gap record or seal that follows still fits.
 */
import { debuglog } from 'node:util';
import { errnoCode } from '../core/errors.js';
import { type WalFs, writeFully } from './fs.js';

const debug = debuglog('ironlog');

/** Default of `WalWriterOptions.zeroFillAheadBytes`. */
export const kDefaultZeroFillAheadBytes = 4 * 1024 * 1024;
/** Zeros are written in chunks of this size, each chunk one positioned write. */
const kZeroChunkBytes = 1024 * 1024;
let zeroChunk: Buffer | undefined;

function zeros(): Buffer {
  zeroChunk ??= Buffer.alloc(kZeroChunkBytes);
  return zeroChunk;
}

/** Overwrites [from, to) of `fd` with zeros (1 MiB writes). Throws what the write throws. */
export function writeZeros(wfs: WalFs, fd: number, from: number, to: number): void {
  const chunk = zeros();
  for (let p = from; p < to; p += kZeroChunkBytes) {
    writeFully(wfs, fd, chunk, 0, Math.min(kZeroChunkBytes, to - p), p);
  }
}

/**
 * The zero-filled space of one writer's open segment: how far it reaches and whether to extend
 * it. The writer moves {@link zeroedTo} when it writes past it or cuts the file back.
 */
export class ZeroFillAhead {
  /**
   * Target distance (bytes) of zeros past the end of data; 0 disables zero-filling. The writer
   * never requests zeros past `segmentBytes` (see `WalWriter`).
   */
  readonly aheadBytes: number;
  /** The file is known to be zeros (or end of file) from the end of data up to here. */
  zeroedTo = 0;
  /** An extension failed: no more attempts for this segment until {@link retry}. */
  #failed = false;

  constructor(aheadBytes: number) {
    this.aheadBytes = aheadBytes;
  }

  /** A new segment (or a reopened one): zeros are known up to `zeroedTo`, earlier failures forgotten. */
  startSegment(zeroedTo: number): void {
    this.zeroedTo = zeroedTo;
    this.#failed = false;
  }

  /** Allows another attempt after a failure (the disk may have room again). */
  retry(): void {
    this.#failed = false;
  }

  /** True after a failed extension (until {@link retry} or a new segment). */
  get failed(): boolean {
    return this.#failed;
  }

  /** An extension run elsewhere (a {@link ZeroFillExecutor}) failed: stop for this segment. */
  markFailed(): void {
    this.#failed = true;
  }

  /**
   * True when data ending at `end` leaves less than half the distance zero-filled. The hysteresis
   * keeps an idle writer from writing (and fdatasyncing) a few bytes of zeros after every batch.
   */
  wantsExtension(end: number): boolean {
    return this.aheadBytes > 0 && end + this.aheadBytes / 2 > this.zeroedTo;
  }
}

/** Outcome of one zero-fill request: `ok` false when a write or the fdatasync failed. */
export interface ZeroFillResult {
  readonly ok: boolean;
  /** errno code of the failure ('' when ok). */
  readonly code: string;
  /** When ok: zeros reach from `from` up to here (`to`, or less when the request was stopped). */
  readonly doneTo: number;
}

/**
 * Runs zero-fill requests of the writer: write zeros over [from, to) of an open segment's fd,
 * then fdatasync it; on failure, cut whatever lies past `from` off again (best effort). At most one request
 * is in flight. The writer guarantees that while one is, it writes nothing at or past `from` and
 * neither truncates nor closes the fd (it calls {@link stop} first), so the zeros never meet data.
 */
export interface ZeroFillExecutor {
  /**
   * How far past the end of data a request starts: room the writer may fill while the request
   * runs. 0 for an executor that finishes within `start`.
   */
  readonly headroomBytes: number;
  /**
   * True when requests run on another thread: the writer then requests right after each sync.
   * False (inline): the writer requests only where the work may block it (idle time, and before
   * an append that would otherwise run out of zeros, as the writer always did).
   */
  readonly concurrent: boolean;
  /** Starts a request (none may be in flight). */
  start(fd: number, from: number, to: number): void;
  /** The in-flight request's result once it has finished, else undefined (never blocks). */
  poll(): ZeroFillResult | undefined;
  /**
   * Ends the in-flight request early (after the 1 MiB write in progress; the fdatasync is then
   * skipped: synced zeros only save the writer's fdatasync some work) and blocks until it has
   * ended. Returns its result; `doneTo` tells how far the zeros got.
   */
  stop(): ZeroFillResult;
  /** Releases the executor (a helper thread stops). */
  close(): void;
}

/**
 * The executor that does the work at once, on the calling thread, through the writer's
 * {@link WalFs}: the writer's default when it runs on an injected file system (tests, the
 * torture suite's crash model), so every zero-fill write and sync goes through the model.
 */
export class InlineZeroFiller implements ZeroFillExecutor {
  readonly headroomBytes = 0;
  readonly concurrent = false;
  readonly #fs: WalFs;
  #result: ZeroFillResult | undefined;

  constructor(wfs: WalFs) {
    this.#fs = wfs;
  }

  start(fd: number, from: number, to: number): void {
    this.#result = runZeroFill(this.#fs, fd, from, to);
  }

  poll(): ZeroFillResult | undefined {
    const r = this.#result;
    this.#result = undefined;
    return r;
  }

  stop(): ZeroFillResult {
    return this.poll() ?? { ok: false, code: 'ENOREQUEST', doneTo: 0 };
  }

  close(): void {}
}

/**
 * One request's work (shared by the inline executor and the helper thread): 1 MiB writes of zeros
 * over [from, to), `stopped()` checked before each, then fdatasync unless stopped.
 */
export function runZeroFill(
  wfs: WalFs,
  fd: number,
  from: number,
  to: number,
  stopped: () => boolean = () => false,
): ZeroFillResult {
  try {
    const chunk = zeros();
    let p = from;
    while (p < to) {
      if (stopped()) return { ok: true, code: '', doneTo: p };
      const n = Math.min(kZeroChunkBytes, to - p);
      writeFully(wfs, fd, chunk, 0, n, p);
      p += n;
    }
    wfs.fdatasyncSync(fd);
    return { ok: true, code: '', doneTo: to };
  } catch (err) {
    const code = errnoCode(err) ?? 'EIO';
    debug('zero-filling fd %d [%d, %d) failed (%s); continuing without', fd, from, to, code);
    try {
      // Give back what the attempt took (on a full disk, the last free blocks): cut what lies past
      // `from`, never extend the file (a longer file would let a later data write succeed where
      // the disk is full) and never cut below `from` (data may lie there).
      if (wfs.fstatSync(fd).size > from) wfs.ftruncateSync(fd, from);
    } catch {
      // Zeros past the end of data are harmless.
    }
    return { ok: false, code, doneTo: from };
  }
}
