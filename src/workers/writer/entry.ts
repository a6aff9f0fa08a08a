/**
 * The writer worker: opens (and recovers) the WAL, creates the ring, and runs the group-commit
 * loop until the sink closes. Wiring only; the logic lives in groupcommit/ and wal/.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runCommitLoop } from '../../groupcommit/commit-loop.js';
import { RingState } from '../../groupcommit/commit-state.js';
import type { WriterInit, WriterToMain } from '../messages.js';
import { commitLoopDeps, openWriterWal, toIronlog, type WriterWal } from './writer-wal.js';

const init = workerData as WriterInit;

function post(msg: WriterToMain): void {
  parentPort?.postMessage(msg);
}

async function main(): Promise<void> {
  let w: WriterWal;
  try {
    w = await openWriterWal(init, post);
  } catch (err) {
    post({ type: 'fatal', error: toIronlog(err).toWire() });
    return;
  }
  const { wal, sab, state } = w;
  post({ type: 'ready', sab, lastSeq: wal.lastSeq });
  try {
    runCommitLoop(commitLoopDeps(init, w, post));
    wal.close();
    const lastSeq = wal.lastSeq;
    state.setState(RingState.CLOSED);
    post({ type: 'closed', lastSeq });
  } catch (err) {
    // Every producer must hear of it: their acks would otherwise wait forever.
    state.setState(RingState.DEAD);
    post({ type: 'fatal', error: toIronlog(err).toWire() });
  }
}

void main();
