/**
 * `verifyWal(dir, { shadowDirs })`: compares each shadow directory with the primary, segment by
 * segment, byte for byte. A sealed segment must be identical; the open (last) segment is compared
 * without trailing zeros (the primary keeps zero fill ahead of its end of data, a shadow does not).
 */
import { listSegmentFiles, type SegmentFile } from './segment.js';
import { readSegmentImage } from './segment-file.js';
import type { VerifyProblem } from './verify.js';
import { readWalDirNames } from './wal-dir.js';

/** How one shadow directory compares with the primary (`VerifyReport.shadows`). */
export interface ShadowComparison {
  /** The shadow directory, as given. */
  readonly dir: string;
  /** True when every segment of the primary is in the shadow with the same bytes, and no other. */
  readonly identical: boolean;
  /** Segments of the primary the shadow lacks. */
  readonly missing: string[];
  /** Segments of the shadow the primary lacks. */
  readonly extra: string[];
  /** Segments in both whose bytes differ, with the first differing offset. */
  readonly differing: { readonly segment: string; readonly offset: number }[];
}

/** Offset of the first byte where `a` and `b` differ (the shorter one's length if one is a prefix); -1 when equal. */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  // Compare in blocks first: equal blocks are the common case.
  const kBlock = 64 * 1024;
  let i = 0;
  while (i < n) {
    const end = Math.min(n, i + kBlock);
    if (a.subarray(i, end).equals(b.subarray(i, end))) {
      i = end;
      continue;
    }
    while (i < end && a[i] === b[i]) i++;
    return i;
  }
  return a.length === b.length ? -1 : n;
}

/**
 * Compares `shadowDir` with the primary's `segments` (already listed); pushes one problem per
 * difference (kinds `shadow-missing`, `shadow-extra`, `shadow-differs`, each naming the shadow).
 * `lastSegment` is the primary's open (or last) segment: compared without trailing zeros.
 */
export async function compareShadow(
  shadowDir: string,
  segments: readonly SegmentFile[],
  problems: VerifyProblem[],
): Promise<ShadowComparison> {
  const mine = listSegmentFiles(shadowDir, await readWalDirNames(shadowDir)).segments;
  const theirs = new Map(mine.map((s) => [s.name, s]));
  const primaryNames = new Set(segments.map((s) => s.name));
  const missing: string[] = [];
  const extra: string[] = [];
  const differing: { segment: string; offset: number }[] = [];
  const last = segments[segments.length - 1];
  for (const seg of segments) {
    const copy = theirs.get(seg.name);
    if (!copy) {
      missing.push(seg.name);
      problems.push({
        kind: 'shadow-missing',
        segment: seg.name,
        offset: 0,
        shadow: shadowDir,
        message: `segment ${seg.name} is missing in the shadow ${shadowDir}`,
      });
      continue;
    }
    const trim = seg === last;
    const a = await readSegmentImage(seg, { trimZeroTail: trim, missingOk: true });
    const b = await readSegmentImage(copy, { trimZeroTail: trim, missingOk: true });
    if (!a || !b) continue;
    const at = firstDifference(a.buf, b.buf);
    const sizeDiffers = !trim && a.fileBytes !== b.fileBytes;
    if (at < 0 && !sizeDiffers) continue;
    const offset = at < 0 ? Math.min(a.fileBytes, b.fileBytes) : at;
    differing.push({ segment: seg.name, offset });
    problems.push({
      kind: 'shadow-differs',
      segment: seg.name,
      offset,
      shadow: shadowDir,
      message: `the shadow ${shadowDir} differs from the primary from offset ${offset} (primary ${a.fileBytes} bytes, shadow ${b.fileBytes})`,
    });
  }
  for (const s of mine) {
    if (primaryNames.has(s.name)) continue;
    extra.push(s.name);
    problems.push({
      kind: 'shadow-extra',
      segment: s.name,
      offset: 0,
      shadow: shadowDir,
      message: `the shadow ${shadowDir} holds segment ${s.name}, which the primary does not`,
    });
  }
  return {
    dir: shadowDir,
    identical: missing.length === 0 && extra.length === 0 && differing.length === 0,
    missing,
    extra,
    differing,
  };
}
