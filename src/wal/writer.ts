/**
 * The WAL writer: appends group-commit batches to the open segment with one positioned write
 * each, makes them durable with `fdatasync`, rolls and seals segments, and on open continues the
 * log where it ends (cutting a torn tail, refusing damage before it).
 *
 * Failure model (see docs/wal-format.md, "Writer behaviour"):
 * - a failed write is undone (`ftruncate` to the batch's start), so no partial batch stays on disk;
 * - a failed `fdatasync` leaves the state of every page written since the last successful sync
 *   unknown (after "fsyncgate", Linux may have marked them clean without writing them), so
 *   everything appended since then is cut off again and the writer rolls back to the last synced
 *   batch. The caller rejects exactly the seqs in (syncedSeq, lastSeq-before-the-call].
 *
 * Opening (continuing the log, repairing a torn tail) is `writer-open.ts`; keeping the open segment
 * zero-filled ahead of the write position is `zero-fill.ts`.
 *
 * Not thread-safe: one writer per directory (the sink's directory lock enforces it), used by
 * one thread.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { BatchBuilder } from './batch.js';
import { CalendarRoll, type ResolvedRollAt } from './calendar-roll.js';
import { COMMIT_FRAME_BYTES, HASH_BYTES } from './frame-layout.js';
import { fsyncDir, nodeWalFs, readFully, type WalFs, writeFully } from './fs.js';
import { ioFailure } from './io-failure.js';
import type { SealedSegment } from './sealed-segment.js';
import {
  encodeSeal,
  encodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
  SealOffset,
  SegmentSummary,
  sealFrameBytes,
  segmentFileName,
  withSealedFlag,
  zeroHash,
} from './segment.js';
import { type ShadowReconcile, ShadowSet, type ShadowWriterOptions } from './shadow.js';
import { checkWriterOptions, type OpenedWal, openWalDirectory, type WalOpenReport } from './writer-open.js';
import {
  InlineZeroFiller,
  kDefaultZeroFillAheadBytes,
  writeZeros,
  ZeroFillAhead,
  type ZeroFillExecutor,
  type ZeroFillResult,
} from './zero-fill.js';

const debug = debuglog('ironlog');

/** Options of {@link WalWriter.open}. */
export interface WalWriterOptions {
  /** WAL directory; created (recursively) if missing. */
  dir: string;
  /** Writer id stored in every segment header: at most 24 UTF-8 bytes. */
  nodeId: string;
  /**
   * Segment size target in bytes. A batch goes to a new segment when it, plus room for the seal,
   * would not fit in the open one (a single batch larger than this gets a segment of its own).
   */
  segmentBytes: number;
  /** {@link WalWriter.sealIfOlderThan} seals a non-empty open segment this old (ms since creation). */
  segmentMaxAgeMs: number;
  /**
   * Calendar rotation: a segment is sealed before a batch whose latest record time is in a later
   * hour or day than the segment's first batch, and by {@link WalWriter.sealIfOlderThan} once the
   * clock passes that boundary. Default: off.
   */
  rollAt?: ResolvedRollAt | undefined;
  /** File-system seam (fault injection). Default: `node:fs`. */
  fs?: WalFs;
  /** Clock for segment creation and seal times, microseconds since the epoch. */
  nowUs?: () => number;
  /**
   * Keep the open segment zero-filled this many bytes past the end of data. Default 4 MiB; 0
   * disables. Overwriting pre-allocated zeros does not change the file size, so `fdatasync` has no
   * metadata to journal and costs about half (`docs/wal-format.md` §8). Extended by
   * {@link zeroFiller} (zeros in 1 MiB writes, then an `fdatasync`), requested only while nothing
   * unsynced is pending, never on the append path.
   */
  zeroFillAheadBytes?: number;
  /**
   * Where zero-fill requests run. Default: {@link InlineZeroFiller}, on the calling thread through
   * {@link fs} (what tests and the crash model use); the writer worker passes a helper thread.
   */
  zeroFiller?: ZeroFillExecutor;
  /** Called after a segment was sealed (and its seal fdatasync'd). Exceptions are swallowed. */
  onSealed?: (s: SealedSegment) => void;
  /**
   * Shadow copies (`shadow.ts`): every segment, batch and seal is also written, byte for byte, to
   * each of `dirs`, and synced before {@link WalWriter.sync} returns. Default: none.
   */
  shadows?: ShadowWriterOptions;
}

function defaultNowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Appends batches to a WAL directory. Create with {@link WalWriter.open}. See the module comment
 * for the failure model and `docs/wal-format.md` for the bytes.
 */
export class WalWriter {
  /** The reusable batch builder: fill it, then {@link appendBatch} (which resets it). */
  readonly batch: BatchBuilder = new BatchBuilder();
  #openReport: WalOpenReport = {
    tornTailSegment: '',
    tornTailOffset: 0,
    tornTailBytes: 0,
    removedSegments: [],
    finishedSeal: false,
  };

  readonly #fs: WalFs;
  readonly #dir: string;
  readonly #nodeId: string;
  readonly #segmentBytes: number;
  readonly #segmentMaxAgeMs: number;
  readonly #nowUs: () => number;
  readonly #onSealed: ((s: SealedSegment) => void) | undefined;
  /** Calendar rotation (`rollAt`), undefined when off. */
  readonly #roll: CalendarRoll | undefined;
  /** Where the open segment's calendar period ends (ms since the epoch); Infinity: no boundary. */
  #rollAtMs = Number.POSITIVE_INFINITY;

  /** Open segment's fd, -1 when no segment is open (the next append creates one). */
  #fd = -1;
  #segPath = '';
  #segCreatedUs = 0;
  /**
   * The open segment's state up to its last appended batch. With no open segment it describes an
   * empty "next" segment: firstSeq = lastSeq + 1, chainHash = the log's last chain hash.
   */
  readonly #summary = new SegmentSummary();
  /** The same at the last successful fdatasync: what a failed sync rolls back to. */
  readonly #synced = new SegmentSummary();
  /** The zero-filled space past the end of data of the open segment. */
  readonly #zeroFill: ZeroFillAhead;
  readonly #zeroFiller: ZeroFillExecutor;
  /** The zero-fill request in flight: nothing is written at or past `from` until it is done. */
  #zfPending: { readonly from: number; readonly to: number } | undefined;
  /** An ftruncate that failed while undoing a write: retried before anything else. -1: none. */
  #repairTo = -1;
  /** SHA-256 of the last seal (the next segment's prevSealHash). */
  #prevSealHash: Buffer = zeroHash();
  #sealedBytes = 0;
  #closed = false;
  /** Shadow copies; undefined without `shadowDirs` (nothing on the write path then). */
  #shadows: ShadowSet | undefined;

  private constructor(opts: WalWriterOptions, wfs: WalFs) {
    this.#fs = wfs;
    this.#dir = opts.dir;
    this.#nodeId = opts.nodeId;
    this.#segmentBytes = opts.segmentBytes;
    this.#segmentMaxAgeMs = opts.segmentMaxAgeMs;
    this.#nowUs = opts.nowUs ?? defaultNowUs;
    this.#zeroFill = new ZeroFillAhead(opts.zeroFillAheadBytes ?? kDefaultZeroFillAheadBytes);
    this.#zeroFiller = opts.zeroFiller ?? new InlineZeroFiller(wfs);
    this.#onSealed = opts.onSealed;
    this.#roll = opts.rollAt ? new CalendarRoll(opts.rollAt) : undefined;
    this.#summary.reset(1, zeroHash());
    this.#synced.reset(1, zeroHash());
  }

  /**
   * Opens (creating if needed) the WAL in `opts.dir` and positions the writer after its last valid
   * batch: a torn tail of the last segment is cut (and the cut fdatasync'd), damage before the
   * tail throws `ERR_IRONLOG_WAL_CORRUPT` (run `recoverWal`), a foreign `*.wal` file throws
   * `ERR_IRONLOG_WAL_FORMAT`. Synchronous.
   */
  static open(opts: WalWriterOptions): WalWriter {
    checkWriterOptions(opts);
    const wfs = opts.fs ?? nodeWalFs;
    const w = new WalWriter(opts, wfs);
    w.#adopt(openWalDirectory(wfs, opts.dir));
    if (opts.shadows && opts.shadows.dirs.length > 0) {
      try {
        w.#shadows = ShadowSet.open(
          wfs,
          opts.shadows,
          opts.dir,
          w.#fd >= 0 ? { path: w.#segPath, dataEnd: w.#summary.dataEnd } : undefined,
        );
      } catch (err) {
        if (w.#fd >= 0) wfs.closeSync(w.#fd);
        throw err;
      }
    }
    return w;
  }

  /** What the open-time reconcile of each shadow changed (empty without shadows). */
  get shadowReconcile(): readonly ShadowReconcile[] {
    return this.#shadows?.reconciled ?? [];
  }
  /** Shadow directories still in the set (empty without shadows). */
  get activeShadows(): readonly string[] {
    return this.#shadows?.active ?? [];
  }

  /** What {@link open} had to repair (torn tail cut, incomplete segment removed, seal finished). */
  get openReport(): WalOpenReport {
    return this.#openReport;
  }
  /** Last seq in the log (records and gaps); 0 when empty. */
  get lastSeq(): number {
    return this.#summary.lastSeq;
  }
  /** Chain hash after the last batch (a copy). */
  get lastChainHash(): Buffer {
    return Buffer.from(this.#summary.chainHash);
  }
  /** Last seq known durable (fdatasync'd). */
  get syncedSeq(): number {
    return this.#synced.lastSeq;
  }
  /** First seq of the open segment (or of the next one, when none is open). */
  get segmentFirstSeq(): number {
    return this.#summary.firstSeq;
  }
  /** Path of the open segment, '' when none is open. */
  get segmentPath(): string {
    return this.#segPath;
  }
  /** Bytes of the log: sealed segments plus the open segment up to its end of data. */
  get walBytes(): number {
    return this.#sealedBytes + (this.#fd >= 0 ? this.#summary.dataEnd : 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Open

  /** Takes over the state `openWalDirectory` found: the open segment to continue, or where the next one starts. */
  #adopt(o: OpenedWal): void {
    this.#openReport = o.report;
    this.#sealedBytes = o.sealedBytes;
    if (o.prevSealHash) this.#prevSealHash = o.prevSealHash;
    const c = o.continued;
    if (c) {
      this.#fd = c.fd;
      this.#segPath = c.path;
      this.#segCreatedUs = c.header.createdUs;
      this.#summary.reset(c.header.firstSeq, c.header.prevChainHash);
      this.#summary.copyFrom(c.summary);
      this.#summary.dataEnd = c.dataEnd;
      this.#synced.reset(c.header.firstSeq, c.header.prevChainHash);
      this.#synced.copyFrom(this.#summary);
      this.#zeroFill.startSegment(c.zeroedTo);
      // A continued segment keeps the period of its records (its earliest one: the next batch
      // of a later period seals it).
      if (this.#roll && c.summary.minTimeUs >= 0)
        this.#rollAtMs = this.#roll.nextBoundaryMs(c.summary.minTimeUs / 1000);
    } else if (o.next) {
      this.#summary.reset(o.next.firstSeq, o.next.chainHash);
      this.#synced.reset(o.next.firstSeq, o.next.chainHash);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Append, sync

  #checkOpen(): void {
    if (this.#closed) throw new IronlogError(ErrorCodes.CLOSED, 'the WAL writer is closed');
  }

  /** Retries an ftruncate that failed while undoing a write. Throws WAL_WRITE/DISK_FULL if it fails again. */
  #repair(): void {
    if (this.#repairTo < 0) return;
    this.#awaitZeroFill();
    try {
      this.#fs.ftruncateSync(this.#fd, this.#repairTo);
    } catch (err) {
      throw ioFailure('write', err, `${this.#segPath} (cannot remove a failed write)`);
    }
    this.#zeroFill.zeroedTo = this.#repairTo;
    this.#repairTo = -1;
  }

  /** Cuts the file back to `end`; remembers the cut when that fails too (retried by #repair). */
  #cutTo(end: number): void {
    this.#shadows?.truncate(end);
    this.#awaitZeroFill();
    this.#zeroFill.zeroedTo = end;
    try {
      this.#fs.ftruncateSync(this.#fd, end);
      this.#repairTo = -1;
    } catch (err) {
      debug('ftruncate of %s to %d failed (%s); retried before the next write', this.#segPath, end, errnoCode(err));
      this.#repairTo = end;
    }
  }

  /**
   * Undoes a failed write of `length` bytes at `end` (the end of data). Inside the zero-filled
   * space the bytes are overwritten with zeros instead of truncating: that space is the disk
   * reserve (overwriting allocated blocks needs no free space), so after `ENOSPC` the gap record
   * that accounts for the rejected seqs, or a seal, can still be written. Anything past the
   * zero-filled space, or any failure here, falls back to a truncate.
   */
  #undoWrite(end: number, length: number): void {
    this.#shadows?.truncate(end);
    this.#awaitZeroFill();
    const zeroedTo = this.#zeroFill.zeroedTo;
    if (end < zeroedTo) {
      try {
        writeZeros(this.#fs, this.#fd, end, Math.min(end + length, zeroedTo));
        if (end + length > zeroedTo) this.#fs.ftruncateSync(this.#fd, zeroedTo);
        this.#repairTo = -1;
        return;
      } catch (err) {
        debug('zeroing a failed write in %s failed (%s); truncating', this.#segPath, errnoCode(err));
      }
    }
    this.#cutTo(end);
  }

  /** After a failed fdatasync: drop everything appended since the last good one. */
  #rollbackToSynced(): void {
    // Truncate, never zero in place: after a failed fdatasync the state of those pages is unknown.
    this.#cutTo(this.#synced.dataEnd);
    this.#summary.copyFrom(this.#synced);
    // Make the cut durable (best effort). Otherwise a power loss before the next successful
    // fdatasync can bring the rejected bytes back on disk behind whatever is written next at this
    // offset, e.g. behind a seal, and the next open refuses the segment ("nonzero bytes after the
    // seal"). Found by the torture suite (power-loss); a failure here changes nothing: the writer
    // has already rolled back and the caller rejects the seqs either way.
    if (this.#repairTo < 0) {
      try {
        this.#fs.fdatasyncSync(this.#fd);
      } catch (err) {
        debug('fdatasync after rolling %s back failed: %s', this.#segPath, errnoCode(err));
      }
    }
  }

  /**
   * Appends the builder's batch (plus its COMMIT) with one positioned write; no fsync. Seals and
   * rolls to a new segment first when the batch and a seal would not fit. The batch's first seq
   * must be `lastSeq + 1` (INTERNAL otherwise). On a write error the segment is cut back to its
   * state before the call and `ERR_IRONLOG_WAL_WRITE` / `ERR_IRONLOG_DISK_FULL` is thrown;
   * `lastSeq` and the chain do not move. Rolling may also fail with `ERR_IRONLOG_WAL_FSYNC`, in
   * which case the writer has rolled back to `syncedSeq` (reject every seq above it). The builder
   * is reset in every case.
   */
  appendBatch(): void {
    const b = this.batch;
    try {
      this.#checkOpen();
      if (b.count === 0) return;
      const s = this.#summary;
      if (b.firstSeq !== s.lastSeq + 1) {
        throw new IronlogError(
          ErrorCodes.INTERNAL,
          `batch starts at seq ${b.firstSeq} but the WAL ends at seq ${s.lastSeq}`,
        );
      }
      this.#repair();
      const total = b.bytes + COMMIT_FRAME_BYTES;
      // Calendar rotation: one comparison per batch (the boundary was computed at the segment's first batch).
      const batchMs = b.maxTimeUs / 1000;
      if (this.#fd >= 0 && s.batches > 0 && b.maxTimeUs >= 0 && batchMs >= this.#rollAtMs) this.#sealOpenSegment();
      if (
        this.#fd >= 0 &&
        s.batches > 0 &&
        s.dataEnd + total + sealFrameBytes(s.indexEntries + 1) > this.#segmentBytes
      ) {
        this.#sealOpenSegment();
      }
      if (this.#fd < 0) this.#createSegment();
      const pos = s.dataEnd;
      // With a helper thread, zero-filling never runs here: a request in flight that this write
      // would reach (data outrunning the helper) is stopped, which waits for one 1 MiB write at most. Inline (injected fs), the
      // zero fill is extended here first when it would run short, as it always was.
      if (!this.#zeroFiller.concurrent) this.#requestZeroFill(pos + total);
      this.#pollZeroFill();
      const pending = this.#zfPending;
      if (pending && pos + total > pending.from) this.#awaitZeroFill();
      b.commit(s.chainHash);
      try {
        writeFully(this.#fs, this.#fd, b.buffer, 0, total, pos);
        this.#shadows?.write(b.buffer, 0, total, pos);
      } catch (err) {
        this.#undoWrite(pos, total);
        throw ioFailure('write', err, `seqs ${b.firstSeq}..${b.lastSeq} to ${this.#segPath}`);
      }
      s.addBatch(
        pos,
        pos + total,
        b.lastSeq,
        b.records,
        b.gapFrames,
        b.gapSeqs,
        b.minTimeUs,
        b.maxTimeUs,
        b.chainHashView(),
      );
      if (pos + total > this.#zeroFill.zeroedTo) this.#zeroFill.zeroedTo = pos + total;
      if (this.#roll && b.maxTimeUs >= 0 && (s.batches === 1 || this.#rollAtMs === Number.POSITIVE_INFINITY)) {
        this.#rollAtMs = this.#roll.nextBoundaryMs(batchMs);
      }
    } finally {
      b.reset();
    }
  }

  /**
   * Makes everything appended durable (`fdatasync` of the open segment). On failure everything
   * appended since the last successful sync is cut off again, `lastSeq` and the chain roll back
   * to `syncedSeq`, and `ERR_IRONLOG_WAL_FSYNC` (or `ERR_IRONLOG_DISK_FULL`) is thrown: reject
   * the seqs above `syncedSeq`; later appends continue from there.
   */
  sync(): void {
    this.#checkOpen();
    if (this.#fd < 0) return;
    if (this.#summary.dataEnd === this.#synced.dataEnd && this.#repairTo < 0) return;
    try {
      if (this.#repairTo >= 0) {
        this.#awaitZeroFill();
        this.#fs.ftruncateSync(this.#fd, this.#repairTo);
        this.#repairTo = -1;
      }
      this.#fs.fdatasyncSync(this.#fd);
      this.#shadows?.sync();
    } catch (err) {
      const from = this.#synced.lastSeq + 1;
      const to = this.#summary.lastSeq;
      this.#rollbackToSynced();
      throw ioFailure('fsync', err, `${this.#segPath} (seqs ${from}..${to} are not durable)`);
    }
    this.#synced.copyFrom(this.#summary);
    if (this.#zeroFiller.concurrent) this.#requestZeroFill();
  }

  /**
   * Seals the open segment if it holds at least one batch and was created `segmentMaxAgeMs` or
   * more before `nowMs`, or (with `rollAt`) `nowMs` is past the end of its calendar period.
   */
  sealIfOlderThan(nowMs: number): boolean {
    this.#checkOpen();
    if (this.#fd < 0 || this.#summary.batches === 0) return false;
    if (nowMs - this.#segCreatedUs / 1000 < this.#segmentMaxAgeMs && nowMs < this.#rollAtMs) return false;
    this.#sealOpenSegment();
    return true;
  }

  /** Seals the open segment now (no-op without an open, non-empty segment). The next append starts a new segment. */
  seal(): void {
    this.#checkOpen();
    if (this.#fd < 0 || this.#summary.batches === 0) return;
    this.#sealOpenSegment();
  }

  /**
   * Idle-time work: retry a pending repair, pick up a finished zero-fill request, and request the
   * next one when due (only while nothing unsynced is pending). `budgetMs` is kept for callers;
   * nothing here writes zeros on this thread unless the zero-filler is the inline one.
   */
  maintain(_budgetMs: number): void {
    this.#checkOpen();
    if (this.#fd < 0) return;
    this.#repair();
    this.#pollZeroFill();
    if (!this.#zfPending && this.#zeroFill.failed) this.#zeroFill.retry(); // the disk may have room again
    this.#requestZeroFill();
  }

  /** Syncs and closes. The open segment stays open (unsealed); reopening continues it. */
  close(): void {
    if (this.#closed) return;
    try {
      this.sync();
    } finally {
      this.#closed = true;
      this.#awaitZeroFill();
      this.#zeroFiller.close();
      this.#shadows?.close();
      if (this.#fd >= 0) {
        try {
          this.#fs.closeSync(this.#fd);
        } catch (err) {
          debug('close of %s failed: %s', this.#segPath, errnoCode(err));
        }
        this.#fd = -1;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Segments

  /**
   * Asks the zero-filler to extend the zero-filled space of the open segment, when due: nothing in
   * flight, nothing unsynced, less than half of `zeroFillAheadBytes` left (the hysteresis keeps an
   * idle writer from filling a few bytes after every batch). The request starts at least
   * the zero-filler's `headroomBytes` past the end of data, so the next batches do not wait for it.
   */
  #requestZeroFill(end = this.#summary.dataEnd): void {
    if (this.#fd < 0 || this.#zfPending) return;
    const zf = this.#zeroFill;
    const unsynced = this.#summary.dataEnd !== this.#synced.dataEnd;
    if (zf.failed || unsynced || this.#repairTo >= 0 || !zf.wantsExtension(end)) return;
    const headroom = this.#zeroFiller.headroomBytes;
    const from = Math.max(zf.zeroedTo, end + headroom);
    const to = Math.min(end + headroom + zf.aheadBytes, this.#segmentBytes);
    if (to <= from) return;
    this.#zfPending = { from, to };
    this.#zeroFiller.start(this.#fd, from, to);
  }

  /** Takes the result of a finished zero-fill request, if any (never blocks). */
  #pollZeroFill(): void {
    const p = this.#zfPending;
    if (!p) return;
    const r = this.#zeroFiller.poll();
    if (r) this.#applyZeroFill(p, r);
  }

  /**
   * Ends the zero-fill request in flight, if any (the helper stops after its current 1 MiB write):
   * before writing at or past its start, truncating, sealing, closing.
   */
  #awaitZeroFill(): void {
    const p = this.#zfPending;
    if (p) this.#applyZeroFill(p, this.#zeroFiller.stop());
  }

  #applyZeroFill(p: { readonly from: number; readonly to: number }, r: ZeroFillResult): void {
    this.#zfPending = undefined;
    const zf = this.#zeroFill;
    if (!r.ok) {
      zf.markFailed();
      debug('zero-filling %s [%d, %d) failed (%s)', this.#segPath, p.from, p.to, r.code);
      return;
    }
    // [zeroedTo, from) is a hole or past the old end of file: it reads as zeros too.
    if (r.doneTo > zf.zeroedTo) zf.zeroedTo = r.doneTo;
  }

  #createSegment(): void {
    const wfs = this.#fs;
    const s = this.#summary;
    const firstSeq = s.lastSeq + 1;
    const file = path.join(this.#dir, segmentFileName(firstSeq));
    const createdUs = Math.max(0, Math.floor(this.#nowUs()));
    const header = encodeSegmentHeader({
      firstSeq,
      createdUs,
      writerId: this.#nodeId,
      prevChainHash: s.chainHash,
      prevSealHash: this.#prevSealHash,
    });
    let fd = -1;
    let op: 'write' | 'fsync' = 'write';
    try {
      // 'w+': a file of this name can only be a leftover of an earlier failed creation.
      fd = wfs.openSync(file, 'w+');
      writeFully(wfs, fd, header, 0, header.length, 0);
      this.#fd = fd;
      this.#zeroFill.startSegment(SEGMENT_HEADER_BYTES);
      s.reset(firstSeq, s.chainHash);
      op = 'fsync';
      wfs.fdatasyncSync(fd);
      // The new directory entry must be durable before any ack depends on the file.
      fsyncDir(this.#dir, wfs);
      this.#shadows?.createSegment(path.basename(file), header);
    } catch (err) {
      this.#fd = -1;
      if (fd >= 0) {
        try {
          wfs.closeSync(fd);
          wfs.unlinkSync(file);
        } catch (cleanupErr) {
          debug('cleanup of failed segment %s: %s', file, errnoCode(cleanupErr));
        }
      }
      throw ioFailure(op, err, `new segment ${file}`);
    }
    this.#segPath = file;
    this.#segCreatedUs = createdUs;
    this.#synced.reset(firstSeq, s.chainHash);
    this.#synced.copyFrom(s);
    this.#requestZeroFill();
  }

  /**
   * Sets the SEALED flag in the header of the segment just sealed, after its seal is durable, so
   * that a reader can tell a sealed segment that lost its end (truncated or zeroed back to a
   * batch boundary, seal included) from an open one. Best effort: the segment is sealed and
   * valid without the flag (as segments of earlier versions are); a failure is only logged, and
   * either header (old or new) is valid if the machine stops in between.
   */
  #markSealed(): void {
    const wfs = this.#fs;
    try {
      const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
      if (readFully(wfs, this.#fd, header, 0, SEGMENT_HEADER_BYTES, 0) !== SEGMENT_HEADER_BYTES) return;
      const flagged = withSealedFlag(header);
      if (!flagged || flagged.equals(header)) return;
      writeFully(wfs, this.#fd, flagged, 0, SEGMENT_HEADER_BYTES, 0);
      wfs.fdatasyncSync(this.#fd);
      this.#shadows?.markSealed(flagged);
    } catch (err) {
      debug('setting the sealed flag of %s failed (%s); the seal itself is durable', this.#segPath, errnoCode(err));
    }
  }

  #sealOpenSegment(): void {
    const wfs = this.#fs;
    const s = this.#summary;
    this.#awaitZeroFill();
    this.#repair();
    const pos = s.dataEnd;
    const sealedUs = Math.max(0, Math.floor(this.#nowUs()));
    const sealFrame = encodeSeal(s.toSealFields(sealedUs, pos));
    const end = pos + sealFrame.length;
    try {
      writeFully(wfs, this.#fd, sealFrame, 0, sealFrame.length, pos);
      this.#shadows?.write(sealFrame, 0, sealFrame.length, pos);
    } catch (err) {
      this.#undoWrite(pos, sealFrame.length);
      throw ioFailure('write', err, `seal of ${this.#segPath}`);
    }
    try {
      wfs.ftruncateSync(this.#fd, end);
    } catch (err) {
      this.#cutTo(pos);
      throw ioFailure('write', err, `seal of ${this.#segPath}`);
    }
    try {
      wfs.fdatasyncSync(this.#fd);
      this.#shadows?.sync();
    } catch (err) {
      const from = this.#synced.lastSeq + 1;
      const to = s.lastSeq;
      this.#rollbackToSynced();
      throw ioFailure('fsync', err, `seal of ${this.#segPath} (seqs ${from}..${to} are not durable)`);
    }
    this.#markSealed();
    const sha = createHash('sha256').update(sealFrame).digest();
    const info: SealedSegment = {
      path: this.#segPath,
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      records: s.records,
      bytes: end,
      sealSha256: sha.toString('hex'),
      merkleRoot: sealFrame.toString('hex', SealOffset.MERKLE_ROOT, SealOffset.MERKLE_ROOT + HASH_BYTES),
    };
    try {
      wfs.closeSync(this.#fd);
    } catch (err) {
      debug('close of sealed %s failed: %s', this.#segPath, errnoCode(err));
    }
    this.#fd = -1;
    this.#shadows?.closeSegment();
    this.#segPath = '';
    this.#sealedBytes += end;
    this.#prevSealHash = sha;
    this.#rollAtMs = Number.POSITIVE_INFINITY;
    s.reset(s.lastSeq + 1, s.chainHash);
    this.#synced.reset(s.firstSeq, s.chainHash);
    if (this.#onSealed) {
      try {
        this.#onSealed(info);
      } catch (err) {
        debug('onSealed callback threw: %s', String(err));
      }
    }
  }
}
