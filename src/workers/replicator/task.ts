/**
 * The piscina task of the replicator pool: wiring only. Each worker keeps one backend (SDK
 * client) per configuration and runs {@link replicateSegment}.
 */
import { createBackend } from '../../backends/index.js';
import type { Backend } from '../../backends/types.js';
import { replicateSegment } from '../../replication/upload.js';
import type { ReplicateResult, ReplicateTask } from './messages.js';

const kBackends = new Map<string, Backend>();

/** Uploads one sealed segment to one backend (see `replication/upload.ts`). */
export default async function replicate(task: ReplicateTask): Promise<ReplicateResult> {
  const id = JSON.stringify(task.backend);
  let backend = kBackends.get(id);
  if (backend === undefined) {
    backend = createBackend(task.backend);
    kBackends.set(id, backend);
  }
  return replicateSegment(backend, task);
}
