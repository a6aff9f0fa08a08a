/**
 * Load child of the torture suite: opens a sink with small segments and a short segment age (so
 * a SIGKILL often lands during a roll or a seal), starts producer threads, emits from the main
 * thread too, and reports every ack on stdout (see `AckLines`). Runs until the parent SIGKILLs
 * it, or, with `runMs > 0`, stops after that long, closes the sink and exits 0.
 *
 * argv: dir round producers inFlight [runMs]
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { openSink } from '../../main/sink.js';
import { AckLines } from './ack-lines.js';

const [dir = '', roundArg = '0', producersArg = '2', inFlightArg = '64', runMsArg = '0'] = process.argv.slice(2);
const round = Number(roundArg);
const producers = Number(producersArg);
const inFlight = Number(inFlightArg);
const runMs = Number(runMsArg);

const sink = await openSink({
  dir,
  segmentBytes: 64 * 1024,
  maxBatchBytes: 16 * 1024,
  maxEventBytes: 4 * 1024,
  segmentMaxAgeMs: 25,
  ringBytes: 256 * 1024,
});
const descriptor = sink.producer();
const stopSab = new SharedArrayBuffer(4);
const stop = new Int32Array(stopSab);
const workers: Worker[] = [];
for (let p = 1; p <= producers; p++) {
  workers.push(
    new Worker(new URL('./kill9-producer.js', import.meta.url), {
      workerData: { descriptor, round, producer: p, inFlight, padBytes: 700, stop: stopSab },
    }),
  );
}
const lines = new AckLines();
fs.writeSync(1, 'ready\n');
let next = 0;
async function lane(): Promise<void> {
  while (Atomics.load(stop, 0) === 0) {
    const i = next++;
    const ack = await sink.emit({ r: round, p: 0, i, pad: 'm'.repeat(i % 500) });
    lines.add(ack.seq, round, 0, i);
  }
}
if (runMs > 0) setTimeout(() => Atomics.store(stop, 0, 1), runMs);
await Promise.all([
  ...Array.from({ length: inFlight }, lane),
  ...workers.map((w) => new Promise((resolve) => w.once('exit', resolve))),
]);
lines.flush();
await sink.close();
fs.writeSync(1, 'closed\n');
