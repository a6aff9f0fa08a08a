/**
 * The zero-fill helper thread of the writer worker (see `zero-fill-thread.ts`): waits for a
 * request in the shared block, writes zeros over [FROM, TO) of FD and fdatasyncs it
 * (`runZeroFill`, through a descriptor of its own), publishes the result, and repeats until STOP.
 */
import * as fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { nodeWalFs } from '../../wal/fs.js';
import { runZeroFill, type ZeroFillResult } from '../../wal/zero-fill.js';
import { ZeroFillSlot } from './zero-fill-thread.js';

const { sab } = workerData as { sab: SharedArrayBuffer };
const i32 = new Int32Array(sab);
const f64 = new Float64Array(sab);

/**
 * Opens the segment again (`/proc/self/fd/N`: a new open file description of the same inode)
 * and fills through that. Never through the writer's own fd: since Linux 4.13 a writeback error
 * is reported once to every open file description, so an EIO that this thread's fdatasync
 * consumed on a shared description would be missing from the writer's next fdatasync, which
 * would then ack data that never reached the disk.
 */
function fillThroughOwnFd(writerFd: number, from: number, to: number, req: number): ZeroFillResult {
  let fd: number;
  try {
    fd = fs.openSync(`/proc/self/fd/${writerFd}`, 'r+');
  } catch {
    return { ok: false, code: 'EOPEN', doneTo: from };
  }
  try {
    return runZeroFill(nodeWalFs, fd, from, to, () => Atomics.load(i32, ZeroFillSlot.CANCEL) === req);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing to undo.
    }
  }
}

// From 0, not from the current REQ: the writer may have posted its first request before this
// thread got here.
let seen = 0;
for (;;) {
  Atomics.wait(i32, ZeroFillSlot.REQ, seen);
  const req = Atomics.load(i32, ZeroFillSlot.REQ);
  if (Atomics.load(i32, ZeroFillSlot.STOP) !== 0) break;
  if (req === seen) continue;
  seen = req;
  const fd = i32[ZeroFillSlot.FD] as number;
  const from = f64[ZeroFillSlot.FROM_F64] as number;
  const to = f64[ZeroFillSlot.TO_F64] as number;
  const r = fillThroughOwnFd(fd, from, to, req);
  f64[ZeroFillSlot.DONE_TO_F64] = r.doneTo;
  Atomics.store(i32, ZeroFillSlot.RESULT, r.ok ? 0 : 1);
  Atomics.store(i32, ZeroFillSlot.DONE, req);
  Atomics.notify(i32, ZeroFillSlot.DONE);
}
