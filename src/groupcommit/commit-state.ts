/**
 * The group-commit words of the shared control block: what the writer publishes (written,
 * durable and resolved seqs, failures, state) and what every producer thread reads to settle its
 * acks. Offsets come from `ringbuffer/layout.ts`; this module gives them meaning.
 *
 * Publication order (the writer) and observation order (producers) are what make this correct:
 *  - the writer writes a failure entry, then bumps FAILURE_COUNT, then stores RESOLVED_SEQ, then
 *    bumps COMMIT_SIGNAL and notifies;
 *  - a producer loads COMMIT_SIGNAL (to wait on it later), then RESOLVED_SEQ, then FAILURE_COUNT.
 * All are seq-cst Atomics, so a producer that sees RESOLVED_SEQ >= s also sees every failure entry
 * covering s.
 */
import { type ErrorCode, ErrorCodes } from '../core/errors.js';
import { controlViews, FAILURE_ENTRIES, FAILURE_ENTRY_WORDS, I32, I64, RingState } from '../ringbuffer/layout.js';

export { RingState };

/** One failed seq range as read from the failure table. */
export interface FailureRange {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly codeIndex: number;
}

/** Typed views over the group-commit words of one ring SAB. */
export class CommitState {
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    const v = controlViews(sab);
    this.i32 = v.i32;
    this.i64 = v.i64;
  }

  get state(): number {
    return Atomics.load(this.i32, I32.STATE);
  }

  get faultCodeIndex(): number {
    return Atomics.load(this.i32, I32.FAULT_CODE);
  }

  get resolvedSeq(): number {
    return Number(Atomics.load(this.i64, I64.RESOLVED_SEQ));
  }

  get durableSeq(): number {
    return Number(Atomics.load(this.i64, I64.DURABLE_SEQ));
  }

  get writtenSeq(): number {
    return Number(Atomics.load(this.i64, I64.WRITTEN_SEQ));
  }

  get signal(): number {
    return Atomics.load(this.i32, I32.COMMIT_SIGNAL);
  }

  get failureCount(): number {
    return Atomics.load(this.i32, I32.FAILURE_COUNT);
  }

  /** Reads failure entry number `n` (0-based, counting every entry ever written). */
  failure(n: number): FailureRange {
    const base = I64.FAILURE_TABLE + (n % FAILURE_ENTRIES) * FAILURE_ENTRY_WORDS;
    return {
      fromSeq: Number(Atomics.load(this.i64, base)),
      toSeq: Number(Atomics.load(this.i64, base + 1)),
      codeIndex: Number(Atomics.load(this.i64, base + 2)),
    };
  }

  // ---- writer side -------------------------------------------------------------------------

  /** Wakes every producer's ack waiter. */
  notify(): void {
    Atomics.add(this.i32, I32.COMMIT_SIGNAL, 1);
    Atomics.notify(this.i32, I32.COMMIT_SIGNAL);
  }

  /** Records are in the page cache through `seq` (ack level `'written'`). */
  publishWritten(seq: number): void {
    Atomics.store(this.i64, I64.WRITTEN_SEQ, BigInt(seq));
    this.notify();
  }

  /** Records are fdatasync'd through `seq`: durable acks up to it resolve. */
  publishDurable(seq: number): void {
    const s = BigInt(seq);
    if (Atomics.load(this.i64, I64.WRITTEN_SEQ) < s) Atomics.store(this.i64, I64.WRITTEN_SEQ, s);
    Atomics.store(this.i64, I64.DURABLE_SEQ, s);
    Atomics.store(this.i64, I64.RESOLVED_SEQ, s);
    this.notify();
  }

  /** Seqs `fromSeq..toSeq` failed with `codeIndex`: their acks reject. */
  publishFailure(fromSeq: number, toSeq: number, codeIndex: number): void {
    const n = Atomics.load(this.i32, I32.FAILURE_COUNT);
    const base = I64.FAILURE_TABLE + (n % FAILURE_ENTRIES) * FAILURE_ENTRY_WORDS;
    Atomics.store(this.i64, base, BigInt(fromSeq));
    Atomics.store(this.i64, base + 1, BigInt(toSeq));
    Atomics.store(this.i64, base + 2, BigInt(codeIndex));
    // The entry is complete before the count says it exists, and the count before RESOLVED_SEQ.
    Atomics.store(this.i32, I32.FAILURE_COUNT, n + 1);
    if (Atomics.load(this.i64, I64.RESOLVED_SEQ) < BigInt(toSeq)) {
      Atomics.store(this.i64, I64.RESOLVED_SEQ, BigInt(toSeq));
    }
    this.notify();
  }

  /**
   * Writer-side change of STATE that never overwrites a state another thread set meanwhile: STATE
   * becomes `to` only if it is still `from` (a compare-and-swap). The main thread's CLOSING must
   * survive a fault that starts or clears at the same moment, or the writer would never see it and
   * `close()` would wait forever. Returns whether STATE changed.
   */
  transition(from: number, to: number, faultCodeIndex = 0): boolean {
    // FAULT_CODE first, as in setState: whoever sees the new STATE reads its code. When the swap
    // fails the code is stale but unread: only FAULTED consults it.
    Atomics.store(this.i32, I32.FAULT_CODE, faultCodeIndex);
    const changed = Atomics.compareExchange(this.i32, I32.STATE, from, to) === from;
    this.notify();
    return changed;
  }

  setState(state: number, faultCodeIndex = 0): void {
    Atomics.store(this.i32, I32.FAULT_CODE, faultCodeIndex);
    Atomics.store(this.i32, I32.STATE, state);
    this.notify();
  }
}

/**
 * Error codes as small integers, for the failure table and `FAULT_CODE` in shared memory.
 * Append only: the index is the wire value.
 */
export const kSharedErrorCodes: readonly ErrorCode[] = Object.freeze([
  ErrorCodes.INTERNAL,
  ErrorCodes.WAL_WRITE,
  ErrorCodes.WAL_FSYNC,
  ErrorCodes.DISK_FULL,
  ErrorCodes.WAL_FAULTED,
  ErrorCodes.CLOSED,
  ErrorCodes.WORKER_EXITED,
  // data protection (issue 11): no data key arrived in time, records refused unwritten
  ErrorCodes.KEY_PROVIDER_TIMEOUT,
  // shadow copies (issue 14): a shadow's write or fdatasync failed with onShadowFailure 'fail'
  ErrorCodes.SHADOW_FAILED,
]);

/** The shared-memory integer of `code` (INTERNAL's 0 for codes not in the table). */
export function sharedErrorIndex(code: ErrorCode): number {
  const i = kSharedErrorCodes.indexOf(code);
  return Math.max(0, i);
}

/** The code of a shared-memory integer. */
export function sharedErrorCode(index: number): ErrorCode {
  return kSharedErrorCodes[index] ?? ErrorCodes.INTERNAL;
}
