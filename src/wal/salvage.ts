/**
 * What survives in a damaged WAL, frame by frame: the one accounting `recoverWal` (which copies
 * what survives) and `verifyWal` (which reports what does not) share, so that `verify`'s lost
 * seq ranges are exactly the RECOVERY_LOSS gaps `recover` writes.
 *
 * A segment is walked 8 bytes at a time from offset 128; every intact RECORD and GAP frame is
 * kept (its own CRC decides, not its batch), every run of bytes where no intact frame starts is
 * reported as damage. The {@link LossLedger} then takes the segments' frames in name order and
 * finds the seq ranges no intact frame holds, from seq 1 (or the start given) up to the highest
 * seq any intact frame or header names.
 */
import { align8 } from './bytes.js';
import {
  FrameType,
  readFrameAux64,
  readFrameBytes,
  readFrameCrc,
  readFrameSeq,
  readFrameType,
  WAL_FRAME_ALIGN,
} from './frame-layout.js';
import { checkFrame, FrameCheck } from './record.js';
import { decodeSegmentHeader, type HeaderDecodeResult, SEGMENT_HEADER_BYTES } from './segment.js';
import type { VerifyProblem } from './verify.js';

/** An intact RECORD or GAP frame found by {@link salvageSegment}. */
export interface SalvagedFrame {
  /** First seq (a RECORD's seq, a GAP's fromSeq). */
  readonly seq: number;
  /** Last seq (a RECORD's seq, a GAP's toSeq). */
  readonly last: number;
  readonly type: number;
  /** File offset of the frame and its padded length. */
  readonly offset: number;
  readonly paddedBytes: number;
}

/** What {@link salvageSegment} found in one segment image. */
export interface SegmentSalvage {
  /** Intact RECORD and GAP frames, sorted by seq. */
  readonly frames: SalvagedFrame[];
  /** Highest seq any intact frame names (COMMIT and SEAL included); 0 when none. */
  readonly maxKnown: number;
  /**
   * The segment ends in damage with no intact frame after it, or in a piece shorter than a
   * length word: records after the last seq known may have existed.
   */
  readonly endsUnknown: boolean;
}

/** A seq range. */
export interface SeqRange {
  readonly fromSeq: number;
  readonly toSeq: number;
}

/**
 * Walks a segment image 8 bytes at a time and lists every intact RECORD and GAP frame,
 * reporting each damaged run in `problems` (as `checksum` problems of `segment`).
 */
export function salvageSegment(buf: Buffer, segment: string, problems: VerifyProblem[]): SegmentSalvage {
  const frames: SalvagedFrame[] = [];
  let maxKnown = 0;
  let damageStart = -1;
  // Damage with no intact frame after it (only zeros, or nothing) leaves the segment's end
  // unknown: zeros after damage may be zero fill, or zeroed records and a zeroed seal.
  let endsInDamage = false;
  let pos = SEGMENT_HEADER_BYTES;
  const end = buf.length;
  const closeDamage = (at: number): void => {
    if (damageStart < 0) return;
    problems.push({
      kind: 'checksum',
      segment,
      offset: damageStart,
      message: `${at - damageStart} damaged bytes skipped (no valid frame starts in them)`,
    });
    damageStart = -1;
  };
  while (pos + WAL_FRAME_ALIGN <= end) {
    const check = checkFrame(buf, pos, end);
    if (check === FrameCheck.OK) {
      closeDamage(pos);
      endsInDamage = false;
      const frameBytes = readFrameBytes(buf, pos);
      const type = readFrameType(buf, pos);
      const seq = readFrameSeq(buf, pos);
      const aux = readFrameAux64(buf, pos);
      const padded = align8(frameBytes);
      if (type === FrameType.RECORD || type === FrameType.GAP) {
        const last = type === FrameType.GAP ? aux : seq;
        frames.push({ seq, last, type, offset: pos, paddedBytes: padded });
        maxKnown = Math.max(maxKnown, last);
      } else {
        // COMMIT (aux = last seq of its batch) and SEAL (aux = last seq of the segment) name seqs too.
        maxKnown = Math.max(maxKnown, aux);
      }
      pos += padded;
      continue;
    }
    if (check === FrameCheck.ZERO && readFrameCrc(buf, pos) === 0) {
      // Zeros: zero-filled space after the data (or a zeroed region; its seqs show up as lost).
      closeDamage(pos);
      pos += WAL_FRAME_ALIGN;
      continue;
    }
    if (damageStart < 0) damageStart = pos;
    endsInDamage = true;
    pos += WAL_FRAME_ALIGN;
  }
  if (damageStart >= 0) closeDamage(end);
  const shortTail = pos < end && damageStart < 0 && end - pos < WAL_FRAME_ALIGN;
  // Frames of one segment are normally in order already; a stable sort handles the rest.
  frames.sort((a, b) => a.seq - b.seq);
  return { frames, maxKnown, endsUnknown: endsInDamage || shortTail };
}

/**
 * The seq accounting over a whole WAL: frames go in segment by segment (each segment's frames in
 * seq order); every seq range between them that no frame holds is a loss. A frame whose seqs
 * were already seen is a duplicate (and skipped).
 */
export class LossLedger {
  /** The next seq expected. */
  next: number;
  /** Highest seq any intact frame or header named so far. */
  maxKnown = 0;
  readonly lost: SeqRange[] = [];
  lostSeqs = 0;
  readonly #onLoss: ((fromSeq: number, toSeq: number, segment: string) => void) | undefined;

  /**
   * @param onLoss called for each lost range as it is found, before the frame after it is taken
   *   (recovery writes the RECOVERY_LOSS gap there).
   * @param firstSeq the seq the WAL starts at (1, or later for a pruned start).
   */
  constructor(onLoss?: (fromSeq: number, toSeq: number, segment: string) => void, firstSeq = 1) {
    this.#onLoss = onLoss;
    this.next = firstSeq;
  }

  /** Notes a seq named by a header (`firstSeq - 1`), a COMMIT or a SEAL. */
  know(seq: number): void {
    if (seq > this.maxKnown) this.maxKnown = seq;
  }

  /** Records seqs [fromSeq, toSeq] as lost before (or at the end of) `segment`. */
  addLoss(fromSeq: number, toSeq: number, segment: string): void {
    this.lost.push({ fromSeq, toSeq });
    this.lostSeqs += toSeq - fromSeq + 1;
    this.#onLoss?.(fromSeq, toSeq, segment);
  }

  /**
   * Takes one frame (in seq order within its segment). Returns false when the frame's seqs were
   * already seen (a duplicate, to skip); otherwise notes any hole before it and returns true.
   */
  take(seq: number, last: number, segment: string): boolean {
    if (seq < this.next) return false;
    if (seq > this.next) this.addLoss(this.next, seq - 1, segment);
    this.next = last + 1;
    this.know(last);
    return true;
  }

  /**
   * Takes a run of seqs known to be complete and in order (a segment whose every batch checked
   * out), as {@link take} would take its frames one by one. Returns false, taking nothing, when
   * the run overlaps seqs already seen: the caller then feeds the frames one by one.
   */
  takeRange(seq: number, last: number, segment: string): boolean {
    if (last < seq) return true;
    if (seq < this.next) return false;
    this.take(seq, last, segment);
    return true;
  }

  /** Closes the accounting: seqs named but never seen are lost at the end. */
  finish(segment: string): void {
    if (this.maxKnown >= this.next) {
      this.addLoss(this.next, this.maxKnown, segment);
      this.next = this.maxKnown + 1;
    }
  }
}

/**
 * Accounts for one segment image in `ledger`: its header's first seq, then every intact frame
 * in seq order. `onFrame` gets each frame taken; a frame whose seqs were already taken is
 * reported as a `duplicate` problem and skipped. Returns what {@link salvageSegment} found.
 */
export function salvageInto(
  ledger: LossLedger,
  buf: Buffer,
  segment: string,
  problems: VerifyProblem[],
  onFrame?: (f: SalvagedFrame) => void,
): SegmentSalvage & { readonly header: HeaderDecodeResult } {
  const header = decodeSegmentHeader(buf, buf.length);
  if (header.ok) ledger.know(header.header.firstSeq - 1);
  const salvage = salvageSegment(buf, segment, problems);
  ledger.know(salvage.maxKnown);
  for (const f of salvage.frames) {
    if (!ledger.take(f.seq, f.last, segment)) {
      problems.push({
        kind: 'duplicate',
        segment,
        offset: f.offset,
        seqFrom: f.seq,
        seqTo: f.last,
        message: `frame for seqs ${f.seq}..${f.last} skipped: those seqs were already seen`,
      });
      continue;
    }
    onFrame?.(f);
  }
  return { ...salvage, header };
}
