/**
 * The checkpointer worker: hashes newly durable entries into the tlog's tiles and signs
 * checkpoints, off the producer's path. Wiring only; the logic lives in compliance/checkpointer.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Checkpointer } from '../../compliance/checkpointer.js';
import { assertNever, ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import { CommitState } from '../../groupcommit/commit-state.js';
import type { CheckpointerInit, CheckpointerToMain, MainToCheckpointer } from '../messages.js';

const init = workerData as CheckpointerInit;
/** How often newly durable entries are hashed into the tiles between checkpoints. */
const kFollowMs = 1000;

function post(msg: CheckpointerToMain): void {
  parentPort?.postMessage(msg);
}

function toIronlog(err: unknown): IronlogError {
  return isIronlogError(err)
    ? err
    : new IronlogError(ErrorCodes.CHECKPOINTER, `checkpointer failed: ${(err as Error)?.stack ?? String(err)}`, {
        cause: err,
      });
}

async function main(): Promise<void> {
  const state = new CommitState(init.sab);
  let cp: Checkpointer;
  try {
    cp = await Checkpointer.open(
      {
        dir: init.dir,
        signerKey: init.signerKey,
        origin: init.origin,
        checkpointIntervalMs: init.checkpointIntervalMs,
        witnesses: init.witnesses,
        witnessQuorum: init.witnessQuorum,
        witnessTimeoutMs: init.witnessTimeoutMs,
        durableSeq: () => state.durableSeq,
        onCheckpoint: (checkpoint, status) => post({ type: 'checkpoint', checkpoint, status }),
        onWitnessError: (error, url) => post({ type: 'witness-error', url, error: error.toWire() }),
      },
      init.openTimeMs,
    );
  } catch (err) {
    post({ type: 'fatal', error: toIronlog(err).toWire() });
    parentPort?.close();
    return;
  }
  post({ type: 'ready', status: cp.status() });
  // Hash newly durable entries about once a second between checkpoints (unref'd: the port keeps
  // the worker alive, and closing it ends the worker).
  const follow = setInterval(() => {
    cp.advance().catch((err: unknown) => post({ type: 'error', error: toIronlog(err).toWire() }));
  }, kFollowMs);
  follow.unref();
  parentPort?.on('message', (msg: MainToCheckpointer) => {
    switch (msg.type) {
      case 'checkpoint':
        cp.checkpoint(msg.event, msg.timeMs, msg.segment).catch((err: unknown) =>
          post({ type: 'error', error: toIronlog(err).toWire() }),
        );
        return;
      case 'prove':
        cp.prove(msg.seq, msg.timeMs).then(
          (proof) => post({ type: 'proof', id: msg.id, proof }),
          (err: unknown) => post({ type: 'proof-error', id: msg.id, error: toIronlog(err).toWire() }),
        );
        return;
      case 'close':
        clearInterval(follow);
        cp.close(msg.timeMs)
          .catch((err: unknown) => post({ type: 'error', error: toIronlog(err).toWire() }))
          .finally(() => {
            post({ type: 'closed', status: cp.status() });
            parentPort?.close();
          });
        return;
      default:
        assertNever(msg, 'checkpointer message');
    }
  });
}

void main();
