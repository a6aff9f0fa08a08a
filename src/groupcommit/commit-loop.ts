/**
 * Writer-side half of group commit: drain the ring, append each batch to the WAL with one write,
 * fdatasync, publish. Runs synchronously in the writer worker (it blocks in `Atomics.wait` when
 * idle), and just as well in a test's own thread.
 *
 * Batching is natural: while one fdatasync runs, producers keep publishing, and the next drain
 * takes all of it (up to `maxBatchBytes`). See `docs/architecture.md` and `docs/durability.md`.
 */
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import type { SyncMode } from '../core/sync-mode.js';
import type { RingConsumer } from '../ringbuffer/ring.js';
import type { WalWriter } from '../wal/writer.js';
import { CommitState, RingState, sharedErrorIndex } from './commit-state.js';
import { LatencyTrace, TraceLeg, traceNowUs } from './trace.js';
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
  /**
   * Called when the WAL faults and when the fault clears (the worker turns these into messages).
   * `rejecting` is true when the fault put the ring in FAULTED (acks are rejected until
   * `onFaultCleared`); false for a fault that lost nothing and is retried (zero-fill ahead, an
   * age seal whose write was undone).
   */
  readonly onFault?: (error: IronlogError, rejecting: boolean) => void;
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
  return new CommitLoop(deps).run();
}

/**
 * A commit loop driven one turn at a time, for a writer thread that serves several WALs (a sink
 * group, `workers/writer/group-entry.ts`): {@link SteppedCommitLoop.step} never blocks; the
 * caller sleeps on every ring at once (`RingConsumer.armWait`) for at most the returned time.
 */
export interface SteppedCommitLoop {
  /**
   * Runs one turn: commits what the ring holds, or does the idle work. Returns 0 (call again at
   * once), a positive number of milliseconds to sleep at most (or until data arrives), or -1
   * (closing, everything resolved: the loop is done and the WAL may be closed). Throws only as
   * {@link runCommitLoop} does (bugs).
   */
  step(): number;
}

/** The loop of {@link runCommitLoop}, stepped by the caller instead of blocking. */
export function createSteppedCommitLoop(deps: CommitLoopDeps): SteppedCommitLoop {
  const loop = new CommitLoop(deps, false);
  return { step: () => loop.step() };
}

/** What an idle turn decided. */
enum IdleTurn {
  /** Something was done (or is due): look at the ring again at once. */
  Again,
  /** Nothing to do: wait for data (or the next deadline). */
  Wait,
  /** Closing, and everything is resolved: the loop ends. */
  Done,
}

const asIoError = (err: unknown): IronlogError =>
  isIronlogError(err) ? err : new IronlogError(ErrorCodes.INTERNAL, String(err), { cause: err });

/**
 * The loop's state and its steps. One turn either commits what the ring holds
 * ({@link CommitLoop.commitTurn}) or, with the ring empty, does the idle work
 * ({@link CommitLoop.idleTurn}) and then sleeps in {@link CommitLoop.waitForWork}.
 */
class CommitLoop {
  readonly #deps: CommitLoopDeps;
  readonly #consumer: RingConsumer;
  readonly #wal: WalWriter;
  readonly #policy: CommitPolicy;
  readonly #now: () => number;
  readonly #state: CommitState;
  readonly #stats: WriterStats;
  /** Latency trace (off unless the bench switches it on; see trace.ts). */
  readonly #trace: LatencyTrace;
  /** Trace clock at the start of the current drain (only while tracing). */
  #drainUs = 0;
  /** Records drained while tracing and not yet durable (counted into drain->durable at the sync). */
  #tracedUnsynced = 0;
  readonly #syncEveryBatch: boolean;
  /** 'always' = one record per batch, one fdatasync per record. `drain` always takes at least one frame. */
  readonly #drainBytes: number;
  #lastSyncMs: number;
  #lastAgeCheckMs: number;
  #closingSinceMs = 0;
  #fault: Fault | undefined;
  /** False when stepped ({@link createSteppedCommitLoop}): no turn may block the thread. */
  readonly #blocking: boolean;

  constructor(deps: CommitLoopDeps, blocking = true) {
    this.#blocking = blocking;
    this.#deps = deps;
    this.#consumer = deps.consumer;
    this.#wal = deps.wal;
    this.#policy = deps.init;
    this.#now = deps.nowMs ?? Date.now;
    this.#state = new CommitState(deps.sab);
    this.#stats = new WriterStats(deps.sab);
    this.#trace = new LatencyTrace(deps.sab);
    this.#syncEveryBatch = deps.init.syncMode === 'batch' || deps.init.syncMode === 'always';
    // Encrypted WAL frames are up to 3x a tiny ring frame (kid + tag, issue 11): drain less, so
    // a batch still fits in an empty segment.
    this.#drainBytes =
      deps.init.syncMode === 'always'
        ? 1
        : deps.sealer
          ? Math.ceil(deps.init.maxBatchBytes / 3)
          : deps.init.maxBatchBytes;
    this.#lastSyncMs = this.#now();
    this.#lastAgeCheckMs = this.#now();
  }

  run(): number {
    for (;;) {
      if (this.#consumer.hasData()) {
        this.busyTurn();
        continue;
      }
      const t = this.#now();
      const next = this.idleTurn(t);
      if (next === IdleTurn.Done) return this.#wal.lastSeq;
      if (next === IdleTurn.Wait) this.waitForWork(t);
    }
  }

  /** One turn of {@link run} without the wait: see {@link SteppedCommitLoop.step}. */
  step(): number {
    if (this.#consumer.hasData()) {
      this.busyTurn();
      return 0;
    }
    const t = this.#now();
    const next = this.idleTurn(t);
    if (next === IdleTurn.Done) return -1;
    if (next === IdleTurn.Again) return 0;
    return Math.max(1, this.waitTimeoutMs(t));
  }

  /** The ring holds frames: reject them (faulted), fail them (no data key) or commit them. */
  busyTurn(): void {
    if (this.#fault) this.rejectWhileFaulted(this.#fault);
    else if (this.#deps.sealer && !this.#deps.sealer.prepare(this.#wal.segmentFirstSeq)) {
      // No data key: fail closed (the frames are rejected through the fault path, never stored in clear).
      this.enterFault(this.#deps.sealer.unavailable, this.#wal.lastSeq + 1, this.#wal.lastSeq);
    } else this.commitTurn();
  }

  // ---- busy turns ----------------------------------------------------------------------------

  /** Faulted: every published frame's seq joins the gap and its ack rejects with WAL_FAULTED. */
  rejectWhileFaulted(fault: Fault): void {
    const fromSeq = fault.gapToSeq + 1;
    const n = this.#consumer.drain(this.#policy.maxBatchBytes, this.#visitRejected);
    this.#consumer.release();
    if (n > 0) this.#state.publishFailure(fromSeq, fault.gapToSeq, sharedErrorIndex(ErrorCodes.WAL_FAULTED));
  }

  /** Drains one batch, appends it with one write, then seals by age if due and publishes or syncs it. */
  commitTurn(): void {
    const tracing = this.#trace.enabled;
    if (tracing) this.#drainUs = traceNowUs();
    const n = this.#consumer.drain(this.#drainBytes, tracing ? this.#visitTraced : this.#visit);
    // The batch builder holds its own copy of every payload: the ring space can go back now.
    this.#consumer.release();
    if (n === 0) return;
    const batch = this.#wal.batch;
    // Read before appendBatch: it resets the builder, also when it fails.
    const lastSeq = batch.lastSeq;
    const bytes = batch.bytes;
    if (!this.appendBatch(lastSeq)) return;
    if (tracing) this.#tracedUnsynced += n;
    this.#stats.recordBatch(n, bytes, this.#wal.walBytes);
    if (this.#now() - this.#lastAgeCheckMs >= kAgeCheckEveryMs) {
      // Under steady load the loop is rarely idle: check the segment's age here too.
      this.#lastAgeCheckMs = this.#now();
      this.sealIfDue(this.#lastAgeCheckMs);
      if (this.#fault) return;
    }
    this.publishBatch(lastSeq);
  }

  /** Writes the drained batch; on failure rejects everything the WAL does not hold and returns false. */
  appendBatch(lastSeq: number): boolean {
    const wal = this.#wal;
    try {
      wal.appendBatch();
      return true;
    } catch (err) {
      wal.batch.reset();
      // Settle what earlier batches left unsynced ('interval' mode) before this batch's failure,
      // so failures are published in seq order and the gap starts right after the WAL's end.
      if (!this.#fault && wal.lastSeq > wal.syncedSeq) this.sync();
      this.failBeyondWal(err, lastSeq);
      return false;
    }
  }

  /** After a successful append: sync it (batch, always), ack it as written (interval) or at once (none). */
  publishBatch(lastSeq: number): void {
    const policy = this.#policy;
    if (this.#syncEveryBatch) {
      this.sync();
    } else if (policy.syncMode === 'none') {
      this.#state.publishDurable(lastSeq);
    } else {
      this.#state.publishWritten(lastSeq);
      if (this.#now() - this.#lastSyncMs >= policy.syncIntervalMs) this.sync();
    }
  }

  // ---- idle turns ----------------------------------------------------------------------------

  /** Nothing published right now: sync what is due, retry a fault, close, or do maintenance. */
  idleTurn(t: number): IdleTurn {
    const wal = this.#wal;
    const unsynced = wal.lastSeq > wal.syncedSeq;
    if (
      unsynced &&
      !this.#fault &&
      (this.#policy.syncMode !== 'interval' || t - this.#lastSyncMs >= this.#policy.syncIntervalMs)
    ) {
      this.sync();
      return IdleTurn.Again;
    }
    if (this.#fault && t >= this.#fault.nextRetryMs) {
      this.tryClearFault(this.#fault);
      return IdleTurn.Again;
    }
    if (this.#state.state === RingState.CLOSING) return this.closingTurn(t);
    if (!this.#fault) {
      if (this.sealIfDue(t) || this.#fault) return IdleTurn.Again;
      this.maintain();
    }
    return IdleTurn.Wait;
  }

  /** CLOSING: give unpublished claims a grace period, then clear any fault, sync, and end. */
  closingTurn(t: number): IdleTurn {
    if (this.#closingSinceMs === 0) this.#closingSinceMs = t;
    // A producer may have claimed space and not yet published it; give it a moment.
    if (this.#consumer.hasUnpublishedClaims() && t - this.#closingSinceMs < kClosingClaimGraceMs) {
      if (!this.#blocking) return IdleTurn.Wait; // waitTimeoutMs caps the sleep at 5 ms
      this.#consumer.waitForData(5);
      return IdleTurn.Again;
    }
    if (this.#fault) this.tryClearFault(this.#fault);
    if (this.#wal.lastSeq > this.#wal.syncedSeq) this.sync();
    return IdleTurn.Done;
  }

  /** Zero-fills ahead in the open segment, one millisecond's worth. */
  maintain(): void {
    try {
      this.#wal.maintain(1);
    } catch (err) {
      // Zero-filling failed: no record is affected, but the disk is in trouble. Retried on the
      // next idle turn; the next append reports its own error if it persists.
      this.#deps.onFault?.(asIoError(err), false);
    }
  }

  /** Sleeps until data arrives or the next deadline (interval sync, fault retry) is due. */
  waitForWork(t: number): void {
    this.#consumer.waitForData(this.waitTimeoutMs(t));
  }

  /** How long an idle loop may sleep: until the next deadline (interval sync, fault retry, closing grace). */
  waitTimeoutMs(t: number): number {
    let timeout = this.#closingSinceMs !== 0 ? 5 : kIdleWaitMs;
    if (this.#policy.syncMode === 'interval' && this.#wal.lastSeq > this.#wal.syncedSeq) {
      timeout = Math.max(0, Math.min(timeout, this.#policy.syncIntervalMs - (t - this.#lastSyncMs)));
    }
    if (this.#fault) timeout = Math.max(0, Math.min(timeout, this.#fault.nextRetryMs - t));
    return timeout;
  }

  // ---- WAL steps and fault handling -----------------------------------------------------------

  readonly #visit = (
    data: Uint8Array,
    payloadOffset: number,
    payloadBytes: number,
    seq: number,
    timeUs: number,
  ): void => {
    const sealer = this.#deps.sealer;
    if (sealer) {
      // Record encryption (issue 11): the body is the ciphertext, flags bit 0 (RecordFlags.ENCRYPTED).
      const body = sealer.seal(seq, data, payloadOffset, payloadBytes);
      this.#wal.batch.addRecord(seq, timeUs, 1, body, 0, body.length);
      return;
    }
    this.#wal.batch.addRecord(seq, timeUs, 0, data, payloadOffset, payloadBytes);
  };

  readonly #visitTraced = (
    data: Uint8Array,
    payloadOffset: number,
    payloadBytes: number,
    seq: number,
    timeUs: number,
  ): void => {
    this.#trace.add(TraceLeg.EMIT_TO_DRAIN, this.#drainUs - timeUs);
    // The same record path as untraced (encryption included): only the sample is extra.
    this.#visit(data, payloadOffset, payloadBytes, seq, timeUs);
  };

  readonly #visitRejected = (_d: Uint8Array, _o: number, _b: number, seq: number): void => {
    // Faulted: the frame's seq is consumed (it becomes part of the gap) and its ack rejects.
    if (this.#fault) this.#fault.gapToSeq = seq;
  };

  /** Publishes `fromSeq..toSeq` as failed with `error`; the first failure also faults the ring. */
  enterFault(error: IronlogError, fromSeq: number, toSeq: number): void {
    const codeIndex = sharedErrorIndex(error.code);
    const fault = this.#fault;
    if (fault) {
      fault.gapToSeq = Math.max(fault.gapToSeq, toSeq);
      fault.error = error;
    } else {
      this.#fault = {
        error,
        gapFromSeq: fromSeq,
        gapToSeq: toSeq,
        nextRetryMs: this.#now() + this.#policy.faultRetryMs,
      };
      // Not over a CLOSING the main thread stored meanwhile: the fault is tracked here either way.
      this.#state.transition(RingState.OPEN, RingState.FAULTED, codeIndex);
      this.#deps.onFault?.(error, true);
    }
    this.#state.publishFailure(fromSeq, toSeq, codeIndex);
  }

  /**
   * After a failed WAL step: every seq up to `toSeq` that the WAL no longer holds is rejected. A
   * failed fdatasync during a roll or an age seal rolls the WAL back to its last synced record, so
   * the failed range starts at the WAL's end as it is now, which may be before the current batch.
   */
  failBeyondWal(err: unknown, toSeq: number): void {
    const fromSeq = this.#wal.lastSeq + 1;
    this.enterFault(asIoError(err), fromSeq, Math.max(fromSeq - 1, toSeq));
  }

  /** Seals the open segment if it is old enough; a failure rejects whatever the WAL lost. */
  sealIfDue(nowMs: number): boolean {
    const wal = this.#wal;
    const before = wal.lastSeq;
    try {
      // A seal is counted by the WAL's onSealed hook (see workers/writer/entry.ts).
      return wal.sealIfOlderThan(nowMs);
    } catch (err) {
      if (wal.lastSeq < before) this.failBeyondWal(err, before);
      // Nothing lost (the seal's write was undone): report it; the seal is retried on a later turn.
      else this.#deps.onFault?.(asIoError(err), false);
      return false;
    }
  }

  /** fdatasync; on failure everything not yet synced is rolled back by the WAL and rejected. */
  sync(): void {
    const wal = this.#wal;
    const unsyncedFrom = wal.syncedSeq + 1;
    const unsyncedTo = wal.lastSeq;
    const t0 = performance.now();
    try {
      wal.sync();
    } catch (err) {
      if (unsyncedTo >= unsyncedFrom) this.enterFault(asIoError(err), unsyncedFrom, unsyncedTo);
      else this.enterFault(asIoError(err), unsyncedFrom, unsyncedFrom - 1);
      return;
    }
    this.#stats.recordFsync((performance.now() - t0) / 1000);
    this.#lastSyncMs = this.#now();
    if (wal.syncedSeq > this.#state.resolvedSeq) {
      if (this.#tracedUnsynced > 0) {
        // Before the publication, so a woken producer never sees its ack without this leg.
        // With several batches per sync ('interval'), the last drain's time stands for all.
        const t = traceNowUs();
        this.#trace.durableAtUs = t;
        this.#trace.add(TraceLeg.DRAIN_TO_DURABLE, t - this.#drainUs, this.#tracedUnsynced);
        this.#tracedUnsynced = 0;
      } else if (this.#trace.enabled) {
        this.#trace.durableAtUs = traceNowUs();
      }
      this.#state.publishDurable(wal.syncedSeq);
    }
  }

  /** Faulted: try to write the gap record that accounts for every rejected seq, and sync it. */
  tryClearFault(f: Fault): void {
    const wal = this.#wal;
    f.nextRetryMs = this.#now() + this.#policy.faultRetryMs;
    try {
      if (f.gapToSeq >= f.gapFromSeq) {
        wal.batch.addGap(f.gapFromSeq, f.gapToSeq, 2, { code: f.error.code, message: f.error.message });
        wal.appendBatch();
      }
      wal.sync();
    } catch {
      wal.batch.reset();
      return;
    }
    this.#fault = undefined;
    this.#state.publishDurable(wal.syncedSeq);
    // Back to OPEN only from FAULTED: a close() that arrived while faulted keeps its CLOSING.
    this.#state.transition(RingState.FAULTED, RingState.OPEN);
    this.#deps.onFaultCleared?.(f.gapFromSeq, f.gapToSeq);
  }
}
