/**
 * Preallocation of the open segment: keeping it zero-filled some way past the end of data.
 * Overwriting pre-allocated zeros does not change the file size, so the `fdatasync` after a
 * batch has no metadata to journal and costs about half (`docs/wal-format.md` §8, "Zero fill").
 * The zero-filled space is also the writer's disk reserve: after
 * `ENOSPC` a failed write inside it is undone by overwriting it with zeros ({@link writeZeros}),
 * which needs no free blocks, so the gap record or seal that follows still fits.
 */
import { debuglog } from 'node:util';
import { errnoCode } from '../core/errors.js';
import { type WalFs, writeFully } from './fs.js';

const debug = debuglog('ironlog');

/** Default of `WalWriterOptions.zeroFillAheadBytes`. */
export const kDefaultZeroFillAheadBytes = 4 * 1024 * 1024;
/** Zeros are written in chunks of this size, each chunk one positioned write. */
const kZeroChunkBytes = 1024 * 1024;
let zeroChunk: Buffer | undefined;

function zeros(): Buffer {
  zeroChunk ??= Buffer.alloc(kZeroChunkBytes);
  return zeroChunk;
}

/** Overwrites [from, to) of `fd` with zeros (1 MiB writes). Throws what the write throws. */
export function writeZeros(wfs: WalFs, fd: number, from: number, to: number): void {
  const chunk = zeros();
  for (let p = from; p < to; p += kZeroChunkBytes) {
    writeFully(wfs, fd, chunk, 0, Math.min(kZeroChunkBytes, to - p), p);
  }
}

/**
 * The zero-filled space of one writer's open segment: how far it reaches and whether to extend
 * it. The writer moves {@link zeroedTo} when it writes past it or cuts the file back.
 */
export class ZeroFillAhead {
  /** Target distance (bytes) of zeros past the end of data; 0 disables zero-filling. */
  readonly aheadBytes: number;
  /** Zero-filling never goes past this (or the end of data, when that is further). */
  readonly #segmentBytes: number;
  /** The file is known to be zeros (or end of file) from the end of data up to here. */
  zeroedTo = 0;
  /** An extension failed: no more attempts for this segment until {@link retry}. */
  #failed = false;

  constructor(aheadBytes: number, segmentBytes: number) {
    this.aheadBytes = aheadBytes;
    this.#segmentBytes = segmentBytes;
  }

  /** A new segment (or a reopened one): zeros are known up to `zeroedTo`, earlier failures forgotten. */
  startSegment(zeroedTo: number): void {
    this.zeroedTo = zeroedTo;
    this.#failed = false;
  }

  /** Allows another attempt after a failure (the disk may have room again). */
  retry(): void {
    this.#failed = false;
  }

  /**
   * True when data ending at `end` leaves less than half the distance zero-filled. The hysteresis
   * keeps an idle writer from writing (and fdatasyncing) a few bytes of zeros after every batch.
   */
  wantsExtension(end: number): boolean {
    return this.aheadBytes > 0 && end + this.aheadBytes / 2 > this.zeroedTo;
  }

  /**
   * Writes zeros from {@link zeroedTo} towards `target` (capped at the segment size, or `dataEnd`
   * when that is further) in 1 MiB chunks until `deadline` (performance.now() ms), then
   * fdatasyncs. Best effort: a failure only stops zero-filling for this segment (zeros past the
   * end of data are harmless) and gives back what the attempt took.
   */
  extend(wfs: WalFs, fd: number, file: string, target: number, dataEnd: number, deadline: number): void {
    if (this.#failed) return;
    const cap = Math.min(target, Math.max(this.#segmentBytes, dataEnd));
    if (cap <= this.zeroedTo) return;
    const chunk = zeros();
    let p = this.zeroedTo;
    try {
      while (p < cap) {
        const n = Math.min(kZeroChunkBytes, cap - p);
        writeFully(wfs, fd, chunk, 0, n, p);
        p += n;
        if (performance.now() >= deadline) break;
      }
      wfs.fdatasyncSync(fd);
      this.zeroedTo = p;
    } catch (err) {
      this.#failed = true;
      debug('zero-filling %s failed (%s); continuing without', file, errnoCode(err));
      // Give back what the attempt took (on a full disk, the last free blocks).
      try {
        wfs.ftruncateSync(fd, this.zeroedTo);
      } catch {
        // Zeros past the end of data are harmless.
      }
    }
  }
}
