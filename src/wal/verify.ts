/**
 * `verifyWal`: a full offline check of a WAL directory. Reads every segment completely and checks
 * every frame's CRC, seqs, batch structure, chain hashes, seals (counts, times, chain, Merkle root,
 * time index), segment headers and the links between segments. Reports every problem it finds
 * (it resyncs after damage) instead of stopping at the first.
 */
import * as fsp from 'node:fs/promises';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { HASH_BYTES } from './frame-layout.js';
import { listSegmentFiles, type SegmentFile, SegmentHeaderOffset } from './segment.js';
import { type ScanProblem, scanSegmentImage, type WalProblemKind } from './segment-scan.js';
import { readWalDirNames } from './wal-dir.js';

/** A problem found by {@link verifyWal}. */
export interface VerifyProblem {
  readonly kind: WalProblemKind;
  /** Segment file name ('' for problems of the directory as a whole). */
  readonly segment: string;
  /** File offset of the problem (0 for header or whole-segment problems). */
  readonly offset: number;
  /** Seqs affected, when known. */
  readonly seqFrom?: number;
  readonly seqTo?: number;
  readonly message: string;
}

/** Result of {@link verifyWal}. */
export interface VerifyReport {
  /** True when no problem was found. */
  readonly valid: boolean;
  /** RECORD frames in intact batches. */
  readonly records: number;
  /** GAP frames in intact batches. */
  readonly gaps: number;
  /** Seqs covered by those GAP frames. */
  readonly gapSeqs: number;
  /** First seq of the WAL (0 when empty). */
  readonly firstSeq: number;
  /** Last seq of the WAL (0 when empty). */
  readonly lastSeq: number;
  readonly segments: number;
  /** Sealed segments. */
  readonly sealedSegments: number;
  /** Total bytes of all segment files. */
  readonly bytes: number;
  readonly problems: VerifyProblem[];
}

/** Options of {@link verifyWal}. */
export interface VerifyWalOptions {
  /**
   * Accept a WAL whose first segment does not start at seq 1 with zero previous hashes (older
   * segments deleted after replication/retention). Default false: such a start is reported as a
   * `missing-segment` problem.
   */
  allowPrunedStart?: boolean;
  /**
   * The WAL is being written to right now: an incomplete batch at the end of the last segment is
   * not a problem (it is the writer's next batch).
   */
  live?: boolean;
  /**
   * Check only up to this seq (e.g. what is durable now): batches and segments after it are not
   * looked at, so a writer appending concurrently cannot cause false alarms.
   */
  throughSeq?: number;
  /** Called after each segment is checked (for a progress bar); must not throw. */
  onProgress?: (progress: WalProgress) => void;
}

/** How far {@link verifyWal} or `recoverWal` got: segments done of all segments to read. */
export interface WalProgress {
  readonly segmentsDone: number;
  readonly segments: number;
  /** Bytes of the segments done. */
  readonly bytesDone: number;
}

const kZero = Buffer.alloc(HASH_BYTES);

/**
 * Verifies the WAL in `dir`. Never throws for damage (it is reported in `problems`); throws
 * `ERR_IRONLOG_IO` when the directory cannot be read.
 *
 * What it cannot see without an outside anchor (the replicated seal hashes, the sink's acked
 * seq): segments deleted from the end, or the open segment cut exactly at a batch boundary.
 */
export async function verifyWal(dir: string, opts: VerifyWalOptions = {}): Promise<VerifyReport> {
  const { segments, foreign } = listSegmentFiles(dir, await readWalDirNames(dir));
  const problems: VerifyProblem[] = [];
  for (const name of foreign) {
    problems.push({
      kind: 'foreign-file',
      segment: name,
      offset: 0,
      message: `${name} is not an ironlog segment name`,
    });
  }
  let records = 0;
  let gaps = 0;
  let gapSeqs = 0;
  let bytes = 0;
  let sealedSegments = 0;
  let firstSeq = 0;
  let lastSeq = 0;
  let prev: { lastSeq: number; chain: Buffer; sealSha: Buffer | undefined } | undefined;

  const throughSeq = opts.throughSeq ?? Number.MAX_SAFE_INTEGER;
  const considered = segments.filter((s, i) => i === 0 || s.firstSeq <= throughSeq);
  for (let i = 0; i < considered.length; i++) {
    const seg = considered[i] as SegmentFile;
    const isLast = i === considered.length - 1;
    let buf: Buffer;
    try {
      buf = await fsp.readFile(seg.path);
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `cannot read ${seg.path}: ${errnoCode(err) ?? String(err)}`, {
        cause: err,
      });
    }
    bytes += buf.length;
    opts.onProgress?.({ segmentsDone: i + 1, segments: considered.length, bytesDone: bytes });
    const scan = scanSegmentImage(buf, { resync: true, stopAfterSeq: opts.throughSeq });
    const add = (p: ScanProblem | Omit<VerifyProblem, 'segment'>): void => {
      problems.push({ ...p, segment: seg.name });
    };
    for (const p of scan.problems) {
      const torn = isLast && !scan.seal && p === scan.damage && scan.laterBatchOffset < 0 && p.kind !== 'chain';
      if (torn && opts.live) continue;
      if (torn)
        add({
          ...p,
          kind: 'torn-tail',
          message: `torn tail (unacknowledged data is cut when a writer opens the WAL): ${p.message}`,
        });
      else add(p);
    }
    if (scan.skippedSeqs > 0) {
      add({ kind: 'seq', offset: 0, message: `${scan.skippedSeqs} seqs lost inside damaged batches of this segment` });
    }
    const header = scan.header;
    if (header && header.firstSeq !== seg.firstSeq) {
      add({
        kind: 'header',
        offset: SegmentHeaderOffset.FIRST_SEQ,
        message: `header says first seq ${header.firstSeq}, the file name ${seg.firstSeq}`,
      });
    }
    const segFirst = header?.firstSeq ?? seg.firstSeq;
    if (i === 0) {
      firstSeq = segFirst;
      const pruned =
        segFirst !== 1 ||
        (header !== undefined && (!header.prevChainHash.equals(kZero) || !header.prevSealHash.equals(kZero)));
      if (pruned && !opts.allowPrunedStart) {
        add({
          kind: 'missing-segment',
          offset: 0,
          seqFrom: 1,
          seqTo: segFirst - 1,
          message: `the WAL starts at seq ${segFirst} with a link to an earlier segment (earlier segments missing)`,
        });
      }
    } else if (prev) {
      if (segFirst > prev.lastSeq + 1) {
        add({
          kind: 'missing-segment',
          offset: 0,
          seqFrom: prev.lastSeq + 1,
          seqTo: segFirst - 1,
          message: `seqs ${prev.lastSeq + 1}..${segFirst - 1} are missing before this segment`,
        });
      } else if (segFirst <= prev.lastSeq) {
        add({
          kind: 'duplicate',
          offset: 0,
          seqFrom: segFirst,
          seqTo: prev.lastSeq,
          message: `segment starts at seq ${segFirst}, overlapping the previous one (ends at ${prev.lastSeq})`,
        });
      }
      if (header && !header.prevChainHash.equals(prev.chain)) {
        add({
          kind: 'chain',
          offset: SegmentHeaderOffset.PREV_CHAIN_HASH,
          message: "prevChainHash does not match the previous segment's last chain hash",
        });
      }
      if (header && prev.sealSha && !header.prevSealHash.equals(prev.sealSha)) {
        add({
          kind: 'seal',
          offset: SegmentHeaderOffset.PREV_SEAL_HASH,
          message: "prevSealHash does not match the previous segment's seal",
        });
      }
    }
    if (!isLast && !scan.seal && !scan.stoppedEarly) {
      add({
        kind: 'seal',
        offset: buf.length,
        message: 'segment is not sealed but is not the last one (seal missing or damaged)',
      });
    }
    if (scan.seal) sealedSegments++;
    records += scan.summary.records;
    gaps += scan.summary.gapFrames;
    gapSeqs += scan.summary.gapSeqs;
    const segLast = scan.seal ? scan.seal.lastSeq : scan.summary.lastSeq;
    lastSeq = Math.max(lastSeq, segLast);
    prev = {
      lastSeq: segLast,
      chain: Buffer.from(scan.seal ? scan.seal.lastChainHash : scan.summary.chainHash),
      sealSha: scan.seal?.sha256,
    };
  }
  return {
    valid: problems.length === 0,
    records,
    gaps,
    gapSeqs,
    firstSeq,
    lastSeq,
    segments: considered.length,
    sealedSegments,
    bytes,
    problems,
  };
}
