/**
 * Opening a WAL directory for writing: checking the writer's options, listing the segments,
 * checking every earlier segment's header, seal and links, and finding where the last segment's
 * valid data ends. What a crash can leave behind is repaired here (a new segment whose creation
 * never completed, a seal interrupted before its final truncate, a torn tail); any other damage is
 * refused with `ERR_IRONLOG_WAL_CORRUPT`. The rules are `docs/wal-format.md` §10.
 *
 * Synchronous, through the `WalFs` seam, like the rest of the write path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import { firstNonZero, readU64 } from './bytes.js';
import { readFrameBytes, WAL_FRAME_ALIGN } from './frame-layout.js';
import { fsyncDir, readFully, type WalFs } from './fs.js';
import { checkFrame, FrameCheck } from './record.js';
import {
  type DecodedSeal,
  decodeSeal,
  decodeSegmentHeader,
  isTornHeader,
  listSegmentFiles,
  SEAL_MAGIC,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  SealTrailerOffset,
  type SegmentFile,
  type SegmentHeader,
  SegmentHeaderOffset,
  type SegmentSummary,
  WRITER_ID_BYTES,
} from './segment.js';
import { checkSegmentSize } from './segment-file.js';
import { type SegmentScan, scanSegmentImage } from './segment-scan.js';
import { walCorrupt } from './wal-corrupt.js';
import type { WalWriterOptions } from './writer.js';

const debug = debuglog('ironlog');

/** A seal frame read from a file's end is at most this long (a bound against a damaged trailer). */
const kMaxSealReadBytes = 256 * 1024 * 1024;

/** What `WalWriter.open` had to repair. */
export interface WalOpenReport {
  /** Segment whose torn tail was cut ('' when none). */
  readonly tornTailSegment: string;
  /** Offset the torn tail was cut at. */
  readonly tornTailOffset: number;
  /** Bytes removed (including zero-filled space after the damage). */
  readonly tornTailBytes: number;
  /** Last segment files removed because their creation never completed (no header, no data). */
  readonly removedSegments: readonly string[];
  /** True when a seal interrupted before its final truncate was completed. */
  readonly finishedSeal: boolean;
}

/** The last segment, opened read/write, to continue after its last valid batch. */
export interface ContinuedSegment {
  readonly fd: number;
  readonly path: string;
  readonly header: SegmentHeader;
  /** Its batches up to the end of valid data. */
  readonly summary: SegmentSummary;
  /** Offset just past the last valid batch (where the next batch goes). */
  readonly dataEnd: number;
  /** The file is known to be zeros (or end of file) from `dataEnd` up to here. */
  readonly zeroedTo: number;
}

/** The state a writer continues from, as found (and repaired) by {@link openWalDirectory}. */
export interface OpenedWal {
  readonly report: WalOpenReport;
  /** Bytes of the sealed segments. */
  readonly sealedBytes: number;
  /** SHA-256 of the last seal (the next segment's prevSealHash); undefined when nothing is sealed. */
  readonly prevSealHash: Buffer | undefined;
  /** The open last segment to continue; undefined when the next append creates a segment. */
  readonly continued: ContinuedSegment | undefined;
  /**
   * Without an open segment: the first seq and previous chain hash of the next segment
   * (undefined for an empty WAL: it starts at seq 1 with zero hashes).
   */
  readonly next: { readonly firstSeq: number; readonly chainHash: Buffer } | undefined;
}

function ioError(what: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

function headerError(file: string, problem: string, message: string): IronlogError {
  if (problem === 'magic' || problem === 'version') {
    return new IronlogError(
      ErrorCodes.WAL_FORMAT,
      `${file} is not an ironlog WAL segment this build can read: ${message}`,
    );
  }
  return walCorrupt(file, 0, undefined, `segment header: ${message}`);
}

/** Checks the options of `WalWriter.open`; `ERR_IRONLOG_INVALID_OPTION` naming the first bad one. */
export function checkWriterOptions(opts: WalWriterOptions): void {
  if (typeof opts?.dir !== 'string' || opts.dir === '') throw invalidOption('options.dir must be a non-empty string');
  if (typeof opts.nodeId !== 'string' || opts.nodeId === '' || Buffer.byteLength(opts.nodeId) > WRITER_ID_BYTES) {
    throw invalidOption(`options.nodeId must be a string of 1 to ${WRITER_ID_BYTES} UTF-8 bytes`);
  }
  if (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes < 1024) {
    throw invalidOption('options.segmentBytes must be an integer of at least 1024');
  }
  if (!(typeof opts.segmentMaxAgeMs === 'number' && opts.segmentMaxAgeMs > 0)) {
    throw invalidOption('options.segmentMaxAgeMs must be a positive number');
  }
  const zf = opts.zeroFillAheadBytes;
  if (zf !== undefined && !(Number.isSafeInteger(zf) && zf >= 0)) {
    throw invalidOption('options.zeroFillAheadBytes must be a non-negative integer');
  }
}

/**
 * Opens (creating if needed) the WAL in `dir` for writing: see the module comment. The returned
 * `continued.fd` belongs to the caller.
 */
export function openWalDirectory(wfs: WalFs, dir: string): OpenedWal {
  const segments = listSegmentsForWriting(wfs, dir);
  const { last, image, removed } = takeLastSegment(wfs, dir, segments);
  const report: WalOpenReport = {
    tornTailSegment: '',
    tornTailOffset: 0,
    tornTailBytes: 0,
    removedSegments: removed,
    finishedSeal: false,
  };
  if (!last || !image) {
    // Empty WAL: the next append creates segment 1.
    return { report, sealedBytes: 0, prevSealHash: undefined, continued: undefined, next: undefined };
  }
  const earlier = segments.slice(0, segments.length - 1);
  const { prevSeal, sealedBytes } = checkEarlierSegments(wfs, earlier);
  const scan = scanSegmentImage(image);
  checkContinuity(last, scan.header as SegmentHeader, prevSeal, earlier.length === 0);
  if (scan.seal && scan.damage === undefined) return finishSealedLast(wfs, last, scan, scan.seal, report, sealedBytes);
  return continueOpenSegment(wfs, last, image, scan, prevSeal, report, sealedBytes);
}

/** Creates `dir` if missing and lists its segments; a foreign `*.wal` name is `ERR_IRONLOG_WAL_FORMAT`. */
function listSegmentsForWriting(wfs: WalFs, dir: string): SegmentFile[] {
  try {
    wfs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw ioError(`cannot create WAL directory ${dir}`, err);
  }
  let names: string[];
  try {
    names = wfs.readdirSync(dir);
  } catch (err) {
    throw ioError(`cannot read WAL directory ${dir}`, err);
  }
  const { segments, foreign } = listSegmentFiles(dir, names);
  if (foreign.length > 0) {
    throw new IronlogError(
      ErrorCodes.WAL_FORMAT,
      `${path.join(dir, foreign[0] as string)} is not an ironlog segment (segments are named <20-digit first seq>.wal)`,
    );
  }
  for (const seg of segments) checkRegularFile(seg);
  return segments;
}

/**
 * Refuses a segment name that is not a regular file (a symbolic link, directory, FIFO, device):
 * opening a FIFO would block the open, a device would be read without end. Checked on the real
 * file system with `lstat`; an entry it cannot see (a test double of {@link WalFs}) passes.
 */
function checkRegularFile(seg: SegmentFile): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(seg.path, { throwIfNoEntry: false });
  } catch (err) {
    throw ioError(`cannot stat ${seg.path}`, err);
  }
  if (st && !st.isFile()) {
    throw new IronlogError(
      ErrorCodes.SEGMENT_NOT_FILE,
      `${seg.path} is not a regular file (${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or socket'}); a segment must be a regular file`,
    );
  }
  if (st) checkSegmentSize(seg, st.size);
}

/**
 * Reads the last segment whole. A last file whose creation never completed (no valid header,
 * nothing after it) holds no data: it is removed (and the removal made durable), and the one
 * before it becomes the last. Pops removed entries off `segments`.
 */
function takeLastSegment(
  wfs: WalFs,
  dir: string,
  segments: SegmentFile[],
): { last: SegmentFile | undefined; image: Buffer | undefined; removed: string[] } {
  const removed: string[] = [];
  while (segments.length > 0) {
    const cand = segments[segments.length - 1] as SegmentFile;
    let buf: Buffer;
    try {
      buf = readWholeFile(wfs, cand.path);
    } catch (err) {
      throw ioError(`cannot read ${cand.path}`, err);
    }
    const hr = decodeSegmentHeader(buf, buf.length);
    if (!hr.ok && isTornHeader(buf, buf.length) && firstNonZero(buf, SEGMENT_HEADER_BYTES, buf.length) < 0) {
      try {
        wfs.unlinkSync(cand.path);
        fsyncDir(dir, wfs);
      } catch (err) {
        throw ioError(`cannot remove the incomplete segment ${cand.path}`, err);
      }
      debug('removed incomplete segment %s', cand.path);
      removed.push(cand.path);
      segments.pop();
      continue;
    }
    if (!hr.ok) throw headerError(cand.path, hr.problem, hr.message);
    return { last: cand, image: buf, removed };
  }
  return { last: undefined, image: undefined, removed };
}

/** Every segment before the last: header, seal, continuity (cheap: two small reads per segment). */
function checkEarlierSegments(
  wfs: WalFs,
  earlier: readonly SegmentFile[],
): { prevSeal: DecodedSeal | undefined; sealedBytes: number } {
  let prevSeal: DecodedSeal | undefined;
  let sealedBytes = 0;
  for (let i = 0; i < earlier.length; i++) {
    const seg = earlier[i] as SegmentFile;
    let hs: ReturnType<typeof readHeaderAndSeal>;
    try {
      hs = readHeaderAndSeal(wfs, seg.path);
    } catch (err) {
      throw ioError(`cannot read ${seg.path}`, err);
    }
    const hr = decodeSegmentHeader(hs.header, hs.headerBytes);
    if (!hr.ok) throw headerError(seg.path, hr.problem, hr.message);
    checkContinuity(seg, hr.header, prevSeal, i === 0);
    if (!hs.seal || hs.seal.firstSeq !== hr.header.firstSeq) {
      throw walCorrupt(seg.path, hs.size, undefined, 'segment is not the last one but has no valid seal');
    }
    prevSeal = hs.seal;
    sealedBytes += hs.size;
  }
  return { prevSeal, sealedBytes };
}

/** The header of `seg` names the seq of its file name and links to the seal before it. */
function checkContinuity(
  seg: SegmentFile,
  header: SegmentHeader,
  prevSeal: DecodedSeal | undefined,
  first: boolean,
): void {
  if (header.firstSeq !== seg.firstSeq) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.FIRST_SEQ,
      seg.firstSeq,
      `header says first seq ${header.firstSeq}, the file name ${seg.firstSeq}`,
    );
  }
  if (first || !prevSeal) return;
  if (header.firstSeq !== prevSeal.lastSeq + 1) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.FIRST_SEQ,
      header.firstSeq,
      `segment starts at seq ${header.firstSeq} but the previous one ends at ${prevSeal.lastSeq} (missing or extra segment)`,
    );
  }
  if (!header.prevChainHash.equals(prevSeal.lastChainHash)) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.PREV_CHAIN_HASH,
      header.firstSeq,
      "prevChainHash does not match the previous segment's seal",
    );
  }
  if (!header.prevSealHash.equals(prevSeal.sha256)) {
    throw walCorrupt(
      seg.path,
      SegmentHeaderOffset.PREV_SEAL_HASH,
      header.firstSeq,
      "prevSealHash does not match the previous segment's seal",
    );
  }
}

/**
 * The last segment is sealed: nothing to continue. Zeros after its seal are a seal interrupted
 * before its truncate (the seal itself was synced): the truncate is finished here.
 */
function finishSealedLast(
  wfs: WalFs,
  last: SegmentFile,
  scan: SegmentScan,
  seal: DecodedSeal,
  report: WalOpenReport,
  sealedBytes: number,
): OpenedWal {
  const sealEnd = seal.sealOffset + seal.frameBytes;
  const bad = scan.problems.find((p) => p.kind !== 'trailing-bytes');
  if (bad) throw walCorrupt(last.path, bad.offset, undefined, bad.message);
  let finishedSeal = false;
  if (scan.bytesAfterSeal > 0) {
    if (!scan.zerosAfterSeal) throw walCorrupt(last.path, sealEnd, undefined, 'nonzero bytes after the seal');
    truncateFile(wfs, last.path, sealEnd);
    finishedSeal = true;
  }
  return {
    report: { ...report, finishedSeal },
    sealedBytes: sealedBytes + sealEnd,
    prevSealHash: Buffer.from(seal.sha256),
    continued: undefined,
    next: { firstSeq: seal.lastSeq + 1, chainHash: Buffer.from(seal.lastChainHash) },
  };
}

/**
 * The last segment is open: continue it after its last valid batch. Damage with nothing intact
 * after it is a torn tail and is cut; damage followed by a complete batch (or a seal), or a batch
 * whose chain hash does not match, is refused. Whatever is kept is fdatasync'd before the writer
 * builds on it.
 */
function continueOpenSegment(
  wfs: WalFs,
  last: SegmentFile,
  image: Buffer,
  scan: SegmentScan,
  prevSeal: DecodedSeal | undefined,
  report: WalOpenReport,
  sealedBytes: number,
): OpenedWal {
  const damage = scan.damage;
  if (scan.header?.sealed) {
    // The seal was durable before this flag was set: a flagged segment without a valid seal at
    // its end lost data (truncated or zeroed), it is never a crash artifact.
    throw walCorrupt(
      last.path,
      scan.dataEnd,
      scan.summary.lastSeq + 1,
      'the header says the segment was sealed, but the file does not end at a valid seal (truncated or zeroed)',
    );
  }
  let opened = report;
  if (damage) {
    refuseUnlessTornTail(last, image, scan, damage);
    opened = {
      ...report,
      tornTailSegment: last.path,
      tornTailOffset: scan.dataEnd,
      tornTailBytes: image.length - scan.dataEnd,
    };
    debug(
      'cutting torn tail of %s at %d (%d bytes): %s',
      last.path,
      scan.dataEnd,
      image.length - scan.dataEnd,
      damage.message,
    );
  }
  let fd: number;
  try {
    fd = wfs.openSync(last.path, 'r+');
  } catch (err) {
    throw ioError(`cannot open ${last.path}`, err);
  }
  try {
    if (damage) wfs.ftruncateSync(fd, scan.dataEnd);
    // Whatever a crashed process left in the page cache becomes durable before we build on it.
    wfs.fdatasyncSync(fd);
  } catch (err) {
    wfs.closeSync(fd);
    throw ioError(`cannot repair ${last.path}`, err);
  }
  return {
    report: opened,
    sealedBytes,
    prevSealHash: prevSeal ? Buffer.from(prevSeal.sha256) : undefined,
    continued: {
      fd,
      path: last.path,
      header: scan.header as SegmentHeader,
      summary: scan.summary,
      dataEnd: scan.dataEnd,
      zeroedTo: damage ? scan.dataEnd : image.length,
    },
    next: undefined,
  };
}

/** Throws unless `damage` (the first in the open segment) can only be a torn write. */
function refuseUnlessTornTail(
  last: SegmentFile,
  image: Buffer,
  scan: SegmentScan,
  damage: NonNullable<SegmentScan['damage']>,
): void {
  const seq = damage.seqFrom;
  if (scan.laterBatchOffset >= 0 || sealAtEnd(image) !== undefined) {
    throw walCorrupt(
      last.path,
      damage.offset,
      seq,
      `${damage.message}; ${scan.laterBatchOffset >= 0 ? `a complete batch follows at offset ${scan.laterBatchOffset}` : 'the segment is sealed'}, so this is damage, not a torn tail`,
    );
  }
  if (damage.kind === 'chain') {
    // A complete batch, every frame and the COMMIT intact, whose hash does not chain: no torn
    // write looks like that (tampering or a bug), and it may have been acknowledged.
    throw walCorrupt(last.path, damage.offset, seq, damage.message);
  }
}

/** Cuts `file` to `size` and makes the cut durable. */
function truncateFile(wfs: WalFs, file: string, size: number): void {
  try {
    const fd = wfs.openSync(file, 'r+');
    try {
      wfs.ftruncateSync(fd, size);
      wfs.fdatasyncSync(fd);
    } finally {
      wfs.closeSync(fd);
    }
  } catch (err) {
    throw ioError(`cannot truncate ${file}`, err);
  }
}

/** Reads a whole file through the seam. */
function readWholeFile(wfs: WalFs, file: string): Buffer {
  const fd = wfs.openSync(file, 'r');
  try {
    const size = wfs.fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    const n = readFully(wfs, fd, buf, 0, size, 0);
    return n === size ? buf : buf.subarray(0, n);
  } finally {
    wfs.closeSync(fd);
  }
}

/** Header and (when sealed) seal of a segment, read from its two ends. */
function readHeaderAndSeal(
  wfs: WalFs,
  file: string,
): { header: Buffer; headerBytes: number; seal: DecodedSeal | undefined; size: number } {
  const fd = wfs.openSync(file, 'r');
  try {
    const size = wfs.fstatSync(fd).size;
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const headerBytes = readFully(wfs, fd, header, 0, SEGMENT_HEADER_BYTES, 0);
    let seal: DecodedSeal | undefined;
    if (size >= SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) {
      const trailer = Buffer.alloc(SEAL_TRAILER_BYTES);
      readFully(wfs, fd, trailer, 0, SEAL_TRAILER_BYTES, size - SEAL_TRAILER_BYTES);
      const sealOffset = readU64(trailer, SealTrailerOffset.SEAL_FRAME_OFFSET);
      if (
        trailer.subarray(SealTrailerOffset.MAGIC).equals(SEAL_MAGIC) &&
        sealOffset >= SEGMENT_HEADER_BYTES &&
        sealOffset < size &&
        size - sealOffset <= kMaxSealReadBytes
      ) {
        const frame = Buffer.alloc(size - sealOffset);
        readFully(wfs, fd, frame, 0, frame.length, sealOffset);
        if (checkFrame(frame, 0, frame.length) === FrameCheck.OK && readFrameBytes(frame, 0) === frame.length) {
          const decoded = decodeSeal(frame, 0, sealOffset);
          if (typeof decoded !== 'string') seal = decoded;
        }
      }
    }
    return { header, headerBytes, seal, size };
  } finally {
    wfs.closeSync(fd);
  }
}

/** The seal of a sealed file image (trailer at the end pointing at a valid SEAL frame), or undefined. */
function sealAtEnd(image: Buffer): DecodedSeal | undefined {
  const size = image.length;
  if (size < SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) return undefined;
  const trailer = size - SEAL_TRAILER_BYTES;
  if (!image.subarray(trailer + SealTrailerOffset.MAGIC).equals(SEAL_MAGIC)) return undefined;
  const off = readU64(image, trailer + SealTrailerOffset.SEAL_FRAME_OFFSET);
  if (off < SEGMENT_HEADER_BYTES || off >= size || off % WAL_FRAME_ALIGN !== 0) return undefined;
  if (checkFrame(image, off, size) !== FrameCheck.OK || readFrameBytes(image, off) !== size - off) return undefined;
  const seal = decodeSeal(image, off);
  return typeof seal === 'string' ? undefined : seal;
}
