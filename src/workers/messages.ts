/**
 * Everything that crosses a thread boundary: the writer worker's `workerData`, the messages it
 * posts. (The table that turns an error code into a number for shared memory is in
 * `groupcommit/commit-state.ts`, beside the words it fills.)
 *
 * Main -> writer control goes through shared memory only (the writer blocks in `Atomics.wait`,
 * so it would not see a message until it woke anyway): see `STATE` in `ringbuffer/layout.ts`.
 */

import type { MessagePort } from 'node:worker_threads';
import type { CheckpointerStatus, CheckpointInfo } from '../compliance/checkpointer.js';
import type { RecordProof } from '../compliance/prove.js';
import type { WireError } from '../core/errors.js';
import type { SyncMode } from '../core/sync-mode.js';
import type { ResolvedRollAt } from '../wal/calendar-roll.js';
import type { SealedSegment } from '../wal/sealed-segment.js';

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
  /** Calendar rotation (`rollAt`), undefined when off. */
  readonly rollAt?: ResolvedRollAt | undefined;
  /** How long a faulted writer waits between attempts to clear the fault. */
  readonly faultRetryMs: number;
  readonly walFsModule: string | undefined;
  readonly walFsModuleData: unknown;
  /** Record payload encryption (issue 11): data keys arrive on `port` ({@link DataKeyMessage}). */
  readonly encryption?: WriterEncryptionInit | undefined;
  /** Shadow copies (issue 14): absolute directories, empty for none. */
  readonly shadowDirs?: readonly string[] | undefined;
  readonly onShadowFailure?: 'fail' | 'drop' | undefined;
}

/** Encryption part of {@link WriterInit}. */
export interface WriterEncryptionInit {
  /** Main -> writer: `DataKeyMessage`s; writer -> main: `{ type: 'data-key-used' }`. */
  readonly port: MessagePort;
  readonly recordsPerDataKey: number;
  /** How long the writer waits for a key it must have (then records fail, unwritten). */
  readonly waitMs: number;
}

/** A data key, stored (wrapped) in the key store before it is sent to the writer. */
export interface DataKeyMessage {
  readonly type: 'data-key';
  readonly kid: string;
  readonly key: Uint8Array;
}

/** Messages the writer worker posts to the main thread. */
export type WriterToMain =
  | { readonly type: 'ready'; readonly sab: SharedArrayBuffer; readonly lastSeq: number }
  | { readonly type: 'sealed'; readonly segment: SealedSegment }
  /** `rejecting`: the ring is FAULTED until 'fault-cleared' (false: nothing lost, retried). */
  | { readonly type: 'fault'; readonly error: WireError; readonly rejecting: boolean }
  | { readonly type: 'fault-cleared'; readonly gapFromSeq: number; readonly gapToSeq: number }
  | { readonly type: 'fatal'; readonly error: WireError }
  | { readonly type: 'closed'; readonly lastSeq: number }
  /** A shadow directory failed (issue 14); `dropped` with `onShadowFailure: 'drop'`. */
  | {
      readonly type: 'shadow-failure';
      readonly dir: string;
      readonly op: string;
      readonly error: WireError;
      readonly dropped: boolean;
      readonly active: readonly string[];
    };

/** `workerData` of the checkpointer worker (resolved `signing` options; see `compliance/checkpointer.ts`). */
export interface CheckpointerInit {
  readonly dir: string;
  /** The ring SAB: the durable seq is read from its group-commit words. */
  readonly sab: SharedArrayBuffer;
  readonly signerKey: string;
  readonly origin: string;
  readonly checkpointIntervalMs: number;
  readonly witnesses: readonly { readonly url: string; readonly key: string }[];
  readonly witnessQuorum: number;
  readonly witnessTimeoutMs: number;
  /** Time of the `open` checkpoint (the sink's clock, ms since the epoch). */
  readonly openTimeMs: number;
}

/** Messages the main thread posts to the checkpointer (times come from the sink's clock). */
export type MainToCheckpointer =
  | {
      readonly type: 'checkpoint';
      readonly event: 'seal' | 'interval';
      readonly timeMs: number;
      readonly segment?: { readonly firstSeq: number; readonly lastSeq: number };
    }
  | { readonly type: 'prove'; readonly id: number; readonly seq: number; readonly timeMs: number }
  | { readonly type: 'close'; readonly timeMs: number };

/** Messages the checkpointer posts to the main thread. */
export type CheckpointerToMain =
  | { readonly type: 'ready'; readonly status: CheckpointerStatus }
  | { readonly type: 'checkpoint'; readonly checkpoint: CheckpointInfo; readonly status: CheckpointerStatus }
  | { readonly type: 'proof'; readonly id: number; readonly proof: RecordProof }
  | { readonly type: 'proof-error'; readonly id: number; readonly error: WireError }
  | { readonly type: 'witness-error'; readonly url: string | undefined; readonly error: WireError }
  /** A checkpoint failed (retried at the next event); the checkpointer goes on. */
  | { readonly type: 'error'; readonly error: WireError }
  | { readonly type: 'closed'; readonly status: CheckpointerStatus }
  /** Opening failed; the worker ends. */
  | { readonly type: 'fatal'; readonly error: WireError };

/**
 * Main -> the shared writer worker of a sink group (`workers/writer/group-entry.ts`). Tenants are
 * added one at a time (each with its own resolved {@link WriterInit}, transferring its data-key
 * port); `shutdown` ends the worker once every tenant's loop has finished (each is closed through
 * its ring's STATE word, as a single sink's writer is).
 */
export type MainToGroupWriter =
  | { readonly type: 'add-tenant'; readonly tenant: number; readonly init: WriterInit }
  | { readonly type: 'shutdown' };

/**
 * Group writer -> main: one tenant's {@link WriterToMain}, tagged with the tenant's index.
 * `writerThreadId` (the worker's `threadId`) comes with every `ready`, so the group can show
 * that every tenant is served by the same thread.
 */
export interface GroupWriterToMain {
  readonly tenant: number;
  readonly msg: WriterToMain;
  readonly writerThreadId?: number;
}
