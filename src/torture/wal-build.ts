/** Building a WAL with known contents, and mapping where each record's bytes lie. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { align8 } from '../wal/bytes.js';
import { FrameType, readFrameBytes, readFrameSeq, readFrameType, WAL_FRAME_HEADER_BYTES } from '../wal/frame-layout.js';
import type { WalFs } from '../wal/fs.js';
import { listSegmentFiles, SEGMENT_HEADER_BYTES } from '../wal/segment.js';
import { WalWriter } from '../wal/writer.js';
import type { Prng } from './prng.js';

/** A record as written: its event (JSON) and time. */
export interface ExpectedRecord {
  readonly json: string;
  readonly timeUs: number;
}

/** Options of {@link buildWal}. */
export interface BuildWalOptions {
  readonly dir: string;
  readonly rng: Prng;
  readonly batches: number;
  readonly segmentBytes: number;
  /** Seal the last segment too (default true). */
  readonly sealAll?: boolean;
  readonly fs?: WalFs;
  /** Record time for the n-th record (default: steady 1 ms steps). */
  readonly timeUs?: (n: number) => number;
  /** Called after every synced batch with the last acked seq. */
  readonly onAcked?: (seq: number) => void;
}

/** Writes `batches` random batches with `WalWriter` (each synced) and returns what each seq holds. */
export function buildWal(o: BuildWalOptions): Map<number, ExpectedRecord> {
  const expected = new Map<number, ExpectedRecord>();
  const w = WalWriter.open({
    dir: o.dir,
    nodeId: 'torture',
    segmentBytes: o.segmentBytes,
    segmentMaxAgeMs: 3_600_000,
    zeroFillAheadBytes: 0,
    fs: o.fs,
  });
  try {
    let n = 0;
    for (let b = 0; b < o.batches; b++) {
      const count = o.rng.int(1, 8);
      const first = w.lastSeq + 1;
      for (let i = 0; i < count; i++) {
        const seq = first + i;
        const ev = { s: seq, k: o.rng.nextU32(), p: 'y'.repeat(o.rng.int(0, 700)) };
        const timeUs = o.timeUs ? o.timeUs(n) : 1_767_225_600_000_000 + n * 1000;
        n++;
        const payload = pack(ev);
        w.batch.addRecord(seq, timeUs, 0, payload, 0, payload.length);
        expected.set(seq, { json: JSON.stringify(ev), timeUs: Math.floor(timeUs) });
      }
      w.appendBatch();
      w.sync();
      o.onAcked?.(w.syncedSeq);
    }
    if (o.sealAll ?? true) w.seal();
  } finally {
    w.close();
  }
  return expected;
}

/** Where a record's frame (padding included) lies. */
export interface RecordPlace {
  readonly seq: number;
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
}

/** Walks the (intact) segments of `dir` frame by frame and returns where every RECORD lies. */
export function mapRecords(dir: string): RecordPlace[] {
  const out: RecordPlace[] = [];
  const { segments } = listSegmentFiles(dir, fs.readdirSync(dir));
  for (const seg of segments) {
    const buf = fs.readFileSync(seg.path);
    let pos = SEGMENT_HEADER_BYTES;
    while (pos + WAL_FRAME_HEADER_BYTES <= buf.length) {
      const frameBytes = readFrameBytes(buf, pos);
      if (frameBytes === 0) break;
      if (readFrameType(buf, pos) === FrameType.RECORD) {
        out.push({
          seq: readFrameSeq(buf, pos),
          file: path.basename(seg.path),
          offset: pos,
          bytes: align8(frameBytes),
        });
      }
      pos += align8(frameBytes);
    }
  }
  return out;
}

/** A byte range that was damaged. */
export interface Damage {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  readonly kind: string;
}

/** True when `place` overlaps any of `damage`. */
export function touched(place: RecordPlace, damage: readonly Damage[]): boolean {
  return damage.some(
    (d) => d.file === place.file && d.offset < place.offset + place.bytes && place.offset < d.offset + d.bytes,
  );
}

/** Damage kinds of {@link corruptFile}. */
export type CorruptionKind = 'bit-flip' | 'zero-sector' | 'garbage';

/**
 * Damages `file` in place: one flipped bit, one zeroed 512-byte sector, or a run of 1-256 random
 * bytes. Returns the damaged range, or undefined when the change happened to leave every byte as
 * it was (e.g. zeroing a sector of zeros).
 */
export function corruptFile(file: string, kind: CorruptionKind, rng: Prng): Damage | undefined {
  const buf = fs.readFileSync(file);
  const before = Buffer.from(buf);
  let offset: number;
  let bytes: number;
  if (kind === 'bit-flip') {
    offset = rng.int(0, buf.length - 1);
    bytes = 1;
    buf[offset] = (buf[offset] as number) ^ (1 << rng.int(0, 7));
  } else if (kind === 'zero-sector') {
    const sectors = Math.ceil(buf.length / 512);
    offset = rng.int(0, sectors - 1) * 512;
    bytes = Math.min(512, buf.length - offset);
    buf.fill(0, offset, offset + bytes);
  } else {
    bytes = Math.min(buf.length, rng.int(1, 256));
    offset = rng.int(0, buf.length - bytes);
    rng.fill(buf.subarray(offset, offset + bytes));
  }
  if (buf.equals(before)) return undefined;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, buf, offset, bytes, offset);
  } finally {
    fs.closeSync(fd);
  }
  return { file: path.basename(file), offset, bytes, kind };
}
