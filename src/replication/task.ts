/**
 * One replication task: what the manager asks for (upload one sealed segment to one backend) and
 * what comes back. The upload pool (`workers/replicator/`) carries these across threads, so they
 * are plain data: errors travel as {@link WireError} (structured clone drops the class), and a
 * task never rejects for a backend failure, it returns `{ ok: false }`.
 *
 * Declared here, beside the manager and `upload.ts` that give them meaning, so that replication
 * imports nothing from `workers/` (the workers import replication, not the other way round).
 */
import type { BackendConfig } from '../backends/types.js';
import type { WireError } from '../core/errors.js';

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

/**
 * How the manager runs its tasks: the piscina pool of `workers/replicator/pool.ts` in a sink, an
 * in-process function in tests.
 */
export interface ReplicateRunner {
  /** Runs one task. May reject (a crashed worker): the manager turns that into a retryable failure. */
  run(task: ReplicateTask): Promise<ReplicateResult>;
  /** Stops the runner; called once by `ReplicationManager.close()` after uploads in flight settled or timed out. */
  close?(): Promise<void>;
}
