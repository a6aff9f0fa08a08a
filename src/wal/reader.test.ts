import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TempDir, TempDirs } from '../testing/temp-dir.js';
import { RecordFlags } from './frame-layout.js';
import { type ReadWalOptions, readWal, type WalRecord } from './reader.js';
import { segmentFileName } from './segment.js';
import { WalWriter } from './writer.js';

const dirs = new TempDirs();
const tmpDir = (): string => dirs.make('ironlog-read-');
afterEach(() => dirs.disposeAll());

async function readAll(dir: string, opts: ReadWalOptions = {}): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir, opts)) out.push(r);
  return out;
}

const kBase = Date.UTC(2024, 0, 1) * 1000;

/**
 * 6000 records of ~200 bytes over several 256 KiB segments (each with a time index of several
 * entries), a few gaps, and a clock that jumps backwards now and then.
 */
function makeTimedWal(dir: string): { times: Map<number, number>; gaps: Set<number> } {
  const times = new Map<number, number>();
  const gaps = new Set<number>();
  const w = WalWriter.open({
    dir,
    nodeId: 'reader',
    segmentBytes: 256 * 1024,
    segmentMaxAgeMs: 1e9,
    zeroFillAheadBytes: 0,
  });
  let t = kBase;
  let seq = 0;
  for (let b = 0; seq < 6000; b++) {
    for (let i = 0; i < 20; i++) {
      seq++;
      // Mostly forward, 1 ms apart; every 97th record the clock steps back 40 ms.
      t += seq % 97 === 0 ? -40_000 : 1000;
      const payload = pack({ seq, blob: 'x'.repeat(170) });
      w.batch.addRecord(seq, t, 0, payload, 0, payload.length);
      times.set(seq, t);
    }
    if (b % 50 === 49) {
      w.batch.addGap(seq + 1, seq + 3, 2);
      for (let g = 1; g <= 3; g++) gaps.add(seq + g);
      seq += 3;
    }
    w.appendBatch();
    w.sync();
  }
  w.close();
  return { times, gaps };
}

describe('readWal ranges', () => {
  let shared: TempDir | undefined;
  let dir = '';
  let times = new Map<number, number>();
  let gaps = new Set<number>();
  let lastSeq = 0;
  beforeAll(() => {
    shared = new TempDir('ironlog-read-shared-');
    dir = shared.path;
    ({ times, gaps } = makeTimedWal(dir));
    lastSeq = Math.max(...times.keys(), ...gaps);
  });
  afterAll(() => shared?.dispose());

  it('reads everything in seq order, skipping gaps', async () => {
    const all = await readAll(dir);
    expect(fs.readdirSync(dir).length).toBeGreaterThan(3);
    expect(all.length).toBe(times.size);
    expect(all.map((r) => r.seq)).toEqual([...times.keys()]);
    const r = all[100] as WalRecord;
    expect(r.timeUs).toBe(times.get(r.seq));
    expect(r.time.getTime()).toBe(Math.floor(r.timeUs / 1000));
    expect(r.event).toEqual({ seq: r.seq, blob: 'x'.repeat(170) });
  });

  it('by seq range (inclusive), across segment boundaries', async () => {
    const segStarts = fs
      .readdirSync(dir)
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b);
    const cases: Array<[number, number]> = [
      [1, 1],
      [1, 25],
      [(segStarts[1] as number) - 2, (segStarts[1] as number) + 2],
      [(segStarts[2] as number) + 500, (segStarts[3] as number) + 10],
      [lastSeq - 5, lastSeq + 100],
      [lastSeq + 1, lastSeq + 10],
    ];
    for (const [from, to] of cases) {
      const got = (await readAll(dir, { fromSeq: from, toSeq: to })).map((r) => r.seq);
      const want = [...times.keys()].filter((s) => s >= from && s <= to);
      expect(got).toEqual(want);
    }
    expect((await readAll(dir, { fromSeq: 5990 })).map((r) => r.seq)).toEqual(
      [...times.keys()].filter((s) => s >= 5990),
    );
  });

  it('by time range (from inclusive, to exclusive), with a clock that went backwards', async () => {
    const seqs = [...times.keys()];
    const probe = [0, 1, 96, 97, 500, 1500, 3000, 4444, 5999].map((i) => times.get(seqs[i] as number) as number);
    const ranges: Array<[number | undefined, number | undefined]> = [
      [probe[0], probe[1]],
      [probe[2], probe[3]],
      [probe[4], probe[6]],
      [probe[5], undefined],
      [undefined, probe[4]],
      [probe[7], (probe[7] as number) + 50_000],
      [probe[8], (probe[8] as number) + 1],
      [kBase + 10_000_000_000, undefined], // after everything
      [undefined, kBase - 1_000_000], // before everything
    ];
    for (const [fromUs, toUs] of ranges) {
      const opts: ReadWalOptions = {};
      if (fromUs !== undefined) opts.from = new Date(fromUs / 1000);
      if (toUs !== undefined) opts.to = new Date(toUs / 1000);
      // Dates have ms precision: filter with the same rounded bounds.
      const lo = opts.from ? opts.from.getTime() * 1000 : -Infinity;
      const hi = opts.to ? opts.to.getTime() * 1000 : Infinity;
      const want = seqs.filter((s) => {
        const t = times.get(s) as number;
        return t >= lo && t < hi;
      });
      const got = (await readAll(dir, opts)).map((r) => r.seq);
      expect(got).toEqual(want);
    }
    // Combined with a seq range.
    const from = new Date((probe[4] as number) / 1000);
    const got = (await readAll(dir, { from, fromSeq: 2000, toSeq: 2100 })).map((r) => r.seq);
    expect(got).toEqual(
      seqs.filter((s) => s >= 2000 && s <= 2100 && (times.get(s) as number) >= from.getTime() * 1000),
    );
  });

  it("seeks with the sealed segments' time index instead of scanning from the start", async () => {
    const d2 = tmpDir();
    const made = makeTimedWal(d2);
    const second = fs.readdirSync(d2).sort()[1] as string;
    const file = path.join(d2, second);
    const firstSeq = Number(second.slice(0, 20));
    // Damage the first batch of the second segment: a read that starts there must fail...
    const bytes = fs.readFileSync(file);
    bytes[200] = (bytes[200] as number) ^ 0x10;
    fs.writeFileSync(file, bytes);
    await expect(readAll(d2, { fromSeq: firstSeq })).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    // ...while reads that start 600 records later seek past it, by seq and by time.
    const target = firstSeq + 600;
    expect((await readAll(d2, { fromSeq: target, toSeq: target + 2 })).map((r) => r.seq)).toEqual([
      target,
      target + 1,
      target + 2,
    ]);
    const from = new Date((made.times.get(target) as number) / 1000);
    const got = await readAll(d2, { from, toSeq: target + 50 });
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((r) => r.seq > firstSeq + 100)).toBe(true);
  });

  it('rejects invalid options', async () => {
    await expect(readAll(dir, { fromSeq: -1 })).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    await expect(readAll(dir, { from: new Date('nope') })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_ARGUMENT',
    });
  });
});

describe('readWal on damaged, live and odd WALs', () => {
  function small(dir: string, zeroFillAheadBytes = 0): WalWriter {
    const w = WalWriter.open({ dir, nodeId: 'r', segmentBytes: 1 << 20, segmentMaxAgeMs: 1e9, zeroFillAheadBytes });
    for (let b = 0; b < 4; b++) {
      for (let i = 0; i < 3; i++) {
        const seq = w.lastSeq + 1 + i;
        const payload = pack({ seq });
        w.batch.addRecord(seq, kBase + seq, 0, payload, 0, payload.length);
      }
      w.appendBatch();
    }
    w.sync();
    return w;
  }

  it('an incomplete batch at the tail: raises WAL_CORRUPT, or stops quietly with live', async () => {
    const dir = tmpDir();
    const w = small(dir, 4096);
    const file = w.segmentPath;
    const end = w.walBytes;
    w.close();
    const bytes = fs.readFileSync(file);
    bytes.copy(bytes, end, 128, 128 + 30); // half a frame after the data
    fs.writeFileSync(file, bytes);
    await expect(readAll(dir)).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    expect((await readAll(dir, { live: true })).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('damage in the middle raises WAL_CORRUPT naming file and offset, even with live', async () => {
    const dir = tmpDir();
    const w = small(dir);
    const file = w.segmentPath;
    w.seal();
    w.close();
    const w2 = small(dir); // a second segment, so the damaged one is not the last
    w2.close();
    const bytes = fs.readFileSync(file);
    bytes[300] = (bytes[300] as number) ^ 4;
    fs.writeFileSync(file, bytes);
    const err = await readAll(dir, { live: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/offset \d+/);
  });

  it('a missing segment raises WAL_CORRUPT; a foreign file WAL_FORMAT; a missing directory IO', async () => {
    const dir = tmpDir();
    const w = small(dir);
    w.seal();
    for (let i = 0; i < 2; i++) {
      const p = pack({});
      w.batch.addRecord(w.lastSeq + 1, 0, 0, p, 0, p.length);
      w.appendBatch();
      w.seal();
    }
    w.close();
    fs.rmSync(path.join(dir, segmentFileName(13)));
    await expect(readAll(dir)).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    fs.writeFileSync(path.join(dir, 'x.wal'), '');
    await expect(readAll(dir)).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_FORMAT' });
    await expect(readAll(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'ERR_IRONLOG_IO' });
  });

  it('returns encrypted/compressed payloads (and non-msgpack bytes) as raw Buffers', async () => {
    const dir = tmpDir();
    const w = WalWriter.open({ dir, nodeId: 'r', segmentBytes: 1 << 20, segmentMaxAgeMs: 1e9 });
    const secret = Buffer.from('ciphertext...');
    w.batch.addRecord(1, kBase, RecordFlags.ENCRYPTED, secret, 0, secret.length);
    const junk = Buffer.from([0x92, 0x01]); // an array of 2 with 1 element: truncated msgpack
    w.batch.addRecord(2, kBase, 0, junk, 0, junk.length);
    const bin = pack({ b: Buffer.from([1, 2, 3]) });
    w.batch.addRecord(3, kBase, 0, bin, 0, bin.length);
    w.appendBatch();
    w.close();
    const [a, b, c] = (await readAll(dir)) as [WalRecord, WalRecord, WalRecord];
    expect(a.flags).toBe(RecordFlags.ENCRYPTED);
    expect(a.event).toEqual(secret);
    expect(b.event).toEqual(junk);
    expect(Buffer.from((c.event as { b: Uint8Array }).b)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('an empty directory reads as empty; an open segment without batches too', async () => {
    const dir = tmpDir();
    expect(await readAll(dir)).toEqual([]);
    const w = small(dir);
    const file = w.segmentPath;
    w.close();
    fs.truncateSync(file, 128);
    expect(await readAll(dir)).toEqual([]);
  });
});
