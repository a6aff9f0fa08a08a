/**
 * Opening segment files for the readers (`readWal`, `verifyWal`, `recoverWal`, the tailer,
 * monitoring) so that nothing but a regular file is ever read as a segment, and no read goes
 * past the file's size.
 *
 * - The entry is `lstat`ed first: a symbolic link, a directory, a FIFO, a socket or a device
 *   named like a segment is refused with `ERR_IRONLOG_SEGMENT_NOT_FILE`. Symbolic links are
 *   refused, not followed: the WAL writer only ever creates regular files, and following a link
 *   would let a reader be pointed at `/dev/zero`, a FIFO (which blocks `open` and `read`) or a
 *   file outside the directory.
 * - The file is then opened with `O_NOFOLLOW | O_NONBLOCK` (so an entry swapped for a link or a
 *   FIFO between the `lstat` and the `open` can neither be followed nor block) and `fstat`ed: it
 *   must still be a regular file, the same one.
 * - A file larger than {@link kMaxSegmentFileBytes} (4 GiB, the largest `segmentBytes`) is refused
 *   with `ERR_IRONLOG_SEGMENT_TOO_LARGE`. Everything below that is read with 64-bit-safe
 *   positions, in chunks of at most {@link kReadChunkBytes}.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { align8, firstNonZero } from './bytes.js';
import type { SegmentFile } from './segment.js';

/**
 * The largest segment file a reader accepts: 4 GiB, the largest `segmentBytes` a writer may be
 * given (`openSink` enforces the same bound), which is also the largest Buffer Node can hold.
 */
export const kMaxSegmentFileBytes = 4 * 1024 * 1024 * 1024;

/** Reads are issued in chunks of at most this (a single `read` must stay below 2 GiB). */
export const kReadChunkBytes = 64 * 1024 * 1024;

const kOpenFlags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

/** What a non-regular directory entry is, for the error message. */
function describeKind(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function notFile(seg: SegmentFile, st: fs.Stats): IronlogError {
  return new IronlogError(
    ErrorCodes.SEGMENT_NOT_FILE,
    `${seg.path} is ${describeKind(st)}; a segment must be a regular file (symbolic links are not followed)`,
  );
}

function ioError(seg: SegmentFile, what: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `cannot ${what} ${seg.path}: ${errnoCode(err) ?? String(err)}`, {
    cause: err,
  });
}

/**
 * `lstat`s a segment entry: throws `ERR_IRONLOG_SEGMENT_NOT_FILE` unless it is a regular file,
 * `ERR_IRONLOG_SEGMENT_TOO_LARGE` over 4 GiB. An entry that vanished (retention) passes.
 */
export async function checkSegmentEntry(seg: SegmentFile): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(seg.path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw ioError(seg, 'stat', err);
  }
  if (!st.isFile()) throw notFile(seg, st);
  checkSegmentSize(seg, st.size);
}

/** An open segment file: its handle and its size when opened. */
export interface OpenedSegment {
  readonly fh: FileHandle;
  readonly size: number;
}

/**
 * Opens `seg` for reading after checking that it is a regular file of at most
 * {@link kMaxSegmentFileBytes}. Returns undefined when the file does not exist (any more) and
 * `missingOk` is set; throws `ERR_IRONLOG_SEGMENT_NOT_FILE`, `ERR_IRONLOG_SEGMENT_TOO_LARGE` or
 * `ERR_IRONLOG_IO` otherwise.
 */
export async function openSegmentFile(
  seg: SegmentFile,
  opts: { missingOk?: boolean } = {},
): Promise<OpenedSegment | undefined> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(seg.path);
  } catch (err) {
    if (opts.missingOk && errnoCode(err) === 'ENOENT') return undefined;
    throw ioError(seg, 'stat', err);
  }
  if (!st.isFile()) throw notFile(seg, st);
  let fh: FileHandle;
  try {
    fh = await fsp.open(seg.path, kOpenFlags);
  } catch (err) {
    if (opts.missingOk && errnoCode(err) === 'ENOENT') return undefined;
    // ELOOP: the entry became a symbolic link after the lstat (O_NOFOLLOW).
    if (errnoCode(err) === 'ELOOP') {
      throw new IronlogError(ErrorCodes.SEGMENT_NOT_FILE, `${seg.path} is a symbolic link; segments are not followed`);
    }
    throw ioError(seg, 'open', err);
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) throw notFile(seg, fst);
    checkSegmentSize(seg, fst.size);
    return { fh, size: fst.size };
  } catch (err) {
    await fh.close();
    if (err instanceof IronlogError) throw err;
    throw ioError(seg, 'stat', err);
  }
}

/** Throws `ERR_IRONLOG_SEGMENT_TOO_LARGE` for a file larger than {@link kMaxSegmentFileBytes}. */
export function checkSegmentSize(seg: SegmentFile, size: number): void {
  if (size > kMaxSegmentFileBytes) {
    throw new IronlogError(
      ErrorCodes.SEGMENT_TOO_LARGE,
      `${seg.path} is ${size} bytes, larger than any segment ironlog writes (at most ${kMaxSegmentFileBytes} bytes, the largest segmentBytes)`,
    );
  }
}

/**
 * Reads `length` bytes at `position` into `buf[offset..]`, in chunks, stopping early at end of
 * file. Returns the number of bytes read.
 */
export async function readAt(
  fh: FileHandle,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const want = Math.min(kReadChunkBytes, length - done);
    const { bytesRead } = await fh.read(buf, offset + done, want, position + done);
    if (bytesRead <= 0) break;
    done += bytesRead;
  }
  return done;
}

/** Options of {@link readSegmentImage}. */
export interface ReadImageOptions {
  /**
   * Leave out zero bytes at the end of the file (the zero fill ahead of an open segment), found
   * by reading backwards in chunks, so that a large preallocated segment costs no memory for its
   * zeros. Only for summaries: a verifier must see the file as it is. Default false.
   */
  trimZeroTail?: boolean;
  /** Undefined instead of an error when the file does not exist (any more). */
  missingOk?: boolean;
}

/** A segment file read into memory, bounded by its size when opened. */
export interface SegmentImage {
  readonly buf: Buffer;
  /** Size of the file (the image may be shorter with `trimZeroTail`, or if it shrank). */
  readonly fileBytes: number;
}

/**
 * Reads a whole segment file (regular files only, at most 4 GiB; see {@link openSegmentFile}).
 * Never reads past the size the file had when it was opened.
 */
export async function readSegmentImage(
  seg: SegmentFile,
  opts: ReadImageOptions = {},
): Promise<SegmentImage | undefined> {
  const opened = await openSegmentFile(seg, { missingOk: opts.missingOk === true });
  if (!opened) return undefined;
  const { fh, size } = opened;
  try {
    // A small file is read whole and trimmed in memory; a large one is searched backwards for
    // its last nonzero byte first, so its zero fill is never held.
    const length = opts.trimZeroTail && size > kTrimChunkBytes ? await endOfNonZero(fh, size) : size;
    const buf = Buffer.allocUnsafe(length);
    const n = await readAt(fh, buf, 0, length, 0);
    let image = n === length ? buf : buf.subarray(0, n);
    if (opts.trimZeroTail && size <= kTrimChunkBytes) image = image.subarray(0, trimmedLength(image));
    return { buf: image, fileBytes: size };
  } catch (err) {
    if (err instanceof IronlogError) throw err;
    throw ioError(seg, 'read', err);
  } finally {
    await fh.close();
  }
}

/** The backward search for the end of a zero fill reads this much at a time. */
const kTrimChunkBytes = 8 * 1024 * 1024;

/** Length of `buf` without its trailing zero bytes, rounded up to 8 (within `buf`). */
function trimmedLength(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && buf[i] === 0) i--;
  return Math.min(buf.length, align8(i + 1));
}

/** Offset just past the last nonzero byte of the file, rounded up to 8 (0 for an all-zero file). */
async function endOfNonZero(fh: FileHandle, size: number): Promise<number> {
  const chunkBytes = kTrimChunkBytes;
  const chunk = Buffer.allocUnsafe(chunkBytes);
  let end = size;
  while (end > 0) {
    const from = Math.max(0, end - chunkBytes);
    const n = await readAt(fh, chunk, 0, end - from, from);
    if (n < end - from) return size; // the file shrank: read it all, the scan decides
    if (firstNonZero(chunk, 0, n) >= 0) {
      let i = n - 1;
      while (chunk[i] === 0) i--;
      return Math.min(size, align8(from + i + 1));
    }
    end = from;
  }
  return 0;
}
