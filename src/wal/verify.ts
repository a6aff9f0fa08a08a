/**
 * `verifyWal`: a full offline check of a WAL directory. Reads every segment completely and checks
 * every frame's CRC, seqs, batch structure, chain hashes, seals (counts, times, chain, Merkle root,
 * time index), segment headers and the links between segments. Reports every problem it finds
 * (it resyncs after damage) instead of stopping at the first.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { HASH_BYTES } from './frame-layout.js';
import { LossLedger, type SeqRange, salvageInto } from './salvage.js';
import { listSegmentFiles, type SegmentFile, SegmentHeaderOffset } from './segment.js';
import { readSegmentImage } from './segment-file.js';
import { type ScanProblem, scanSegmentImage, type WalProblemKind } from './segment-scan.js';
import { compareShadow, type ShadowComparison } from './shadow-compare.js';
import { readWalDirNames } from './wal-dir.js';

/** A problem found by {@link verifyWal}. */
export interface VerifyProblem {
  readonly kind: WalProblemKind;
  /** Segment file name ('' for problems of the directory as a whole). */
  readonly segment: string;
  /** File offset of the problem (0 for header or whole-segment problems). */
  readonly offset: number;
  /**
   * The seqs the problem is about, when it is about seqs: the range of a `lost`,
   * `missing-segment` or `duplicate` problem. Damage to bytes (`checksum`, `chain`, `seal`, ...)
   * is located by `offset`; what it costs is reported as `lost` problems.
   */
  readonly seqFrom?: number;
  readonly seqTo?: number;
  /** The shadow directory a `shadow-*` problem is about (`verifyWal(dir, { shadowDirs })`). */
  readonly shadow?: string;
  readonly message: string;
}

export type { ShadowComparison } from './shadow-compare.js';

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
  /**
   * Seq ranges that no intact RECORD or GAP frame holds: exactly the RECOVERY_LOSS gaps
   * `recoverWal` would write (the same accounting). Each is also a `lost` problem.
   */
  readonly lost: SeqRange[];
  /** Number of seqs in `lost`. */
  readonly lostSeqs: number;
  readonly problems: VerifyProblem[];
  /** With `shadowDirs`: how each shadow compares with this WAL (a difference is also a problem). */
  readonly shadows?: ShadowComparison[];
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
  /**
   * A directory without any segment is a valid, empty WAL. Default false: `verifyWal` throws
   * `ERR_IRONLOG_WAL_EMPTY`, so that a wrong path is never reported as a valid log.
   */
  allowEmpty?: boolean;
  /** Called after each segment is checked (for a progress bar); must not throw. */
  onProgress?: (progress: WalProgress) => void;
  /**
   * Shadow copies (`openSink({ shadowDirs })`) to compare with this WAL, segment by segment and
   * byte for byte (the open segment without its trailing zero fill): each segment missing in a
   * shadow, extra in it, or with differing bytes is a problem (`shadow-missing`, `shadow-extra`,
   * `shadow-differs`, with `shadow` naming the directory), so the report is not valid.
   */
  shadowDirs?: readonly string[];
}

/** How far {@link verifyWal} or `recoverWal` got: segments done of all segments to read. */
export interface WalProgress {
  readonly segmentsDone: number;
  readonly segments: number;
  /** Bytes of the segments done. */
  readonly bytesDone: number;
}

const kZero = Buffer.alloc(HASH_BYTES);

/** Problem kinds that are about seqs (their seqFrom/seqTo are kept). */
const kSeqKinds: ReadonlySet<WalProblemKind> = new Set<WalProblemKind>(['missing-segment', 'duplicate', 'lost']);

/**
 * Verifies the WAL in `dir`. Never throws for damage (it is reported in `problems`); throws
 * `ERR_IRONLOG_IO` when the directory cannot be read, `ERR_IRONLOG_WAL_EMPTY` when it holds no
 * segment (unless `allowEmpty`), `ERR_IRONLOG_SEGMENT_NOT_FILE` for a segment name that is not a
 * regular file and `ERR_IRONLOG_SEGMENT_TOO_LARGE` for one over 4 GiB.
 *
 * What it cannot see without an outside anchor (the replicated seal hashes, the sink's acked
 * seq): segments deleted from the end, or the open segment cut exactly at a batch boundary.
 */
export async function verifyWal(dir: string, opts: VerifyWalOptions = {}): Promise<VerifyReport> {
  const { segments, foreign } = listSegmentFiles(dir, await readWalDirNames(dir));
  if (segments.length === 0 && foreign.length === 0 && opts.allowEmpty !== true) {
    throw new IronlogError(
      ErrorCodes.WAL_EMPTY,
      `no WAL segments in ${dir} (expected <20-digit first seq>.wal files): nothing to verify; an empty log that is expected needs --allow-empty (allowEmpty: true)`,
    );
  }
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
  // The loss accounting recoverWal uses; a pruned start (when allowed) is not a loss.
  const firstName = considered[0];
  const lostAt: { range: SeqRange; segment: string }[] = [];
  const ledger = new LossLedger(
    (fromSeq, toSeq, segment) => lostAt.push({ range: { fromSeq, toSeq }, segment }),
    opts.allowPrunedStart && firstName ? firstName.firstSeq : 1,
  );
  /** Seqs past this may still be being written (live, throughSeq): no loss is counted there. */
  let horizon = throughSeq;
  for (let i = 0; i < considered.length; i++) {
    const seg = considered[i] as SegmentFile;
    const isLast = i === considered.length - 1;
    // The last segment may be preallocated far ahead (zero fill): its trailing zeros are not held
    // in memory. They change nothing for an open segment; after a seal they are reported below.
    const image = await readSegmentImage(seg, { trimZeroTail: isLast });
    if (!image) continue;
    const buf = image.buf;
    bytes += image.fileBytes;
    opts.onProgress?.({ segmentsDone: i + 1, segments: considered.length, bytesDone: bytes });
    const scan = scanSegmentImage(buf, { resync: true, stopAfterSeq: opts.throughSeq });
    const zeroTail = image.fileBytes - buf.length;
    const add = (p: ScanProblem | Omit<VerifyProblem, 'segment'>): void => {
      const located = kSeqKinds.has(p.kind) ? p : { kind: p.kind, offset: p.offset, message: p.message };
      problems.push({ ...located, segment: seg.name });
    };
    const sealedHeader = scan.header?.sealed === true;
    for (const p of scan.problems) {
      // A torn tail is the unacknowledged end of the open segment; a segment that was sealed
      // (its header says so, or a seal is in the file) has no torn tail: any damage is damage.
      const torn =
        isLast &&
        !scan.seal &&
        !sealedHeader &&
        !scan.sealTrailer &&
        p === scan.damage &&
        scan.laterBatchOffset < 0 &&
        p.kind !== 'chain';
      if (torn && opts.live) continue;
      if (torn)
        add({
          ...p,
          kind: 'torn-tail',
          message: `torn tail (unacknowledged data is cut when a writer opens the WAL): ${p.message}`,
        });
      else add(p);
    }
    if (scan.seal && zeroTail > 0) {
      add({
        kind: 'trailing-bytes',
        offset: buf.length,
        message: `${zeroTail} zero bytes after the seal (a sealed segment ends at its seal)`,
      });
    }
    if (sealedHeader && !scan.seal && !scan.stoppedEarly) {
      add({
        kind: 'seal',
        offset: scan.dataEnd,
        message: `the header says the segment was sealed, but the file does not end at a valid seal (${image.fileBytes} bytes; batches end at ${scan.dataEnd}): truncated, zeroed or overwritten`,
      });
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
    if (isLast && opts.live && !scan.seal) horizon = Math.min(horizon, scan.summary.lastSeq);
    // The loss accounting: a segment whose batches all checked out holds exactly its seq range;
    // any other is salvaged frame by frame, as recoverWal does.
    const clean = scan.problems.length === 0 && header !== undefined && !scan.stoppedEarly;
    let fast = false;
    if (clean) {
      ledger.know(header.firstSeq - 1);
      ledger.know(scan.summary.lastSeq);
      fast = ledger.takeRange(header.firstSeq, scan.summary.lastSeq, seg.name);
    }
    if (!fast) salvageInto(ledger, buf, seg.name, []);
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
  ledger.finish('end');
  const lost: SeqRange[] = [];
  for (const { range, segment } of lostAt) {
    if (range.fromSeq > horizon) continue;
    const r = { fromSeq: range.fromSeq, toSeq: Math.min(range.toSeq, horizon) };
    lost.push(r);
    problems.push({
      kind: 'lost',
      segment: segment === 'end' ? (considered[considered.length - 1]?.name ?? '') : segment,
      offset: 0,
      seqFrom: r.fromSeq,
      seqTo: r.toSeq,
      message: `seqs ${r.fromSeq}..${r.toSeq} (${r.toSeq - r.fromSeq + 1}) are lost: no intact frame holds them`,
    });
  }
  const shadows: ShadowComparison[] = [];
  for (const d of opts.shadowDirs ?? []) shadows.push(await compareShadow(d, considered, problems));
  return {
    valid: problems.length === 0,
    ...(opts.shadowDirs ? { shadows } : {}),
    records,
    gaps,
    gapSeqs,
    firstSeq,
    lastSeq,
    segments: considered.length,
    sealedSegments,
    bytes,
    lost,
    lostSeqs: lost.reduce((n, r) => n + r.toSeq - r.fromSeq + 1, 0),
    problems,
  };
}
