/**
 * `recoverWal`: salvages a damaged WAL into a new directory.
 *
 * Every RECORD and GAP frame whose own CRC is intact is copied byte for byte (same seq, time,
 * flags, payload: never renumbered, never re-encoded), in seq order. After damage the scan resyncs
 * by trying every 8-byte aligned offset for a CRC-valid frame. Each seq range that is missing is
 * recorded in the output as a GAP frame with reason RECOVERY_LOSS, so the loss itself stays on
 * the record.
 *
 * The output's batches and hash chain are new: the copied frames are grouped into fresh batches
 * whose COMMIT chain starts from zero in the output's first segment (the input's chain cannot be
 * continued across a hole). The output is sealed and passes `verifyWal`.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { acquireDirLock, LOCK_FILE_NAME } from './dir-lock.js';
import { FrameType, GapReason } from './frame-layout.js';
import type { WalFs } from './fs.js';
import { LossLedger, type SalvagedFrame, type SeqRange, salvageInto, salvageSegment } from './salvage.js';
import { decodeSegmentHeader, listSegmentFiles, type SegmentFile, type SegmentHeader } from './segment.js';
import { readSegmentImage } from './segment-file.js';
import type { VerifyProblem, WalProgress } from './verify.js';
import { readWalDirNames } from './wal-dir.js';
import { WalWriter } from './writer.js';

/** Options of {@link recoverWal}. */
export interface RecoverWalOptions {
  /** Writer id of the output segments. Default: the input's (first readable header), else 'recovered'. */
  nodeId?: string;
  /** Segment size of the output. Default 64 MiB. */
  segmentBytes?: number;
  /** File-system seam for the output writer. */
  fs?: WalFs;
  /** Called after each input segment is read (for a progress bar); must not throw. */
  onProgress?: (progress: WalProgress) => void;
  /**
   * Shadow copies of the input (`openSink({ shadowDirs })`), only read: every seq the input holds
   * no intact frame for is taken from the first shadow that does (its frame's CRC checks, and its
   * segment's header is the input's, when the input's is readable), byte for byte. The input's
   * own intact frames always win. What came from where is in `RecoveryReport.fromShadows`.
   */
  fromShadows?: readonly string[];
}

/** What {@link recoverWal} took from one shadow (`fromShadows`). */
export interface ShadowContribution {
  readonly dir: string;
  /** RECORD frames taken from this shadow. */
  readonly records: number;
  /** GAP frames taken from this shadow. */
  readonly gaps: number;
  /** The seq ranges taken. */
  readonly ranges: SeqRange[];
}

export type { SeqRange } from './salvage.js';

/** Result of {@link recoverWal}. */
export interface RecoveryReport {
  readonly input: string;
  readonly output: string;
  /** RECORD frames copied. */
  readonly recordsRecovered: number;
  /** GAP frames of the input copied as they were. */
  readonly gapsCopied: number;
  /** Seq ranges lost (written to the output as RECOVERY_LOSS gaps). */
  readonly lost: SeqRange[];
  /** Number of seqs in `lost`. */
  readonly lostSeqs: number;
  /**
   * True when the input's last segment ends in damage: records after the last seq any intact
   * frame mentions may have existed and cannot be counted.
   */
  readonly tailUnknown: boolean;
  /** Last seq of the output. */
  readonly lastSeq: number;
  /** Segments in the output. */
  readonly segments: number;
  /** Segments read from the input. */
  readonly inputSegments: number;
  /** Damaged regions and other problems found in the input (and, with `shadow` set, in the shadows). */
  readonly problems: VerifyProblem[];
  /** With `fromShadows`: what each shadow contributed (seqs the input had no intact frame for). */
  readonly fromShadows?: ShadowContribution[];
}

/** Flush the output batch at about this size. */
const kOutputBatchBytes = 512 * 1024;

/**
 * Copies every intact frame of the WAL in `input` into a new WAL in `output`, writes
 * RECOVERY_LOSS gaps for what is missing, seals it.
 *
 * `output` is created when missing; it must be empty (a `LOCK` left by a dead process aside).
 * It is written under its directory lock (`src/wal/dir-lock.ts`), as a sink writes its WAL:
 * a directory a live sink holds is refused with `ERR_IRONLOG_WAL_LOCKED`, and no sink can open
 * the output while the recovery writes it. Throws `ERR_IRONLOG_INVALID_ARGUMENT` for an output
 * that is the input or not empty, `ERR_IRONLOG_IO` when it cannot be created.
 */
export async function recoverWal(input: string, output: string, opts: RecoverWalOptions = {}): Promise<RecoveryReport> {
  if (path.resolve(input) === path.resolve(output)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'recoverWal: output must be a different directory than input');
  }
  if ((opts.fromShadows ?? []).some((d) => path.resolve(d) === path.resolve(output))) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'recoverWal: output must not be one of the shadows it reads');
  }
  // Read the input first: a missing or unreadable input must not leave an empty output behind.
  const names = await readWalDirNames(input);
  try {
    await fsp.mkdir(output, { recursive: true });
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `recoverWal: cannot create ${output}: ${errnoCode(err) ?? String(err)}`, {
      cause: err,
    });
  }
  const lock = acquireDirLock(output);
  try {
    const others = (await fsp.readdir(output)).filter((n) => n !== LOCK_FILE_NAME && !n.startsWith('LOCK.'));
    if (others.length > 0) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `recoverWal: output directory ${output} is not empty (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}): give a new or empty directory`,
      );
    }
    return await recoverLocked(input, output, names, opts);
  } finally {
    lock.release();
  }
}

/** {@link recoverWal} once the output is locked and known to be empty. */
async function recoverLocked(
  input: string,
  output: string,
  names: string[],
  opts: RecoverWalOptions,
): Promise<RecoveryReport> {
  const { segments, foreign } = listSegmentFiles(input, names);
  const problems: VerifyProblem[] = foreign.map((name) => ({
    kind: 'foreign-file',
    segment: name,
    offset: 0,
    message: `${name} skipped: not an ironlog segment name`,
  }));
  const out = new RecoveryOutput(input, output, opts);
  if (opts.fromShadows && opts.fromShadows.length > 0) {
    return recoverMerged(input, output, segments, opts.fromShadows, problems, out, opts);
  }
  let tailUnknown = false;
  let bytesRead = 0;
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k];
    if (!seg) continue;
    const image = await readSegmentImage(seg);
    if (!image) continue;
    const buf = image.buf;
    const salvage = salvageInto(out.ledger, buf, seg.name, problems, (f) => out.copy(buf, f));
    if (salvage.header.ok) out.nodeId ??= salvage.header.header.writerId || undefined;
    else problems.push({ kind: 'header', segment: seg.name, offset: 0, message: salvage.header.message });
    if (salvage.endsUnknown && k === segments.length - 1) tailUnknown = true;
    bytesRead += image.fileBytes;
    opts.onProgress?.({ segmentsDone: k + 1, segments: segments.length, bytesDone: bytesRead });
  }
  return finishRecovery(input, output, out, tailUnknown, segments.length, problems);
}

/** One source of frames of a segment: the input (index 0) or a shadow. */
interface SegmentSource {
  readonly index: number;
  readonly buf: Buffer;
}

/**
 * {@link recoverLocked} with shadows: segment name by segment name (the union of the input's and
 * the shadows'), every source's intact frames are merged in seq order; at each seq the input's
 * frame wins, then the shadows' in the order given.
 */
async function recoverMerged(
  input: string,
  output: string,
  segments: readonly SegmentFile[],
  shadowDirs: readonly string[],
  problems: VerifyProblem[],
  out: RecoveryOutput,
  opts: RecoverWalOptions,
): Promise<RecoveryReport> {
  const shadowSegs: Map<string, SegmentFile>[] = [];
  for (const d of shadowDirs) {
    shadowSegs.push(new Map(listSegmentFiles(d, await readWalDirNames(d)).segments.map((s) => [s.name, s])));
  }
  const primaryByName = new Map(segments.map((s) => [s.name, s]));
  const names = new Map<string, number>();
  for (const s of segments) names.set(s.name, s.firstSeq);
  for (const m of shadowSegs) for (const s of m.values()) names.set(s.name, s.firstSeq);
  const ordered = [...names].sort((a, b) => a[1] - b[1]).map(([n]) => n);
  const contributions = shadowDirs.map(() => ({
    records: 0,
    gaps: 0,
    ranges: [] as { fromSeq: number; toSeq: number }[],
  }));
  let tailUnknown = false;
  let bytesRead = 0;
  for (let k = 0; k < ordered.length; k++) {
    const name = ordered[k] as string;
    const sources: SegmentSource[] = [];
    const pseg = primaryByName.get(name);
    const pimage = pseg ? await readSegmentImage(pseg, { missingOk: true }) : undefined;
    if (pimage) {
      sources.push({ index: 0, buf: pimage.buf });
      bytesRead += pimage.fileBytes;
    }
    for (let j = 0; j < shadowSegs.length; j++) {
      const sseg = shadowSegs[j]?.get(name);
      const simage = sseg ? await readSegmentImage(sseg, { missingOk: true }) : undefined;
      if (simage) sources.push({ index: j + 1, buf: simage.buf });
    }
    const primaryHeader = pimage ? decodeSegmentHeader(pimage.buf) : undefined;
    if (primaryHeader?.ok) out.nodeId ??= primaryHeader.header.writerId || undefined;
    else if (primaryHeader) problems.push({ kind: 'header', segment: name, offset: 0, message: primaryHeader.message });
    else problems.push({ kind: 'missing-segment', segment: name, offset: 0, message: `${name} is not in the input` });
    const frames: { f: SalvagedFrame; src: SegmentSource }[] = [];
    let allEndUnknown = true;
    for (const src of sources) {
      const shadow = src.index === 0 ? undefined : shadowDirs[src.index - 1];
      const header = src.index === 0 ? primaryHeader : decodeSegmentHeader(src.buf);
      if (shadow !== undefined) {
        // A shadow's segment counts only when it is the same segment as the input's.
        if (!header?.ok) continue;
        if (primaryHeader?.ok && !sameSegment(primaryHeader.header, header.header)) {
          problems.push({
            kind: 'header',
            segment: name,
            offset: 0,
            shadow,
            message: `the shadow's ${name} has another header than the input's: not used`,
          });
          continue;
        }
        out.nodeId ??= header.header.writerId || undefined;
      }
      if (header?.ok) out.ledger.know(header.header.firstSeq - 1);
      const found: VerifyProblem[] = [];
      const salvage = salvageSegment(src.buf, name, found);
      for (const p of found) problems.push(shadow === undefined ? p : { ...p, shadow });
      out.ledger.know(salvage.maxKnown);
      if (!salvage.endsUnknown) allEndUnknown = false;
      for (const f of salvage.frames) frames.push({ f, src });
    }
    // In seq order; at one seq the input first, then the shadows in the order given.
    frames.sort((a, b) => a.f.seq - b.f.seq || a.src.index - b.src.index);
    for (const { f, src } of frames) {
      if (f.seq < out.ledger.next) continue; // held by a frame already taken (the input's, or an earlier shadow's)
      out.ledger.take(f.seq, f.last, name);
      out.copy(src.buf, f);
      if (src.index > 0) {
        const c = contributions[src.index - 1];
        if (c) {
          if (f.type === FrameType.RECORD) c.records++;
          else c.gaps++;
          const r = c.ranges[c.ranges.length - 1];
          if (r && r.toSeq + 1 === f.seq) r.toSeq = f.last;
          else c.ranges.push({ fromSeq: f.seq, toSeq: f.last });
        }
      }
    }
    if (k === ordered.length - 1 && sources.length > 0 && allEndUnknown) tailUnknown = true;
    opts.onProgress?.({ segmentsDone: k + 1, segments: ordered.length, bytesDone: bytesRead });
  }
  return {
    ...(await finishRecovery(input, output, out, tailUnknown, segments.length, problems)),
    fromShadows: shadowDirs.map((dir, i) => ({
      dir,
      records: contributions[i]?.records ?? 0,
      gaps: contributions[i]?.gaps ?? 0,
      ranges: contributions[i]?.ranges ?? [],
    })),
  };
}

/** The same segment of the same log: first seq, creation time, writer and previous chain hash agree. */
function sameSegment(a: SegmentHeader, b: SegmentHeader): boolean {
  return (
    a.firstSeq === b.firstSeq &&
    a.createdUs === b.createdUs &&
    a.writerId === b.writerId &&
    a.prevChainHash.equals(b.prevChainHash)
  );
}

/**
 * The output WAL of a recovery: copies salvaged frames in seq order and records every hole as a
 * RECOVERY_LOSS gap. The writer opens lazily, after the first readable header gave the writer id.
 */
class RecoveryOutput {
  /** Writer id of the output (set from the first readable input header unless given). */
  nodeId: string | undefined;
  /** The seq accounting (shared with `verifyWal`): every hole becomes a RECOVERY_LOSS gap. */
  readonly ledger: LossLedger;
  recordsRecovered = 0;
  gapsCopied = 0;
  readonly #input: string;
  readonly #output: string;
  readonly #opts: RecoverWalOptions;
  #writer: WalWriter | undefined;

  constructor(input: string, output: string, opts: RecoverWalOptions) {
    this.#input = input;
    this.#output = output;
    this.#opts = opts;
    this.nodeId = opts.nodeId;
    this.ledger = new LossLedger((fromSeq, toSeq, segment) => this.#addLoss(fromSeq, toSeq, segment));
  }

  #out(): WalWriter {
    this.#writer ??= WalWriter.open({
      dir: this.#output,
      nodeId: this.nodeId ?? 'recovered',
      segmentBytes: this.#opts.segmentBytes ?? 64 * 1024 * 1024,
      segmentMaxAgeMs: Number.MAX_SAFE_INTEGER,
      zeroFillAheadBytes: 0,
      fs: this.#opts.fs,
    });
    return this.#writer;
  }

  #flushIfBig(): void {
    const w = this.#out();
    if (w.batch.bytes >= kOutputBatchBytes) w.appendBatch();
  }

  /** Writes the RECOVERY_LOSS gap for seqs [fromSeq, toSeq] (naming the segment after the hole). */
  #addLoss(fromSeq: number, toSeq: number, segment: string): void {
    this.#out().batch.addGap(fromSeq, toSeq, GapReason.RECOVERY_LOSS, { recoveredFrom: this.#input, before: segment });
    this.#flushIfBig();
  }

  /** Copies one salvaged frame of `buf` byte for byte (the ledger took it: it is next in seq order). */
  copy(buf: Buffer, f: SalvagedFrame): void {
    this.#out().batch.addRawFrame(buf.subarray(f.offset, f.offset + f.paddedBytes), 0);
    if (f.type === FrameType.RECORD) this.recordsRecovered++;
    else this.gapsCopied++;
    this.#flushIfBig();
  }

  /** Appends the last batch, syncs, seals and closes the output; returns its last seq (0 when nothing was written). */
  finish(): number {
    const w = this.#writer;
    if (!w) return 0;
    w.appendBatch();
    w.sync();
    w.seal();
    const lastSeq = w.lastSeq;
    w.close();
    return lastSeq;
  }
}

/** Segments in the output directory (0 when it cannot be listed). */
/** Ends the output (the ledger's last gap, the last segment sealed) and reports what was recovered. */
async function finishRecovery(
  input: string,
  output: string,
  out: RecoveryOutput,
  tailUnknown: boolean,
  inputSegments: number,
  problems: RecoveryReport['problems'],
): Promise<RecoveryReport> {
  out.ledger.finish('end');
  const lastSeq = out.finish();
  return {
    input,
    output,
    recordsRecovered: out.recordsRecovered,
    gapsCopied: out.gapsCopied,
    lost: out.ledger.lost,
    lostSeqs: out.ledger.lostSeqs,
    tailUnknown,
    lastSeq,
    segments: await countSegments(output),
    inputSegments,
    problems,
  };
}

async function countSegments(output: string): Promise<number> {
  try {
    return listSegmentFiles(output, await fsp.readdir(output)).segments.length;
  } catch {
    return 0;
  }
}
