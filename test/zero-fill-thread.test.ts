import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { enableTrace, traceBucket, tracePercentileMs } from '../dist/groupcommit/trace.js';
import { openSink, readWal, verifyWal } from '../dist/main/index.js';
import { WalWriter } from '../dist/wal/writer.js';
import { ThreadZeroFiller } from '../dist/workers/writer/zero-fill-thread.js';
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

  it('data that catches up with a fill in flight stops it, and the zeros never land on data', async () => {
    // The writer directly, with the helper thread, ~1.3 MB batches written as fast as possible:
    // each batch reaches past the start of the request posted after the previous sync (1 MiB
    // headroom), so a request still in flight is stopped.
    const dir = dirs.make('zf-stop');
    const w = WalWriter.open({
      dir,
      nodeId: 'zf-test',
      segmentBytes: 64 * 1024 * 1024,
      segmentMaxAgeMs: 600_000,
      zeroFiller: new ThreadZeroFiller(),
    });
    const payloads = Array.from({ length: 6_000 }, (_, i) => pack({ i, pad }));
    let seq = 0;
    for (let b = 0; b < 30; b++) {
      for (const p of payloads) {
        seq++;
        w.batch.addRecord(seq, seq, 0, p, 0, p.length);
      }
      w.appendBatch();
      w.sync();
    }
    w.close();
    expect(await verifyWal(dir)).toMatchObject({ valid: true, records: seq, lastSeq: seq });
    let n = 0;
    for await (const r of readWal(dir)) {
      n++;
      expect(r.seq).toBe(n);
      expect((r.event as { i: number }).i).toBe((n - 1) % payloads.length);
    }
    expect(n).toBe(seq);
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
  it('buckets durations 4 per power of two from 8 us and reports bucket midpoints', () => {
    expect(traceBucket(0)).toBe(0);
    expect(traceBucket(7.9)).toBe(0);
    expect(traceBucket(Number.NaN)).toBe(0);
    expect(traceBucket(8)).toBe(1);
    expect(traceBucket(16)).toBe(5);
    expect(traceBucket(1e12)).toBe(61);
    const counts = new Array(62).fill(0);
    counts[traceBucket(1000)] = 99; // 1 ms
    counts[traceBucket(20_000)] = 1; // 20 ms
    expect(tracePercentileMs(counts, 0.5)).toBeGreaterThan(0.9);
    expect(tracePercentileMs(counts, 0.5)).toBeLessThan(1.1);
    expect(tracePercentileMs(counts, 0.99)).toBeCloseTo(tracePercentileMs(counts, 0.5), 6);
    expect(tracePercentileMs(counts, 0.999)).toBeGreaterThan(18);
    expect(tracePercentileMs(counts, 0.999)).toBeLessThan(22);
    expect(tracePercentileMs(new Array(62).fill(0), 0.5)).toBeNaN();
  });

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
