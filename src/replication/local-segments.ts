/** Finds the sealed segments of a WAL directory (the replicator's catch-up on open). */
import * as fsp from 'node:fs/promises';
import { checkFrame, FrameCheck, readU32, readU64 } from '../wal/record.js';
import { decodeSeal, listSegmentFiles, SEAL_MAGIC, SEAL_TRAILER_BYTES, SEGMENT_HEADER_BYTES } from '../wal/segment.js';
import type { SealedSegment } from '../workers/messages.js';

/** Reads the seal of one segment file from its end; undefined when it is not (validly) sealed. */
export async function readSealedSegment(file: string): Promise<(SealedSegment & { sealedUs: number }) | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = (await fh.stat()).size;
    if (size < SEGMENT_HEADER_BYTES + SEAL_TRAILER_BYTES) return undefined;
    const trailer = Buffer.alloc(SEAL_TRAILER_BYTES);
    await fh.read(trailer, 0, SEAL_TRAILER_BYTES, size - SEAL_TRAILER_BYTES);
    if (!trailer.subarray(8).equals(SEAL_MAGIC)) return undefined;
    const sealOffset = readU64(trailer, 0);
    if (sealOffset < SEGMENT_HEADER_BYTES || sealOffset >= size || size - sealOffset > 256 * 1024 * 1024)
      return undefined;
    const frame = Buffer.alloc(size - sealOffset);
    await fh.read(frame, 0, frame.length, sealOffset);
    if (checkFrame(frame, 0, frame.length) !== FrameCheck.OK || readU32(frame, 0) !== frame.length) return undefined;
    const seal = decodeSeal(frame, 0, sealOffset);
    if (typeof seal === 'string') return undefined;
    return {
      path: file,
      firstSeq: seal.firstSeq,
      lastSeq: seal.lastSeq,
      records: seal.records,
      bytes: size,
      sealSha256: seal.sha256.toString('hex'),
      merkleRoot: Buffer.from(seal.merkleRoot).toString('hex'),
      sealedUs: seal.sealedUs,
    };
  } finally {
    await fh.close();
  }
}

/** Every sealed segment in `dir`, in seq order. */
export async function listSealedSegments(dir: string): Promise<(SealedSegment & { sealedUs: number })[]> {
  const { segments } = listSegmentFiles(dir, await fsp.readdir(dir));
  const out: (SealedSegment & { sealedUs: number })[] = [];
  for (const s of segments) {
    const sealed = await readSealedSegment(s.path);
    if (sealed) out.push(sealed);
  }
  return out;
}
