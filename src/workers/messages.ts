/**
 * Everything that crosses a thread boundary: the writer worker's `workerData`, the messages it
 * posts, and the table that turns an error code into a number for shared memory.
 *
 * Main -> writer control goes through shared memory only (the writer blocks in `Atomics.wait`,
 * so it would not see a message until it woke anyway): see `STATE` in `ringbuffer/layout.ts`.
 */
import { type ErrorCode, ErrorCodes, type WireError } from '../main/errors.js';
import type { SyncMode } from '../main/options.js';
import type { SealedSegmentInfo } from '../wal/writer.js';

/** `workerData` of the writer worker: resolved options, validated once in the main thread. */
export interface WriterInit {
  readonly dir: string;
  readonly nodeId: string;
  readonly syncMode: SyncMode;
  readonly syncIntervalMs: number;
  readonly ringBytes: number;
  readonly maxEventBytes: number;
  readonly maxBatchBytes: number;
  readonly segmentBytes: number;
  readonly segmentMaxAgeMs: number;
  /** How long a faulted writer waits between attempts to clear the fault. */
  readonly faultRetryMs: number;
  readonly walFsModule: string | undefined;
  readonly walFsModuleData: unknown;
}

/** Summary of a segment the writer sealed (the replicator's input); defined by the WAL writer. */
export type SealedSegment = SealedSegmentInfo;

/** Messages the writer worker posts to the main thread. */
export type WriterToMain =
  | { readonly type: 'ready'; readonly sab: SharedArrayBuffer; readonly lastSeq: number }
  | { readonly type: 'sealed'; readonly segment: SealedSegment }
  | { readonly type: 'fault'; readonly error: WireError }
  | { readonly type: 'fault-cleared'; readonly gapFromSeq: number; readonly gapToSeq: number }
  | { readonly type: 'fatal'; readonly error: WireError }
  | { readonly type: 'closed'; readonly lastSeq: number };

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
