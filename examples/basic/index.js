// basic: open a sink, emit (each ack means the event is fdatasync'd), flush, replay, verify.
// Run: node examples/basic/index.js   (or: npm run example:basic)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openSink, readWal, verifyWal } from 'ironlog';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-example-basic-'));
try {
  const sink = await openSink({ dir, nodeId: 'basic' });

  // One event: the promise resolves once the record and everything before it is on disk.
  const first = await sink.emit({ user: 'alice', action: 'login' });
  console.log(`emit: seq ${first.seq} is durable`);

  // A batch: one claim in the ring, one ack per event, in order.
  const acks = await sink.emitBatch([
    { user: 'alice', action: 'read', doc: 'q3-report' },
    { user: 'bob', action: 'login' },
    { user: 'alice', action: 'logout' },
  ]);
  console.log(`emitBatch: seqs ${acks.map((a) => a.seq).join(', ')}`);

  // Without awaiting each emit: flush() waits for everything emitted so far.
  for (let i = 0; i < 96; i++) void sink.emit({ user: 'load', action: 'ping', i });
  await sink.flush();
  console.log('flush: every event emitted so far is durable');

  let replayed = 0;
  for await (const r of sink.replay({ fromSeq: 1, toSeq: 4 })) {
    console.log(`replay: ${r.seq} ${r.event.user} ${r.event.action}`);
    replayed++;
  }
  for await (const _ of sink.replay({ fromSeq: 5 })) replayed++;
  console.log(`replay: ${replayed} records in seq order`);

  const live = await sink.verify();
  console.log(`verify (open sink): valid=${live.valid} records=${live.records} seqs ${live.firstSeq}-${live.lastSeq}`);
  await sink.close();

  // Offline, with no sink: what an auditor or the CLI (`ironlog verify --dir`) does.
  let offline = 0;
  for await (const _ of readWal(dir)) offline++;
  const report = await verifyWal(dir);
  console.log(`verifyWal (closed): valid=${report.valid} records=${report.records} problems=${report.problems.length}`);
  if (!report.valid || offline !== 100) process.exitCode = 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
