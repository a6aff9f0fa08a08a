import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enableTrace } from '../dist/groupcommit/trace.js';
import { openSink, readWal, verifyWal } from '../dist/main/index.js';
import { TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs();
afterEach(() => dirs.disposeAll());

const kSegmentBytes = 8 * 1024 * 1024;
const pad = 'p'.repeat(180);

async function emitMany(sink: Awaited<ReturnType<typeof openSink>>, n: number, from: number): Promise<void> {
  for (let done = 0; done < n; ) {
    const k = Math.min(500, n - done);
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < k; i++) ps.push(sink.emit({ n: from + done + i, pad }));
    await Promise.all(ps);
    done += k;
  }
}

describe('zero-filling ahead on the writer worker helper thread', () => {
  it('keeps the open segment zero-filled past the end of data, across rolls, and the WAL stays exact', async () => {
    const dir = dirs.make('zf-thread');
    const sink = await openSink({ dir, segmentBytes: kSegmentBytes });
    // ~240 B per record: 80,000 records fill two 8 MiB segments and part of a third.
    await emitMany(sink, 80_000, 1);
    const segs = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort();
    expect(segs.length).toBeGreaterThanOrEqual(2);
    const open = path.join(dir, segs[segs.length - 1] as string);
    const dataEnd = sink.stats().walBytes;
    // The helper runs on its own: give it time to answer the last request, then the open
    // segment's file reaches past the data (zeros), which only the helper writes.
    const sealedBytes = segs.slice(0, -1).reduce((a, n) => a + fs.statSync(path.join(dir, n)).size, 0);
    const deadline = Date.now() + 20_000;
    while (fs.statSync(open).size <= dataEnd - sealedBytes && Date.now() < deadline) {
      await sink.emit({ n: 0, pad });
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(fs.statSync(open).size).toBeGreaterThan(sink.stats().walBytes - sealedBytes);
    const last = (await sink.emit({ n: -1, pad })).seq;
    await sink.close();
    const report = await verifyWal(dir);
    expect(report).toMatchObject({ valid: true, lastSeq: last });
    let seq = 0;
    for await (const r of readWal(dir)) {
      expect(r.seq).toBe(++seq);
    }
    expect(seq).toBe(last);
    // Sealed segments were cut back to their seal: no zeros left behind.
    for (const n of segs.slice(0, -1)) {
      const b = fs.readFileSync(path.join(dir, n));
      expect(b.toString('latin1', b.length - 8)).toBe('IRNLSEAL');
    }
  }, 120_000);

  it('reopening continues a segment that has zeros past its data', async () => {
    const dir = dirs.make('zf-reopen');
    const a = await openSink({ dir, segmentBytes: kSegmentBytes });
    await emitMany(a, 5_000, 1);
    await a.close();
    const b = await openSink({ dir, segmentBytes: kSegmentBytes });
    await emitMany(b, 5_000, 5_001);
    await b.close();
    expect(await verifyWal(dir)).toMatchObject({ valid: true, records: 10_000, lastSeq: 10_000 });
  }, 120_000);
});

describe('latency trace (bench --trace)', () => {
  it('splits the ack path of a real sink into its three legs while enabled, and records nothing when off', async () => {
    const dir = dirs.make('trace');
    const sink = await openSink({ dir });
    const sab = sink.producer().sab;
    await emitMany(sink, 200, 1);
    const trace = enableTrace(sab);
    for (let i = 0; i < 50; i++) await sink.emit({ n: i, pad });
    trace.setEnabled(false);
    const s = trace.snapshot();
    expect(s.emitToDrain.count).toBe(50);
    expect(s.drainToDurable.count).toBe(50);
    expect(s.durableToWake.count).toBe(50);
    for (const leg of [s.emitToDrain, s.drainToDurable, s.durableToWake]) {
      expect(leg.p50Ms).toBeGreaterThan(0);
      expect(leg.p99Ms).toBeGreaterThanOrEqual(leg.p50Ms);
      expect(leg.p999Ms).toBeGreaterThanOrEqual(leg.p99Ms);
    }
    await emitMany(sink, 100, 1000);
    expect(trace.snapshot().emitToDrain.count).toBe(50);
    await sink.close();
  }, 60_000);
});
