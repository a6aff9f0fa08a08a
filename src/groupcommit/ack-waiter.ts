/**
 * Producer-side half of group commit: one per thread. Keeps this thread's pending acks in seq
 * order and settles all of them with one `Atomics.waitAsync` on COMMIT_SIGNAL, however many are
 * outstanding (`docs/architecture.md`, "Data path").
 */
import { type ErrorCode, ErrorCodes, IronlogError } from '../core/errors.js';
import { FAILURE_ENTRIES, I32 } from '../ringbuffer/layout.js';
import { CommitState, type FailureRange, RingState, sharedErrorCode } from './commit-state.js';

/** What `emit()` resolves with. */
export interface Ack {
  /** The record's sequence number in the WAL (gap-free, from 1). */
  readonly seq: number;
}

interface PendingAck {
  firstSeq: number;
  lastSeq: number;
  /** true: resolve with one Ack per seq (emitBatch); false: one Ack (emit). */
  batch: boolean;
  resolve: (value: Ack | Ack[]) => void;
  reject: (err: IronlogError) => void;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
  reject: (err: IronlogError) => void;
}

/** Message for a failed seq range. */
function failureError(code: ErrorCode, from: number, to: number): IronlogError {
  const what = from === to ? `seq ${from}` : `seqs ${from}-${to}`;
  switch (code) {
    case ErrorCodes.DISK_FULL:
      return new IronlogError(code, `${what} not written: the disk is full (ENOSPC); nothing of it is in the WAL`);
    case ErrorCodes.WAL_WRITE:
      return new IronlogError(code, `${what} not written: the WAL write failed; nothing of it is in the WAL`);
    case ErrorCodes.WAL_FSYNC:
      return new IronlogError(code, `${what} not durable: fdatasync failed; the records were removed from the WAL`);
    case ErrorCodes.WAL_FAULTED:
      return new IronlogError(code, `${what} rejected: the WAL is faulted by an earlier write or fsync error`);
    default:
      return new IronlogError(code, `${what} failed (${code})`);
  }
}

/** Error for a sink that no longer accepts work, by STATE. */
export function stateError(state: number, faultCode: ErrorCode): IronlogError | undefined {
  switch (state) {
    case RingState.OPEN:
      return undefined;
    case RingState.FAULTED:
      return new IronlogError(
        ErrorCodes.WAL_FAULTED,
        `the WAL is faulted (${faultCode}); emits are refused until the writer clears the fault`,
      );
    case RingState.CLOSING:
    case RingState.CLOSED:
      return new IronlogError(ErrorCodes.CLOSED, 'the sink is closed');
    default:
      return new IronlogError(ErrorCodes.WORKER_EXITED, 'the writer worker has exited; the sink is unusable');
  }
}

/**
 * Tracks this thread's outstanding acks and settles them from shared memory.
 *
 * A pending `Atomics.waitAsync` does not keep Node's event loop alive (on Node 20 a process or
 * worker with only such waits pending exits, its promises unsettled), so while
 * anything is outstanding we hold a referenced interval timer; it is `unref()`ed when idle.
 */
export class AckWaiter {
  readonly #state: CommitState;
  readonly #acceptWritten: boolean;
  readonly #pending: PendingAck[] = [];
  #head = 0;
  readonly #flushes: FlushWaiter[] = [];
  #failures: FailureRange[] = [];
  #failureCursor: number;
  #armed = false;
  readonly #keepAlive: NodeJS.Timeout;
  #refed = false;
  #terminalError: IronlogError | undefined;

  constructor(sab: SharedArrayBuffer, ack: 'durable' | 'written') {
    this.#state = new CommitState(sab);
    this.#acceptWritten = ack === 'written';
    // Failures published before this thread attached concern other threads' seqs only.
    this.#failureCursor = this.#state.failureCount;
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#keepAlive.unref();
  }

  /** Number of emits (and emitBatch calls) whose ack is outstanding. */
  get pending(): number {
    return this.#pending.length - this.#head;
  }

  /**
   * Registers an ack for seqs `firstSeq..lastSeq` (claimed in this thread, in increasing order).
   * `batch: false` (emit) resolves with one {@link Ack}; `batch: true` (emitBatch) with one per seq.
   */
  add(firstSeq: number, lastSeq: number, batch: false): Promise<Ack>;
  add(firstSeq: number, lastSeq: number, batch: true): Promise<Ack[]>;
  add(firstSeq: number, lastSeq: number, batch: boolean): Promise<Ack | Ack[]>;
  add(firstSeq: number, lastSeq: number, batch: boolean): Promise<Ack | Ack[]> {
    const p = new Promise<Ack | Ack[]>((resolve, reject) => {
      this.#pending.push({ firstSeq, lastSeq, batch, resolve, reject });
    });
    if (this.#terminalError) {
      this.#settle();
    } else {
      this.#arm();
    }
    return p;
  }

  /** Resolves once every seq up to `target` is resolved (durable or failed). */
  flush(target: number): Promise<void> {
    if (this.#state.resolvedSeq >= target) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#flushes.push({ target, resolve, reject }));
    this.#arm();
    return p;
  }

  /**
   * Rejects everything outstanding with `err` and every later `add()` too. Used when the
   * writer worker exits: its last words may never have reached shared memory.
   */
  terminate(err: IronlogError): void {
    this.#terminalError = err;
    this.#settle();
  }

  /** Stops the keep-alive timer. */
  dispose(): void {
    clearInterval(this.#keepAlive);
  }

  #arm(): void {
    if (!this.#refed) {
      this.#keepAlive.ref();
      this.#refed = true;
    }
    if (this.#armed) return;
    this.#armed = true;
    this.#wait();
  }

  #wait(): void {
    // Load the signal BEFORE looking at the seqs: a publication after this load changes the
    // signal, so waitAsync returns at once instead of sleeping through it (no lost wake-up).
    const signal = this.#state.signal;
    this.#settle();
    if (this.pending === 0 && this.#flushes.length === 0) {
      this.#armed = false;
      if (this.#refed) {
        this.#keepAlive.unref();
        this.#refed = false;
      }
      return;
    }
    const res = Atomics.waitAsync(this.#state.i32, I32.COMMIT_SIGNAL, signal);
    if (res.async) {
      res.value.then(this.#onWake, this.#onWake);
    } else {
      queueMicrotask(this.#onWake);
    }
  }

  readonly #onWake = (): void => {
    this.#wait();
  };

  #settle(): void {
    if (this.#terminalError) {
      const err = this.#terminalError;
      for (let i = this.#head; i < this.#pending.length; i++) this.#pending[i]?.reject(err);
      this.#pending.length = 0;
      this.#head = 0;
      for (const f of this.#flushes.splice(0)) f.reject(err);
      return;
    }
    const st = this.#state;
    // Order matters: RESOLVED_SEQ before FAILURE_COUNT (see commit-state.ts).
    const resolved = st.resolvedSeq;
    const limit = this.#acceptWritten ? Math.max(resolved, st.writtenSeq) : resolved;
    const count = st.failureCount;
    let overflow = false;
    if (count - this.#failureCursor > FAILURE_ENTRIES) {
      overflow = true;
      this.#failureCursor = count - FAILURE_ENTRIES;
    }
    while (this.#failureCursor < count) {
      this.#failures.push(st.failure(this.#failureCursor));
      this.#failureCursor++;
    }
    const pending = this.#pending;
    while (this.#head < pending.length) {
      const item = pending[this.#head] as PendingAck;
      if (item.lastSeq > limit) break;
      pending[this.#head] = undefined as unknown as PendingAck;
      this.#head++;
      const failure = this.#failureFor(item.firstSeq, item.lastSeq);
      if (failure) {
        item.reject(failureError(sharedErrorCode(failure.codeIndex), failure.fromSeq, failure.toSeq));
      } else if (overflow) {
        // More failures happened than the table holds since we last looked: we cannot tell
        // whether this record was among them, so we must not claim it is durable.
        item.reject(
          new IronlogError(ErrorCodes.WAL_FAULTED, `seq ${item.firstSeq}: outcome unknown after repeated WAL faults`),
        );
      } else if (item.batch) {
        const acks: Ack[] = new Array(item.lastSeq - item.firstSeq + 1);
        for (let s = item.firstSeq, i = 0; s <= item.lastSeq; s++, i++) acks[i] = { seq: s };
        item.resolve(acks);
      } else {
        item.resolve({ seq: item.firstSeq });
      }
    }
    if (this.#head > 1024 && this.#head * 2 > pending.length) {
      pending.splice(0, this.#head);
      this.#head = 0;
    } else if (this.#head === pending.length) {
      pending.length = 0;
      this.#head = 0;
    }
    if (this.#failures.length > 0) {
      const oldest = this.#head < pending.length ? (pending[this.#head] as PendingAck).firstSeq : resolved + 1;
      this.#failures = this.#failures.filter((f) => f.toSeq >= oldest);
    }
    if (this.#flushes.length > 0) {
      for (let i = this.#flushes.length - 1; i >= 0; i--) {
        const f = this.#flushes[i] as FlushWaiter;
        if (resolved >= f.target) {
          this.#flushes.splice(i, 1);
          f.resolve();
        }
      }
    }
    // A writer that died or closed will publish nothing more: settle the rest now.
    const state = st.state;
    if (state === RingState.CLOSED || state === RingState.DEAD) {
      const err =
        state === RingState.DEAD
          ? new IronlogError(ErrorCodes.WORKER_EXITED, 'the writer worker exited before these events were durable')
          : new IronlogError(ErrorCodes.CLOSED, 'the sink closed before these events were written');
      this.#terminalError = err;
      if (this.pending > 0 || this.#flushes.length > 0) this.#settle();
    }
  }

  #failureFor(first: number, last: number): FailureRange | undefined {
    for (const f of this.#failures) {
      if (f.fromSeq <= last && f.toSeq >= first) return f;
    }
    return undefined;
  }
}
