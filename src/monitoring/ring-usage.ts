/**
 * Reads how full a sink's ring is, and the group-commit state, straight from the ring SAB (no
 * message to the writer). Racy by design: a snapshot, good for metrics and health.
 */

import type { ErrorCode } from '../core/errors.js';
import { RingState as RingStateValues, sharedErrorCode } from '../groupcommit/commit-state.js';
import { controlViews, I32, I64 } from '../ringbuffer/layout.js';

/** The group-commit state as a word. */
export type WalStateName = 'open' | 'faulted' | 'closing' | 'closed' | 'dead';

/** A snapshot of the ring and the group-commit words. */
export interface RingUsage {
  /** Bytes claimed by producers and not yet released by the writer. */
  readonly usedBytes: number;
  readonly capacityBytes: number;
  /** usedBytes / capacityBytes, 0..1. */
  readonly fill: number;
  readonly state: WalStateName;
  /** The error code behind a `faulted` state. */
  readonly faultCode: ErrorCode | undefined;
  /** Last fdatasync'd seq. */
  readonly durableSeq: number;
}

const kStateNames: Record<number, WalStateName> = {
  [RingStateValues.OPEN]: 'open',
  [RingStateValues.FAULTED]: 'faulted',
  [RingStateValues.CLOSING]: 'closing',
  [RingStateValues.CLOSED]: 'closed',
  [RingStateValues.DEAD]: 'dead',
};

/** Reads {@link RingUsage} from a sink's ring SAB. */
export function readRingUsage(sab: SharedArrayBuffer): RingUsage {
  const { i32, i64 } = controlViews(sab);
  const capacityBytes = Atomics.load(i32, I32.CAPACITY);
  // HEAD before CLAIM, as producers do: a stale HEAD can only over-report the used space.
  const head = Atomics.load(i32, I32.HEAD);
  const tail = Number(BigInt.asUintN(32, Atomics.load(i64, I64.CLAIM)));
  const usedBytes = Math.min((tail - head) >>> 0, capacityBytes);
  const stateWord = Atomics.load(i32, I32.STATE);
  const state = kStateNames[stateWord] ?? 'dead';
  return {
    usedBytes,
    capacityBytes,
    fill: capacityBytes > 0 ? usedBytes / capacityBytes : 0,
    state,
    faultCode: state === 'faulted' ? sharedErrorCode(Atomics.load(i32, I32.FAULT_CODE)) : undefined,
    durableSeq: Number(Atomics.load(i64, I64.DURABLE_SEQ)),
  };
}
