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
import type { WalFs } from './fs.js';
import { readWalDirNames } from './reader.js';
import { align8, checkFrame, FrameCheck, FrameType, GapReason, readU32, readU64 } from './record.js';
import { decodeSegmentHeader, listSegmentFiles, SEGMENT_HEADER_BYTES, SEGMENT_SUFFIX } from './segment.js';
import type { VerifyProblem, WalProgress } from './verify.js';
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

/** A seq range. */
export interface SeqRange {
  readonly fromSeq: number;
  readonly toSeq: number;
}

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

interface Salvaged {
  readonly seq: number;
  readonly last: number;
  readonly type: number;
  readonly frame: Buffer;
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
  await readWalDirNames(input);
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
    return await recoverUnlocked(input, output, opts);
  } finally {
    lock.release();
  }
}

async function recoverUnlocked(input: string, output: string, opts: RecoverWalOptions): Promise<RecoveryReport> {
  if (path.resolve(input) === path.resolve(output)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'recoverWal: output must be a different directory than input');
  }
  const names = await readWalDirNames(input);
  try {
    const existing = await fsp.readdir(output);
    if (existing.some((n) => n.endsWith(SEGMENT_SUFFIX))) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `recoverWal: output directory ${output} already holds WAL segments`,
      );
    }
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const { segments, foreign } = listSegmentFiles(input, names);
  const problems: VerifyProblem[] = [];
  for (const name of foreign) {
    problems.push({
      kind: 'foreign-file',
      segment: name,
      offset: 0,
      message: `${name} skipped: not an ironlog segment name`,
    });
  }

  // The output writer opens lazily, after the first readable header gave the writer id.
  let nodeId = opts.nodeId;
  let writer: WalWriter | undefined;
  const lost: SeqRange[] = [];
  let lostSeqs = 0;
  let recordsRecovered = 0;
  let gapsCopied = 0;
  let tailUnknown = false;
  let next = 1;
  let maxKnown = 0;
  let bytesRead = 0;

  const out = (): WalWriter => {
    writer ??= WalWriter.open({
      dir: output,
      nodeId: nodeId ?? 'recovered',
      segmentBytes: opts.segmentBytes ?? 64 * 1024 * 1024,
      segmentMaxAgeMs: Number.MAX_SAFE_INTEGER,
      zeroFillAheadBytes: 0,
      fs: opts.fs,
    });
    return writer;
  };
  const flushIfBig = (): void => {
    const w = out();
    if (w.batch.bytes >= kOutputBatchBytes) w.appendBatch();
  };
  const addLoss = (fromSeq: number, toSeq: number, segment: string): void => {
    lost.push({ fromSeq, toSeq });
    lostSeqs += toSeq - fromSeq + 1;
    out().batch.addGap(fromSeq, toSeq, GapReason.RECOVERY_LOSS, { recoveredFrom: input, before: segment });
    flushIfBig();
  };

  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k];
    if (!seg) continue;
    let buf: Buffer;
    try {
      buf = await fsp.readFile(seg.path);
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `cannot read ${seg.path}: ${errnoCode(err) ?? String(err)}`, {
        cause: err,
      });
    }
    bytesRead += buf.length;
    opts.onProgress?.({ segmentsDone: k + 1, segments: segments.length, bytesDone: bytesRead });
    const hr = decodeSegmentHeader(buf, buf.length);
    if (hr.ok) {
      nodeId ??= hr.header.writerId || undefined;
      maxKnown = Math.max(maxKnown, hr.header.firstSeq - 1);
    } else {
      problems.push({ kind: 'header', segment: seg.name, offset: 0, message: hr.message });
    }
    const salvaged: Salvaged[] = [];
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
        segment: seg.name,
        offset: damageStart,
        message: `${at - damageStart} damaged bytes skipped (no valid frame starts in them)`,
      });
      damageStart = -1;
    };
    while (pos + 8 <= end) {
      const check = checkFrame(buf, pos, end);
      if (check === FrameCheck.OK) {
        closeDamage(pos);
        endsInDamage = false;
        const frameBytes = readU32(buf, pos);
        const type = buf[pos + 8] as number;
        const seq = readU64(buf, pos + 16);
        const aux = readU64(buf, pos + 24);
        const padded = align8(frameBytes);
        if (type === FrameType.RECORD || type === FrameType.GAP) {
          const last = type === FrameType.GAP ? aux : seq;
          salvaged.push({ seq, last, type, frame: Buffer.from(buf.subarray(pos, pos + padded)) });
          maxKnown = Math.max(maxKnown, last);
        } else {
          // COMMIT (aux = last seq of its batch) and SEAL (aux = last seq of the segment) name seqs too.
          maxKnown = Math.max(maxKnown, aux);
        }
        pos += padded;
        continue;
      }
      if (check === FrameCheck.ZERO && readU32(buf, pos + 4) === 0) {
        // Zeros: zero-filled space after the data (or a zeroed region; its seqs show up as lost).
        closeDamage(pos);
        pos += 8;
        continue;
      }
      if (damageStart < 0) damageStart = pos;
      endsInDamage = true;
      pos += 8;
    }
    if (damageStart >= 0) closeDamage(end);
    if (endsInDamage && k === segments.length - 1) tailUnknown = true;
    if (pos < end && damageStart < 0 && end - pos < 8 && k === segments.length - 1) tailUnknown = true;

    // Frames of one segment are normally in order already; a stable sort handles the rest.
    salvaged.sort((a, b) => a.seq - b.seq);
    for (const f of salvaged) {
      if (f.seq < next) {
        problems.push({
          kind: 'duplicate',
          segment: seg.name,
          offset: 0,
          seqFrom: f.seq,
          seqTo: f.last,
          message: `frame for seqs ${f.seq}..${f.last} skipped: those seqs were already recovered`,
        });
        continue;
      }
      if (f.seq > next) addLoss(next, f.seq - 1, seg.name);
      out().batch.addRawFrame(f.frame, 0);
      if (f.type === FrameType.RECORD) recordsRecovered++;
      else gapsCopied++;
      next = f.last + 1;
      flushIfBig();
    }
  }
  if (maxKnown >= next) addLoss(next, maxKnown, 'end');
  let lastSeq = 0;
  if (writer) {
    const w = writer;
    w.appendBatch();
    w.sync();
    w.seal();
    lastSeq = w.lastSeq;
    w.close();
  }
  let outSegments = 0;
  try {
    outSegments = listSegmentFiles(output, await fsp.readdir(output)).segments.length;
  } catch {
    outSegments = 0;
  }
  return {
    input,
    output,
    recordsRecovered,
    gapsCopied,
    lost,
    lostSeqs,
    tailUnknown,
    lastSeq,
    segments: outSegments,
    inputSegments: segments.length,
    problems,
  };
}
