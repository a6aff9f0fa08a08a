// A thread that does nothing but append `bytes` and fdatasync, as fast as it can, until the
// shared stop word is set: the disk activity of a group-commit writer at low rate, without the
// sink. Used by the paced environment-floor scenario. It also counts its fdatasyncs over 1 ms (and
// the slowest): the disk's own fsync tail, which the paced report sets against the sink writer's.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { file, bytes, stopSab } = workerData;
const stop = new Int32Array(stopSab);
const fd = fs.openSync(file, 'w');
const buf = Buffer.alloc(bytes, 0x5a);
let syncs = 0;
let over1ms = 0;
let slowestMs = 0;
parentPort.postMessage({ type: 'ready' });
const t0 = performance.now();
while (Atomics.load(stop, 0) === 0) {
  fs.writeSync(fd, buf);
  const t = performance.now();
  fs.fdatasyncSync(fd);
  const ms = performance.now() - t;
  if (ms > 1) over1ms++;
  if (ms > slowestMs) slowestMs = ms;
  syncs++;
}
const seconds = (performance.now() - t0) / 1000;
fs.closeSync(fd);
parentPort.postMessage({ type: 'done', syncs, seconds, over1ms, slowestMs });
