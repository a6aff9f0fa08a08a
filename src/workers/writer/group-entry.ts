/**
 * The shared writer worker of a sink group: one thread, one commit loop per tenant (each with its
 * own ring, WAL, chain and data keys), run round-robin by `groupcommit/commit-group.ts`. Wiring
 * only, like `entry.ts`: both open each WAL and build its commit loop through `writer-wal.ts`.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { assertNever } from '../../core/errors.js';
import { CommitGroup } from '../../groupcommit/commit-group.js';
import { createSteppedCommitLoop } from '../../groupcommit/commit-loop.js';
import { RingState } from '../../groupcommit/commit-state.js';
import type { GroupWriterToMain, MainToGroupWriter, WriterInit, WriterToMain } from '../messages.js';
import { commitLoopDeps, openWriterWal, toIronlog, type WriterWal } from './writer-wal.js';

const port = parentPort;
if (port === null) throw new Error('group-entry.js runs as a worker thread');

function post(tenant: number, msg: WriterToMain): void {
  const out: GroupWriterToMain = msg.type === 'ready' ? { tenant, msg, writerThreadId: threadId } : { tenant, msg };
  port?.postMessage(out);
}

const group = new CommitGroup();

/** Opens (and recovers) one tenant's WAL, creates its ring and adds its loop to the group. */
async function addTenant(tenant: number, init: WriterInit): Promise<void> {
  const toSink = (msg: WriterToMain): void => post(tenant, msg);
  let w: WriterWal;
  try {
    w = await openWriterWal(init, toSink);
  } catch (err) {
    post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
    return;
  }
  const { wal, sab, state, consumer } = w;
  const loop = createSteppedCommitLoop(commitLoopDeps(init, w, toSink));
  post(tenant, { type: 'ready', sab, lastSeq: wal.lastSeq });
  group.add({
    consumer,
    sab,
    loop,
    onDone: () => {
      try {
        wal.close();
      } catch (err) {
        state.setState(RingState.DEAD);
        post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
        return;
      }
      state.setState(RingState.CLOSED);
      post(tenant, { type: 'closed', lastSeq: wal.lastSeq });
    },
    onFatal: (err) => {
      // Only this tenant's producers hear of it; the other tenants' loops go on.
      state.setState(RingState.DEAD);
      try {
        wal.close();
      } catch {
        // The loop already failed; its error is the one to report.
      }
      post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
    },
  });
}

function onMessage(msg: MainToGroupWriter): void {
  switch (msg.type) {
    case 'add-tenant':
      void addTenant(msg.tenant, msg.init).catch((err: unknown) =>
        post(msg.tenant, { type: 'fatal', error: toIronlog(err).toWire() }),
      );
      return;
    case 'shutdown':
      group.stop();
      return;
    default:
      assertNever(msg, 'group writer message');
  }
}

port.on('message', onMessage);
await group.run();
// Every loop is done: without a 'message' listener the port no longer keeps the thread alive,
// so it ends once its last messages are out.
port.off('message', onMessage);
