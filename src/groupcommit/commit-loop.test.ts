/**
 * Single-thread tests of the writer's commit loop: a real ring SAB (src/ringbuffer), a real
 * WalWriter on a temp dir with real fdatasync, the fault fs of src/testing, and the producers'
 * AckWaiter reading the same shared words. No worker thread: the loop runs in this thread until
 * it sees CLOSING, and the test steers it through its `onFault` / `onFaultCleared` hooks and a
 * thin WalFs wrapper, so every rejected range is exact.
 *
 * Producers that publish from inside a hook stand for producers that claimed ring space before
 * they saw STATE = FAULTED (the claim itself does not check STATE; `emit()` does, before claiming).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorCode, ErrorCodes, type IronlogError } from '../core/errors.js';
import type { SyncMode } from '../core/sync-mode.js';
import { FrameKind, FrameOffset, frameBytesFor } from '../ringbuffer/layout.js';
import { createRingSab, RingConsumer, RingProducer } from '../ringbuffer/ring.js';
import { createWalFs, FaultSwitch, type InjectedErrno } from '../testing/fault-fs.js';
import { nodeWalFs, type WalFs } from '../wal/fs.js';
import { readWal } from '../wal/reader.js';
import { verifyWal } from '../wal/verify.js';
import { WalWriter } from '../wal/writer.js';
import { AckWaiter } from './ack-waiter.js';
import { runCommitLoop } from './commit-loop.js';
import { CommitState, RingState } from './commit-state.js';
import { WriterStats } from './writer-stats.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Settled {
  readonly seq: number;
  readonly status: 'fulfilled' | 'rejected';
  readonly code: string | undefined;
  readonly message: string | undefined;
}

/** A WAL, a ring and an ack waiter in this thread, wired as the writer worker wires them. */
class Rig {
  readonly dir: string;
  readonly faults = new FaultSwitch();
  readonly wal: WalWriter;
  readonly sab: SharedArrayBuffer;
  readonly state: CommitState;
  readonly producer: RingProducer;
  readonly consumer: RingConsumer;
  readonly waiter: AckWaiter;
  readonly faultsSeen: IronlogError[] = [];
  readonly cleared: [number, number][] = [];
  /** Runs after each failed (injected) write or fdatasync, with the number injected so far. */
  onInjected: ((injected: number) => void) | undefined;
  /** Runs at the start of every fdatasync of the WAL. */
  beforeSync: (() => void) | undefined;
  onFault: (() => void) | undefined;
  onFaultCleared: (() => void) | undefined;
  readonly #acks: Promise<Settled>[] = [];

  constructor(readonly syncMode: SyncMode) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-commit-loop-'));
    dirs.push(this.dir);
    const faulty = createWalFs(nodeWalFs, this.faults.sab);
    const injected = <A extends unknown[], R>(fn: (...args: A) => R) => {
      return (...args: A): R => {
        try {
          return fn(...args);
        } catch (err) {
          this.onInjected?.(this.faults.injected);
          throw err;
        }
      };
    };
    const wfs: WalFs = {
      ...faulty,
      writeSync: injected(faulty.writeSync),
      fdatasyncSync: injected((fd: number) => {
        this.beforeSync?.();
        faulty.fdatasyncSync(fd);
      }),
    };
    this.wal = WalWriter.open({
      dir: this.dir,
      nodeId: 'unit',
      segmentBytes: 1 << 20,
      segmentMaxAgeMs: 3_600_000,
      fs: wfs,
    });
    this.sab = createRingSab(64 * 1024, frameBytesFor(1024), this.wal.lastSeq);
    this.state = new CommitState(this.sab);
    this.producer = new RingProducer(this.sab);
    this.consumer = new RingConsumer(this.sab, this.wal.lastSeq);
    this.waiter = new AckWaiter(this.sab, 'durable');
  }

  /** Publishes `count` events (one claim each) and registers their acks; returns their seqs. */
  emit(count: number, tag: string): number[] {
    const seqs: number[] = [];
    for (let i = 0; i < count; i++) {
      const payload = pack({ tag, i });
      const frameBytes = frameBytesFor(payload.byteLength);
      const off = this.producer.claim(frameBytes, 1);
      expect(off).toBeGreaterThanOrEqual(0);
      const seq = this.producer.claimedFirstSeq;
      this.producer.writeHeader(off, 0, payload.byteLength, seq, 1_700_000_000_000_000 + seq, FrameKind.EVENT);
      this.producer.data.set(payload, off + FrameOffset.PAYLOAD);
      this.producer.publish(off, frameBytes);
      this.#acks.push(
        this.waiter.add(seq, seq, false).then(
          (): Settled => ({ seq, status: 'fulfilled', code: undefined, message: undefined }),
          (err: IronlogError): Settled => ({ seq, status: 'rejected', code: err.code, message: err.message }),
        ),
      );
      seqs.push(seq);
    }
    return seqs;
  }

  close(): void {
    this.state.setState(RingState.CLOSING);
  }

  /** Runs the loop until it returns (the test must arrange CLOSING), in this thread. */
  run(opts: { syncIntervalMs?: number; nowMs?: () => number } = {}): number {
    return runCommitLoop({
      consumer: this.consumer,
      wal: this.wal,
      sab: this.sab,
      ...(opts.nowMs ? { nowMs: opts.nowMs } : {}),
      init: {
        syncMode: this.syncMode,
        syncIntervalMs: opts.syncIntervalMs ?? 20,
        maxBatchBytes: 1 << 20,
        faultRetryMs: 1,
      },
      onFault: (error) => {
        this.faultsSeen.push(error);
        this.onFault?.();
      },
      onFaultCleared: (from, to) => {
        this.cleared.push([from, to]);
        this.onFaultCleared?.();
      },
    });
  }

  /** Every ack registered so far, settled, in seq order. */
  async settled(): Promise<Settled[]> {
    return Promise.all(this.#acks);
  }

  async stored(): Promise<number[]> {
    const seqs: number[] = [];
    for await (const r of readWal(this.dir)) seqs.push(r.seq);
    return seqs;
  }

  dispose(): void {
    this.waiter.dispose();
    this.wal.close();
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Phase 0 of every fault test: seqs 1..5 committed and acked by a first run of the loop. */
async function commitFirstFive(rig: Rig): Promise<void> {
  rig.emit(5, 'before');
  rig.close();
  expect(rig.run()).toBe(5);
  const first = await rig.settled();
  expect(first.map((a) => a.status)).toEqual(Array(5).fill('fulfilled'));
  // Back to OPEN, as a fresh writer would run it, for the faulted phase.
  rig.state.setState(RingState.OPEN);
}

/** The groups of rejected acks, as `{ code, from, to }`, in seq order. */
function rejectedRuns(acks: readonly Settled[]): { code: string | undefined; from: number; to: number }[] {
  const runs: { code: string | undefined; from: number; to: number }[] = [];
  for (const a of acks) {
    if (a.status !== 'rejected') continue;
    const last = runs[runs.length - 1];
    if (last && last.code === a.code && last.to === a.seq - 1) last.to = a.seq;
    else runs.push({ code: a.code, from: a.seq, to: a.seq });
  }
  return runs;
}

type FaultCase = {
  readonly on: 'write' | 'fsync';
  readonly errno: InjectedErrno;
  readonly code: ErrorCode;
  readonly modes: readonly SyncMode[];
};
// 'none' acks on write, before any fdatasync: an fsync failure there is covered by its own test.
const faultCases: readonly FaultCase[] = [
  { on: 'write', errno: 'EIO', code: ErrorCodes.WAL_WRITE, modes: ['batch', 'always', 'interval', 'none'] },
  { on: 'write', errno: 'ENOSPC', code: ErrorCodes.DISK_FULL, modes: ['batch', 'always', 'interval', 'none'] },
  { on: 'fsync', errno: 'EIO', code: ErrorCodes.WAL_FSYNC, modes: ['batch', 'always', 'interval'] },
  { on: 'fsync', errno: 'ENOSPC', code: ErrorCodes.DISK_FULL, modes: ['batch', 'always', 'interval'] },
];

describe('runCommitLoop in one thread, with the fault fs', () => {
  for (const c of faultCases) {
    for (const mode of c.modes) {
      it(`${c.errno} on ${c.on} (${mode}): exactly the failed batch rejects with ${c.code}, later claims with WAL_FAULTED; the gap is written once it clears`, async () => {
        const rig = new Rig(mode);
        try {
          await commitFirstFive(rig);
          // All of 6..10 is in the ring before the loop starts: one drain takes them all
          // ('always' takes one frame per batch, so only seq 6 is in the failing batch).
          rig.emit(5, 'during');
          if (c.on === 'write') rig.faults.failWrites(c.errno);
          else rig.faults.failSyncs(c.errno);
          rig.onFault = () => {
            // Producers that claimed before they saw FAULTED: their seqs join the gap.
            rig.emit(3, 'raced');
            rig.faults.clear();
          };
          rig.onFaultCleared = () => {
            rig.emit(2, 'after');
            rig.close();
          };
          expect(rig.run()).toBe(15);

          const acks = await rig.settled();
          expect(acks.map((a) => a.seq)).toEqual(range(1, 15));
          const failedTo = mode === 'always' ? 6 : 10;
          expect(rejectedRuns(acks)).toEqual([
            { code: c.code, from: 6, to: failedTo },
            { code: ErrorCodes.WAL_FAULTED, from: failedTo + 1, to: 13 },
          ]);
          const what = failedTo === 6 ? 'seq 6' : 'seqs 6-10';
          expect(acks[5]?.message).toMatch(new RegExp(`^${what} not (written|durable)`));
          expect(acks[12]?.message).toBe(
            `seqs ${failedTo + 1}-13 rejected: the WAL is faulted by an earlier write or fsync error`,
          );
          expect(acks.filter((a) => a.status === 'fulfilled').map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 14, 15]);
          expect(rig.faultsSeen.map((e) => e.code)).toEqual([c.code]);
          expect(rig.cleared).toEqual([[6, 13]]);
          // The failed call, and the WAL's own undo of it (truncate or rollback sync), which the
          // still-failing fs refuses too; the WAL repairs the tail before its next append.
          expect(rig.faults.injected).toBe(2);
          expect(rig.state.resolvedSeq).toBe(15);
          expect(rig.state.durableSeq).toBe(15);
          rig.dispose();
          // Nothing of 6..13 is in the WAL; one gap record accounts for them.
          expect(await rig.stored()).toEqual([1, 2, 3, 4, 5, 14, 15]);
          const report = await verifyWal(rig.dir);
          expect(report.valid).toBe(true);
          expect(report.gaps).toBe(1);
        } finally {
          rig.waiter.dispose();
        }
      });
    }
  }

  it('a fault that persists is retried until it clears; the range stays exact and grows only by later claims', async () => {
    const rig = new Rig('batch');
    try {
      await commitFirstFive(rig);
      rig.emit(5, 'during');
      rig.faults.failWrites('EIO');
      rig.onFault = () => rig.emit(3, 'raced');
      // Two injections for the batch (write and its undo), the rest are retries of the gap record.
      rig.onInjected = (n) => {
        if (n === 6) rig.faults.clear();
      };
      rig.onFaultCleared = () => {
        rig.emit(2, 'after');
        rig.close();
      };
      expect(rig.run()).toBe(15);
      const acks = await rig.settled();
      expect(rejectedRuns(acks)).toEqual([
        { code: ErrorCodes.WAL_WRITE, from: 6, to: 10 },
        { code: ErrorCodes.WAL_FAULTED, from: 11, to: 13 },
      ]);
      expect(rig.faults.injected).toBe(6);
      // One fault, however many retries: the main thread hears of it once, and of the clearing once.
      expect(rig.faultsSeen).toHaveLength(1);
      expect(rig.cleared).toEqual([[6, 13]]);
      rig.dispose();
      expect(await rig.stored()).toEqual([1, 2, 3, 4, 5, 14, 15]);
      expect((await verifyWal(rig.dir)).valid).toBe(true);
    } finally {
      rig.waiter.dispose();
    }
  });

  it("'interval': a failed interval sync rejects every batch written since the last sync, as one range", async () => {
    const rig = new Rig('interval');
    try {
      await commitFirstFive(rig);
      // The loop's clock moves 1 ms per reading, and 60 s at once after the second batch's write:
      // the interval sync is due exactly then, with two batches (6..8 and 9..12) unsynced.
      let clockMs = 1_000_000;
      const nowMs = (): number => ++clockMs;
      rig.emit(3, 'first');
      let appends = 0;
      const original = rig.wal.appendBatch.bind(rig.wal);
      rig.wal.appendBatch = () => {
        original();
        appends++;
        if (appends === 1) {
          rig.emit(4, 'second');
        } else if (appends === 2) {
          rig.faults.failSyncs('EIO');
          clockMs += 60_000;
        }
      };
      const writtenAtSync: number[] = [];
      rig.beforeSync = () => writtenAtSync.push(rig.state.writtenSeq);
      rig.onFault = () => rig.faults.clear();
      rig.onFaultCleared = () => rig.close();
      expect(rig.run({ syncIntervalMs: 60_000, nowMs })).toBe(12);
      // Both batches were acked as 'written' (page cache) before the one fdatasync that failed.
      expect(writtenAtSync[0]).toBe(12);
      const acks = await rig.settled();
      expect(rejectedRuns(acks)).toEqual([{ code: ErrorCodes.WAL_FSYNC, from: 6, to: 12 }]);
      expect(acks[11]?.message).toBe('seqs 6-12 not durable: fdatasync failed; the records were removed from the WAL');
      expect(rig.cleared).toEqual([[6, 12]]);
      rig.dispose();
      expect(await rig.stored()).toEqual([1, 2, 3, 4, 5]);
    } finally {
      rig.waiter.dispose();
    }
  });

  it("'interval': a write failure first syncs the earlier unsynced batches, so no failure is published above an unsynced seq", async () => {
    const rig = new Rig('interval');
    try {
      await commitFirstFive(rig);
      rig.emit(3, 'written');
      let appends = 0;
      const original = rig.wal.appendBatch.bind(rig.wal);
      rig.wal.appendBatch = () => {
        appends++;
        if (appends === 2) rig.faults.failWrites('EIO');
        original();
        if (appends === 1) rig.emit(4, 'failing');
      };
      // When the fault is announced (just before its failure entry), 6..8 must already be durable: a producer that sees
      // RESOLVED_SEQ = 12 and no failure covering 6..8 takes them as durable.
      const atFault: { durable: number; resolved: number }[] = [];
      rig.onFault = () => {
        atFault.push({ durable: rig.state.durableSeq, resolved: rig.state.resolvedSeq });
        rig.faults.clear();
      };
      rig.onFaultCleared = () => rig.close();
      expect(rig.run({ syncIntervalMs: 60_000 })).toBe(12);
      expect(atFault).toEqual([{ durable: 8, resolved: 8 }]);
      const acks = await rig.settled();
      expect(rejectedRuns(acks)).toEqual([{ code: ErrorCodes.WAL_WRITE, from: 9, to: 12 }]);
      expect(acks[8]?.message).toBe('seqs 9-12 not written: the WAL write failed; nothing of it is in the WAL');
      rig.dispose();
      expect(await rig.stored()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      rig.waiter.dispose();
    }
  });

  /** A clock for the loop that throws once the loop has run 10 s past `since()`: a hang becomes a failure. */
  const watchdog = (skewMs: () => number): (() => number) => {
    const t0 = Date.now();
    return () => {
      if (Date.now() - t0 > 10_000) throw new Error('the loop did not end: CLOSING was lost');
      return Date.now() + skewMs();
    };
  };

  it('a close() that arrives while faulted survives the fault clearing at the same turn', async () => {
    const rig = new Rig('batch');
    try {
      await commitFirstFive(rig);
      rig.emit(5, 'during');
      rig.faults.failWrites('EIO');
      let skewMs = 0;
      rig.onFault = () => {
        // The main thread's close() lands now (it stores CLOSING), the disk recovers, and the
        // retry is already due when the loop next looks (the clock jumps past it).
        rig.close();
        rig.faults.clear();
        skewMs = 1_000;
      };
      expect(rig.run({ nowMs: watchdog(() => skewMs) })).toBe(10);
      expect(rig.state.state).toBe(RingState.CLOSING);
      expect(rig.cleared).toEqual([[6, 10]]);
      const acks = await rig.settled();
      expect(rejectedRuns(acks)).toEqual([{ code: ErrorCodes.WAL_WRITE, from: 6, to: 10 }]);
      rig.dispose();
      expect((await verifyWal(rig.dir)).gaps).toBe(1);
    } finally {
      rig.waiter.dispose();
    }
  });

  it('a close() that arrives while a write is failing is not overwritten by FAULTED', async () => {
    const rig = new Rig('batch');
    try {
      await commitFirstFive(rig);
      rig.emit(5, 'during');
      rig.faults.failWrites('EIO');
      rig.onInjected = (n) => {
        if (n === 1) rig.close();
      };
      rig.onFault = () => rig.faults.clear();
      expect(rig.run({ nowMs: watchdog(() => 0) })).toBe(10);
      // Producers were told CLOSING, never FAULTED, and the gap was written on the way out.
      expect(rig.state.state).toBe(RingState.CLOSING);
      expect(rig.cleared).toEqual([[6, 10]]);
      const acks = await rig.settled();
      expect(rejectedRuns(acks)).toEqual([{ code: ErrorCodes.WAL_WRITE, from: 6, to: 10 }]);
    } finally {
      rig.dispose();
      rig.waiter.dispose();
    }
  });

  // What producers have been told when the fdatasync that makes seq 20 durable starts.
  const atFirstSync = {
    batch: { resolved: 0, written: 0 },
    always: { resolved: 19, written: 19 },
    interval: { resolved: 0, written: 20 },
    none: { resolved: 20, written: 20 },
  } as const;
  for (const mode of ['batch', 'always', 'interval', 'none'] as const) {
    it(`${mode}: every record is committed in order, batches and fsyncs are counted`, async () => {
      const rig = new Rig(mode);
      try {
        rig.emit(20, 'ok');
        rig.close();
        const seen: { resolved: number; written: number }[] = [];
        rig.beforeSync = () => {
          if (rig.wal.lastSeq === 20 && rig.wal.syncedSeq < 20) {
            seen.push({ resolved: rig.state.resolvedSeq, written: rig.state.writtenSeq });
          }
        };
        expect(rig.run({ syncIntervalMs: 60_000 })).toBe(20);
        expect(seen).toEqual([atFirstSync[mode]]);
        const acks = await rig.settled();
        expect(acks.map((a) => [a.seq, a.status])).toEqual(range(1, 20).map((s) => [s, 'fulfilled']));
        const stats = new WriterStats(rig.sab).snapshot();
        expect(stats.records).toBe(20);
        // 'always': one record per batch, each with its own fdatasync.
        if (mode === 'always') {
          expect(stats.batches).toBe(20);
          expect(stats.fsyncs).toBe(20);
        } else {
          expect(stats.batches).toBe(1);
          expect(stats.fsyncs).toBe(1);
        }
        rig.dispose();
        expect(await rig.stored()).toEqual(range(1, 20));
      } finally {
        rig.waiter.dispose();
      }
    });
  }
});
