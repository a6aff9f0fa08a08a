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
import { LossLedger, type SalvagedFrame, type SeqRange, salvageInto } from './salvage.js';
import { listSegmentFiles } from './segment.js';
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
  /** Damaged regions and other problems found in the input. */
  readonly problems: VerifyProblem[];
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
    inputSegments: segments.length,
    problems,
  };
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
async function countSegments(output: string): Promise<number> {
  try {
    return listSegmentFiles(output, await fsp.readdir(output)).segments.length;
  } catch {
    return 0;
  }
}
