// Worker: one producer thread. Emits `count` frames of random sizes (single claims and batch
// claims, written in place or copied in with copyAndPublish) into the shared ring, waiting for
// space with waitForSpace when the ring is full. Posts a summary when done.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameKind, frameBytesFor, RingProducer } from '../../../dist/ringbuffer/index.js';
import { kTwo32, rng, writePayload } from './payload.mjs';

const { sab, testSab, id, count, seed, maxPayloadBytes } = workerData;
const GO = 0;
const FULL_SEEN = 1;
const test32 = new Int32Array(testSab);
const ring = new RingProducer(sab);
const { data, view } = ring;
const next = rng(seed);

parentPort.postMessage({ type: 'ready' });
// Start together with the other producers (blocking is fine: this is a worker).
while (Atomics.load(test32, GO) === 0) Atomics.wait(test32, GO, 0);

const sizes = new Int32Array(8);
const fbs = new Int32Array(8);
let scratch = new Uint8Array(8192);
let scratchView = new DataView(scratch.buffer);
let counter = 0;
let fullClaims = 0;
let lastSeq = -1;
const errors = [];

function place(buf, bufView, base, k, firstSeq, firstCounter, inRing) {
  let pos = base;
  for (let i = 0; i < k; i++) {
    const c = firstCounter + i;
    // Frames 2..k carry their real length before frame 1 is published; frame 1's stays 0 in the ring.
    const lengthWord = inRing && i === 0 ? 0 : fbs[i];
    bufView.setInt32(pos, lengthWord, true);
    bufView.setUint32(pos + 4, sizes[i], true);
    bufView.setUint32(pos + 8, (firstSeq + i) >>> 0, true);
    bufView.setUint32(pos + 12, FrameKind.EVENT, true);
    bufView.setFloat64(pos + 16, id * kTwo32 + c, true);
    writePayload(buf, bufView, pos + 24, sizes[i], id, c, firstSeq + i, next);
    pos += fbs[i];
  }
}

while (counter < count) {
  const k = next() % 4 === 0 ? Math.min(1 + (next() % 6), count - counter) : 1;
  let region = 0;
  for (let i = 0; i < k; i++) {
    sizes[i] = next() % (maxPayloadBytes + 1);
    fbs[i] = frameBytesFor(sizes[i]);
    region += fbs[i];
  }
  let off = ring.claim(region, k);
  while (off < 0) {
    if (fullClaims++ === 0) {
      Atomics.add(test32, FULL_SEEN, 1);
      Atomics.notify(test32, FULL_SEEN);
    }
    await ring.waitForSpace(1000);
    off = ring.claim(region, k);
  }
  const firstSeq = ring.claimedFirstSeq;
  if (firstSeq <= lastSeq) errors.push(`claimed seq ${firstSeq} after ${lastSeq}`);
  lastSeq = firstSeq + k - 1;
  if (k > 1 && next() % 2 === 0) {
    // Batch laid out privately, then copied in: the ring stamps the seqs and publishes.
    if (scratch.length < region) {
      scratch = new Uint8Array(region * 2);
      scratchView = new DataView(scratch.buffer);
    }
    place(scratch, scratchView, 0, k, firstSeq, counter, false);
    ring.copyAndPublish(off, scratch.subarray(0, region), k, firstSeq);
  } else {
    place(data, view, off, k, firstSeq, counter, true);
    ring.publish(off, fbs[0]);
  }
  counter += k;
}

parentPort.postMessage({ type: 'done', id, produced: counter, fullClaims, errors });
