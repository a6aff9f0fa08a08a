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
 * Not thread-safe: one writer per directory (the sink's directory lock enforces it), used by
 * one thread.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { BatchBuilder } from './batch.js';
import { fsyncDir, nodeWalFs, readFully, type WalFs, writeFully } from './fs.js';
import { ioFailure } from './io-failure.js';
import { firstNonZero, scanSegmentImage, walCorrupt } from './reader.js';
import { COMMIT_FRAME_BYTES, checkFrame, FrameCheck, HASH_BYTES, readU32, readU64 } from './record.js';
import {
  type DecodedSeal,
  decodeSeal,
  decodeSegmentHeader,
  encodeSeal,
  encodeSegmentHeader,
  isTornHeader,
  listSegmentFiles,
  SEAL_MAGIC,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  type SegmentFile,
  type SegmentHeader,
  SegmentSummary,
  sealFrameBytes,
  segmentFileName,
  WRITER_ID_BYTES,
  zeroHash,
} from './segment.js';

const debug = debuglog('ironlog');

/** Summary of a segment the writer sealed (what the replicator uploads). */
export interface SealedSegmentInfo {
  readonly path: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** RECORD frames in the segment (gaps not counted). */
  readonly records: number;
  /** File size, seal included. */
  readonly bytes: number;
  /** SHA-256 of the SEAL frame, hex: the next segment's prevSealHash. */
  readonly sealSha256: string;
  /** Merkle root over the segment's COMMIT chain hashes, hex. */
  readonly merkleRoot: string;
}

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
  /** File-system seam (fault injection). Default: `node:fs`. */
  fs?: WalFs;
  /** Clock for segment creation and seal times, microseconds since the epoch. */
  nowUs?: () => number;
  /**
   * Keep the open segment zero-filled this many bytes past the end of data. Default 4 MiB; 0
   * disables. Overwriting pre-allocated zeros does not change the file size, so `fdatasync` has no
   * metadata to journal and costs about half (DESIGN §8). Extended in 1 MiB chunks, each extension
   * followed by its own `fdatasync`, only while nothing unsynced is pending.
   */
  zeroFillAheadBytes?: number;
  /** Called after a segment was sealed (and its seal fdatasync'd). Exceptions are swallowed. */
  onSealed?: (s: SealedSegmentInfo) => void;
}

/** What {@link WalWriter.open} had to repair. */
export interface WalOpenReport {
  /** Segment whose torn tail was cut ('' when none). */
  readonly tornTailSegment: string;
  /** Offset the torn tail was cut at. */
  readonly tornTailOffset: number;
  /** Bytes removed (including zero-filled space after the damage). */
  readonly tornTailBytes: number;
  /** Last segment files removed because their creation never completed (no header, no data). */
  readonly removedSegments: readonly string[];
  /** True when a seal interrupted before its final truncate was completed. */
  readonly finishedSeal: boolean;
}

/** Default of {@link WalWriterOptions.zeroFillAheadBytes}. */
export const kDefaultZeroFillAheadBytes = 4 * 1024 * 1024;
const kZeroChunkBytes = 1024 * 1024;
let zeroChunk: Buffer | undefined;

function defaultNowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

function invalidOption(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

function ioError(what: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

function headerError(file: string, problem: string, message: string): IronlogError {
  if (problem === 'magic' || problem === 'version') {
    return new IronlogError(
      ErrorCodes.WAL_FORMAT,
      `${file} is not an ironlog WAL segment this build can read: ${message}`,
    );
  }
  return walCorrupt(file, 0, undefined, `segment header: ${message}`);
}

/** Reads a whole file through the seam. */
function readWholeFile(wfs: WalFs, file: string): Buffer {
  const fd = wfs.openSync(file, 'r');
  try {
    const size = wfs.fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    const n = readFully(wfs, fd, buf, 0, size, 0);
    return n === size ? buf : buf.subarray(0, n);
  } finally {
    wfs.closeSync(fd);
  }
}

/** Header and (when sealed) seal of a segment, read from its two ends. */
function readHeaderAndSeal(
  wfs: WalFs,
  file: string,
): { header: Buffer; headerBytes: number; seal: DecodedSeal | undefined; size: number } {
  const fd = wfs.openSync(file, 'r');
  try {
    const size = wfs.fstatSync(fd).size;
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const headerBytes = readFully(wfs, fd, header, 0, SEGMENT_HEADER_BYTES, 0);
    let seal: DecodedSeal | undefined;
    if (size >= SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) {
      const trailer = Buffer.alloc(SEAL_TRAILER_BYTES);
      readFully(wfs, fd, trailer, 0, SEAL_TRAILER_BYTES, size - SEAL_TRAILER_BYTES);
      const sealOffset = readU64(trailer, 0);
      if (
        trailer.subarray(8).equals(SEAL_MAGIC) &&
        sealOffset >= SEGMENT_HEADER_BYTES &&
        sealOffset < size &&
        size - sealOffset <= 256 * 1024 * 1024
      ) {
        const frame = Buffer.alloc(size - sealOffset);
        readFully(wfs, fd, frame, 0, frame.length, sealOffset);
        if (checkFrame(frame, 0, frame.length) === FrameCheck.OK && readU32(frame, 0) === frame.length) {
          const decoded = decodeSeal(frame, 0, sealOffset);
          if (typeof decoded !== 'string') seal = decoded;
        }
      }
    }
    return { header, headerBytes, seal, size };
  } finally {
    wfs.closeSync(fd);
  }
}

/** The seal of a sealed file image (trailer at the end pointing at a valid SEAL frame), or undefined. */
function sealAtEnd(image: Buffer): DecodedSeal | undefined {
  const size = image.length;
  if (size < SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) return undefined;
  if (!image.subarray(size - 8).equals(SEAL_MAGIC)) return undefined;
  const off = readU64(image, size - SEAL_TRAILER_BYTES);
  if (off < SEGMENT_HEADER_BYTES || off >= size || off % 8 !== 0) return undefined;
  if (checkFrame(image, off, size) !== FrameCheck.OK || readU32(image, off) !== size - off) return undefined;
  const seal = decodeSeal(image, off);
  return typeof seal === 'string' ? undefined : seal;
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
  readonly #zeroFillAheadBytes: number;
  readonly #onSealed: ((s: SealedSegmentInfo) => void) | undefined;

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
  /** The file is known to be zeros (or end of file) from the end of data up to here. */
  #zeroedTo = 0;
  #zeroFillFailed = false;
  /** An ftruncate that failed while undoing a write: retried before anything else. -1: none. */
  #repairTo = -1;
  /** SHA-256 of the last seal (the next segment's prevSealHash). */
  #prevSealHash: Buffer = zeroHash();
  #sealedBytes = 0;
  #closed = false;

  private constructor(opts: WalWriterOptions, wfs: WalFs) {
    this.#fs = wfs;
    this.#dir = opts.dir;
    this.#nodeId = opts.nodeId;
    this.#segmentBytes = opts.segmentBytes;
    this.#segmentMaxAgeMs = opts.segmentMaxAgeMs;
    this.#nowUs = opts.nowUs ?? defaultNowUs;
    this.#zeroFillAheadBytes = opts.zeroFillAheadBytes ?? kDefaultZeroFillAheadBytes;
    this.#onSealed = opts.onSealed;
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
    if (typeof opts?.dir !== 'string' || opts.dir === '') throw invalidOption('options.dir must be a non-empty string');
    if (typeof opts.nodeId !== 'string' || opts.nodeId === '' || Buffer.byteLength(opts.nodeId) > WRITER_ID_BYTES) {
      throw invalidOption(`options.nodeId must be a string of 1 to ${WRITER_ID_BYTES} UTF-8 bytes`);
    }
    if (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes < 1024) {
      throw invalidOption('options.segmentBytes must be an integer of at least 1024');
    }
    if (!(typeof opts.segmentMaxAgeMs === 'number' && opts.segmentMaxAgeMs > 0)) {
      throw invalidOption('options.segmentMaxAgeMs must be a positive number');
    }
    const zf = opts.zeroFillAheadBytes;
    if (zf !== undefined && !(Number.isSafeInteger(zf) && zf >= 0)) {
      throw invalidOption('options.zeroFillAheadBytes must be a non-negative integer');
    }
    const wfs = opts.fs ?? nodeWalFs;
    const w = new WalWriter(opts, wfs);
    try {
      wfs.mkdirSync(opts.dir, { recursive: true });
    } catch (err) {
      throw ioError(`cannot create WAL directory ${opts.dir}`, err);
    }
    let names: string[];
    try {
      names = wfs.readdirSync(opts.dir);
    } catch (err) {
      throw ioError(`cannot read WAL directory ${opts.dir}`, err);
    }
    const { segments, foreign } = listSegmentFiles(opts.dir, names);
    if (foreign.length > 0) {
      throw new IronlogError(
        ErrorCodes.WAL_FORMAT,
        `${path.join(opts.dir, foreign[0] as string)} is not an ironlog segment (segments are named <20-digit first seq>.wal)`,
      );
    }
    w.#load(segments);
    return w;
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

  #load(segments: SegmentFile[]): void {
    const wfs = this.#fs;
    const removed: string[] = [];
    let report: { tornTailSegment: string; tornTailOffset: number; tornTailBytes: number; finishedSeal: boolean } = {
      tornTailSegment: '',
      tornTailOffset: 0,
      tornTailBytes: 0,
      finishedSeal: false,
    };

    // The last segment, whole; a last file whose creation never completed (no valid header, nothing
    // after it) holds no data and is removed.
    let last: SegmentFile | undefined;
    let image: Buffer | undefined;
    while (segments.length > 0) {
      const cand = segments[segments.length - 1] as SegmentFile;
      let buf: Buffer;
      try {
        buf = readWholeFile(wfs, cand.path);
      } catch (err) {
        throw ioError(`cannot read ${cand.path}`, err);
      }
      const hr = decodeSegmentHeader(buf, buf.length);
      if (!hr.ok && isTornHeader(buf, buf.length) && firstNonZero(buf, SEGMENT_HEADER_BYTES, buf.length) < 0) {
        try {
          wfs.unlinkSync(cand.path);
          fsyncDir(this.#dir, wfs);
        } catch (err) {
          throw ioError(`cannot remove the incomplete segment ${cand.path}`, err);
        }
        debug('removed incomplete segment %s', cand.path);
        removed.push(cand.path);
        segments.pop();
        continue;
      }
      if (!hr.ok) throw headerError(cand.path, hr.problem, hr.message);
      last = cand;
      image = buf;
      break;
    }
    this.#openReport = { ...report, removedSegments: removed };
    if (!last || !image) return; // empty WAL: next append creates segment 1

    // Every earlier segment: header, seal, continuity (cheap: two small reads per segment).
    let prevSeal: DecodedSeal | undefined;
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = segments[i] as SegmentFile;
      let hs: ReturnType<typeof readHeaderAndSeal>;
      try {
        hs = readHeaderAndSeal(wfs, seg.path);
      } catch (err) {
        throw ioError(`cannot read ${seg.path}`, err);
      }
      const hr = decodeSegmentHeader(hs.header, hs.headerBytes);
      if (!hr.ok) throw headerError(seg.path, hr.problem, hr.message);
      this.#checkContinuity(seg, hr.header, prevSeal, i === 0);
      if (!hs.seal || hs.seal.firstSeq !== hr.header.firstSeq) {
        throw walCorrupt(seg.path, hs.size, undefined, 'segment is not the last one but has no valid seal');
      }
      prevSeal = hs.seal;
      this.#sealedBytes += hs.size;
    }

    const scan = scanSegmentImage(image);
    const header = scan.header as SegmentHeader;
    this.#checkContinuity(last, header, prevSeal, segments.length === 1);

    if (scan.seal && scan.damage === undefined) {
      const sealEnd = scan.seal.sealOffset + scan.seal.frameBytes;
      const bad = scan.problems.find((p) => p.kind !== 'trailing-bytes');
      if (bad) throw walCorrupt(last.path, bad.offset, undefined, bad.message);
      if (scan.bytesAfterSeal > 0) {
        if (!scan.zerosAfterSeal) throw walCorrupt(last.path, sealEnd, undefined, 'nonzero bytes after the seal');
        // A seal written and synced, interrupted before its truncate: finish it.
        this.#truncateFile(last.path, sealEnd);
        report = { ...report, finishedSeal: true };
      }
      this.#sealedBytes += sealEnd;
      this.#prevSealHash = Buffer.from(scan.seal.sha256);
      this.#summary.reset(scan.seal.lastSeq + 1, scan.seal.lastChainHash);
      this.#synced.reset(scan.seal.lastSeq + 1, scan.seal.lastChainHash);
      this.#openReport = { ...report, removedSegments: removed };
      return;
    }

    // The open segment: continue it after its last valid batch.
    const damage = scan.damage;
    if (damage) {
      const seq = damage.seqFrom;
      if (scan.laterBatchOffset >= 0 || sealAtEnd(image) !== undefined) {
        throw walCorrupt(
          last.path,
          damage.offset,
          seq,
          `${damage.message}; ${scan.laterBatchOffset >= 0 ? `a complete batch follows at offset ${scan.laterBatchOffset}` : 'the segment is sealed'}, so this is damage, not a torn tail`,
        );
      }
      if (damage.kind === 'chain') {
        // A complete batch, every frame and the COMMIT intact, whose hash does not chain: no torn
        // write looks like that (tampering or a bug), and it may have been acknowledged.
        throw walCorrupt(last.path, damage.offset, seq, damage.message);
      }
      report = {
        ...report,
        tornTailSegment: last.path,
        tornTailOffset: scan.dataEnd,
        tornTailBytes: image.length - scan.dataEnd,
      };
      debug(
        'cutting torn tail of %s at %d (%d bytes): %s',
        last.path,
        scan.dataEnd,
        image.length - scan.dataEnd,
        damage.message,
      );
    }
    let fd: number;
    try {
      fd = wfs.openSync(last.path, 'r+');
    } catch (err) {
      throw ioError(`cannot open ${last.path}`, err);
    }
    try {
      if (damage) wfs.ftruncateSync(fd, scan.dataEnd);
      // Whatever a crashed process left in the page cache becomes durable before we build on it.
      wfs.fdatasyncSync(fd);
    } catch (err) {
      wfs.closeSync(fd);
      throw ioError(`cannot repair ${last.path}`, err);
    }
    this.#fd = fd;
    this.#segPath = last.path;
    this.#segCreatedUs = header.createdUs;
    this.#summary.reset(header.firstSeq, header.prevChainHash);
    this.#summary.copyFrom(scan.summary);
    this.#summary.dataEnd = scan.dataEnd;
    this.#synced.reset(header.firstSeq, header.prevChainHash);
    this.#synced.copyFrom(this.#summary);
    this.#zeroedTo = damage ? scan.dataEnd : image.length;
    this.#prevSealHash = prevSeal ? Buffer.from(prevSeal.sha256) : this.#prevSealHash;
    this.#openReport = { ...report, removedSegments: removed };
  }

  #checkContinuity(seg: SegmentFile, header: SegmentHeader, prevSeal: DecodedSeal | undefined, first: boolean): void {
    if (header.firstSeq !== seg.firstSeq) {
      throw walCorrupt(
        seg.path,
        16,
        seg.firstSeq,
        `header says first seq ${header.firstSeq}, the file name ${seg.firstSeq}`,
      );
    }
    if (first || !prevSeal) return;
    if (header.firstSeq !== prevSeal.lastSeq + 1) {
      throw walCorrupt(
        seg.path,
        16,
        header.firstSeq,
        `segment starts at seq ${header.firstSeq} but the previous one ends at ${prevSeal.lastSeq} (missing or extra segment)`,
      );
    }
    if (!header.prevChainHash.equals(prevSeal.lastChainHash)) {
      throw walCorrupt(seg.path, 56, header.firstSeq, "prevChainHash does not match the previous segment's seal");
    }
    if (!header.prevSealHash.equals(prevSeal.sha256)) {
      throw walCorrupt(seg.path, 88, header.firstSeq, "prevSealHash does not match the previous segment's seal");
    }
  }

  #truncateFile(file: string, size: number): void {
    const wfs = this.#fs;
    try {
      const fd = wfs.openSync(file, 'r+');
      try {
        wfs.ftruncateSync(fd, size);
        wfs.fdatasyncSync(fd);
      } finally {
        wfs.closeSync(fd);
      }
    } catch (err) {
      throw ioError(`cannot truncate ${file}`, err);
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
    try {
      this.#fs.ftruncateSync(this.#fd, this.#repairTo);
    } catch (err) {
      throw ioFailure('write', err, `${this.#segPath} (cannot remove a failed write)`);
    }
    this.#zeroedTo = this.#repairTo;
    this.#repairTo = -1;
  }

  /** Cuts the file back to `end`; remembers the cut when that fails too (retried by #repair). */
  #cutTo(end: number): void {
    this.#zeroedTo = end;
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
    const zeroedTo = this.#zeroedTo;
    if (end < zeroedTo) {
      try {
        zeroChunk ??= Buffer.alloc(kZeroChunkBytes);
        const stop = Math.min(end + length, zeroedTo);
        for (let p = end; p < stop; p += kZeroChunkBytes) {
          writeFully(this.#fs, this.#fd, zeroChunk, 0, Math.min(kZeroChunkBytes, stop - p), p);
        }
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
      if (
        this.#fd >= 0 &&
        s.batches > 0 &&
        s.dataEnd + total + sealFrameBytes(s.indexEntries + 1) > this.#segmentBytes
      ) {
        this.#sealOpenSegment();
      }
      if (this.#fd < 0) this.#createSegment();
      const pos = s.dataEnd;
      const zf = this.#zeroFillAheadBytes;
      if (zf > 0 && pos === this.#synced.dataEnd && pos + total + zf / 2 > this.#zeroedTo) {
        this.#zeroFill(pos + total + zf, Number.POSITIVE_INFINITY);
      }
      b.commit(s.chainHash);
      try {
        writeFully(this.#fs, this.#fd, b.buffer, 0, total, pos);
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
      if (pos + total > this.#zeroedTo) this.#zeroedTo = pos + total;
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
        this.#fs.ftruncateSync(this.#fd, this.#repairTo);
        this.#repairTo = -1;
      }
      this.#fs.fdatasyncSync(this.#fd);
    } catch (err) {
      const from = this.#synced.lastSeq + 1;
      const to = this.#summary.lastSeq;
      this.#rollbackToSynced();
      throw ioFailure('fsync', err, `${this.#segPath} (seqs ${from}..${to} are not durable)`);
    }
    this.#synced.copyFrom(this.#summary);
  }

  /** Seals the open segment if it holds at least one batch and was created `segmentMaxAgeMs` or more before `nowMs`. */
  sealIfOlderThan(nowMs: number): boolean {
    this.#checkOpen();
    if (this.#fd < 0 || this.#summary.batches === 0) return false;
    if (nowMs - this.#segCreatedUs / 1000 < this.#segmentMaxAgeMs) return false;
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
   * Idle-time work within about `budgetMs`: retry a pending repair, extend the zero-filled space
   * ahead of the write position (only while nothing unsynced is pending).
   */
  maintain(budgetMs: number): void {
    this.#checkOpen();
    if (this.#fd < 0) return;
    this.#repair();
    const zf = this.#zeroFillAheadBytes;
    const end = this.#summary.dataEnd;
    // Same hysteresis as appendBatch: extend once less than half the distance is left, so an
    // idle writer does not write (and fdatasync) a few bytes of zeros after every batch.
    if (zf > 0 && end === this.#synced.dataEnd && this.#zeroedTo < end + zf / 2) {
      this.#zeroFillFailed = false; // retry after an earlier failure (the disk may have room again)
      this.#zeroFill(end + zf, performance.now() + Math.max(0, budgetMs));
    }
  }

  /** Syncs and closes. The open segment stays open (unsealed); reopening continues it. */
  close(): void {
    if (this.#closed) return;
    try {
      this.sync();
    } finally {
      this.#closed = true;
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
   * Writes zeros from the zero-filled mark towards `target` (capped at the segment size) in 1 MiB
   * chunks until `deadline` (performance.now() ms), then fdatasyncs. Best effort: a failure only
   * stops zero-filling for this segment (zeros past the end of data are harmless).
   */
  #zeroFill(target: number, deadline: number): void {
    if (this.#zeroFillFailed || this.#fd < 0) return;
    const cap = Math.min(target, Math.max(this.#segmentBytes, this.#summary.dataEnd));
    if (cap <= this.#zeroedTo) return;
    zeroChunk ??= Buffer.alloc(kZeroChunkBytes);
    let p = this.#zeroedTo;
    try {
      while (p < cap) {
        const n = Math.min(kZeroChunkBytes, cap - p);
        writeFully(this.#fs, this.#fd, zeroChunk, 0, n, p);
        p += n;
        if (performance.now() >= deadline) break;
      }
      this.#fs.fdatasyncSync(this.#fd);
      this.#zeroedTo = p;
    } catch (err) {
      this.#zeroFillFailed = true;
      debug('zero-filling %s failed (%s); continuing without', this.#segPath, errnoCode(err));
      // Give back what the attempt took (on a full disk, the last free blocks).
      try {
        this.#fs.ftruncateSync(this.#fd, this.#zeroedTo);
      } catch {
        // Zeros past the end of data are harmless.
      }
    }
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
      this.#zeroedTo = SEGMENT_HEADER_BYTES;
      this.#zeroFillFailed = false;
      s.reset(firstSeq, s.chainHash);
      if (this.#zeroFillAheadBytes > 0)
        this.#zeroFill(SEGMENT_HEADER_BYTES + this.#zeroFillAheadBytes, Number.POSITIVE_INFINITY);
      op = 'fsync';
      wfs.fdatasyncSync(fd);
      // The new directory entry must be durable before any ack depends on the file.
      fsyncDir(this.#dir, wfs);
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
  }

  #sealOpenSegment(): void {
    const wfs = this.#fs;
    const s = this.#summary;
    this.#repair();
    const pos = s.dataEnd;
    const sealedUs = Math.max(0, Math.floor(this.#nowUs()));
    const sealFrame = encodeSeal(s.toSealFields(sealedUs, pos));
    const end = pos + sealFrame.length;
    try {
      writeFully(wfs, this.#fd, sealFrame, 0, sealFrame.length, pos);
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
    } catch (err) {
      const from = this.#synced.lastSeq + 1;
      const to = s.lastSeq;
      this.#rollbackToSynced();
      throw ioFailure('fsync', err, `seal of ${this.#segPath} (seqs ${from}..${to} are not durable)`);
    }
    const sha = createHash('sha256').update(sealFrame).digest();
    const info: SealedSegmentInfo = {
      path: this.#segPath,
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      records: s.records,
      bytes: end,
      sealSha256: sha.toString('hex'),
      merkleRoot: sealFrame.toString('hex', 96, 96 + HASH_BYTES),
    };
    try {
      wfs.closeSync(this.#fd);
    } catch (err) {
      debug('close of sealed %s failed: %s', this.#segPath, errnoCode(err));
    }
    this.#fd = -1;
    this.#segPath = '';
    this.#sealedBytes += end;
    this.#prevSealHash = sha;
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
