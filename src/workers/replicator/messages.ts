/**
 * The replicator's thread contract: what the main thread sends a piscina task and what comes
 * back. Errors travel as {@link WireError} (structured clone drops the class); a task never
 * rejects for a backend failure, it returns `{ ok: false }`.
 */
import type { BackendConfig } from '../../backends/types.js';
import type { WireError } from '../../core/errors.js';

/** Upload one sealed segment to one backend. */
export interface ReplicateTask {
  readonly backend: BackendConfig;
  /** Local path of the sealed segment. */
  readonly path: string;
  /** Full object key (backend prefix included). */
  readonly key: string;
  /** `ironlog-*` metadata to store with it. */
  readonly metadata: Readonly<Record<string, string>>;
  /** SHA-256 of the segment recorded in the manifest earlier, if any: the local file must still match it. */
  readonly expectSha256: string | undefined;
}

/** Result of a {@link ReplicateTask}. */
export type ReplicateResult =
  | {
      readonly ok: true;
      /** `uploaded`: we stored it now; `present`: an identical, verified copy was already there. */
      readonly outcome: 'uploaded' | 'present';
      readonly sha256: string;
      readonly bytes: number;
      readonly verifiedBy: 'service-checksum' | 'read-back';
    }
  | { readonly ok: false; readonly error: WireError; readonly sha256: string | undefined };
