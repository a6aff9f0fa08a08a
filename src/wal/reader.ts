/**
 * Reading the WAL: scanning a whole segment image (used by `WalWriter.open` and `verifyWal`) and
 * streaming records in seq order ({@link readWal}).
 */
import type { FileHandle } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { type BatchDamageKind, BatchParse, BatchStatus, findCompleteBatch, parseBatch } from './batch.js';
import { decodeEventPayload } from './event-codec.js';
import {
  checkFrame,
  FRAME_HEADER_BYTES,
  FrameCheck,
  FrameType,
  HASH_BYTES,
  MAX_FRAME_BYTES,
  RecordFlags,
  readU32,
  readU64,
} from './record.js';
import {
  type DecodedSeal,
  decodeSeal,
  decodeSegmentHeader,
  type HeaderDecodeResult,
  listSegmentFiles,
  SEAL_MAGIC,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  type SegmentFile,
  type SegmentHeader,
  SegmentSummary,
  type TimeIndexEntry,
} from './segment.js';

/** Kinds of problems a scan or `verifyWal` reports. */
export type WalProblemKind =
  | BatchDamageKind
  | 'seal'
  | 'header'
  | 'missing-segment'
  | 'torn-tail'
  | 'trailing-bytes'
  | 'foreign-file'
  | 'duplicate';

/** One problem found in one segment. */
export interface ScanProblem {
  readonly kind: WalProblemKind;
  /** File offset of the damage (0 for header problems). */
  readonly offset: number;
  /** Seqs affected, when known. */
  readonly seqFrom?: number;
  readonly seqTo?: number;
  readonly message: string;
}

/** Result of {@link scanSegmentImage}. */
export interface SegmentScan {
  /** The header, when it decoded. */
  readonly header: SegmentHeader | undefined;
  readonly headerResult: HeaderDecodeResult;
  /** Every valid batch up to the first damage (or, with `resync`, all of them). */
  readonly summary: SegmentSummary;
  /** The seal, when the segment is sealed (a valid SEAL frame was found after the last batch). */
  readonly seal: DecodedSeal | undefined;
  /** Problems in file order. The first one stops the scan unless `resync` was set. */
  readonly problems: ScanProblem[];
  /**
   * First damage in the batch area (undefined when the batches are intact). `laterBatchOffset`
   * is the offset of a complete, CRC-valid batch after it, or -1 when none exists: then the
   * damage is a torn tail (when this is the last segment).
   */
  readonly damage: ScanProblem | undefined;
  readonly laterBatchOffset: number;
  /** Offset just past the last valid batch before any damage. */
  readonly dataEnd: number;
  /** Offset of the first nonzero byte after the end of data of an open segment, or -1. */
  readonly tailJunkOffset: number;
  /** Bytes after the SEAL frame of a sealed segment (a sealed file must end at its seal). */
  readonly bytesAfterSeal: number;
  /** True when every byte after the seal is zero (a seal interrupted before its truncate). */
  readonly zerosAfterSeal: boolean;
  /** Number of seqs that resync skipped over (verify). */
  readonly skippedSeqs: number;
  /** True when the scan stopped at `stopAfterSeq` (the rest was not looked at). */
  readonly stoppedEarly: boolean;
}

const kZeroChunk = Buffer.alloc(64 * 1024);

/** Offset of the first nonzero byte of `buf[from, to)`, or -1. */
export function firstNonZero(buf: Buffer, from: number, to: number): number {
  let p = from;
  while (p < to) {
    const n = Math.min(kZeroChunk.length, to - p);
    if (!buf.subarray(p, p + n).equals(kZeroChunk.subarray(0, n))) {
      for (let i = p; i < p + n; i++) if (buf[i] !== 0) return i;
    }
    p += n;
  }
  return -1;
}

/**
 * Scans a whole segment file image: header, every batch (CRC, seqs, COMMIT, chain), the seal
 * (compared with what the batches add up to) and what follows the data.
 *
 * With `resync`, the scan goes on after damage from the next complete batch it can find (chain
 * and seqs taken from there), so that `verifyWal` reports every damaged place, not only the first.
 */
export function scanSegmentImage(buf: Buffer, opts: { resync?: boolean; stopAfterSeq?: number } = {}): SegmentScan {
  const problems: ScanProblem[] = [];
  const headerResult = decodeSegmentHeader(buf, buf.length);
  const header = headerResult.ok ? headerResult.header : undefined;
  const summary = new SegmentSummary();
  let expect = -1;
  let chain: Buffer | null = null;
  let initialized = false;
  if (header) {
    summary.reset(header.firstSeq, header.prevChainHash);
    expect = header.firstSeq;
    chain = summary.chainHash;
    initialized = true;
  } else if (!headerResult.ok) {
    problems.push({ kind: 'header', offset: 0, message: headerResult.message });
    summary.reset(1, Buffer.alloc(HASH_BYTES));
  }
  let seal: DecodedSeal | undefined;
  let damage: ScanProblem | undefined;
  let laterBatchOffset = -1;
  let dataEnd = SEGMENT_HEADER_BYTES;
  let tailJunkOffset = -1;
  let bytesAfterSeal = 0;
  let zerosAfterSeal = true;
  let skippedSeqs = 0;
  let stoppedEarly = false;
  let cleanSoFar = header !== undefined;
  const bp = new BatchParse();
  let pos = SEGMENT_HEADER_BYTES;
  const end = buf.length;

  const onDamage = (p: ScanProblem): boolean => {
    problems.push(p);
    cleanSoFar = false;
    if (damage === undefined) {
      damage = p;
      dataEnd = initialized ? summary.dataEnd : SEGMENT_HEADER_BYTES;
    }
    const later = findCompleteBatch(buf, Math.max(pos + 8, SEGMENT_HEADER_BYTES), end, bp);
    if (laterBatchOffset < 0 && later >= 0) laterBatchOffset = later;
    if (!opts.resync || later < 0) return false;
    // Resync: continue at the complete batch found; its seqs and chain are taken as they are.
    if (expect >= 0 && bp.firstSeq > expect) skippedSeqs += bp.firstSeq - expect;
    pos = later;
    expect = -1;
    chain = null;
    return true;
  };

  const stopAfter = opts.stopAfterSeq ?? Number.MAX_SAFE_INTEGER;
  while (end >= SEGMENT_HEADER_BYTES) {
    // `stopAfterSeq`: what follows may still be being written (verify of a live WAL). A seal
    // right there is still checked.
    if (
      expect > stopAfter &&
      !(pos + 9 <= end && buf[pos + 8] === FrameType.SEAL && checkFrame(buf, pos, end) === FrameCheck.OK)
    ) {
      stoppedEarly = true;
      break;
    }
    const st = parseBatch(buf, 0, end, true, pos, expect, chain, bp);
    if (st === BatchStatus.BATCH) {
      if (!initialized) {
        summary.reset(bp.firstSeq, Buffer.alloc(HASH_BYTES));
        initialized = true;
      }
      summary.addBatch(
        bp.start,
        bp.end,
        bp.lastSeq,
        bp.records,
        bp.gapFrames,
        bp.gapSeqs,
        bp.minTimeUs,
        bp.maxTimeUs,
        bp.chainHash,
      );
      if (damage === undefined) dataEnd = bp.end;
      expect = bp.lastSeq + 1;
      chain = summary.chainHash;
      pos = bp.end;
      continue;
    }
    if (st === BatchStatus.SEAL) {
      const decoded = decodeSeal(buf, pos);
      if (typeof decoded === 'string') {
        if (onDamage({ kind: 'seal', offset: pos, seqFrom: expect >= 0 ? expect : undefined, message: decoded }))
          continue;
        break;
      }
      seal = decoded;
      if (cleanSoFar) {
        const bad = summary.mismatches(decoded);
        if (bad.length > 0) {
          problems.push({
            kind: 'seal',
            offset: pos,
            message: `seal does not match the segment's batches: ${bad.join(', ')}`,
          });
        }
      } else if (expect >= 0 && decoded.lastSeq !== expect - 1) {
        problems.push({
          kind: 'seal',
          offset: pos,
          message: `seal says last seq ${decoded.lastSeq}, batches end at ${expect - 1}`,
        });
      }
      const sealEnd = pos + decoded.frameBytes;
      bytesAfterSeal = end - sealEnd;
      if (bytesAfterSeal > 0) {
        zerosAfterSeal = firstNonZero(buf, sealEnd, end) < 0;
        problems.push({
          kind: 'trailing-bytes',
          offset: sealEnd,
          message: `${bytesAfterSeal} bytes after the seal (a sealed segment ends at its seal)`,
        });
      }
      break;
    }
    if (st === BatchStatus.END_ZERO) {
      const junk = firstNonZero(buf, pos, end);
      if (junk >= 0) {
        // Something nonzero after the end of data: a torn write, or a zeroed frame in the middle.
        tailJunkOffset = junk;
        if (
          onDamage({
            kind: 'truncated',
            offset: pos,
            seqFrom: expect >= 0 ? expect : undefined,
            message: `zero length word at ${pos} but nonzero bytes at ${junk}`,
          })
        ) {
          continue;
        }
      }
      break;
    }
    if (st === BatchStatus.END_EOF) break;
    // DAMAGED (NEED_MORE cannot happen: the whole file is in memory).
    if (
      onDamage({
        kind: bp.problemKind,
        offset: bp.problemOffset,
        seqFrom: expect >= 0 ? expect : undefined,
        message: `${bp.message} (batch at ${pos})`,
      })
    ) {
      continue;
    }
    break;
  }
  if (damage === undefined) dataEnd = summary.dataEnd;
  return {
    header,
    headerResult,
    summary,
    seal,
    problems,
    damage,
    laterBatchOffset,
    dataEnd,
    tailJunkOffset,
    bytesAfterSeal,
    zerosAfterSeal,
    skippedSeqs,
    stoppedEarly,
  };
}

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

/** The error for damage found while reading. */
export function walCorrupt(file: string, offset: number, seq: number | undefined, detail: string): IronlogError {
  const at = seq !== undefined && seq >= 0 ? `offset ${offset} (seq ${seq})` : `offset ${offset}`;
  return new IronlogError(
    ErrorCodes.WAL_CORRUPT,
    `WAL segment ${file} is damaged at ${at}: ${detail}. Run \`ironlog recover\` (recoverWal) to salvage every intact record into a new WAL; \`ironlog verify\` lists all problems.`,
  );
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
  if (!trailer.subarray(8).equals(SEAL_MAGIC)) return undefined;
  const sealOffset = readU64(trailer, 0);
  if (sealOffset < SEGMENT_HEADER_BYTES || sealOffset >= size || size - sealOffset > 256 * 1024 * 1024)
    return undefined;
  const frame = Buffer.alloc(size - sealOffset);
  await fh.read(frame, 0, frame.length, sealOffset);
  if (checkFrame(frame, 0, frame.length) !== FrameCheck.OK || readU32(frame, 0) !== frame.length) return undefined;
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

/** The file names in a WAL directory; `ERR_IRONLOG_IO` when it cannot be read. */
export async function readWalDirNames(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read WAL directory ${dir}: ${errnoCode(err) ?? String(err)}`, {
      cause: err,
    });
  }
}

/** Lists the segments of `dir` for readers: IO error when unreadable, WAL_FORMAT for foreign `*.wal` files. */
export async function listWalDir(dir: string): Promise<SegmentFile[]> {
  const { segments, foreign } = listSegmentFiles(dir, await readWalDirNames(dir));
  if (foreign.length > 0) {
    throw new IronlogError(
      ErrorCodes.WAL_FORMAT,
      `${path.join(dir, foreign[0] as string)} is not an ironlog segment name (expected <20-digit first seq>.wal)`,
    );
  }
  return segments;
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
  const fromSeq = opts.fromSeq ?? 1;
  const toSeq = opts.toSeq ?? Number.MAX_SAFE_INTEGER;
  const fromUs = opts.from ? opts.from.getTime() * 1000 : 0;
  const toUs = opts.to ? opts.to.getTime() * 1000 : Number.POSITIVE_INFINITY;
  const timeFilter = opts.from !== undefined || opts.to !== undefined;
  const live = opts.live === true;
  let expectSeq = -1;
  let chain: Buffer | null = null;
  const bp = new BatchParse();

  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k] as SegmentFile;
    const next = segments[k + 1];
    if (next && next.firstSeq <= fromSeq) {
      expectSeq = -1;
      chain = null;
      continue;
    }
    if (seg.firstSeq > toSeq) return;
    const isLast = next === undefined;
    let fh: FileHandle;
    try {
      fh = await fsp.open(seg.path, 'r');
    } catch (err) {
      if (live && errnoCode(err) === 'ENOENT') return;
      throw new IronlogError(ErrorCodes.IO, `cannot open ${seg.path}: ${String(err)}`, { cause: err });
    }
    try {
      const size = (await fh.stat()).size;
      const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const { bytesRead } = await fh.read(headerBuf, 0, SEGMENT_HEADER_BYTES, 0);
      const hr = decodeSegmentHeader(headerBuf, bytesRead);
      if (!hr.ok) {
        if (isLast && live) return;
        if (hr.problem === 'magic' || hr.problem === 'version') {
          throw new IronlogError(ErrorCodes.WAL_FORMAT, `${seg.path}: ${hr.message}`);
        }
        throw walCorrupt(seg.path, 0, seg.firstSeq, `segment header: ${hr.message}`);
      }
      const header = hr.header;
      if (header.firstSeq !== seg.firstSeq) {
        throw walCorrupt(
          seg.path,
          16,
          seg.firstSeq,
          `header says first seq ${header.firstSeq}, the file name ${seg.firstSeq}`,
        );
      }
      if (expectSeq >= 0 && header.firstSeq !== expectSeq) {
        throw walCorrupt(
          seg.path,
          16,
          header.firstSeq,
          `segment starts at seq ${header.firstSeq}, the previous one ended at ${expectSeq - 1} (missing or overlapping segment)`,
        );
      }
      if (chain !== null && !header.prevChainHash.equals(chain)) {
        throw walCorrupt(
          seg.path,
          56,
          header.firstSeq,
          "prevChainHash does not match the previous segment's last chain hash",
        );
      }
      let pos = SEGMENT_HEADER_BYTES;
      let expect = header.firstSeq;
      let prev: Buffer | null = Buffer.from(header.prevChainHash);
      if (timeFilter || fromSeq > header.firstSeq) {
        const seal = await readSealFromEnd(fh, size);
        if (seal) {
          if (timeFilter && (seal.records === 0 || seal.maxTimeUs < fromUs || seal.minTimeUs >= toUs)) {
            expectSeq = seal.lastSeq + 1;
            chain = Buffer.from(seal.lastChainHash);
            continue;
          }
          const e = seekEntry(seal.index, fromSeq, fromUs);
          if (e && e.offset > SEGMENT_HEADER_BYTES) {
            pos = e.offset;
            expect = e.seq;
            prev = null;
          }
        }
      }
      const w = new SegmentWindow(fh, size);
      let done = false;
      for (;;) {
        const st = parseBatch(w.buf, w.base, w.bufEnd, w.atEof, pos, expect, prev, bp);
        if (st === BatchStatus.NEED_MORE) {
          await w.fill(pos);
          continue;
        }
        if (st === BatchStatus.BATCH) {
          if (bp.lastSeq >= fromSeq) {
            let p = bp.start;
            while (p < bp.commitOffset) {
              const i = p - w.base;
              const frameBytes = readU32(w.buf, i);
              if (w.buf[i + 8] === FrameType.RECORD) {
                const seq = readU64(w.buf, i + 16);
                const timeUs = readU64(w.buf, i + 24);
                if (seq >= fromSeq && seq <= toSeq && timeUs >= fromUs && timeUs < toUs) {
                  const flags = w.buf[i + 9] as number;
                  const event = decodeEvent(w.buf, i + FRAME_HEADER_BYTES, i + frameBytes, flags);
                  yield { seq, timeUs, time: new Date(Math.floor(timeUs / 1000)), flags, event };
                }
              }
              p += (frameBytes + 7) & ~7;
            }
          }
          if (bp.lastSeq >= toSeq) {
            done = true;
            break;
          }
          expect = bp.lastSeq + 1;
          prev = Buffer.from(bp.chainHash);
          pos = bp.end;
          continue;
        }
        if (st === BatchStatus.SEAL) {
          if (pos + bp.sealFrameBytes > w.bufEnd) {
            await w.fill(pos);
            if (pos + bp.sealFrameBytes > w.bufEnd)
              throw walCorrupt(seg.path, pos, expect, 'SEAL frame runs past the end of the file');
          }
          const seal = decodeSeal(w.buf, pos - w.base, pos);
          if (typeof seal === 'string') throw walCorrupt(seg.path, pos, expect, seal);
          if (seal.lastSeq !== expect - 1 || (prev !== null && !prev.equals(seal.lastChainHash))) {
            throw walCorrupt(seg.path, pos, expect, 'the seal does not match the last batch (last seq or chain hash)');
          }
          if (pos + seal.frameBytes !== size) {
            throw walCorrupt(
              seg.path,
              pos + seal.frameBytes,
              expect,
              `${size - pos - seal.frameBytes} bytes after the seal`,
            );
          }
          expectSeq = seal.lastSeq + 1;
          chain = Buffer.from(seal.lastChainHash);
          break;
        }
        if (st === BatchStatus.END_ZERO || st === BatchStatus.END_EOF) {
          if (!isLast) {
            if (live) return;
            throw walCorrupt(seg.path, pos, expect, 'segment is not sealed but is not the last one (missing seal)');
          }
          if (!live && st === BatchStatus.END_ZERO && (await hasNonZero(fh, pos, size))) {
            throw walCorrupt(
              seg.path,
              pos,
              expect,
              'nonzero bytes after the end of data (a torn tail: open the WAL with a writer to cut it, or damage)',
            );
          }
          return;
        }
        // DAMAGED
        if (isLast && live) return;
        throw walCorrupt(
          seg.path,
          bp.problemOffset,
          expect,
          `${bp.message}${isLast ? ' (at the tail of the last segment: a writer may be appending -- use live: true -- or the WAL was not closed cleanly; opening it with a writer cuts a torn tail)' : ''}`,
        );
      }
      if (done) return;
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
