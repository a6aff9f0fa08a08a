import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../testing/temp-dir.js';
import { align8, readU32, readU64 } from './bytes.js';
import { readWal, type WalRecord } from './reader.js';
import { recoverWal } from './recovery.js';
import { SEGMENT_HEADER_BYTES } from './segment.js';
import { verifyWal } from './verify.js';
import { WalWriter } from './writer.js';

const dirs = new TempDirs();
const tmpDir = (): string => dirs.make('ironlog-recover-');
afterEach(() => dirs.disposeAll());

const kTotal = 60;

/** 60 records in batches of 3 over several segments, the last one open and zero-filled. */
function makeWal(dir: string): string[] {
  const w = WalWriter.open({
    dir,
    nodeId: 'src-node',
    segmentBytes: 2048,
    segmentMaxAgeMs: 60_000,
    zeroFillAheadBytes: 1024,
  });
  for (let b = 0; b < kTotal / 3; b++) {
    for (let i = 0; i < 3; i++) {
      const seq = w.lastSeq + 1 + i;
      const payload = pack({ seq, data: 'd'.repeat(30) });
      w.batch.addRecord(seq, 1_700_000_000_000_000 + seq * 1000, seq % 5 === 0 ? 2 : 0, payload, 0, payload.length);
    }
    w.appendBatch();
    w.sync();
  }
  w.close();
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** File offset of the frame carrying `seq` (RECORD) in `file`. */
function recordOffset(file: string, seq: number): number {
  const bytes = fs.readFileSync(file);
  for (let p = SEGMENT_HEADER_BYTES; p + 32 <= bytes.length; ) {
    const n = readU32(bytes, p);
    if (n === 0) break;
    if (bytes[p + 8] === 1 && readU64(bytes, p + 16) === seq) return p;
    p += align8(n);
  }
  throw new Error(`seq ${seq} not in ${file}`);
}

function segmentOf(files: string[], seq: number): string {
  for (const f of files) {
    try {
      recordOffset(f, seq);
      return f;
    } catch {}
  }
  throw new Error(`seq ${seq} not found`);
}

function corrupt(file: string, offset: number, mask = 0x20): void {
  const bytes = fs.readFileSync(file);
  bytes[offset] = (bytes[offset] as number) ^ mask;
  fs.writeFileSync(file, bytes);
}

async function readAll(dir: string): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir)) out.push(r);
  return out;
}

describe('recoverWal', () => {
  it('salvages every intact record around damage in the middle and reports exactly the lost seqs', async () => {
    const input = tmpDir();
    const files = makeWal(input);
    const original = await readAll(input);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const openFile = files[files.length - 1] as string;

    // 1. a payload byte of seq 5 (sealed segment)
    const f5 = segmentOf(files, 5);
    corrupt(f5, recordOffset(f5, 5) + 40);
    // 2. the header (seq field) of seq 20
    const f20 = segmentOf(files, 20);
    corrupt(f20, recordOffset(f20, 20) + 16, 0x01);
    // 3. the COMMIT after seq 30 (no record lost, the batch is only unchained)
    const f30 = segmentOf(files, 30);
    const commit30 = recordOffset(f30, 30) + align8(readU32(fs.readFileSync(f30), recordOffset(f30, 30)));
    corrupt(f30, commit30 + 40);
    // 4. two adjacent records zeroed in the open segment, with intact batches after them
    const seqA = kTotal - 7;
    const seqB = kTotal - 6;
    expect(segmentOf(files, seqA)).toBe(openFile);
    const bytes = fs.readFileSync(openFile);
    const a = recordOffset(openFile, seqA);
    const b = recordOffset(openFile, seqB);
    bytes.fill(0, a, b + align8(readU32(bytes, b)));
    fs.writeFileSync(openFile, bytes);

    expect(() => WalWriter.open({ dir: input, nodeId: 'x', segmentBytes: 2048, segmentMaxAgeMs: 60_000 })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_WAL_CORRUPT' }),
    );
    expect((await verifyWal(input)).valid).toBe(false);

    const output = path.join(tmpDir(), 'recovered');
    const report = await recoverWal(input, output);
    expect(report.lost).toEqual([
      { fromSeq: 5, toSeq: 5 },
      { fromSeq: 20, toSeq: 20 },
      { fromSeq: seqA, toSeq: seqB },
    ]);
    expect(report.lostSeqs).toBe(4);
    expect(report.recordsRecovered).toBe(kTotal - 4);
    expect(report.tailUnknown).toBe(false);
    expect(report.lastSeq).toBe(kTotal);
    expect(report.problems.length).toBeGreaterThanOrEqual(3);

    const verified = await verifyWal(output);
    expect(verified).toMatchObject({ valid: true, records: kTotal - 4, gaps: 3, gapSeqs: 4, lastSeq: kTotal });
    // Intact records are unchanged: same seq, time, flags, event.
    const lostSet = new Set([5, 20, seqA, seqB]);
    const recovered = await readAll(output);
    expect(recovered).toEqual(original.filter((r) => !lostSet.has(r.seq)));
    // The output can be continued by a writer.
    const w = WalWriter.open({ dir: output, nodeId: 'x', segmentBytes: 2048, segmentMaxAgeMs: 60_000 });
    expect(w.lastSeq).toBe(kTotal);
    w.close();
  });

  it('reports a deleted segment as lost, and a lost start as a gap from seq 1', async () => {
    const input = tmpDir();
    const files = makeWal(input);
    const original = await readAll(input);
    const second = fs.readFileSync(files[1] as string);
    const from = Number(second.readBigUInt64LE(16));
    const third = fs.readFileSync(files[2] as string);
    const to = Number(third.readBigUInt64LE(16)) - 1;
    fs.rmSync(files[1] as string);
    fs.rmSync(files[0] as string);
    const output = path.join(tmpDir(), 'out');
    const report = await recoverWal(input, output, { nodeId: 'rescuer' });
    expect(report.lost).toEqual([{ fromSeq: 1, toSeq: to }]);
    expect(from).toBeGreaterThan(1);
    expect(report.recordsRecovered).toBe(kTotal - to);
    expect((await verifyWal(output)).valid).toBe(true);
    expect((await readAll(output)).map((r) => r.seq)).toEqual(original.filter((r) => r.seq > to).map((r) => r.seq));
    expect(fs.readFileSync(path.join(output, fs.readdirSync(output)[0] as string)).toString('utf8', 32, 39)).toBe(
      'rescuer',
    );
  });

  it('copies a torn tail: its intact records are kept, the torn part is reported', async () => {
    const input = tmpDir();
    const files = makeWal(input);
    const last = files[files.length - 1] as string;
    const off = recordOffset(last, kTotal - 1);
    const bytes = fs.readFileSync(last);
    fs.writeFileSync(last, bytes.subarray(0, off + 20)); // seq 59 torn, 60 and the COMMIT gone
    const output = path.join(tmpDir(), 'out');
    const report = await recoverWal(input, output);
    expect(report.recordsRecovered).toBe(kTotal - 2);
    expect(report.tailUnknown).toBe(true);
    // COMMIT lost too: the highest seq any intact frame names is 58.
    expect(report.lost).toEqual([]);
    expect((await verifyWal(output)).valid).toBe(true);
  });

  it('refuses an output that already holds segments, or the input itself', async () => {
    const input = tmpDir();
    makeWal(input);
    await expect(recoverWal(input, input)).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    const output = tmpDir();
    makeWal(output);
    await expect(recoverWal(input, output)).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
  });

  it('an intact WAL is copied whole', async () => {
    const input = tmpDir();
    makeWal(input);
    const output = path.join(tmpDir(), 'copy');
    const report = await recoverWal(input, output);
    expect(report).toMatchObject({
      recordsRecovered: kTotal,
      lost: [],
      problems: [],
      lastSeq: kTotal,
      tailUnknown: false,
    });
    expect(await readAll(output)).toEqual(await readAll(input));
  });
});
