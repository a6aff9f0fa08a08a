/**
 * The piscina task of the replicator pool: wiring only. Each worker keeps one backend (SDK
 * client) per configuration and runs {@link replicateSegment}.
 */
import { createBackend } from '../../backends/index.js';
import type { Backend } from '../../backends/types.js';
import { syncTlog } from '../../replication/tlog-sync.js';
import { replicateSegment } from '../../replication/upload.js';
import type { ReplicateResult, ReplicateTask, TlogSyncResult, TlogSyncTask } from './messages.js';

const kBackends = new Map<string, Backend>();

/**
 * Uploads one sealed segment to one backend (see `replication/upload.ts`), or brings one
 * backend's copy of the transparency log up to date (`replication/tlog-sync.ts`).
 */
export default async function replicate(task: ReplicateTask | TlogSyncTask): Promise<ReplicateResult | TlogSyncResult> {
  const id = JSON.stringify(task.backend);
  let backend = kBackends.get(id);
  if (backend === undefined) {
    backend = createBackend(task.backend);
    kBackends.set(id, backend);
  }
  return 'kind' in task && task.kind === 'tlog'
    ? syncTlog(backend, task)
    : replicateSegment(backend, task as ReplicateTask);
}
