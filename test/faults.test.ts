import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, openSink, readWal, verifyWal } from '../dist/main/index.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

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
      for (const r of rejected.slice(1)) {
        expect([c.code, ErrorCodes.WAL_FAULTED]).toContain((r.reason as { code: string }).code);
      }
      // While faulted, new emits are refused at once, with a typed error.
      await expect(sink.emit({ phase: 'refused' })).rejects.toMatchObject({ code: ErrorCodes.WAL_FAULTED });

      faults.clear();
      const gap = await cleared;
      expect(gap.gapFromSeq).toBe(101);
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
      for (const r of rejected) {
        expect([ErrorCodes.WAL_FSYNC, ErrorCodes.WAL_FAULTED]).toContain((r.reason as { code: string }).code);
      }
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
