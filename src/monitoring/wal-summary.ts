/**
 * A cheap summary of a WAL directory for `ironlog stats`, `monitor --dir` and `export`'s
 * progress bar: sealed segments are described by their seal alone (read from the file's end),
 * only the open (unsealed) segment is scanned.
 */
import { readSealFromEnd } from '../wal/reader.js';
import type { SegmentFile, TimeIndexEntry } from '../wal/segment.js';
import { openSegmentFile, readSegmentImage } from '../wal/segment-file.js';
import { scanSegmentImage } from '../wal/segment-scan.js';
import { listWalDir } from '../wal/wal-dir.js';

/** One segment of a {@link WalSummary}. */
export interface SegmentInfo {
  readonly name: string;
  readonly firstSeq: number;
  /** Last seq (records and gaps); firstSeq - 1 when empty. */
  readonly lastSeq: number;
  readonly records: number;
  readonly bytes: number;
  readonly sealed: boolean;
  /** Smallest / largest record time in µs since the epoch (undefined without records). */
  readonly minTimeUs: number | undefined;
  readonly maxTimeUs: number | undefined;
  /** The sparse time index (the seal's, or the one a scan of the open segment built). */
  readonly index: readonly TimeIndexEntry[];
  /** Damage found while scanning an unsealed segment (the summary stops there). */
  readonly problem?: string;
}

/** What {@link summarizeWal} returns. */
export interface WalSummary {
  readonly dir: string;
  readonly segments: SegmentInfo[];
  readonly sealedSegments: number;
  readonly records: number;
  readonly bytes: number;
  /** First and last seq (0 when empty). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly minTimeUs: number | undefined;
  readonly maxTimeUs: number | undefined;
}

/** Cache of sealed segments' infos (a sealed segment never changes), keyed by path and size. */
export type SealedCache = Map<string, SegmentInfo>;

async function describeSegment(seg: SegmentFile, cache: SealedCache | undefined): Promise<SegmentInfo | undefined> {
  // Regular files of at most 4 GiB only (segment-file.ts); a segment deleted while we list
  // (retention) is simply gone.
  const opened = await openSegmentFile(seg, { missingOk: true });
  if (!opened) return undefined;
  const { fh, size } = opened;
  let closed = false;
  try {
    const key = `${seg.path}:${size}`;
    const cached = cache?.get(key);
    if (cached) return cached;
    const seal = await readSealFromEnd(fh, size);
    if (seal) {
      const info: SegmentInfo = {
        name: seg.name,
        firstSeq: seg.firstSeq,
        lastSeq: seal.lastSeq,
        records: seal.records,
        bytes: size,
        sealed: true,
        minTimeUs: seal.records > 0 ? seal.minTimeUs : undefined,
        maxTimeUs: seal.records > 0 ? seal.maxTimeUs : undefined,
        index: seal.index,
      };
      cache?.set(key, info);
      return info;
    }
    await fh.close();
    closed = true;
    // The open segment: its zero fill ahead is left out, so a large preallocated file costs no
    // memory for its zeros; reads are chunked and 64-bit safe.
    const image = await readSegmentImage(seg, { trimZeroTail: true, missingOk: true });
    if (!image) return undefined;
    const scan = scanSegmentImage(image.buf);
    const s = scan.summary;
    const index: TimeIndexEntry[] = [];
    for (let i = 0; i + 2 < s.index.length; i += 3) {
      index.push({
        seq: s.index[i] as number,
        offset: s.index[i + 1] as number,
        maxTimeUsSoFar: s.index[i + 2] as number,
      });
    }
    // The tail of a segment being written may be mid-batch: that is not damage.
    const problem = scan.header?.sealed
      ? 'the header says the segment was sealed, but it does not end at a valid seal (run ironlog verify)'
      : scan.damage && scan.laterBatchOffset >= 0
        ? scan.damage.message
        : undefined;
    return {
      name: seg.name,
      firstSeq: seg.firstSeq,
      lastSeq: s.records + s.gapSeqs > 0 ? s.lastSeq : seg.firstSeq - 1,
      records: s.records,
      bytes: size,
      sealed: false,
      minTimeUs: s.minTimeUs >= 0 ? s.minTimeUs : undefined,
      maxTimeUs: s.maxTimeUs >= 0 ? s.maxTimeUs : undefined,
      index,
      ...(problem !== undefined ? { problem } : {}),
    };
  } finally {
    if (!closed) await fh.close();
  }
}

/**
 * Summarizes the WAL in `dir`. Throws `ERR_IRONLOG_IO` when the directory cannot be read and
 * `ERR_IRONLOG_WAL_FORMAT` for foreign `*.wal` files.
 */
export async function summarizeWal(dir: string, cache?: SealedCache): Promise<WalSummary> {
  const files = await listWalDir(dir);
  const segments: SegmentInfo[] = [];
  for (const f of files) {
    const info = await describeSegment(f, cache);
    if (info) segments.push(info);
  }
  let records = 0;
  let bytes = 0;
  let sealedSegments = 0;
  let minTimeUs: number | undefined;
  let maxTimeUs: number | undefined;
  for (const s of segments) {
    records += s.records;
    bytes += s.bytes;
    if (s.sealed) sealedSegments++;
    if (s.minTimeUs !== undefined) minTimeUs = minTimeUs === undefined ? s.minTimeUs : Math.min(minTimeUs, s.minTimeUs);
    if (s.maxTimeUs !== undefined) maxTimeUs = maxTimeUs === undefined ? s.maxTimeUs : Math.max(maxTimeUs, s.maxTimeUs);
  }
  const first = segments[0];
  const last = segments[segments.length - 1];
  return {
    dir,
    segments,
    sealedSegments,
    records,
    bytes,
    firstSeq: first && last && last.lastSeq >= first.firstSeq ? first.firstSeq : 0,
    lastSeq: last && first && last.lastSeq >= first.firstSeq ? last.lastSeq : 0,
    minTimeUs,
    maxTimeUs,
  };
}

/**
 * (time µs, seqs so far) points from the segments' time indexes: the records before index entry
 * `e` have seqs below `e.seq` and times at most `e.maxTimeUsSoFar`. Sorted by time, non-decreasing
 * in count. Good enough to estimate a rate over time without reading any record.
 */
export function ratePoints(summary: WalSummary): Array<{ timeUs: number; count: number }> {
  const pts: Array<{ timeUs: number; count: number }> = [];
  const base = summary.firstSeq > 0 ? summary.firstSeq - 1 : 0;
  for (const s of summary.segments) {
    if (s.minTimeUs === undefined || s.maxTimeUs === undefined) continue;
    pts.push({ timeUs: s.minTimeUs, count: s.firstSeq - base - 1 });
    for (const e of s.index) if (e.maxTimeUsSoFar > 0) pts.push({ timeUs: e.maxTimeUsSoFar, count: e.seq - 1 - base });
    pts.push({ timeUs: s.maxTimeUs, count: s.lastSeq - base });
  }
  pts.sort((a, b) => a.timeUs - b.timeUs || a.count - b.count);
  let max = 0;
  for (const p of pts) {
    max = Math.max(max, p.count);
    p.count = max;
  }
  return pts;
}
