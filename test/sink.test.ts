import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, openSink, readWal, recoverWal, verifyWal } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('openSink / emit / replay', () => {
  it('acks with gap-free seqs from 1 and replays the events in order', async () => {
    const sink = await openSink({ dir: tmp.path });
    const acks = await Promise.all(Array.from({ length: 1000 }, (_, i) => sink.emit({ i, user: `u${i % 7}` })));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const records = await collect(sink.replay({ fromSeq: 1 }));
    expect(records.map((r) => r.seq)).toEqual(acks.map((a) => a.seq));
    expect(records.map((r) => (r.event as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(records[0]?.time).toBeInstanceOf(Date);
    const report = await sink.verify();
    expect(report.valid).toBe(true);
    expect(report.records).toBe(1000);
    await sink.close();
  });

  it('emitBatch gives one ack per event, in order, and mixes with emit', async () => {
    const sink = await openSink({ dir: tmp.path });
    const a = await sink.emit({ k: 'first' });
    const batch = await sink.emitBatch(Array.from({ length: 100 }, (_, i) => ({ k: 'b', i })));
    const b = await sink.emit({ k: 'last' });
    expect(a.seq).toBe(1);
    expect(batch.map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    expect(b.seq).toBe(102);
    expect(await sink.emitBatch([])).toEqual([]);
    await sink.close();
    const records = await collect(readWal(tmp.path));
    expect(records).toHaveLength(102);
    expect(records[50]?.event).toEqual({ k: 'b', i: 49 });
  });

  it('continues seqs and the chain after close and reopen', async () => {
    let sink = await openSink({ dir: tmp.path });
    await sink.emitBatch([{ a: 1 }, { a: 2 }, { a: 3 }]);
    await sink.close();
    sink = await openSink({ dir: tmp.path });
    const ack = await sink.emit({ a: 4 });
    expect(ack.seq).toBe(4);
    await sink.close();
    const report = await verifyWal(tmp.path);
    expect(report.valid).toBe(true);
    expect(report.lastSeq).toBe(4);
  });

  it('emitEncoded accepts pre-encoded msgpack', async () => {
    const { pack } = await import('msgpackr');
    const sink = await openSink({ dir: tmp.path });
    const acks = await sink.emitEncodedBatch([pack({ x: 1 }), pack({ x: 2 })]);
    const one = await sink.emitEncoded(pack({ x: 3 }));
    expect([...acks.map((a) => a.seq), one.seq]).toEqual([1, 2, 3]);
    await sink.close();
    const records = await collect(readWal(tmp.path));
    expect(records.map((r) => r.event)).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
  });

  it('replays by time range with an injected clock', async () => {
    let now = Date.UTC(2026, 0, 1);
    const sink = await openSink({ dir: tmp.path, clock: () => now });
    for (let i = 0; i < 10; i++) {
      await sink.emit({ i });
      now += 60_000;
    }
    const from = new Date(Date.UTC(2026, 0, 1, 0, 3));
    const to = new Date(Date.UTC(2026, 0, 1, 0, 6));
    const records = await collect(sink.replay({ from, to }));
    expect(records.map((r) => (r.event as { i: number }).i)).toEqual([3, 4, 5]);
    expect(records[0]?.time.toISOString()).toBe(from.toISOString());
    await sink.close();
  });

  it('rolls segments by size and seals them; replay crosses segments', async () => {
    const sink = await openSink({ dir: tmp.path, segmentBytes: 256 * 1024, maxBatchBytes: 32 * 1024 });
    const sealed: number[] = [];
    sink.events.on('sealed', (s) => sealed.push(s.lastSeq));
    const pad = 'x'.repeat(500);
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => sink.emit({ round, i, pad })));
    }
    const sealedCounted = sink.stats().segmentsSealed;
    await sink.close();
    const segments = fs.readdirSync(tmp.path).filter((f) => f.endsWith('.wal'));
    expect(segments.length).toBeGreaterThan(3);
    expect(sealed.length).toBe(segments.length - 1);
    // Seals by size count in the shared stats too (not only seals by age).
    expect(sealedCounted).toBe(segments.length - 1);
    const report = await verifyWal(tmp.path);
    expect(report.valid).toBe(true);
    expect(report.records).toBe(2000);
  });

  it('seals an idle segment by age', async () => {
    const sink = await openSink({ dir: tmp.path, segmentMaxAgeMs: 50 });
    const sealed = new Promise<{ firstSeq: number; lastSeq: number }>((resolve) => sink.events.once('sealed', resolve));
    await sink.emitBatch([{ a: 1 }, { a: 2 }]);
    const seg = await sealed;
    expect(seg).toMatchObject({ firstSeq: 1, lastSeq: 2 });
    const ack = await sink.emit({ a: 3 });
    expect(ack.seq).toBe(3);
    await sink.close();
    expect((await verifyWal(tmp.path)).valid).toBe(true);
  });
});

describe('bad input gets a typed error and writes nothing', () => {
  it('rejects invalid options', async () => {
    await expect(openSink({ dir: '' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    await expect(openSink({ dir: tmp.path, syncMode: 'sometimes' as never })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('options.syncMode'),
    });
    await expect(openSink({ dir: tmp.path, ringBytes: 100_000 })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    await expect(openSink({ dir: tmp.path, nodeId: 'a/b' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    await expect(openSink({ dir: tmp.path, bogus: 1 } as never)).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('options.bogus'),
    });
  });

  it('rejects unencodable and oversized events, then keeps working', async () => {
    const sink = await openSink({ dir: tmp.path, maxEventBytes: 1024 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(sink.emit(cyclic)).rejects.toMatchObject({ code: ErrorCodes.ENCODE });
    await expect(sink.emit({ f: () => 1 })).rejects.toMatchObject({ code: ErrorCodes.ENCODE });
    await expect(sink.emit({ s: Symbol('x') })).rejects.toMatchObject({ code: ErrorCodes.ENCODE });
    await expect(sink.emit(undefined)).rejects.toMatchObject({ code: ErrorCodes.ENCODE });
    await expect(sink.emit({ big: 'x'.repeat(2000) })).rejects.toMatchObject({ code: ErrorCodes.EVENT_TOO_LARGE });
    await expect(sink.emitBatch([{ ok: 1 }, { big: 'x'.repeat(2000) }])).rejects.toMatchObject({
      code: ErrorCodes.EVENT_TOO_LARGE,
    });
    await expect(sink.emitBatch('nope' as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    const ack = await sink.emit({ ok: true });
    expect(ack.seq).toBe(1);
    await sink.close();
    const records = await collect(readWal(tmp.path));
    expect(records.map((r) => r.event)).toEqual([{ ok: true }]);
  });

  it('rejects emit after close, and a second sink on the same directory', async () => {
    const sink = await openSink({ dir: tmp.path });
    await expect(openSink({ dir: tmp.path })).rejects.toMatchObject({ code: ErrorCodes.WAL_LOCKED });
    await sink.close();
    await sink.close();
    await expect(sink.emit({ late: true })).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    await expect(sink.emitBatch([{ late: true }])).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
  });

  it("fails fast with onFull: 'reject' when the ring is full, and waits with 'wait'", async () => {
    const pad = 'p'.repeat(8 * 1024);
    const reject = await openSink({
      dir: tmp.join('r'),
      ringBytes: 64 * 1024,
      maxEventBytes: 12 * 1024,
      onFull: 'reject',
    });
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => reject.emit({ i, pad })));
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed)
      expect((f as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.BACKPRESSURE });
    const okSeqs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []));
    await reject.close();
    const stored = await collect(readWal(tmp.join('r')));
    expect(stored.map((r) => r.seq)).toEqual(okSeqs);

    const wait = await openSink({ dir: tmp.join('w'), ringBytes: 64 * 1024, maxEventBytes: 12 * 1024 });
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => wait.emit({ i, pad })));
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await wait.close();
  });

  it('refuses to open a WAL damaged before its tail, pointing to recover', async () => {
    const sink = await openSink({ dir: tmp.path });
    for (let r = 0; r < 10; r++) await Promise.all(Array.from({ length: 20 }, (_, i) => sink.emit({ r, i })));
    await sink.close();
    const open = fs
      .readdirSync(tmp.path)
      .filter((f) => f.endsWith('.wal'))
      .sort()
      .at(-1) as string;
    const file = tmp.join(open);
    const bytes = fs.readFileSync(file);
    // A byte inside an early batch of the open segment: valid batches follow it.
    bytes[400] = (bytes[400] as number) ^ 0x40;
    fs.writeFileSync(file, bytes);
    await expect(openSink({ dir: tmp.path })).rejects.toMatchObject({
      code: ErrorCodes.WAL_CORRUPT,
      message: expect.stringMatching(/recover/),
    });
    const report = await verifyWal(tmp.path);
    expect(report.valid).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
    // The directory lock was released: after recovery into a new directory, a sink opens there.
    const out = tmp.join('recovered');
    const rec = await recoverWal(tmp.path, out);
    expect(rec.lost.length).toBeGreaterThan(0);
    const again = await openSink({ dir: out });
    const next = await again.emit({ after: 'recovery' });
    expect(next.seq).toBe(201);
    await again.close();
    expect((await verifyWal(out)).valid).toBe(true);
  });

  it('verify finds damage in a sealed segment that open does not read', async () => {
    const sink = await openSink({ dir: tmp.path, segmentBytes: 128 * 1024, maxBatchBytes: 16 * 1024 });
    for (let r = 0; r < 10; r++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => sink.emit({ r, i, pad: 'z'.repeat(300) })));
    }
    await sink.close();
    const first = fs
      .readdirSync(tmp.path)
      .filter((f) => f.endsWith('.wal'))
      .sort()[0] as string;
    const bytes = fs.readFileSync(tmp.join(first));
    bytes[4096] = (bytes[4096] as number) ^ 0x01;
    fs.writeFileSync(tmp.join(first), bytes);
    const report = await verifyWal(tmp.path);
    expect(report.valid).toBe(false);
    expect(report.problems[0]).toMatchObject({ segment: expect.stringContaining(first) });
  });
});

describe('sync modes', () => {
  for (const syncMode of ['always', 'interval', 'none'] as const) {
    it(`${syncMode}: acks, replays and verifies`, async () => {
      const sink = await openSink({ dir: tmp.path, syncMode, syncIntervalMs: 5 });
      const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => sink.emit({ i })));
      expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      await sink.flush();
      expect(sink.durableSeq).toBe(200);
      await sink.close();
      expect((await verifyWal(tmp.path)).records).toBe(200);
    });
  }

  it("ack: 'written' resolves and the data is there after close", async () => {
    const sink = await openSink({ dir: tmp.path, ack: 'written' });
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => sink.emit({ i })));
    expect(acks.at(-1)?.seq).toBe(50);
    await sink.close();
    expect((await verifyWal(tmp.path)).records).toBe(50);
  });

  it('counts batches and fsyncs in shared-memory stats', async () => {
    const sink = await openSink({ dir: tmp.path });
    await Promise.all(Array.from({ length: 500 }, (_, i) => sink.emit({ i })));
    const stats = sink.stats();
    expect(stats.records).toBe(500);
    expect(stats.batches).toBeGreaterThan(0);
    expect(stats.batches).toBeLessThanOrEqual(500);
    expect(stats.fsyncs).toBeGreaterThan(0);
    await sink.close();
  });
});
