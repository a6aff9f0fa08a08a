/** Finds the sealed segments of a WAL directory (the replicator's catch-up on open). */
import * as fsp from 'node:fs/promises';
import { readSealFromEnd } from '../wal/reader.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import { listSegmentFiles } from '../wal/segment.js';

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
    const seal = await readSealFromEnd(fh, size);
    if (!seal) return undefined;
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
