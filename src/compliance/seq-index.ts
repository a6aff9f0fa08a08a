/**
 * `tlog/index`: the map between entry index and seq, so a proof for seq N finds its leaf without
 * rescanning the WAL.
 *
 * Entries cover consecutive seqs: a RECORD one seq, a GAP `toSeq - fromSeq + 1`. The map is a list
 * of **runs**: a row `(startIndex, startSeq)` says entry `startIndex` begins at `startSeq`, and every
 * entry from there up to the next row's `startIndex - 1` covers exactly one seq, except possibly
 * the last one of the run (a GAP of several seqs, which is why the next run starts). So:
 *
 * - a row exists for entry 0 and for every entry that follows a GAP of two or more seqs;
 * - a row is written as soon as its start is known, i.e. right after the GAP that causes it, so
 *   the last row may name `startIndex == size` (where the next entry will start).
 *
 * File format (little endian): rows of 16 bytes, `u64 startIndex`, `u64 startSeq`, ascending.
 * Rows are appended and fdatasync'd before the tiles that hold their entries are committed; on
 * open, rows past the tiled size and a torn last row are cut off.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { readU64, writeU64 } from '../wal/bytes.js';
import { kSeqIndexName } from './tlog-store.js';

/** Bytes of one row. */
export const kSeqIndexRowBytes = 16;

/** Where a seq lies in the log. */
export interface SeqLocation {
  /** Entry index. */
  readonly index: number;
  /** First seq of that entry (equals the seq unless the entry is a GAP). */
  readonly entrySeq: number;
}

function stateError(message: string, cause?: unknown): IronlogError {
  return new IronlogError(ErrorCodes.TLOG_STATE, message, cause === undefined ? undefined : { cause });
}

/** The runs of `tlog/index`, in memory, with appends buffered until {@link SeqIndex.commit}. */
export class SeqIndex {
  readonly #file: string;
  readonly #startIndex: number[] = [];
  readonly #startSeq: number[] = [];
  /** Rows already in the file. */
  #durableRows = 0;
  /** Entries appended so far (== size once committed). */
  #size: number;
  /** First seq of the next entry (-1: unknown, no entry yet). */
  #nextSeq = -1;

  private constructor(file: string, size: number) {
    this.#file = file;
    this.#size = size;
  }

  /**
   * Reads `tlog/index` for a log of `size` entries. With `repair`, rows past `size` (written for
   * entries whose tiles never got committed) and a torn last row are cut off durably; without it
   * (read-only callers) they are ignored.
   */
  static open(tlogDir: string, size: number, repair: boolean): SeqIndex {
    const file = path.join(tlogDir, kSeqIndexName);
    const idx = new SeqIndex(file, size);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw stateError(`cannot read ${file}: ${String(err)}`, err);
      buf = Buffer.alloc(0);
    }
    const rows = Math.floor(buf.length / kSeqIndexRowBytes);
    let keep = 0;
    for (let r = 0; r < rows; r++) {
      const startIndex = readU64(buf, r * kSeqIndexRowBytes);
      const startSeq = readU64(buf, r * kSeqIndexRowBytes + 8);
      if (startIndex < 0 || startSeq < 1) throw stateError(`${file}: row ${r} is damaged`);
      if (startIndex > size) break;
      const prevIndex = idx.#startIndex[keep - 1];
      const prevSeq = idx.#startSeq[keep - 1];
      if (prevIndex !== undefined && prevSeq !== undefined) {
        // A run of n entries covers at least n seqs.
        if (startIndex <= prevIndex || startSeq - prevSeq < startIndex - prevIndex) {
          throw stateError(`${file}: row ${r} (${startIndex}, ${startSeq}) does not follow the row before it`);
        }
      } else if (startIndex !== 0) {
        throw stateError(`${file}: the first row is for entry ${startIndex}, not 0`);
      }
      idx.#startIndex.push(startIndex);
      idx.#startSeq.push(startSeq);
      keep++;
    }
    if (size > 0 && keep === 0) throw stateError(`${file} is missing or empty, but the log has ${size} entries`);
    idx.#durableRows = keep;
    if (repair && buf.length !== keep * kSeqIndexRowBytes) {
      try {
        const fd = fs.openSync(file, 'r+');
        try {
          fs.ftruncateSync(fd, keep * kSeqIndexRowBytes);
          fs.fdatasyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      } catch (err) {
        throw stateError(`cannot repair ${file}: ${String(err)}`, err);
      }
    }
    if (keep > 0) {
      const lastIndex = idx.#startIndex[keep - 1] as number;
      const lastSeq = idx.#startSeq[keep - 1] as number;
      // Known only when no GAP of several seqs ends the log (then its row would exist at `size`).
      idx.#nextSeq = lastSeq + (size - lastIndex);
    }
    return idx;
  }

  /** Entries covered (appended, committed or not). */
  get size(): number {
    return this.#size;
  }

  /**
   * First seq of the next entry, or -1 before the first entry. Exact as long as the last entry is
   * not a GAP of several seqs whose following row is missing: rows are written with the GAP, so
   * that only happens in a damaged file.
   */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Appends the next entry (`seq..toSeq`). Entries must come in order. */
  append(index: number, seq: number, toSeq: number): void {
    if (index !== this.#size) throw stateError(`index append out of order: entry ${index}, expected ${this.#size}`);
    if (this.#nextSeq >= 0 && seq !== this.#nextSeq) {
      throw stateError(`entry ${index} starts at seq ${seq}, but the log's next seq is ${this.#nextSeq}`);
    }
    if (this.#startIndex.length === 0) {
      this.#startIndex.push(index);
      this.#startSeq.push(seq);
    }
    this.#size = index + 1;
    this.#nextSeq = toSeq + 1;
    if (toSeq > seq) {
      this.#startIndex.push(index + 1);
      this.#startSeq.push(toSeq + 1);
    }
  }

  /** Appends the rows added since the last commit to the file and fdatasyncs it. */
  commit(): void {
    const n = this.#startIndex.length - this.#durableRows;
    if (n === 0) return;
    const buf = Buffer.alloc(n * kSeqIndexRowBytes);
    for (let r = 0; r < n; r++) {
      writeU64(buf, r * kSeqIndexRowBytes, this.#startIndex[this.#durableRows + r] as number);
      writeU64(buf, r * kSeqIndexRowBytes + 8, this.#startSeq[this.#durableRows + r] as number);
    }
    try {
      const created = !fs.existsSync(this.#file);
      const fd = fs.openSync(this.#file, 'a');
      try {
        fs.writeSync(fd, buf, 0, buf.length, this.#durableRows * kSeqIndexRowBytes);
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      if (created) {
        const dfd = fs.openSync(path.dirname(this.#file), 'r');
        try {
          fs.fsyncSync(dfd);
        } finally {
          fs.closeSync(dfd);
        }
      }
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `cannot write ${this.#file}: ${String(err)}`, { cause: err });
    }
    this.#durableRows += n;
  }

  /**
   * The entry that holds `seq` among the first `treeSize` entries, or undefined when `seq` lies
   * before the log or at or past the end of those entries.
   */
  locate(seq: number, treeSize: number): SeqLocation | undefined {
    const starts = this.#startSeq;
    if (starts.length === 0 || seq < (starts[0] as number)) return undefined;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= seq) lo = mid;
      else hi = mid - 1;
    }
    const runIndex = this.#startIndex[lo] as number;
    const runSeq = starts[lo] as number;
    const nextRunIndex = this.#startIndex[lo + 1];
    let index = runIndex + (seq - runSeq);
    if (nextRunIndex !== undefined && index >= nextRunIndex) index = nextRunIndex - 1; // inside the GAP ending the run
    if (index >= treeSize || index >= this.#size) return undefined;
    return { index, entrySeq: runSeq + (index - runIndex) };
  }

  /** First seq of entry `index` (< size). */
  seqOf(index: number): number {
    const ix = this.#startIndex;
    let lo = 0;
    let hi = ix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((ix[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return (this.#startSeq[lo] as number) + (index - (ix[lo] as number));
  }
}
