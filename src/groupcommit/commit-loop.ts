/**
 * Writer-side half of group commit: drain the ring, append each batch to the WAL with one write,
 * fdatasync, publish. Runs synchronously in the writer worker (it blocks in `Atomics.wait` when
 * idle), and just as well in a test's own thread.
 *
 * Batching is natural: while one fdatasync runs, producers keep publishing, and the next drain
 * takes all of it (up to `maxBatchBytes`). See DESIGN §2 and `docs/durability.md`.
 */
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import type { SyncMode } from '../core/sync-mode.js';
import type { RingConsumer } from '../ringbuffer/ring.js';
import type { WalWriter } from '../wal/writer.js';
import { CommitState, RingState, sharedErrorIndex } from './commit-state.js';
import { WriterStats } from './writer-stats.js';

/** The batching policy of the loop: the resolved sink options it acts on. */
export interface CommitPolicy {
  readonly syncMode: SyncMode;
  readonly syncIntervalMs: number;
  readonly maxBatchBytes: number;
  /** How long a faulted writer waits between attempts to clear the fault. */
  readonly faultRetryMs: number;
}

/** What the loop needs from its surroundings (all injectable for tests). */
export interface CommitLoopDeps {
  readonly consumer: RingConsumer;
  readonly wal: WalWriter;
  readonly sab: SharedArrayBuffer;
  readonly init: CommitPolicy;
  readonly nowMs?: () => number;
  /** Called when the WAL faults and when the fault clears (the worker turns these into messages). */
  readonly onFault?: (error: IronlogError) => void;
  readonly onFaultCleared?: (gapFromSeq: number, gapToSeq: number) => void;
  /** Record payload encryption (issue 11), when on. */
  readonly sealer?: RecordSealerHook | undefined;
}

/** What the loop needs to encrypt record payloads (implemented in `compliance/record-crypto.ts`). */
export interface RecordSealerHook {
  /** A data key is ready for the next batch (rotating when due); false when none came in time. */
  prepare(segmentFirstSeq: number): boolean;
  /** The encrypted record body of one payload. */
  seal(seq: number, src: Uint8Array, offset: number, bytes: number): Uint8Array;
  /** What the records of a batch fail with when `prepare` returned false. */
  readonly unavailable: IronlogError;
}

/** How long the loop sleeps when idle and nothing else is due. */
const kIdleWaitMs = 250;
/** How often a busy loop checks whether the open segment is due to be sealed by age. */
const kAgeCheckEveryMs = 1_000;
/** How long a closing writer waits for a producer that claimed space but has not published. */
const kClosingClaimGraceMs = 2_000;

interface Fault {
  error: IronlogError;
  gapFromSeq: number;
  gapToSeq: number;
  nextRetryMs: number;
}

/**
 * Runs until the main thread sets STATE to CLOSING and everything published is resolved.
 * Returns the last seq in the WAL. Throws only for bugs (INTERNAL) or a failed open-time step;
 * I/O errors on the write path become failures published to the producers.
 */
export function runCommitLoop(deps: CommitLoopDeps): number {
  const { consumer, wal, init } = deps;
  const now = deps.nowMs ?? Date.now;
  const state = new CommitState(deps.sab);
  const stats = new WriterStats(deps.sab);
  const syncEveryBatch = init.syncMode === 'batch' || init.syncMode === 'always';
  // 'always' = one record per batch, one fdatasync per record. `drain` always takes at least one frame.
  const sealer = deps.sealer;
  // Encrypted WAL frames are up to 3x a tiny ring frame (kid + tag): drain less, so a batch
  // still fits in an empty segment.
  const drainBytes = init.syncMode === 'always' ? 1 : sealer ? Math.ceil(init.maxBatchBytes / 3) : init.maxBatchBytes;
  let lastSyncMs = now();
  let fault: Fault | undefined;
  let closingSinceMs = 0;
  let lastAgeCheckMs = now();
  const batch = wal.batch;

  const visit = sealer
    ? (data: Uint8Array, payloadOffset: number, payloadBytes: number, seq: number, timeUs: number): void => {
        const body = sealer.seal(seq, data, payloadOffset, payloadBytes);
        batch.addRecord(seq, timeUs, 1 /* RecordFlags.ENCRYPTED */, body, 0, body.length);
      }
    : (data: Uint8Array, payloadOffset: number, payloadBytes: number, seq: number, timeUs: number): void => {
        batch.addRecord(seq, timeUs, 0, data, payloadOffset, payloadBytes);
      };
  const visitRejected = (_d: Uint8Array, _o: number, _b: number, seq: number): void => {
    // Faulted: the frame's seq is consumed (it becomes part of the gap) and its ack rejects.
    if (fault) fault.gapToSeq = seq;
  };

  const enterFault = (error: IronlogError, fromSeq: number, toSeq: number): void => {
    const codeIndex = sharedErrorIndex(error.code);
    if (fault) {
      fault.gapToSeq = Math.max(fault.gapToSeq, toSeq);
      fault.error = error;
    } else {
      fault = { error, gapFromSeq: fromSeq, gapToSeq: toSeq, nextRetryMs: now() + init.faultRetryMs };
      state.setState(RingState.FAULTED, codeIndex);
      deps.onFault?.(error);
    }
    state.publishFailure(fromSeq, toSeq, codeIndex);
  };

  const asIoError = (err: unknown): IronlogError =>
    isIronlogError(err) ? err : new IronlogError(ErrorCodes.INTERNAL, String(err), { cause: err });

  /**
   * After a failed WAL step: every seq up to `toSeq` that the WAL no longer holds is rejected. A
   * failed fdatasync during a roll or an age seal rolls the WAL back to its last synced record, so
   * the failed range starts at the WAL's end as it is now, which may be before the current batch.
   */
  const failBeyondWal = (err: unknown, toSeq: number): void => {
    const fromSeq = wal.lastSeq + 1;
    enterFault(asIoError(err), fromSeq, Math.max(fromSeq - 1, toSeq));
  };

  /** Seals the open segment if it is old enough; a failure rejects whatever the WAL lost. */
  const sealIfDue = (nowMs: number): boolean => {
    const before = wal.lastSeq;
    try {
      // A seal is counted by the WAL's onSealed hook (see workers/writer/entry.ts).
      return wal.sealIfOlderThan(nowMs);
    } catch (err) {
      if (wal.lastSeq < before) failBeyondWal(err, before);
      // Nothing lost (the seal's write was undone): report it; the seal is retried on a later turn.
      else deps.onFault?.(asIoError(err));
      return false;
    }
  };

  /** fdatasync; on failure everything not yet synced is rolled back by the WAL and rejected. */
  const sync = (): void => {
    const unsyncedFrom = wal.syncedSeq + 1;
    const unsyncedTo = wal.lastSeq;
    const t0 = performance.now();
    try {
      wal.sync();
    } catch (err) {
      if (unsyncedTo >= unsyncedFrom) enterFault(asIoError(err), unsyncedFrom, unsyncedTo);
      else enterFault(asIoError(err), unsyncedFrom, unsyncedFrom - 1);
      return;
    }
    stats.recordFsync((performance.now() - t0) / 1000);
    lastSyncMs = now();
    if (wal.syncedSeq > state.resolvedSeq) state.publishDurable(wal.syncedSeq);
  };

  /** Faulted: try to write the gap record that accounts for every rejected seq, and sync it. */
  const tryClearFault = (f: Fault): void => {
    f.nextRetryMs = now() + init.faultRetryMs;
    try {
      if (f.gapToSeq >= f.gapFromSeq) {
        batch.addGap(f.gapFromSeq, f.gapToSeq, 2, { code: f.error.code, message: f.error.message });
        wal.appendBatch();
      }
      wal.sync();
    } catch {
      batch.reset();
      return;
    }
    fault = undefined;
    state.publishDurable(wal.syncedSeq);
    state.setState(RingState.OPEN);
    deps.onFaultCleared?.(f.gapFromSeq, f.gapToSeq);
  };

  for (;;) {
    if (consumer.hasData()) {
      if (fault) {
        const fromSeq = fault.gapToSeq + 1;
        const n = consumer.drain(init.maxBatchBytes, visitRejected);
        consumer.release();
        if (n > 0) state.publishFailure(fromSeq, fault.gapToSeq, sharedErrorIndex(ErrorCodes.WAL_FAULTED));
        continue;
      }
      if (sealer && !sealer.prepare(wal.segmentFirstSeq)) {
        // No data key: fail closed (the frames are rejected through the fault path, never stored in clear).
        enterFault(sealer.unavailable, wal.lastSeq + 1, wal.lastSeq);
        continue;
      }
      const n = consumer.drain(drainBytes, visit);
      // The batch builder holds its own copy of every payload: the ring space can go back now.
      consumer.release();
      if (n === 0) continue;
      // Read before appendBatch: it resets the builder, also when it fails.
      const lastSeq = batch.lastSeq;
      const bytes = batch.bytes;
      try {
        wal.appendBatch();
      } catch (err) {
        batch.reset();
        // Settle what earlier batches left unsynced ('interval' mode) before this batch's failure,
        // so failures are published in seq order and the gap starts right after the WAL's end.
        if (!fault && wal.lastSeq > wal.syncedSeq) sync();
        failBeyondWal(err, lastSeq);
        continue;
      }
      stats.recordBatch(n, bytes, wal.walBytes);
      if (now() - lastAgeCheckMs >= kAgeCheckEveryMs) {
        // Under steady load the loop is rarely idle: check the segment's age here too.
        lastAgeCheckMs = now();
        sealIfDue(lastAgeCheckMs);
        if (fault) continue;
      }
      if (syncEveryBatch) {
        sync();
      } else if (init.syncMode === 'none') {
        state.publishDurable(lastSeq);
      } else {
        state.publishWritten(lastSeq);
        if (now() - lastSyncMs >= init.syncIntervalMs) sync();
      }
      continue;
    }

    // Idle: nothing published right now.
    const t = now();
    const unsynced = wal.lastSeq > wal.syncedSeq;
    if (unsynced && !fault && (init.syncMode !== 'interval' || t - lastSyncMs >= init.syncIntervalMs)) {
      sync();
      continue;
    }
    if (fault && t >= fault.nextRetryMs) {
      tryClearFault(fault);
      continue;
    }
    if (state.state === RingState.CLOSING) {
      if (closingSinceMs === 0) closingSinceMs = t;
      // A producer may have claimed space and not yet published it; give it a moment.
      if (consumer.hasUnpublishedClaims() && t - closingSinceMs < kClosingClaimGraceMs) {
        consumer.waitForData(5);
        continue;
      }
      if (fault) tryClearFault(fault);
      if (wal.lastSeq > wal.syncedSeq) sync();
      return wal.lastSeq;
    }
    if (!fault) {
      if (sealIfDue(t) || fault) continue;
      try {
        wal.maintain(1);
      } catch (err) {
        // Zero-filling failed: no record is affected, but the disk is in trouble. Retried on the
        // next idle turn; the next append reports its own error if it persists.
        deps.onFault?.(asIoError(err));
      }
    }
    let timeout = kIdleWaitMs;
    if (init.syncMode === 'interval' && wal.lastSeq > wal.syncedSeq) {
      timeout = Math.max(0, Math.min(timeout, init.syncIntervalMs - (t - lastSyncMs)));
    }
    if (fault) timeout = Math.max(0, Math.min(timeout, fault.nextRetryMs - t));
    consumer.waitForData(timeout);
  }
}
