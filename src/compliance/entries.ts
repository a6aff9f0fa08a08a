/**
 * The entries of a node's transparency log: one per RECORD or GAP frame of its WAL, in seq order,
 * across segments (COMMIT and SEAL frames are not entries). Entry bytes are the frame's stored
 * bytes `[0, frameBytes)`: header (length, CRC, type, flags, seq, timeUs / toSeq) and body, padding
 * excluded. Specified in `docs/wal-format.md` ("Transparency log").
 *
 * The reader checks what it reads the way `readWal` does (every frame's CRC, seqs, every batch's
 * COMMIT and chain hash, segment continuity) and yields only complete batches, so it can follow a
 * WAL a writer is appending to when given the durable seq as `throughSeq`.
 */
import type { FileHandle } from 'node:fs/promises';
import { BatchParse, BatchStatus, parseBatch } from '../wal/batch.js';
import { readU32, readU64 } from '../wal/bytes.js';
import { FrameType, MAX_FRAME_BYTES } from '../wal/frame-layout.js';
import { decodeSeal, decodeSegmentHeader, SEGMENT_HEADER_BYTES, type SegmentFile } from '../wal/segment.js';
import { type OpenedSegment, openSegmentFile } from '../wal/segment-file.js';
import { walCorrupt } from '../wal/wal-corrupt.js';
import { listWalDir } from '../wal/wal-dir.js';

/** One log entry. */
export interface LogEntry {
  /** 0-based position in the log (the Merkle tree leaf index). */
  readonly index: number;
  /** RECORD: its seq. GAP: its first seq. */
  readonly seq: number;
  /** Last seq the entry covers: `seq` for a RECORD, the GAP's toSeq. */
  readonly toSeq: number;
  /** True for a GAP entry. */
  readonly gap: boolean;
  /**
   * The frame's bytes `[0, frameBytes)`. A view into the reader's buffer: valid until the reader
   * moves on (copy it to keep it).
   */
  readonly bytes: Buffer;
}

/** Options of {@link readLogEntries}. */
export interface ReadLogEntriesOptions {
  /**
   * Start at the entry whose first seq is `fromSeq` (a RECORD's seq or a GAP's fromSeq); earlier
   * entries are skipped without being checked. Default: the first entry of the WAL.
   */
  readonly fromSeq?: number;
  /** The index of the entry at `fromSeq` (the caller knows it from `tlog/index`). Default 0. */
  readonly startIndex?: number;
  /** Stop before the first batch that ends past this seq (the durable seq of a live WAL). */
  readonly throughSeq?: number;
}

const kDefaultWindowBytes = 1024 * 1024;

/** A read window over one segment file (grows for a batch larger than it). */
class Window {
  buf: Buffer = Buffer.allocUnsafe(kDefaultWindowBytes);
  base = 0;
  len = 0;
  constructor(
    readonly fh: FileHandle,
    public size: number,
  ) {}
  get end(): number {
    return this.base + this.len;
  }
  get atEof(): boolean {
    return this.end >= this.size;
  }
  async fill(pos: number): Promise<void> {
    if (pos < this.base || pos > this.end) {
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
    const want = Math.min(this.buf.length - this.len, this.size - this.end);
    if (want <= 0) return;
    const { bytesRead } = await this.fh.read(this.buf, this.len, want, this.end);
    if (bytesRead < want) this.size = this.end + bytesRead;
    this.len += bytesRead;
  }
}

/**
 * The segments of `dir`, sorted, listed as the WAL readers list them (`listWalDir`):
 * `ERR_IRONLOG_IO` when unreadable, `WAL_FORMAT` for foreign names, `SEGMENT_NOT_FILE` for a
 * segment name that is not a regular file (a symbolic link, FIFO, directory or device).
 */
export function listLogSegments(dir: string): Promise<SegmentFile[]> {
  return listWalDir(dir);
}

/**
 * Yields the log entries of the WAL in `dir`, one array per batch (in seq order, indexes counting
 * up from `startIndex`). Damage raises `ERR_IRONLOG_WAL_CORRUPT` naming file, offset and seq.
 * Reading stops quietly at the end of the data, or before a batch ending past `throughSeq`.
 */
export async function* readLogEntries(dir: string, opts: ReadLogEntriesOptions = {}): AsyncGenerator<LogEntry[]> {
  const fromSeq = opts.fromSeq ?? 0;
  const throughSeq = opts.throughSeq ?? Number.MAX_SAFE_INTEGER;
  let index = opts.startIndex ?? 0;
  const segments = await listLogSegments(dir);
  let expectSeq = -1;
  let chain: Buffer | null = null;
  const bp = new BatchParse();
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k] as SegmentFile;
    const next = segments[k + 1];
    if (next && next.firstSeq <= fromSeq) continue;
    if (seg.firstSeq > throughSeq) return;
    // As the WAL readers open segments: a regular file only (never a link followed, never a FIFO
    // that blocks), at most 4 GiB; the size is the one it had when opened.
    const { fh, size } = (await openSegmentFile(seg)) as OpenedSegment;
    try {
      const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES);
      const { bytesRead } = await fh.read(headerBuf, 0, SEGMENT_HEADER_BYTES, 0);
      const hr = decodeSegmentHeader(headerBuf, bytesRead);
      if (!hr.ok) {
        if (next === undefined && hr.problem === 'short') return; // a segment being created
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
          `segment starts at seq ${header.firstSeq}, the previous one ended at ${expectSeq - 1} (missing, swapped or overlapping segment)`,
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
      const w = new Window(fh, size);
      if (fromSeq > header.firstSeq) {
        // Seek with the seal's index (sealed segments): the last batch start at or before fromSeq.
        const start = await seekInSealed(fh, size, fromSeq);
        if (start) {
          pos = start.offset;
          expect = start.seq;
          prev = null;
        }
      }
      for (;;) {
        const st = parseBatch(w.buf, w.base, w.end, w.atEof, pos, expect, prev, bp);
        if (st === BatchStatus.NEED_MORE) {
          await w.fill(pos);
          continue;
        }
        if (st === BatchStatus.BATCH) {
          if (bp.lastSeq > throughSeq) return;
          if (bp.lastSeq >= fromSeq) {
            const out: LogEntry[] = [];
            let p = bp.start;
            while (p < bp.commitOffset) {
              const i = p - w.base;
              const frameBytes = readU32(w.buf, i);
              const type = w.buf[i + 8];
              const seq = readU64(w.buf, i + 16);
              const gap = type === FrameType.GAP;
              const toSeq = gap ? readU64(w.buf, i + 24) : seq;
              if (seq >= fromSeq) {
                out.push({ index, seq, toSeq, gap, bytes: w.buf.subarray(i, i + frameBytes) });
                index++;
              }
              p += (frameBytes + 7) & ~7;
            }
            if (out.length > 0) yield out;
          }
          expect = bp.lastSeq + 1;
          prev = Buffer.from(bp.chainHash);
          pos = bp.end;
          continue;
        }
        if (st === BatchStatus.SEAL) {
          if (pos + bp.sealFrameBytes > w.end) await w.fill(pos);
          const seal =
            pos + bp.sealFrameBytes <= w.end
              ? decodeSeal(w.buf, pos - w.base, pos)
              : 'SEAL frame runs past the end of the file';
          if (typeof seal === 'string') throw walCorrupt(seg.path, pos, expect, seal);
          if (seal.lastSeq !== expect - 1 || (prev !== null && !prev.equals(seal.lastChainHash))) {
            throw walCorrupt(seg.path, pos, expect, 'the seal does not match the last batch (last seq or chain hash)');
          }
          expectSeq = seal.lastSeq + 1;
          chain = Buffer.from(seal.lastChainHash);
          break;
        }
        if (st === BatchStatus.END_ZERO || st === BatchStatus.END_EOF) {
          if (next !== undefined) {
            throw walCorrupt(seg.path, pos, expect, 'segment is not sealed but is not the last one (missing seal)');
          }
          return;
        }
        // DAMAGED: at the tail of the open segment past `throughSeq` this is a batch being written.
        if (next === undefined && expect > throughSeq) return;
        throw walCorrupt(seg.path, bp.problemOffset, expect, bp.message);
      }
    } finally {
      await fh.close();
    }
  }
}

/** The last time-index entry of a sealed segment at or before `fromSeq`, or undefined. */
async function seekInSealed(
  fh: FileHandle,
  size: number,
  fromSeq: number,
): Promise<{ offset: number; seq: number } | undefined> {
  if (size < SEGMENT_HEADER_BYTES + 16) return undefined;
  const trailer = Buffer.alloc(16);
  await fh.read(trailer, 0, 16, size - 16);
  if (trailer.subarray(8).toString('latin1') !== 'IRNLSEAL') return undefined;
  const sealOffset = readU64(trailer, 0);
  if (sealOffset < SEGMENT_HEADER_BYTES || sealOffset >= size || size - sealOffset > 256 * 1024 * 1024)
    return undefined;
  const frame = Buffer.alloc(size - sealOffset);
  await fh.read(frame, 0, frame.length, sealOffset);
  const seal = decodeSeal(frame, 0, sealOffset);
  if (typeof seal === 'string') return undefined;
  let best: { offset: number; seq: number } | undefined;
  for (const e of seal.index) {
    if (e.seq <= fromSeq) best = { offset: e.offset, seq: e.seq };
    else break;
  }
  return best && best.offset > SEGMENT_HEADER_BYTES ? best : undefined;
}
