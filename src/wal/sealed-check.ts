/**
 * The full check of a WAL's sealed segments that a sink runs in the background after it opened
 * the directory (`WalWriter.open` only checks earlier segments cheaply: header, seal, links).
 * Every frame's CRC, every batch's chain hash and the seal's counts, hashes, Merkle root and time
 * index are recomputed, so a flipped byte anywhere in a sealed segment is found.
 *
 * The last segment in the listing is left out: it is the writer's (open, or just sealed), and
 * the writer scanned it whole when it opened the directory.
 */
import type { IronlogError } from '../core/errors.js';
import { listSegmentFiles, type SegmentFile } from './segment.js';
import { readSegmentImage } from './segment-file.js';
import { scanSegmentImage } from './segment-scan.js';
import type { VerifyProblem } from './verify.js';
import { readWalDirNames } from './wal-dir.js';

/** What {@link checkSealedSegments} found. */
export interface SealedCheckResult {
  /** Segments read and checked. */
  readonly segments: number;
  /** Bytes read. */
  readonly bytes: number;
  /** Problems found, one or more per damaged segment. Empty when every sealed segment is intact. */
  readonly problems: VerifyProblem[];
  /** Wall time of the check, milliseconds. */
  readonly durationMs: number;
}

/**
 * Checks every segment of `dir` but the last one completely (see the module comment). Never
 * throws for damage; a segment that vanished meanwhile (retention deleted it) is skipped, one
 * that cannot be read is a problem.
 */
export async function checkSealedSegments(dir: string): Promise<SealedCheckResult> {
  const started = performance.now();
  const { segments } = listSegmentFiles(dir, await readWalDirNames(dir));
  const problems: VerifyProblem[] = [];
  let bytes = 0;
  let checked = 0;
  let prev: { lastSeq: number; chain: Uint8Array; sealSha: Uint8Array } | undefined;
  for (const seg of segments.slice(0, -1)) {
    let image: Awaited<ReturnType<typeof readSegmentImage>>;
    try {
      image = await readSegmentImage(seg, { missingOk: true });
    } catch (err) {
      problems.push(unreadable(seg, err as IronlogError));
      prev = undefined;
      continue;
    }
    if (!image) {
      prev = undefined;
      continue;
    }
    checked++;
    bytes += image.buf.length;
    const scan = scanSegmentImage(image.buf);
    for (const p of scan.problems) {
      problems.push({ kind: p.kind, segment: seg.name, offset: p.offset, message: p.message });
    }
    if (!scan.seal) {
      if (scan.problems.length === 0) {
        problems.push({
          kind: 'seal',
          segment: seg.name,
          offset: image.buf.length,
          message: 'segment is not sealed but is not the last one (seal missing or damaged)',
        });
      }
      prev = undefined;
      continue;
    }
    const header = scan.header;
    if (prev && header) {
      if (header.firstSeq !== prev.lastSeq + 1 || !header.prevChainHash.equals(prev.chain)) {
        problems.push({
          kind: 'chain',
          segment: seg.name,
          offset: 0,
          message: "the header does not continue the previous segment's seal (seq or chain hash)",
        });
      } else if (!header.prevSealHash.equals(prev.sealSha)) {
        problems.push({
          kind: 'seal',
          segment: seg.name,
          offset: 0,
          message: "prevSealHash does not match the previous segment's seal",
        });
      }
    }
    prev = { lastSeq: scan.seal.lastSeq, chain: scan.seal.lastChainHash, sealSha: scan.seal.sha256 };
  }
  return { segments: checked, bytes, problems, durationMs: performance.now() - started };
}

function unreadable(seg: SegmentFile, err: IronlogError): VerifyProblem {
  return { kind: 'header', segment: seg.name, offset: 0, message: `cannot be read: ${err.code}: ${err.message}` };
}
