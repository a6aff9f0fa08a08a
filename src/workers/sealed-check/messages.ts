/**
 * The sealed-segment check's thread contract: the main thread starts the worker with
 * {@link SealedCheckInit} and gets exactly one {@link SealedCheckToMain} back.
 */
import type { WireError } from '../../core/errors.js';
import type { SealedCheckResult } from '../../wal/sealed-check.js';

/** `workerData` of the sealed-segment check worker. */
export interface SealedCheckInit {
  readonly dir: string;
}

/** The worker's one message. */
export type SealedCheckToMain =
  | { readonly type: 'result'; readonly result: SealedCheckResult }
  | { readonly type: 'error'; readonly error: WireError };
