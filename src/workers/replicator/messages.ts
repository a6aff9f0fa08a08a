/**
 * The replicator's thread contract: a piscina task is a {@link ReplicateTask} and answers a
 * {@link ReplicateResult}. Both are declared in `replication/task.ts` (replication must not import
 * the workers); this module names them for the thread side.
 */
export type { ReplicateResult, ReplicateTask } from '../../replication/task.js';
