/**
 * The upload pool of replication: piscina workers running `task.ts`. Wiring only; the sink creates
 * one per replicating sink and hands it to the `ReplicationManager` as its runner.
 */

import { Piscina } from 'piscina';
import { workerExecArgv } from '../../core/worker-exec-argv.js';
import type {
  ReplicateResult,
  ReplicateRunner,
  ReplicateTask,
  TlogSyncResult,
  TlogSyncTask,
} from '../../replication/task.js';

/** How long an idle upload thread lives before piscina ends it (threads start on the first upload). */
const kIdleTimeoutMs = 30_000;

/** Creates the pool (no thread starts until the first task) with at most `maxThreads` threads. */
export function createReplicatorPool(maxThreads: number): ReplicateRunner {
  // Workers start from the compiled JS next to this file (Node 20 cannot load .ts in a worker).
  const pool = new Piscina({
    filename: new URL('./task.js', import.meta.url).href,
    execArgv: workerExecArgv(),
    maxThreads,
    minThreads: 0,
    idleTimeout: kIdleTimeoutMs,
  });
  let closed: Promise<void> | undefined;
  return {
    run: (task: ReplicateTask) => pool.run(task) as Promise<ReplicateResult>,
    runTlog: (task: TlogSyncTask) => pool.run(task) as Promise<TlogSyncResult>,
    // Idempotent: the manager closes it, and the sink again when the manager never attached.
    close: () => {
      closed ??= pool.destroy();
      return closed;
    },
  };
}
