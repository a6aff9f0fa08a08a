/**
 * Streaming records out of the WAL in seq order ({@link readWal}), checking every frame, batch,
 * chain hash, seal and segment link on the way. (The whole-image scan used by the writer, verify
 * and monitoring is `segment-scan.ts`; the directory listing is `wal-dir.ts`.)
 */
import type { FileHandle } from 'node:fs/promises';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { BatchParse, BatchStatus, parseBatch } from './batch.js';
import { align8, firstNonZero, readU64 } from './bytes.js';
import { decodeEventPayload } from './event-codec.js';
import {
  FrameType,
  frameBodyOffset,
  MAX_FRAME_BYTES,
  RecordFlags,
  readFrameAux64,
  readFrameBytes,
  readFrameFlags,
  readFrameSeq,
  readFrameType,
} from './frame-layout.js';
import { checkFrame, FrameCheck } from './record.js';
import {
  type DecodedSeal,
  decodeSeal,
  decodeSegmentHeader,
  SEAL_MAGIC,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  SealTrailerOffset,
  type SegmentFile,
  type SegmentHeader,
  SegmentHeaderOffset,
  type TimeIndexEntry,
} from './segment.js';
import { type OpenedSegment, openSegmentFile } from './segment-file.js';
import { walCorrupt } from './wal-corrupt.js';
import { listWalDir } from './wal-dir.js';

/** A record read back from the WAL. */
export interface WalRecord {
  readonly seq: number;
  /** Microseconds since the epoch, as stamped by the producer. */
  readonly timeUs: number;
  /** `timeUs` as a Date (millisecond precision). */
  readonly time: Date;
  /** RECORD flags (bit0 encrypted, bit1 compressed). */
  readonly flags: number;
  /**
   * The decoded msgpack event. When `flags` marks the payload encrypted or compressed, or the
   * payload is not valid msgpack (`emitEncoded` takes bytes as they are), this is a Buffer with the
   * raw payload instead.
   */
  readonly event: unknown;
}

/** Options of {@link readWal}. */
export interface ReadWalOptions {
  /** First seq to return (inclusive). Default 1. */
  fromSeq?: number;
  /** Last seq to return (inclusive). Default: the end of the WAL. */
  toSeq?: number;
  /** Only records stamped at or after this time. */
  from?: Date;
  /** Only records stamped before this time. */
  to?: Date;
  /**
   * Reading a WAL a writer is appending to: stop quietly at an incomplete batch at the end of the
   * last segment instead of raising `ERR_IRONLOG_WAL_CORRUPT`.
   */
  live?: boolean;
}

/** A sliding read window over one segment file. */
class SegmentWindow {
  buf: Buffer = Buffer.allocUnsafe(1024 * 1024);
  /** File offset of buf[0]. */
  base = 0;
  /** Valid bytes in buf. */
  len = 0;
  constructor(
    readonly fh: FileHandle,
    public size: number,
  ) {}

  get bufEnd(): number {
    return this.base + this.len;
  }
  get atEof(): boolean {
    return this.base + this.len >= this.size;
  }

  /** Makes the window start at `pos` (keeping what it has from there) and reads more. */
  async fill(pos: number): Promise<void> {
    if (pos < this.base || pos > this.bufEnd) {
      this.base = pos;
      this.len = 0;
    } else if (pos > this.base) {
      this.buf.copy(this.buf, 0, pos - this.base, this.len);
      this.len -= pos - this.base;
      this.base = pos;
    }
    if (this.len === this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.buf.length * 2, MAX_FRAME_BYTES * 2));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    const want = Math.min(this.buf.length - this.len, this.size - this.bufEnd);
    if (want <= 0) return;
    const { bytesRead } = await this.fh.read(this.buf, this.len, want, this.bufEnd);
    // A file that shrank under us (a writer cut a torn tail) reads short: what we have is the end.
    if (bytesRead < want) this.size = this.bufEnd + bytesRead;
    this.len += bytesRead;
  }
}

/** Reads the seal of a sealed segment from its end; undefined when the file is not (validly) sealed. */
export async function readSealFromEnd(fh: FileHandle, size: number): Promise<DecodedSeal | undefined> {
  if (size < SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) return undefined;
  const trailer = Buffer.alloc(SEAL_TRAILER_BYTES);
  await fh.read(trailer, 0, SEAL_TRAILER_BYTES, size - SEAL_TRAILER_BYTES);
  if (!trailer.subarray(SealTrailerOffset.MAGIC).equals(SEAL_MAGIC)) return undefined;
  const sealOffset = readU64(trailer, SealTrailerOffset.SEAL_FRAME_OFFSET);
  if (sealOffset < SEGMENT_HEADER_BYTES || sealOffset >= size || size - sealOffset > 256 * 1024 * 1024)
    return undefined;
  const frame = Buffer.alloc(size - sealOffset);
  await fh.read(frame, 0, frame.length, sealOffset);
  if (checkFrame(frame, 0, frame.length) !== FrameCheck.OK || readFrameBytes(frame, 0) !== frame.length)
    return undefined;
  const seal = decodeSeal(frame, 0, sealOffset);
  return typeof seal === 'string' ? undefined : seal;
}

/** A record's event: msgpack, or the raw bytes when encrypted, compressed, empty or not msgpack. */
export function decodeEvent(buf: Buffer, start: number, end: number, flags: number): unknown {
  const copy = (): Buffer => Buffer.from(buf.subarray(start, end));
  if ((flags & (RecordFlags.ENCRYPTED | RecordFlags.COMPRESSED)) !== 0 || end === start) return copy();
  try {
    return decodeEventPayload(buf.subarray(start, end));
  } catch {
    return copy();
  }
}

function checkReadOptions(opts: ReadWalOptions): void {
  const seqOk = (v: unknown): boolean =>
    v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  const dateOk = (v: unknown): boolean => v === undefined || (v instanceof Date && !Number.isNaN(v.getTime()));
  if (!seqOk(opts.fromSeq))
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'readWal: fromSeq must be a non-negative integer');
  if (!seqOk(opts.toSeq))
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'readWal: toSeq must be a non-negative integer');
  if (!dateOk(opts.from)) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'readWal: from must be a valid Date');
  if (!dateOk(opts.to)) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'readWal: to must be a valid Date');
}

/**
 * Picks where to start reading a sealed segment: the last time-index entry before which every
 * record is excluded anyway, because its seq is below `fromSeq` (all seqs before an entry are
 * below `entry.seq`) or its time below `fromUs` (all times before it are at most
 * `entry.maxTimeUsSoFar`).
 */
function seekEntry(index: readonly TimeIndexEntry[], fromSeq: number, fromUs: number): TimeIndexEntry | undefined {
  let best: TimeIndexEntry | undefined;
  for (const e of index) {
    // seq increases and maxTimeUsSoFar never decreases along the index, so each test holds for a
    // prefix of the entries, and so does their disjunction.
    if (e.seq <= fromSeq || (fromUs > 0 && e.maxTimeUsSoFar < fromUs)) best = e;
    else break;
  }
  return best;
}

/** The resolved filters of one {@link readWal} call. */
interface ReadRange {
  readonly fromSeq: number;
  readonly toSeq: number;
  /** `from`/`to` in microseconds (0 / +Infinity when not given). */
  readonly fromUs: number;
  readonly toUs: number;
  readonly timeFilter: boolean;
  readonly live: boolean;
}

function resolveReadRange(opts: ReadWalOptions): ReadRange {
  return {
    fromSeq: opts.fromSeq ?? 1,
    toSeq: opts.toSeq ?? Number.MAX_SAFE_INTEGER,
    fromUs: opts.from ? opts.from.getTime() * 1000 : 0,
    toUs: opts.to ? opts.to.getTime() * 1000 : Number.POSITIVE_INFINITY,
    timeFilter: opts.from !== undefined || opts.to !== undefined,
    live: opts.live === true,
  };
}

/** What links one segment to the next: the seq and chain hash the next one must start with (-1/null: unknown). */
interface Continuity {
  expectSeq: number;
  chain: Buffer | null;
}

/** Where the batch loop of one segment stands. */
interface SegmentPosition {
  /** File offset of the next batch. */
  pos: number;
  /** Seq it must start with. */
  expect: number;
  /** Chain hash before it; null after seeking (the next batch's own hash is taken as is). */
  prev: Buffer | null;
}

/**
 * Opens a segment for reading (a regular file of at most 4 GiB, see `segment-file.ts`), with its
 * size; undefined when it vanished under a live read.
 */
async function openSegment(seg: SegmentFile, live: boolean): Promise<OpenedSegment | undefined> {
  return openSegmentFile(seg, { missingOk: live });
}

/**
 * Reads and checks a segment's header against its name and the previous segment. Undefined when
 * the header is not (yet) readable at the live end of the WAL.
 */
async function readCheckedHeader(
  fh: FileHandle,
  seg: SegmentFile,
  link: Continuity,
  liveEnd: boolean,
): Promise<SegmentHeader | undefined> {
  const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const { bytesRead } = await fh.read(headerBuf, 0, SEGMENT_HEADER_BYTES, 0);
  const hr = decodeSegmentHeader(headerBuf, bytesRead);
  if (!hr.ok) {
    if (liveEnd) return undefined;
    if (hr.problem === 'magic' || hr.problem === 'version') {
      throw new IronlogError(ErrorCodes.WAL_FORMAT, `${seg.path}: ${hr.message}`);
    }
    throw walCorrupt(seg.path, 0, seg.firstSeq, `segment header: ${hr.message}`);
  }
  const header = hr.header;
  if (header.firstSeq !== seg.firstSeq) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.FIRST_SEQ,
      seg.firstSeq,
      `header says first seq ${header.firstSeq}, the file name ${seg.firstSeq}`,
    );
  }
  if (link.expectSeq >= 0 && header.firstSeq !== link.expectSeq) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.FIRST_SEQ,
      header.firstSeq,
      `segment starts at seq ${header.firstSeq}, the previous one ended at ${link.expectSeq - 1} (missing or overlapping segment)`,
    );
  }
  if (link.chain !== null && !header.prevChainHash.equals(link.chain)) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.PREV_CHAIN_HASH,
      header.firstSeq,
      "prevChainHash does not match the previous segment's last chain hash",
    );
  }
  return header;
}

/**
 * Where to start reading a segment: at its first batch, or (sealed, with a seq or time filter)
 * near the first wanted record through the seal's time index. Returns the seal instead when the
 * whole segment lies outside the time range.
 */
async function planSegmentRead(
  fh: FileHandle,
  size: number,
  header: SegmentHeader,
  range: ReadRange,
): Promise<SegmentPosition | { readonly skip: DecodedSeal }> {
  const start: SegmentPosition = {
    pos: SEGMENT_HEADER_BYTES,
    expect: header.firstSeq,
    prev: Buffer.from(header.prevChainHash),
  };
  if (!range.timeFilter && range.fromSeq <= header.firstSeq) return start;
  const seal = await readSealFromEnd(fh, size);
  if (!seal) return start;
  if (range.timeFilter && (seal.records === 0 || seal.maxTimeUs < range.fromUs || seal.minTimeUs >= range.toUs)) {
    return { skip: seal };
  }
  const e = seekEntry(seal.index, range.fromSeq, range.fromUs);
  if (e && e.offset > SEGMENT_HEADER_BYTES) return { pos: e.offset, expect: e.seq, prev: null };
  return start;
}

/** Checks the SEAL frame at `at.pos` against the last batch and the file size; returns it. */
async function checkSealAt(
  w: SegmentWindow,
  seg: SegmentFile,
  at: SegmentPosition,
  sealFrameBytes: number,
  size: number,
): Promise<DecodedSeal> {
  const { pos, expect, prev } = at;
  if (pos + sealFrameBytes > w.bufEnd) {
    await w.fill(pos);
    if (pos + sealFrameBytes > w.bufEnd)
      throw walCorrupt(seg.path, pos, expect, 'SEAL frame runs past the end of the file');
  }
  const seal = decodeSeal(w.buf, pos - w.base, pos);
  if (typeof seal === 'string') throw walCorrupt(seg.path, pos, expect, seal);
  if (seal.lastSeq !== expect - 1 || (prev !== null && !prev.equals(seal.lastChainHash))) {
    throw walCorrupt(seg.path, pos, expect, 'the seal does not match the last batch (last seq or chain hash)');
  }
  if (pos + seal.frameBytes !== size) {
    throw walCorrupt(seg.path, pos + seal.frameBytes, expect, `${size - pos - seal.frameBytes} bytes after the seal`);
  }
  return seal;
}

/**
 * The end of data of an unsealed segment: fine for the last segment (unless nonzero bytes
 * follow a zero length word); anywhere else a missing seal (quietly the end of a live read).
 * Returns normally when the read ends here.
 */
async function checkEndOfData(
  fh: FileHandle,
  seg: SegmentFile,
  at: SegmentPosition,
  zeroWord: boolean,
  size: number,
  isLast: boolean,
  live: boolean,
): Promise<void> {
  if (!isLast) {
    if (live) return;
    throw walCorrupt(seg.path, at.pos, at.expect, 'segment is not sealed but is not the last one (missing seal)');
  }
  if (!live && zeroWord && (await hasNonZero(fh, at.pos, size))) {
    throw walCorrupt(
      seg.path,
      at.pos,
      at.expect,
      'nonzero bytes after the end of data (a torn tail: open the WAL with a writer to cut it, or damage)',
    );
  }
}

/** The error for a damaged batch met by {@link readWal}. */
function damagedBatchError(seg: SegmentFile, bp: BatchParse, expect: number, isLast: boolean): IronlogError {
  return walCorrupt(
    seg.path,
    bp.problemOffset,
    expect,
    `${bp.message}${isLast ? ' (at the tail of the last segment: a writer may be appending -- use live: true -- or the WAL was not closed cleanly; opening it with a writer cuts a torn tail)' : ''}`,
  );
}

/**
 * Reads records in seq order (gaps skipped). Filters by seq range (inclusive) and by record time
 * (`from` inclusive, `to` exclusive); sealed segments outside the time range are skipped using
 * their seal, and the seal's sparse time index lets a read start near `from`/`fromSeq` instead
 * of at the segment's start. Every frame's CRC, every batch's chain hash (from the first batch
 * read on), seqs and segment continuity are checked; damage raises `ERR_IRONLOG_WAL_CORRUPT`
 * naming the file, offset and seq. Only records of complete batches are returned.
 */
export async function* readWal(dir: string, opts: ReadWalOptions = {}): AsyncGenerator<WalRecord> {
  checkReadOptions(opts);
  const segments = await listWalDir(dir);
  const range = resolveReadRange(opts);
  const { fromSeq, toSeq, fromUs, toUs, live } = range;
  const link: Continuity = { expectSeq: -1, chain: null };
  const bp = new BatchParse();

  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k] as SegmentFile;
    const next = segments[k + 1];
    if (next && next.firstSeq <= fromSeq) {
      link.expectSeq = -1;
      link.chain = null;
      continue;
    }
    if (seg.firstSeq > toSeq) return;
    const isLast = next === undefined;
    const opened = await openSegment(seg, live);
    if (!opened) return;
    const fh = opened.fh;
    try {
      const size = opened.size;
      const header = await readCheckedHeader(fh, seg, link, isLast && live);
      if (!header) return;
      const plan = await planSegmentRead(fh, size, header, range);
      if ('skip' in plan) {
        link.expectSeq = plan.skip.lastSeq + 1;
        link.chain = Buffer.from(plan.skip.lastChainHash);
        continue;
      }
      const at = plan;
      const w = new SegmentWindow(fh, size);
      for (;;) {
        const st = parseBatch(w.buf, w.base, w.bufEnd, w.atEof, at.pos, at.expect, at.prev, bp);
        if (st === BatchStatus.NEED_MORE) {
          await w.fill(at.pos);
          continue;
        }
        if (st === BatchStatus.BATCH) {
          // The batch's records, filtered (inline: this is the per-record path).
          if (bp.lastSeq >= fromSeq) {
            const buf = w.buf;
            for (let p = bp.start; p < bp.commitOffset; ) {
              const i = p - w.base;
              const frameBytes = readFrameBytes(buf, i);
              if (readFrameType(buf, i) === FrameType.RECORD) {
                const seq = readFrameSeq(buf, i);
                const timeUs = readFrameAux64(buf, i);
                if (seq >= fromSeq && seq <= toSeq && timeUs >= fromUs && timeUs < toUs) {
                  const flags = readFrameFlags(buf, i);
                  const event = decodeEvent(buf, frameBodyOffset(i), i + frameBytes, flags);
                  yield { seq, timeUs, time: new Date(Math.floor(timeUs / 1000)), flags, event };
                }
              }
              p += align8(frameBytes);
            }
          }
          if (bp.lastSeq >= toSeq) return;
          at.expect = bp.lastSeq + 1;
          at.prev = Buffer.from(bp.chainHash);
          at.pos = bp.end;
          continue;
        }
        if (st === BatchStatus.SEAL) {
          const seal = await checkSealAt(w, seg, at, bp.sealFrameBytes, size);
          link.expectSeq = seal.lastSeq + 1;
          link.chain = Buffer.from(seal.lastChainHash);
          break;
        }
        if (st === BatchStatus.END_ZERO || st === BatchStatus.END_EOF) {
          if (header.sealed && !live) {
            throw walCorrupt(
              seg.path,
              at.pos,
              at.expect,
              'the header says the segment was sealed, but the file does not end at a valid seal (truncated or zeroed)',
            );
          }
          await checkEndOfData(fh, seg, at, st === BatchStatus.END_ZERO, size, isLast, live);
          return;
        }
        // DAMAGED
        if (isLast && live) return;
        throw damagedBatchError(seg, bp, at.expect, isLast);
      }
    } finally {
      await fh.close();
    }
  }
}

async function hasNonZero(fh: FileHandle, from: number, size: number): Promise<boolean> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let p = from; p < size; p += chunk.length) {
    const n = Math.min(chunk.length, size - p);
    const { bytesRead } = await fh.read(chunk, 0, n, p);
    if (firstNonZero(chunk, 0, bytesRead) >= 0) return true;
  }
  return false;
}
