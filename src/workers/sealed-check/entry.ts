/**
 * The sealed-segment check worker: reads and checks every sealed segment of a WAL once, off the
 * main thread (hashing a large WAL takes seconds of CPU), and posts the result. Wiring only; the
 * check lives in `wal/sealed-check.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import { checkSealedSegments } from '../../wal/sealed-check.js';
import type { SealedCheckInit, SealedCheckToMain } from './messages.js';

const init = workerData as SealedCheckInit;

function post(msg: SealedCheckToMain): void {
  parentPort?.postMessage(msg);
}

try {
  post({ type: 'result', result: await checkSealedSegments(init.dir) });
} catch (err) {
  const e = isIronlogError(err)
    ? err
    : new IronlogError(ErrorCodes.INTERNAL, `sealed-segment check failed: ${String(err)}`, { cause: err });
  post({ type: 'error', error: e.toWire() });
}
