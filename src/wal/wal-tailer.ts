import { ErrorCodes, IronlogError } from '../core/errors.js';
import { BatchParse, BatchStatus, parseBatch } from './batch.js';
import { align8 } from './bytes.js';
import {
  FrameType,
  frameBodyOffset,
  readFrameAux64,
  readFrameBytes,
  readFrameFlags,
  readFrameSeq,
  readFrameType,
} from './frame-layout.js';
import { decodeEvent, type WalRecord } from './reader.js';
import { decodeSegmentHeader, SEGMENT_HEADER_BYTES, type SegmentFile } from './segment.js';
import { openSegmentFile } from './segment-file.js';
import { walCorrupt } from './wal-corrupt.js';
import { listWalDir } from './wal-dir.js';

const kFirstWindowBytes = 256 * 1024;

interface Position {
  readonly seg: SegmentFile;
  pos: number;
  expect: number;
  prev: Buffer | null;
}

/** Follows a WAL directory that a writer is appending to. */
export class WalTailer {
  readonly #dir: string;
  #nextSeq: number;
  #at: Position | undefined;
  /** The current segment ended with a seal: the next poll moves to the following one. */
  #sealed = false;
  readonly #bp = new BatchParse();

  /** @param fromSeq the first seq to return; earlier records are parsed but not returned. */
  constructor(dir: string, fromSeq: number) {
    this.#dir = dir;
    this.#nextSeq = fromSeq;
  }

  /** Seq of the next record to return. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Returns every complete record written since the last poll, in seq order, then ends (call
   * again later). An incomplete batch at the end of the last segment is left for a later poll;
   * damage before the end raises `ERR_IRONLOG_WAL_CORRUPT`.
   */
  async *poll(): AsyncGenerator<WalRecord> {
    for (;;) {
      if (!this.#at || this.#sealed) {
        const opened = await this.#openNext();
        if (!opened) return;
      }
      const at = this.#at as Position;
      const opened = await openSegmentFile(at.seg, { missingOk: true });
      if (!opened) return;
      const fh = opened.fh;
      let moved = false;
      try {
        const size = opened.size;
        let window = kFirstWindowBytes;
        while (at.pos < size) {
          const len = Math.min(window, size - at.pos);
          const buf = Buffer.allocUnsafe(len);
          const { bytesRead } = await fh.read(buf, 0, len, at.pos);
          const base = at.pos;
          const bufEnd = base + bytesRead;
          const atEof = bufEnd >= size;
          let progressed = false;
          for (;;) {
            const st = parseBatch(buf, base, bufEnd, atEof, at.pos, at.expect, at.prev, this.#bp);
            if (st === BatchStatus.BATCH) {
              yield* this.#records(buf, base);
              at.expect = this.#bp.lastSeq + 1;
              at.prev = Buffer.from(this.#bp.chainHash);
              at.pos = this.#bp.end;
              progressed = true;
              if (at.pos >= bufEnd) break;
              continue;
            }
            if (st === BatchStatus.NEED_MORE) {
              if (!progressed) window *= 2;
              break;
            }
            if (st === BatchStatus.SEAL) {
              this.#sealed = true;
              moved = true;
              break;
            }
            if (st === BatchStatus.DAMAGED && (await this.#laterSegmentExists(at.seg))) {
              // Not a batch being written: the writer has moved on to a later segment.
              throw walCorrupt(at.seg.path, this.#bp.problemOffset, at.expect, this.#bp.message);
            }
            // END_ZERO, END_EOF, or an incomplete batch at the live end: wait for more.
            return;
          }
          if (moved) break;
        }
      } finally {
        await fh.close();
      }
      if (!moved) return;
    }
  }

  *#records(buf: Buffer, base: number): Generator<WalRecord> {
    const bp = this.#bp;
    if (bp.lastSeq < this.#nextSeq) return;
    let p = bp.start;
    while (p < bp.commitOffset) {
      const i = p - base;
      const frameBytes = readFrameBytes(buf, i);
      if (readFrameType(buf, i) === FrameType.RECORD) {
        const seq = readFrameSeq(buf, i);
        if (seq >= this.#nextSeq) {
          const timeUs = readFrameAux64(buf, i);
          const flags = readFrameFlags(buf, i);
          const event = decodeEvent(buf, frameBodyOffset(i), i + frameBytes, flags);
          yield { seq, timeUs, time: new Date(Math.floor(timeUs / 1000)), flags, event };
        }
      }
      p += align8(frameBytes);
    }
    this.#nextSeq = Math.max(this.#nextSeq, bp.lastSeq + 1);
  }

  async #laterSegmentExists(seg: SegmentFile): Promise<boolean> {
    return (await listWalDir(this.#dir)).some((s) => s.firstSeq > seg.firstSeq);
  }

  /** Positions at the segment holding `nextSeq` (first poll) or the one after a sealed one. */
  async #openNext(): Promise<boolean> {
    const segments = await listWalDir(this.#dir);
    let seg: SegmentFile | undefined;
    if (!this.#at) {
      for (const s of segments) if (s.firstSeq <= this.#nextSeq) seg = s;
      seg ??= segments[0];
    } else {
      const want = this.#at.expect;
      seg = segments.find((s) => s.firstSeq === want);
    }
    if (!seg) return false;
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    let bytesRead = 0;
    const opened = await openSegmentFile(seg, { missingOk: true });
    if (!opened) return false;
    try {
      bytesRead = (await opened.fh.read(header, 0, SEGMENT_HEADER_BYTES, 0)).bytesRead;
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `cannot read ${seg.path}: ${String(err)}`, { cause: err });
    } finally {
      await opened.fh.close();
    }
    const hr = decodeSegmentHeader(header, bytesRead);
    // A segment being created may not have its header yet.
    if (!hr.ok) return false;
    this.#at = {
      seg,
      pos: SEGMENT_HEADER_BYTES,
      expect: hr.header.firstSeq,
      prev: Buffer.from(hr.header.prevChainHash),
    };
    this.#sealed = false;
    return true;
  }
}
