/**
 * Scanning a whole segment file image in memory: header, every batch (CRC, seqs, COMMIT, chain),
 * the seal (compared with what the batches add up to) and what follows the data. Used by
 * `WalWriter.open` (to find where to continue), `verifyWal` (with resync, to report every damaged
 * place) and the monitoring WAL summary.
 */
import { type BatchDamageKind, BatchParse, BatchStatus, findCompleteBatch, parseBatch } from './batch.js';
import { firstNonZero, readU64 } from './bytes.js';
import { FrameType, HASH_BYTES, readFrameType, WAL_FRAME_ALIGN, WalFrameOffset } from './frame-layout.js';
import { checkFrame, FrameCheck } from './record.js';
import {
  type DecodedSeal,
  decodeSeal,
  decodeSegmentHeader,
  type HeaderDecodeResult,
  SEAL_MAGIC,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  type SegmentHeader,
  SegmentSummary,
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
  | 'duplicate'
  | 'lost'
  // shadow copies (issue 14): verifyWal(dir, { shadowDirs })
  | 'shadow-missing'
  | 'shadow-extra'
  | 'shadow-differs';

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

/** Options of {@link scanSegmentImage}. */
export interface ScanOptions {
  /** Go on after damage from the next complete batch found (verify). Default false. */
  resync?: boolean;
  /** Stop once past this seq (the rest may still be being written). Default: scan everything. */
  stopAfterSeq?: number;
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
  /**
   * The file ends in a seal trailer (`sealFrameOffset` + `IRNLSEAL`), whether or not the seal
   * itself checks out: the segment was sealed, so damage in it is never a torn tail.
   */
  readonly sealTrailer: boolean;
}

/**
 * Scans a whole segment file image: header, every batch (CRC, seqs, COMMIT, chain), the seal
 * (compared with what the batches add up to) and what follows the data.
 *
 * With `resync`, the scan goes on after damage from the next complete batch it can find (chain
 * and seqs taken from there), so that `verifyWal` reports every damaged place, not only the first.
 */
export function scanSegmentImage(buf: Buffer, opts: ScanOptions = {}): SegmentScan {
  return new SegmentScanner(buf, opts).run();
}

/** True when `buf` ends in the 16-byte seal trailer: a u64 offset inside the file, then `IRNLSEAL`. */
function endsInSealTrailer(buf: Buffer): boolean {
  const n = buf.length;
  if (n < SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) return false;
  if (!buf.subarray(n - SEAL_MAGIC.length).equals(SEAL_MAGIC)) return false;
  const off = readU64(buf, n - SEAL_TRAILER_BYTES);
  return off >= SEGMENT_HEADER_BYTES && off < n && off % WAL_FRAME_ALIGN === 0;
}

/** What a step of the scan loop decided. */
const kContinue = true;
const kStop = false;

/** The state of one {@link scanSegmentImage} call, one method per kind of thing the scan meets. */
class SegmentScanner {
  readonly #buf: Buffer;
  readonly #end: number;
  readonly #resync: boolean;
  readonly #stopAfter: number;
  readonly #bp = new BatchParse();
  readonly #problems: ScanProblem[] = [];
  readonly #headerResult: HeaderDecodeResult;
  readonly #header: SegmentHeader | undefined;
  readonly #summary = new SegmentSummary();
  /** Seq the next batch must start with; -1 while unknown (no header, or after a resync). */
  #expect = -1;
  /** Chain hash before the next batch; null while unknown. */
  #chain: Buffer | null = null;
  /** The summary was reset (from the header or the first batch found). */
  #initialized = false;
  #pos = SEGMENT_HEADER_BYTES;
  #seal: DecodedSeal | undefined;
  #damage: ScanProblem | undefined;
  #laterBatchOffset = -1;
  #dataEnd = SEGMENT_HEADER_BYTES;
  #tailJunkOffset = -1;
  #bytesAfterSeal = 0;
  #zerosAfterSeal = true;
  #skippedSeqs = 0;
  #stoppedEarly = false;
  /** No damage (and a valid header) so far: the seal can be compared field by field. */
  #cleanSoFar: boolean;

  constructor(buf: Buffer, opts: ScanOptions) {
    this.#buf = buf;
    this.#end = buf.length;
    this.#resync = opts.resync === true;
    this.#stopAfter = opts.stopAfterSeq ?? Number.MAX_SAFE_INTEGER;
    this.#headerResult = decodeSegmentHeader(buf, buf.length);
    this.#header = this.#headerResult.ok ? this.#headerResult.header : undefined;
    this.#cleanSoFar = this.#header !== undefined;
    this.#startFromHeader();
  }

  /** Starts the summary, seq and chain from the header (or records the header problem). */
  #startFromHeader(): void {
    const hr = this.#headerResult;
    if (hr.ok) {
      this.#summary.reset(hr.header.firstSeq, hr.header.prevChainHash);
      this.#expect = hr.header.firstSeq;
      this.#chain = this.#summary.chainHash;
      this.#initialized = true;
    } else {
      this.#problems.push({ kind: 'header', offset: 0, message: hr.message });
      this.#summary.reset(1, Buffer.alloc(HASH_BYTES));
    }
  }

  run(): SegmentScan {
    const end = this.#end;
    while (end >= SEGMENT_HEADER_BYTES) {
      if (this.#reachedStopSeq()) {
        this.#stoppedEarly = true;
        break;
      }
      const st = parseBatch(this.#buf, 0, end, true, this.#pos, this.#expect, this.#chain, this.#bp);
      let next: boolean;
      if (st === BatchStatus.BATCH) next = this.#onBatch();
      else if (st === BatchStatus.SEAL) next = this.#onSeal();
      else if (st === BatchStatus.END_ZERO) next = this.#onEndZero();
      else if (st === BatchStatus.END_EOF) next = kStop;
      // DAMAGED (NEED_MORE cannot happen: the whole file is in memory).
      else next = this.#onDamagedBatch();
      if (next === kStop) break;
    }
    return this.#result();
  }

  /**
   * `stopAfterSeq`: what follows may still be being written (verify of a live WAL). A seal right
   * there is still checked.
   */
  #reachedStopSeq(): boolean {
    if (this.#expect <= this.#stopAfter) return false;
    const buf = this.#buf;
    const pos = this.#pos;
    const sealHere =
      pos + WalFrameOffset.TYPE + 1 <= this.#end &&
      readFrameType(buf, pos) === FrameType.SEAL &&
      checkFrame(buf, pos, this.#end) === FrameCheck.OK;
    return !sealHere;
  }

  #onBatch(): boolean {
    const bp = this.#bp;
    const summary = this.#summary;
    if (!this.#initialized) {
      summary.reset(bp.firstSeq, Buffer.alloc(HASH_BYTES));
      this.#initialized = true;
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
    if (this.#damage === undefined) this.#dataEnd = bp.end;
    this.#expect = bp.lastSeq + 1;
    this.#chain = summary.chainHash;
    this.#pos = bp.end;
    return kContinue;
  }

  #onSeal(): boolean {
    const buf = this.#buf;
    const pos = this.#pos;
    const expect = this.#expect;
    const decoded = decodeSeal(buf, pos);
    if (typeof decoded === 'string') {
      return this.#onDamage({ kind: 'seal', offset: pos, seqFrom: expect >= 0 ? expect : undefined, message: decoded });
    }
    this.#seal = decoded;
    if (this.#cleanSoFar) {
      const bad = this.#summary.mismatches(decoded);
      if (bad.length > 0) {
        this.#problems.push({
          kind: 'seal',
          offset: pos,
          message: `seal does not match the segment's batches: ${bad.join(', ')}`,
        });
      }
    } else if (expect >= 0 && decoded.lastSeq !== expect - 1) {
      this.#problems.push({
        kind: 'seal',
        offset: pos,
        message: `seal says last seq ${decoded.lastSeq}, batches end at ${expect - 1}`,
      });
    }
    const sealEnd = pos + decoded.frameBytes;
    this.#bytesAfterSeal = this.#end - sealEnd;
    if (this.#bytesAfterSeal > 0) {
      this.#zerosAfterSeal = firstNonZero(buf, sealEnd, this.#end) < 0;
      this.#problems.push({
        kind: 'trailing-bytes',
        offset: sealEnd,
        message: `${this.#bytesAfterSeal} bytes after the seal (a sealed segment ends at its seal)`,
      });
    }
    return kStop;
  }

  /** A zero length word at a batch boundary: the end of data, unless nonzero bytes follow. */
  #onEndZero(): boolean {
    const pos = this.#pos;
    const junk = firstNonZero(this.#buf, pos, this.#end);
    if (junk < 0) return kStop;
    // Something nonzero after the end of data: a torn write, or a zeroed frame in the middle.
    this.#tailJunkOffset = junk;
    return this.#onDamage({
      kind: 'truncated',
      offset: pos,
      seqFrom: this.#expect >= 0 ? this.#expect : undefined,
      message: `zero length word at ${pos} but nonzero bytes at ${junk}`,
    });
  }

  #onDamagedBatch(): boolean {
    const bp = this.#bp;
    return this.#onDamage({
      kind: bp.problemKind,
      offset: bp.problemOffset,
      seqFrom: this.#expect >= 0 ? this.#expect : undefined,
      message: `${bp.message} (batch at ${this.#pos})`,
    });
  }

  /** Records damage; looks for a later complete batch; with resync, continues there. */
  #onDamage(p: ScanProblem): boolean {
    this.#problems.push(p);
    this.#cleanSoFar = false;
    if (this.#damage === undefined) {
      this.#damage = p;
      this.#dataEnd = this.#initialized ? this.#summary.dataEnd : SEGMENT_HEADER_BYTES;
    }
    const bp = this.#bp;
    const later = findCompleteBatch(
      this.#buf,
      Math.max(this.#pos + WAL_FRAME_ALIGN, SEGMENT_HEADER_BYTES),
      this.#end,
      bp,
    );
    if (this.#laterBatchOffset < 0 && later >= 0) this.#laterBatchOffset = later;
    if (!this.#resync || later < 0) return kStop;
    // Resync: continue at the complete batch found; its seqs and chain are taken as they are.
    if (this.#expect >= 0 && bp.firstSeq > this.#expect) this.#skippedSeqs += bp.firstSeq - this.#expect;
    this.#pos = later;
    this.#expect = -1;
    this.#chain = null;
    return kContinue;
  }

  #result(): SegmentScan {
    if (this.#damage === undefined) this.#dataEnd = this.#summary.dataEnd;
    return {
      header: this.#header,
      headerResult: this.#headerResult,
      summary: this.#summary,
      seal: this.#seal,
      problems: this.#problems,
      damage: this.#damage,
      laterBatchOffset: this.#laterBatchOffset,
      dataEnd: this.#dataEnd,
      tailJunkOffset: this.#tailJunkOffset,
      bytesAfterSeal: this.#bytesAfterSeal,
      zerosAfterSeal: this.#zerosAfterSeal,
      skippedSeqs: this.#skippedSeqs,
      stoppedEarly: this.#stoppedEarly,
      sealTrailer: endsInSealTrailer(this.#buf),
    };
  }
}
