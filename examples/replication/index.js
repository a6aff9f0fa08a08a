// replication: a sink replicates its sealed segments to a directory backend (standing in for S3,
// Azure Blob or GCS); the history is then read and verified from the replica alone, the way an
// auditor without access to the server would.
// Run: node examples/replication/index.js   (or: npm run example:replication)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openSink, readRemoteWal, verifyRemoteWal } from 'ironlog';

const kEvents = 600;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-example-replication-'));
const walDir = path.join(root, 'wal');
const replicaDir = path.join(root, 'replica');
try {
  fs.mkdirSync(replicaDir);
  const sink = await openSink({
    dir: walDir,
    nodeId: 'node-a',
    // Resolve an emit only once its segment is sealed and stored, verified, on the quorum.
    ack: 'replicated',
    // Small segments sealed after at most one second, so the example ends quickly.
    segmentBytes: 64 * 1024,
    segmentMaxAgeMs: 1_000,
    replication: { quorum: 1, backends: [{ type: 'fs', name: 'replica', dir: replicaDir, prefix: 'audit' }] },
  });
  const events = Array.from({ length: kEvents }, (_, i) => ({
    type: 'transfer',
    id: i + 1,
    from: `acct-${i % 9}`,
    to: `acct-${(i * 7) % 9}`,
    cents: 100 + ((i * 37) % 5000),
    memo: 'm'.repeat(200),
  }));
  const acks = await sink.emitBatch(events);
  const status = sink.replicationStatus();
  console.log(`emitted ${acks.length} events, acked once replicated (quorum ${status.quorum})`);
  console.log(`replicated through seq ${status.replicatedThroughSeq}; healthy=${status.healthy}`);
  await sink.close();

  const objects = fs.readdirSync(path.join(replicaDir, 'audit', 'node-a')).filter((n) => n.endsWith('.wal'));
  console.log(`replica: ${objects.length} segment objects under audit/node-a/`);

  // Verify from the replica only (same checks as `ironlog verify --source file://...`).
  const source = `file://${replicaDir}?prefix=audit`;
  const report = await verifyRemoteWal(source);
  for (const n of report.nodes) {
    console.log(`verify ${n.nodeId}: valid=${n.valid} records=${n.records} seqs ${n.firstSeq}-${n.lastSeq}`);
  }

  // Read it back and compare with what was emitted.
  let same = 0;
  for await (const r of readRemoteWal(source)) {
    if (r.nodeId === 'node-a' && JSON.stringify(r.event) === JSON.stringify(events[r.seq - 1])) same++;
  }
  console.log(`read back: ${same} of ${kEvents} records identical to what was emitted`);
  console.log(`CLI equivalent: ironlog verify --source 'file://<replica>?prefix=audit'`);
  if (!report.valid || same !== kEvents) process.exitCode = 1;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
