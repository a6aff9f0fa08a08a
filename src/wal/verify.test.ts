import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TempDir, TempDirs } from '../testing/temp-dir.js';
import { align8, readU32 } from './bytes.js';
import { SEGMENT_HEADER_BYTES, segmentFileName } from './segment.js';
import { verifyWal } from './verify.js';
import { WalWriter } from './writer.js';

const dirs = new TempDirs();
const tmpDir = (): string => dirs.make('ironlog-verify-');
afterEach(() => dirs.disposeAll());

/** Batch sizes of the small WAL: 30 records. */
const kBatches = [1, 3, 2, 1, 2, 3, 1, 2, 2, 3, 1, 2, 3, 2, 2];

/**
 * A small WAL: 30 records (and one gap) in a few sealed segments plus an open one that is
 * zero-filled ahead. Returns per segment file the offsets where batches end.
 */
function makeSmallWal(dir: string): { files: string[]; batchEnds: Map<string, number[]> } {
  const batchEnds = new Map<string, number[]>();
  let t = 1_700_000_000_000_000;
  const w = WalWriter.open({
    dir,
    nodeId: 'verify',
    segmentBytes: 1100,
    segmentMaxAgeMs: 60_000,
    zeroFillAheadBytes: 512,
    nowUs: () => t,
  });
  kBatches.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      const seq = w.lastSeq + 1 + i;
      const payload = pack({ seq, user: `u${seq}` });
      t += 1000;
      w.batch.addRecord(seq, t, 0, payload, 0, payload.length);
    }
    if (b === 7) w.batch.addGap(w.batch.lastSeq + 1, w.batch.lastSeq + 2, 2, { why: 'test' });
    w.appendBatch();
    w.sync();
    const name = path.basename(w.segmentPath);
    const ends = batchEnds.get(name) ?? [];
    ends.push(w.walBytes - sealedBytesBefore(dir, name));
    batchEnds.set(name, ends);
  });
  w.close();
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
  return { files, batchEnds };
}

function sealedBytesBefore(dir: string, name: string): number {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal') && n < name)
    .reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
}

/** Offsets of the RECORD/GAP/COMMIT frames of a segment (up to its end of data). */
function frameOffsets(bytes: Buffer, end: number): number[] {
  const out: number[] = [];
  for (let p = SEGMENT_HEADER_BYTES; p < end; ) {
    const n = readU32(bytes, p);
    if (n === 0 || bytes[p + 8] === 4) break;
    out.push(p);
    p += align8(n);
  }
  return out;
}

describe('verifyWal', () => {
  let dir = '';
  let files: string[] = [];
  let batchEnds = new Map<string, number[]>();
  beforeAll(() => {
    const shared = new TempDir('ironlog-verify-shared-');
    dir = shared.path;
    ({ files, batchEnds } = makeSmallWal(dir));
    return () => shared.dispose();
  });

  it('accepts the intact WAL', async () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    const report = await verifyWal(dir);
    expect(report).toMatchObject({
      valid: true,
      records: 30,
      gaps: 1,
      gapSeqs: 2,
      firstSeq: 1,
      lastSeq: 32,
      segments: files.length,
      sealedSegments: files.length - 1,
      problems: [],
    });
    // The open segment is zero-filled past its data.
    const last = files[files.length - 1] as string;
    const ends = batchEnds.get(last) as number[];
    expect(fs.statSync(path.join(dir, last)).size).toBeGreaterThan(ends[ends.length - 1] as number);
  });

  it('detects every single-byte corruption (XOR 0xff) and every single-bit flip, in sealed and open segments', async () => {
    let checked = 0;
    for (const name of files) {
      const file = path.join(dir, name);
      const original = fs.readFileSync(file);
      const fd = fs.openSync(file, 'r+');
      try {
        for (let i = 0; i < original.length; i++) {
          for (const mask of [0xff, 1 << (i % 8)]) {
            fs.writeSync(fd, Buffer.from([(original[i] as number) ^ mask]), 0, 1, i);
            const report = await verifyWal(dir);
            fs.writeSync(fd, original, i, 1, i);
            if (report.valid) throw new Error(`flip of byte ${i} (mask ${mask}) in ${name} went unnoticed`);
            checked++;
          }
        }
      } finally {
        fs.closeSync(fd);
        fs.writeFileSync(file, original);
      }
    }
    expect(checked).toBeGreaterThan(8000);
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('detects truncation of a sealed segment at every offset, and of the open one inside a batch', async () => {
    let checked = 0;
    let sealedBytes = 0;
    for (const name of files) {
      const file = path.join(dir, name);
      const original = fs.readFileSync(file);
      const isOpen = name === files[files.length - 1];
      if (!isOpen) sealedBytes += original.length;
      const ends = new Set([SEGMENT_HEADER_BYTES, ...(batchEnds.get(name) as number[])]);
      const dataEnd = Math.max(...ends);
      try {
        for (let cut = 0; cut < original.length; cut++) {
          // Cutting the open segment exactly at a batch boundary (or in its zero-filled space)
          // leaves a valid, shorter WAL: only an outside anchor (acked seq, replicated seals)
          // can tell. See docs/wal-format.md.
          if (isOpen && (ends.has(cut) || cut > dataEnd)) continue;
          fs.writeFileSync(file, original.subarray(0, cut));
          const report = await verifyWal(dir);
          if (report.valid) throw new Error(`truncation of ${name} at ${cut} went unnoticed`);
          checked++;
        }
      } finally {
        fs.writeFileSync(file, original);
      }
    }
    // Every offset of every sealed segment was cut, plus some inside the open one's batches.
    expect(sealedBytes).toBeGreaterThan(0);
    expect(checked).toBeGreaterThan(sealedBytes);
    expect((await verifyWal(dir)).valid).toBe(true);
  });
});

describe('verifyWal detects structural tampering', () => {
  function setup(): { dir: string; files: string[]; file: (i: number) => string; frames: (i: number) => number[] } {
    const dir = tmpDir();
    const { files, batchEnds } = makeSmallWal(dir);
    const file = (i: number): string => path.join(dir, files[i] as string);
    const frames = (i: number): number[] => {
      const ends = batchEnds.get(files[i] as string) as number[];
      return frameOffsets(fs.readFileSync(file(i)), ends[ends.length - 1] as number);
    };
    return { dir, files, file, frames };
  }
  const frameAt = (bytes: Buffer, off: number): Buffer => bytes.subarray(off, off + align8(readU32(bytes, off)));
  const isRecord = (bytes: Buffer, off: number): boolean => bytes[off + 8] === 1;

  it('a deleted record', async () => {
    const { dir, file, frames } = setup();
    const bytes = fs.readFileSync(file(0));
    const off = frames(0).find((o, k, all) => isRecord(bytes, o) && isRecord(bytes, all[k + 1] ?? 0)) as number;
    const f = frameAt(bytes, off);
    fs.writeFileSync(file(0), Buffer.concat([bytes.subarray(0, off), bytes.subarray(off + f.length)]));
    const report = await verifyWal(dir);
    expect(report.valid).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['seq']));
  });

  it('a duplicated record', async () => {
    const { dir, file, frames } = setup();
    const bytes = fs.readFileSync(file(1));
    const off = frames(1).find((o) => isRecord(bytes, o)) as number;
    const f = frameAt(bytes, off);
    fs.writeFileSync(file(1), Buffer.concat([bytes.subarray(0, off), f, bytes.subarray(off)]));
    expect((await verifyWal(dir)).valid).toBe(false);
  });

  it('two records swapped (reordered)', async () => {
    const { dir, file, frames } = setup();
    const bytes = fs.readFileSync(file(0));
    const offs = frames(0);
    const k = offs.findIndex((o, i) => isRecord(bytes, o) && isRecord(bytes, offs[i + 1] ?? 0));
    const a = frameAt(bytes, offs[k] as number);
    const b = frameAt(bytes, offs[k + 1] as number);
    const swapped = Buffer.concat([
      bytes.subarray(0, offs[k]),
      b,
      a,
      bytes.subarray((offs[k] as number) + a.length + b.length),
    ]);
    expect(swapped.length).toBe(bytes.length);
    fs.writeFileSync(file(0), swapped);
    const report = await verifyWal(dir);
    expect(report.valid).toBe(false);
  });

  it('a record inserted from another segment', async () => {
    const { dir, file, frames } = setup();
    const donor = fs.readFileSync(file(0));
    const f = frameAt(donor, frames(0)[0] as number);
    const bytes = fs.readFileSync(file(1));
    const at = frames(1)[0] as number;
    fs.writeFileSync(file(1), Buffer.concat([bytes.subarray(0, at), f, bytes.subarray(at)]));
    expect((await verifyWal(dir)).valid).toBe(false);
  });

  it('a whole batch deleted from the middle of a sealed segment', async () => {
    const { dir, file, frames } = setup();
    const bytes = fs.readFileSync(file(0));
    const offs = frames(0);
    // The second batch: from the frame after the first COMMIT to its own COMMIT's end.
    const commits = offs.filter((o) => bytes[o + 8] === 2);
    const start = (commits[0] as number) + 64;
    const end = (commits[1] as number) + 64;
    fs.writeFileSync(file(0), Buffer.concat([bytes.subarray(0, start), bytes.subarray(end)]));
    const report = await verifyWal(dir);
    expect(report.valid).toBe(false);
  });

  it('a deleted segment (middle, and first)', async () => {
    const { dir, files } = setup();
    fs.rmSync(path.join(dir, files[1] as string));
    const report = await verifyWal(dir);
    expect(report.valid).toBe(false);
    expect(report.problems.find((p) => p.kind === 'missing-segment')).toMatchObject({ segment: files[2] });

    const s2 = setup();
    fs.rmSync(path.join(s2.dir, s2.files[0] as string));
    const r2 = await verifyWal(s2.dir);
    expect(r2.problems.map((p) => p.kind)).toContain('missing-segment');
    expect((await verifyWal(s2.dir, { allowPrunedStart: true })).valid).toBe(true);
  });

  it('a duplicated segment (copied under the next name) and swapped segments', async () => {
    const { dir, files } = setup();
    const bytes = fs.readFileSync(path.join(dir, files[0] as string));
    // Name it as if it continued after the second-to-last segment.
    fs.copyFileSync(path.join(dir, files[0] as string), path.join(dir, segmentFileName(10_000)));
    expect(bytes.length).toBeGreaterThan(0);
    expect((await verifyWal(dir)).valid).toBe(false);

    const s2 = setup();
    const a = path.join(s2.dir, s2.files[0] as string);
    const b = path.join(s2.dir, s2.files[1] as string);
    const tmp = `${a}.tmp`;
    fs.renameSync(a, tmp);
    fs.renameSync(b, a);
    fs.renameSync(tmp, b);
    const report = await verifyWal(s2.dir);
    expect(report.valid).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain('header');
  });

  it('a foreign *.wal file', async () => {
    const { dir } = setup();
    fs.writeFileSync(path.join(dir, 'evil.wal'), 'x');
    expect((await verifyWal(dir)).problems.map((p) => p.kind)).toContain('foreign-file');
  });

  it('live/throughSeq: ignores an incomplete batch a writer is appending', async () => {
    const { dir, files } = setup();
    const last = path.join(dir, files[files.length - 1] as string);
    const bytes = fs.readFileSync(last);
    const end = frameOffsets(bytes, bytes.length);
    const tail = end[end.length - 1] as number;
    const dataEnd = tail + align8(readU32(bytes, tail));
    // Half of a copy of the first frame, written after the data: an append in progress.
    bytes.copy(bytes, dataEnd, SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES + 40);
    fs.writeFileSync(last, bytes);
    expect((await verifyWal(dir)).problems.map((p) => p.kind)).toEqual(['torn-tail']);
    expect((await verifyWal(dir, { live: true })).valid).toBe(true);
    expect((await verifyWal(dir, { throughSeq: 32 })).valid).toBe(true);
    expect((await verifyWal(dir, { throughSeq: 10 })).valid).toBe(true);
  });

  it('throws IO for a missing directory', async () => {
    await expect(verifyWal(path.join(os.tmpdir(), 'ironlog-does-not-exist-x'))).rejects.toMatchObject({
      code: 'ERR_IRONLOG_IO',
    });
  });
});
