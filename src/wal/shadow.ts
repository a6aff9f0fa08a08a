/**
 * Shadow copies of the WAL (`openSink({ shadowDirs })`): every segment the writer creates, every
 * batch it appends, every seal and header rewrite, is done again, byte for byte at the same
 * offsets, in each shadow directory (meant for other disks), and each shadow is `fdatasync`'d
 * before the batch's acks resolve. The primary stays the authority: a shadow is a copy that
 * `recoverWal({ fromShadows })` can take intact records from when the primary is damaged.
 *
 * Failure model (`onShadowFailure`):
 * - `'fail'` (default): a failed shadow write, fdatasync or segment creation throws
 *   `ERR_IRONLOG_SHADOW_FAILED`; the writer then undoes the step on the primary and on every
 *   shadow exactly as for a primary fault (see `writer.ts`), so the affected acks are rejected
 *   and nothing that was acked is missing from any shadow in the set;
 * - `'drop'`: the shadow leaves the set (its fd is closed, its files are left as they are) and the
 *   writer goes on with the primary and the other shadows.
 * Every failure is reported through `report` in both modes.
 *
 * Opening (`ShadowSet.open`) reconciles each shadow with the primary's state after the primary's
 * own recovery, before any emit is accepted: a sealed segment that is missing or differs (size,
 * header, last 4 KiB) is copied (temp file, fdatasync, rename, directory fsync); the open segment
 * is rewritten from the first differing byte and cut to the primary's end of data; a shadow that
 * holds segments past the primary's last one (the primary may have lost them) is never
 * touched: that is a failure of the shadow at open (run `ironlog recover --from-shadow`).
 *
 * Not thread-safe; used by the writer's thread only.
 */
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { fsyncDir, readFully, type WalFs, writeFully } from './fs.js';
import { listSegmentFiles, SEGMENT_HEADER_BYTES } from './segment.js';

const debug = debuglog('ironlog');

/** What the writer does when a shadow fails: reject the affected acks, or drop the shadow. */
export type ShadowFailurePolicy = 'fail' | 'drop';

/** The step of a shadow that failed. */
export type ShadowOp = 'reconcile' | 'create' | 'write' | 'sync' | 'truncate' | 'seal-flag';

/** One failure of a shadow, as reported to {@link ShadowWriterOptions.report}. */
export interface ShadowFailureInfo {
  /** The shadow directory (absolute). */
  readonly dir: string;
  readonly op: ShadowOp;
  /** `ERR_IRONLOG_SHADOW_FAILED`, the errno error as `cause`. */
  readonly error: IronlogError;
  /** True when the shadow left the set (`'drop'`). */
  readonly dropped: boolean;
  /** Shadow directories still in the set after this failure. */
  readonly active: readonly string[];
}

/** Shadow part of the writer's options. */
export interface ShadowWriterOptions {
  /** Absolute shadow directories (validated by the sink's options: distinct, not nested). */
  readonly dirs: readonly string[];
  readonly onFailure: ShadowFailurePolicy;
  /** Called for every failure, in both modes, on the writer's thread. Exceptions are swallowed. */
  readonly report?: (failure: ShadowFailureInfo) => void;
}

/** What reconciling one shadow at open changed. */
export interface ShadowReconcile {
  readonly dir: string;
  /** Sealed segments copied from the primary (missing or different in the shadow). */
  readonly copiedSegments: string[];
  /** The open segment's first byte rewritten from the primary, -1 when it was already equal. */
  readonly openRewrittenFrom: number;
  /** Bytes cut from the end of the shadow's open segment (an unacknowledged tail). */
  readonly openCutBytes: number;
}

/** Per-shadow state of a sink, as the main thread tracks it (health, metrics, `sink.shadowStatus()`). */
export interface ShadowDirStatus {
  readonly dir: string;
  /** `active`: in the set, last step succeeded; `failing`: in the set, last step failed ('fail'); `dropped`: out of the set. */
  readonly state: 'active' | 'failing' | 'dropped';
  /** Failures counted since the sink opened. */
  readonly failures: number;
  /** The last failure's code and message. */
  readonly lastError?: string;
}

/** The shadows of a sink. */
export interface ShadowStatus {
  readonly policy: ShadowFailurePolicy;
  readonly shadows: readonly ShadowDirStatus[];
}

/** Temp files of a sealed-segment copy end in this (removed by the next reconcile). */
const kTmpSuffix = '.shadow-tmp';
/** Bytes at the end of a sealed segment compared at open (the seal and the last batches). */
const kTailCompareBytes = 4096;
/** Chunk size of copies and comparisons. */
const kChunkBytes = 1024 * 1024;

class Shadow {
  fd = -1;
  /** An ftruncate that failed while undoing a write: retried before the next write. -1: none. */
  repairTo = -1;
  constructor(readonly dir: string) {}
}

function shadowError(dir: string, op: ShadowOp, err: unknown): IronlogError {
  const detail = err instanceof Error ? err.message : String(err);
  return new IronlogError(ErrorCodes.SHADOW_FAILED, `shadow ${dir}: ${op} failed: ${detail}`, { cause: err });
}

function closeQuietly(wfs: WalFs, fd: number): void {
  if (fd < 0) return;
  try {
    wfs.closeSync(fd);
  } catch (err) {
    debug('close of a shadow fd failed: %s', errnoCode(err));
  }
}

/** The shadow directories of one writer. Create with {@link ShadowSet.open}. */
export class ShadowSet {
  readonly #fs: WalFs;
  readonly #policy: ShadowFailurePolicy;
  readonly #report: ((f: ShadowFailureInfo) => void) | undefined;
  #shadows: Shadow[];
  /** What the open-time reconcile did, per shadow. */
  readonly reconciled: ShadowReconcile[] = [];

  private constructor(wfs: WalFs, opts: ShadowWriterOptions) {
    this.#fs = wfs;
    this.#policy = opts.onFailure;
    this.#report = opts.report;
    this.#shadows = opts.dirs.map((d) => new Shadow(d));
  }

  /**
   * Reconciles every shadow with the primary in `primaryDir` (whose own open-time recovery is
   * done) and opens the open segment in each. `open` is the primary's open segment, if any.
   * With `'fail'` a shadow that cannot be reconciled throws `ERR_IRONLOG_SHADOW_FAILED`; with
   * `'drop'` it leaves the set.
   */
  static open(
    wfs: WalFs,
    opts: ShadowWriterOptions,
    primaryDir: string,
    open: { readonly path: string; readonly dataEnd: number } | undefined,
  ): ShadowSet {
    const set = new ShadowSet(wfs, opts);
    const primary = listSegmentFiles(primaryDir, wfs.readdirSync(primaryDir)).segments;
    for (const sh of [...set.#shadows]) {
      try {
        set.reconciled.push(set.#reconcile(sh, primary, open));
      } catch (err) {
        closeQuietly(wfs, sh.fd);
        sh.fd = -1;
        set.#fail(sh, 'reconcile', err);
      }
    }
    return set;
  }

  /** Shadow directories in the set. */
  get active(): readonly string[] {
    return this.#shadows.map((s) => s.dir);
  }

  /** Creates segment `name` in every shadow: header, fdatasync, directory fsync. */
  createSegment(name: string, header: Buffer): void {
    const created: Shadow[] = [];
    for (const sh of [...this.#shadows]) {
      const file = path.join(sh.dir, name);
      let fd = -1;
      try {
        fd = this.#fs.openSync(file, 'w+');
        writeFully(this.#fs, fd, header, 0, header.length, 0);
        this.#fs.fdatasyncSync(fd);
        fsyncDir(sh.dir, this.#fs);
        sh.fd = fd;
        sh.repairTo = -1;
        created.push(sh);
      } catch (err) {
        closeQuietly(this.#fs, fd);
        this.#unlinkQuietly(file);
        if (this.#policy === 'fail') {
          // Undo the others too: the writer removes the primary's new segment and throws.
          for (const c of created) {
            closeQuietly(this.#fs, c.fd);
            c.fd = -1;
            this.#unlinkQuietly(path.join(c.dir, name));
          }
        }
        this.#fail(sh, 'create', err);
      }
    }
  }

  /** Writes `length` bytes of `buf` at `position` of the open segment in every shadow. */
  write(buf: Uint8Array, offset: number, length: number, position: number): void {
    for (const sh of [...this.#shadows]) {
      if (sh.fd < 0) continue;
      try {
        if (sh.repairTo >= 0) {
          this.#fs.ftruncateSync(sh.fd, sh.repairTo);
          sh.repairTo = -1;
        }
        writeFully(this.#fs, sh.fd, buf, offset, length, position);
      } catch (err) {
        this.#fail(sh, 'write', err);
      }
    }
  }

  /** `fdatasync` of the open segment in every shadow. */
  sync(): void {
    for (const sh of [...this.#shadows]) {
      if (sh.fd < 0) continue;
      try {
        this.#fs.fdatasyncSync(sh.fd);
      } catch (err) {
        this.#fail(sh, 'sync', err);
      }
    }
  }

  /**
   * Cuts the open segment of every shadow back to `end` and syncs the cut (undoing a failed
   * step). Never throws: a cut that fails is retried before the next write (`'fail'`), or the
   * shadow is dropped (`'drop'`).
   */
  truncate(end: number): void {
    for (const sh of [...this.#shadows]) {
      if (sh.fd < 0) continue;
      try {
        this.#fs.ftruncateSync(sh.fd, end);
        sh.repairTo = -1;
        this.#fs.fdatasyncSync(sh.fd);
      } catch (err) {
        sh.repairTo = end;
        this.#fail(sh, 'truncate', err, false);
      }
    }
  }

  /** Rewrites the header of the segment just sealed (SEALED flag) in every shadow. Best effort: never throws. */
  markSealed(header: Buffer): void {
    for (const sh of [...this.#shadows]) {
      if (sh.fd < 0) continue;
      try {
        writeFully(this.#fs, sh.fd, header, 0, header.length, 0);
        this.#fs.fdatasyncSync(sh.fd);
      } catch (err) {
        this.#fail(sh, 'seal-flag', err, false);
      }
    }
  }

  /** The open segment was sealed: closes it in every shadow. */
  closeSegment(): void {
    for (const sh of this.#shadows) {
      closeQuietly(this.#fs, sh.fd);
      sh.fd = -1;
      sh.repairTo = -1;
    }
  }

  /** Closes every shadow's open segment (the writer closes). */
  close(): void {
    for (const sh of this.#shadows) {
      closeQuietly(this.#fs, sh.fd);
      sh.fd = -1;
    }
  }

  /**
   * A failure of `sh` in `op`: reported; with `'drop'` the shadow leaves the set; with `'fail'`
   * `ERR_IRONLOG_SHADOW_FAILED` is thrown (unless `raise` is false: an undo step, already on a
   * failure path).
   */
  #fail(sh: Shadow, op: ShadowOp, err: unknown, raise = true): void {
    const error = shadowError(sh.dir, op, err);
    const dropped = this.#policy === 'drop';
    if (dropped) {
      closeQuietly(this.#fs, sh.fd);
      sh.fd = -1;
      this.#shadows = this.#shadows.filter((s) => s !== sh);
    }
    debug('%s (%s)', error.message, dropped ? 'dropped' : 'acks fail');
    if (this.#report) {
      try {
        this.#report({ dir: sh.dir, op, error, dropped, active: this.active });
      } catch (reportErr) {
        debug('shadow failure report threw: %s', String(reportErr));
      }
    }
    if (!dropped && raise) throw error;
  }

  #unlinkQuietly(file: string): void {
    try {
      this.#fs.unlinkSync(file);
    } catch {
      // already gone
    }
  }

  // ---- open-time reconcile -----------------------------------------------------------------

  #reconcile(
    sh: Shadow,
    primary: readonly { readonly name: string; readonly path: string; readonly firstSeq: number }[],
    open: { readonly path: string; readonly dataEnd: number } | undefined,
  ): ShadowReconcile {
    const wfs = this.#fs;
    wfs.mkdirSync(sh.dir, { recursive: true });
    const names = wfs.readdirSync(sh.dir);
    for (const n of names) if (n.endsWith(kTmpSuffix)) this.#unlinkQuietly(path.join(sh.dir, n));
    const mine = listSegmentFiles(sh.dir, names).segments;
    const lastPrimary = primary[primary.length - 1];
    const ahead = mine.filter((s) => lastPrimary === undefined || s.firstSeq > lastPrimary.firstSeq);
    if (ahead.length > 0) {
      throw new IronlogError(
        ErrorCodes.SHADOW_FAILED,
        `the shadow holds segment(s) the primary does not have (${ahead
          .slice(0, 3)
          .map((s) => s.name)
          .join(
            ', ',
          )}): the primary may have lost data; nothing was changed in the shadow: run \`ironlog recover --from-shadow ${sh.dir}\` (or move the shadow away if it belongs to another log)`,
      );
    }
    const have = new Map(mine.map((s) => [s.name, s.path]));
    const openName = open ? path.basename(open.path) : '';
    const copied: string[] = [];
    let dirChanged = false;
    for (const seg of primary) {
      if (seg.name === openName) continue;
      const target = path.join(sh.dir, seg.name);
      if (have.has(seg.name) && this.#sealedCopyMatches(seg.path, target)) continue;
      this.#copySealed(seg.path, target);
      copied.push(seg.name);
      dirChanged = true;
    }
    let openRewrittenFrom = -1;
    let openCutBytes = 0;
    if (open) {
      const target = path.join(sh.dir, openName);
      const existed = have.has(openName);
      const fd = wfs.openSync(target, existed ? 'r+' : 'w+');
      sh.fd = fd;
      const r = this.#reconcileOpen(open.path, open.dataEnd, fd);
      openRewrittenFrom = r.from;
      openCutBytes = r.cut;
      if (!existed) dirChanged = true;
    }
    if (dirChanged) fsyncDir(sh.dir, wfs);
    return { dir: sh.dir, copiedSegments: copied, openRewrittenFrom, openCutBytes };
  }

  /** Size, header and the last 4 KiB equal (a full byte comparison is `verifyWal({ shadowDirs })`'s). */
  #sealedCopyMatches(primaryPath: string, shadowPath: string): boolean {
    const wfs = this.#fs;
    const a = wfs.openSync(primaryPath, 'r');
    try {
      const b = wfs.openSync(shadowPath, 'r');
      try {
        const size = wfs.fstatSync(a).size;
        if (wfs.fstatSync(b).size !== size) return false;
        const headBytes = Math.min(size, SEGMENT_HEADER_BYTES);
        if (!this.#rangeEqual(a, b, 0, headBytes)) return false;
        const tailFrom = Math.max(0, size - kTailCompareBytes);
        return this.#rangeEqual(a, b, tailFrom, size - tailFrom);
      } finally {
        closeQuietly(wfs, b);
      }
    } finally {
      closeQuietly(wfs, a);
    }
  }

  #rangeEqual(a: number, b: number, position: number, length: number): boolean {
    const wfs = this.#fs;
    const x = Buffer.allocUnsafe(length);
    const y = Buffer.allocUnsafe(length);
    if (readFully(wfs, a, x, 0, length, position) !== length) return false;
    if (readFully(wfs, b, y, 0, length, position) !== length) return false;
    return x.equals(y);
  }

  /** Copies a sealed segment durably: temp file, fdatasync, rename, (directory fsync by the caller). */
  #copySealed(from: string, to: string): void {
    const wfs = this.#fs;
    const tmp = `${to}${kTmpSuffix}`;
    const src = wfs.openSync(from, 'r');
    try {
      const dst = wfs.openSync(tmp, 'w+');
      try {
        const size = wfs.fstatSync(src).size;
        const chunk = Buffer.allocUnsafe(Math.min(kChunkBytes, Math.max(1, size)));
        for (let pos = 0; pos < size; ) {
          const n = readFully(wfs, src, chunk, 0, Math.min(chunk.length, size - pos), pos);
          if (n <= 0) break;
          writeFully(wfs, dst, chunk, 0, n, pos);
          pos += n;
        }
        wfs.fdatasyncSync(dst);
      } finally {
        closeQuietly(wfs, dst);
      }
    } finally {
      closeQuietly(wfs, src);
    }
    wfs.renameSync(tmp, to);
  }

  /**
   * Makes the shadow's open segment (`fd`) equal to the primary's first `dataEnd` bytes: rewrites
   * from the first differing byte, cuts what is past `dataEnd`, fdatasyncs when anything changed.
   */
  #reconcileOpen(primaryPath: string, dataEnd: number, fd: number): { from: number; cut: number } {
    const wfs = this.#fs;
    const size = wfs.fstatSync(fd).size;
    const src = wfs.openSync(primaryPath, 'r');
    let from = -1;
    try {
      const x = Buffer.allocUnsafe(kChunkBytes);
      const y = Buffer.allocUnsafe(kChunkBytes);
      const common = Math.min(size, dataEnd);
      for (let pos = 0; pos < dataEnd; pos += kChunkBytes) {
        const len = Math.min(kChunkBytes, dataEnd - pos);
        const n = readFully(wfs, src, x, 0, len, pos);
        if (n !== len) {
          throw Object.assign(new Error(`the primary's open segment ${primaryPath} is shorter than its data`), {
            code: 'EIO',
          });
        }
        if (from < 0) {
          const m = pos < common ? readFully(wfs, fd, y, 0, Math.min(len, common - pos), pos) : 0;
          let i = 0;
          while (i < m && x[i] === y[i]) i++;
          if (i < len) from = pos + i;
        }
        if (from >= 0) {
          const start = Math.max(from, pos);
          writeFully(wfs, fd, x, start - pos, pos + len - start, start);
        }
      }
    } finally {
      closeQuietly(wfs, src);
    }
    const cut = Math.max(0, size - dataEnd);
    if (size !== dataEnd) wfs.ftruncateSync(fd, dataEnd);
    if (from >= 0 || size !== dataEnd) wfs.fdatasyncSync(fd);
    return { from, cut };
  }
}
