// Worker: the single consumer. Waits until the producers have filled the ring once (so they
// must wait for space), then drains, verifies and releases until every frame has been seen,
// publishing RESOLVED_SEQ as group commit would. Posts what it saw.
import { parentPort, workerData } from 'node:worker_threads';
import { controlViews, I64, RingConsumer } from '../../../dist/ringbuffer/index.js';
import { checkPayload, kTwo32 } from './payload.mjs';

const { sab, testSab, producers, perProducer, lastSeq, drainBytes } = workerData;
const FULL_SEEN = 1;
const test32 = new Int32Array(testSab);
const { i64 } = controlViews(sab);
const consumer = new RingConsumer(sab, lastSeq);
const view = new DataView(consumer.data.buffer, consumer.data.byteOffset, consumer.data.byteLength);

parentPort.postMessage({ type: 'ready' });

const total = producers * perProducer;
const nextCounter = new Array(producers).fill(0);
const errors = [];
let seen = 0;
let expectedSeq = lastSeq + 1;
let firstSeq = -1;
let drains = 0;
let sleeps = 0;

const visit = (data, at, len, seq, timeUs) => {
  if (firstSeq < 0) firstSeq = seq;
  if (seq !== expectedSeq) errors.push(`drained seq ${seq}, expected ${expectedSeq}`);
  expectedSeq = seq + 1;
  seen++;
  const id = Math.floor(timeUs / kTwo32);
  const counter = timeUs - id * kTwo32;
  if (!(id >= 0 && id < producers)) {
    errors.push(`frame ${seq} has producer id ${id}`);
    return;
  }
  if (counter !== nextCounter[id]) errors.push(`producer ${id}: counter ${counter}, expected ${nextCounter[id]}`);
  nextCounter[id] = counter + 1;
  const bad = checkPayload(data, view, at, len, id, counter, seq);
  if (bad) errors.push(bad);
};

// The ring must fill up once before we drain anything (safety timeout: 30 s).
Atomics.wait(test32, FULL_SEEN, 0, 30_000);

// A wake-up without data at our position is normal (another producer published behind a
// frame that is claimed but not yet published): only time without progress is a failure.
let lastProgressMs = performance.now();
while (seen < total && errors.length < 20) {
  if (!consumer.hasData()) {
    sleeps++;
    if (!consumer.waitForData(1000)) {
      if (performance.now() - lastProgressMs > 30_000) {
        errors.push(`no data for 30 s after ${seen} frames`);
        break;
      }
      continue;
    }
  }
  lastProgressMs = performance.now();
  consumer.drain(drainBytes, visit);
  drains++;
  consumer.release();
  Atomics.store(i64, I64.RESOLVED_SEQ, BigInt(expectedSeq - 1));
}

parentPort.postMessage({
  type: 'done',
  seen,
  firstSeq,
  lastSeq: expectedSeq - 1,
  nextCounter,
  errors: errors.slice(0, 20),
  drains,
  sleeps,
  hasDataAfter: consumer.hasData(),
});
