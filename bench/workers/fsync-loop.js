// A thread that does nothing but append `bytes` and fdatasync, as fast as it can, until the
// shared stop word is set: the disk activity of a group-commit writer at low rate, without the
// sink. Used by the paced environment-floor scenario.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { file, bytes, stopSab } = workerData;
const stop = new Int32Array(stopSab);
const fd = fs.openSync(file, 'w');
const buf = Buffer.alloc(bytes, 0x5a);
let syncs = 0;
parentPort.postMessage({ type: 'ready' });
while (Atomics.load(stop, 0) === 0) {
  fs.writeSync(fd, buf);
  fs.fdatasyncSync(fd);
  syncs++;
}
fs.closeSync(fd);
parentPort.postMessage({ type: 'done', syncs });
