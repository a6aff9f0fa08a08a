import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, openSink, readWal, verifyWal } from '../dist/main/index.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

type Reason = { code: string; message: string };

/**
 * Checks the rejections of one fault, in emit order, and returns the last seq they cover.
 *
 * Which emit gets which code depends on thread timing, not on the code under test: the emits run
 * here while the writer drains in its own thread, so how many frames were in the batch that
 * failed, how many the writer drained while faulted, and how many emits saw STATE = FAULTED
 * before claiming varies from run to run. What does not vary, and is asserted exactly:
 *  - first the failed batch: every one of its acks rejects with `firstCode` and names the same
 *    range, starting at `firstSeq`;
 *  - then frames drained while faulted: `WAL_FAULTED`, naming ranges that continue it without a
 *    hole or an overlap;
 *  - then emits refused before they claimed a seq: `WAL_FAULTED`, naming the fault's code;
 *  - every seq of those ranges belongs to exactly one rejected emit.
 */
function checkFaultRejections(reasons: readonly Reason[], firstCode: string, firstSeq: number): number {
  const rangeOf = (message: string): [number, number] | undefined => {
    const m = /^seqs? (\d+)(?:-(\d+))? /.exec(message);
    return m ? [Number(m[1]), Number(m[2] ?? m[1])] : undefined;
  };
  expect(reasons[0]?.code).toBe(firstCode);
  const failedMessage = reasons[0]?.message ?? '';
  const failed = rangeOf(failedMessage);
  expect(failed?.[0]).toBe(firstSeq);
  let i = 0;
  while (reasons[i]?.code === firstCode) {
    expect(reasons[i]?.message).toBe(failedMessage);
    i++;
  }
  let lastTo = failed?.[1] ?? Number.NaN;
  let lastMessage = failedMessage;
  let withSeq = i;
  let refused = 0;
  for (const r of reasons.slice(i)) {
    expect(r.code).toBe(ErrorCodes.WAL_FAULTED);
    const range = rangeOf(r.message);
    if (range === undefined) {
      expect(r.message).toBe(`the WAL is faulted (${firstCode}); emits are refused until the writer clears the fault`);
      refused++;
      continue;
    }
    // Seq-carrying rejections never come after a refused emit (refusal lasts until the fault clears).
    expect(refused).toBe(0);
    expect(r.message).toMatch(/ rejected: the WAL is faulted by an earlier write or fsync error$/);
    if (r.message !== lastMessage) {
      // A new drained range: it starts right after the previous one.
      expect(range[0]).toBe(lastTo + 1);
      lastTo = range[1];
      lastMessage = r.message;
    }
    withSeq++;
  }
  expect(withSeq).toBe(lastTo - firstSeq + 1);
  return lastTo;
}

type Case = { on: 'write' | 'fsync'; errno: 'EIO' | 'ENOSPC'; code: string };
const cases: Case[] = [
  { on: 'write', errno: 'ENOSPC', code: ErrorCodes.DISK_FULL },
  { on: 'write', errno: 'EIO', code: ErrorCodes.WAL_WRITE },
  { on: 'fsync', errno: 'ENOSPC', code: ErrorCodes.DISK_FULL },
  { on: 'fsync', errno: 'EIO', code: ErrorCodes.WAL_FSYNC },
];

describe('disk faults through the WalFs seam', () => {
  for (const c of cases) {
    it(`${c.errno} on ${c.on}: affected acks reject with ${c.code}, acked data survives, the sink resumes`, async () => {
      const faults = new FaultSwitch();
      const sink = await openSink({ dir: tmp.path, walFsModule: faultFsModulePath, walFsModuleData: faults.sab });
      const faultSeen = new Promise((resolve) => sink.events.once('fault', resolve));
      const cleared = new Promise<{ gapFromSeq: number; gapToSeq: number }>((resolve) =>
        sink.events.once('faultCleared', resolve),
      );
      const before = await Promise.all(Array.from({ length: 100 }, (_, i) => sink.emit({ phase: 'before', i })));

      if (c.on === 'write') faults.failWrites(c.errno);
      else faults.failSyncs(c.errno);
      const during = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => sink.emit({ phase: 'during', i })));
      await faultSeen;
      const rejected = during.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(rejected.length).toBe(50);
      expect(rejected[0]?.reason).toMatchObject({ code: c.code });
      const lastRejectedSeq = checkFaultRejections(
        rejected.map((r) => r.reason as Reason),
        c.code,
        101,
      );
      // While faulted, new emits are refused at once, with a typed error.
      await expect(sink.emit({ phase: 'refused' })).rejects.toMatchObject({ code: ErrorCodes.WAL_FAULTED });

      faults.clear();
      const gap = await cleared;
      expect(gap.gapFromSeq).toBe(101);
      // The gap record covers exactly the seqs whose acks rejected.
      expect(gap.gapToSeq).toBe(lastRejectedSeq);
      await until(() => {
        try {
          void sink.emit({ probe: true }).catch(() => {});
          return true;
        } catch {
          return false;
        }
      });
      const after = await sink.emit({ phase: 'after' });
      expect(after.seq).toBeGreaterThan(gap.gapToSeq);
      await sink.close();

      const records = [];
      for await (const r of readWal(tmp.path)) records.push(r);
      // Every acked record is there, exactly once; nothing of the failed ones is.
      const stored = new Map(records.map((r) => [r.seq, r.event as { phase: string; i?: number }]));
      for (const [i, a] of before.entries()) expect(stored.get(a.seq)).toEqual({ phase: 'before', i });
      expect(stored.get(after.seq)).toEqual({ phase: 'after' });
      expect(records.filter((r) => (r.event as { phase?: string }).phase === 'during')).toHaveLength(0);
      const report = await verifyWal(tmp.path);
      expect(report.valid).toBe(true);
      expect(report.gaps).toBeGreaterThanOrEqual(1);
      expect(faults.injected).toBeGreaterThan(0);
    });
  }

  it('a writer worker that dies rejects every pending ack (nothing hangs) and every later emit', async () => {
    const faults = new FaultSwitch();
    const sink = await openSink({ dir: tmp.path, walFsModule: faultFsModulePath, walFsModuleData: faults.sab });
    const ok = await sink.emit({ ok: 1 });
    faults.exitWriterOnNextSync();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sink.emit({ i })));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.WORKER_EXITED });
    }
    await expect(sink.emit({ late: 1 })).rejects.toMatchObject({ code: ErrorCodes.WORKER_EXITED });
    await sink.close();
    // The acked record is still there.
    const seqs: number[] = [];
    for await (const r of readWal(tmp.path)) seqs.push(r.seq);
    expect(seqs).toContain(ok.seq);
  });

  for (const syncMode of ['interval', 'batch'] as const) {
    it(`an fdatasync that fails while a segment rolls (${syncMode}) rejects every unsynced ack; none hangs, none is lost`, async () => {
      const faults = new FaultSwitch();
      const sink = await openSink({
        dir: tmp.path,
        syncMode,
        syncIntervalMs: 60_000,
        segmentBytes: 64 * 1024,
        maxBatchBytes: 8 * 1024,
        maxEventBytes: 4 * 1024,
        walFsModule: faultFsModulePath,
        walFsModuleData: faults.sab,
      });
      const cleared = new Promise((resolve) => sink.events.once('faultCleared', resolve));
      const payload = 'x'.repeat(600);
      // Fill most of the first segment; in 'interval' mode none of it is synced yet.
      const first = Array.from({ length: 80 }, (_, i) => sink.emit({ phase: 'first', i, payload }));
      if (syncMode === 'batch') await Promise.all(first);
      faults.failSyncs('EIO', 1_000_000);
      // These cross the 64 KiB roll: the seal's fdatasync fails.
      const rolling = Array.from({ length: 80 }, (_, i) => sink.emit({ phase: 'rolling', i, payload }));
      const settled = await Promise.allSettled([...first, ...rolling]);
      const acked = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.seq] : []));
      const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected.length).toBeGreaterThan(0);
      // 'interval': nothing of the 80 first records was synced, so the failed range starts at seq 1
      // (the failed fdatasync rolls the WAL back to its last synced record); 'batch': at seq 81.
      checkFaultRejections(
        rejected.map((r) => r.reason as Reason),
        ErrorCodes.WAL_FSYNC,
        syncMode === 'interval' ? 1 : 81,
      );
      if (syncMode === 'interval') expect(acked).toHaveLength(0);
      else expect(acked.length).toBeGreaterThanOrEqual(80);
      faults.clear();
      await cleared;
      // close() syncs what is pending (no waiting for the 60 s interval) and resolves its ack.
      const afterAck = sink.emit({ phase: 'after' });
      await sink.close();
      const after = await afterAck;

      const stored = new Set<number>();
      for await (const r of readWal(tmp.path)) stored.add(r.seq);
      for (const seq of acked) expect(stored.has(seq)).toBe(true);
      expect(stored.has(after.seq)).toBe(true);
      expect(stored.size).toBe(acked.length + 1);
      const report = await verifyWal(tmp.path);
      expect(report.valid).toBe(true);
    });
  }
});
