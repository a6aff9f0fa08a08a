/**
 * Real threads: 4 producer workers and 1 consumer worker on one small ring, so it wraps often and
 * producers wait for space. The fixtures run the compiled code in dist/ (`npm run build` first;
 * `npm test` does it). Synchronisation is by messages and Atomics, never by sleeping.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { frameBytesFor } from './layout.js';
import { createRingSab } from './ring.js';

const kProducers = 4;
const kPerProducer = 200_000;
const kRingBytes = 64 * 1024;
const kMaxPayloadBytes = 300;
/** Seqs cross 2^32 half way through the run. */
const kLastSeq = 2 ** 32 - (kProducers * kPerProducer) / 2;

const fixture = (name: string): URL => new URL(`./__fixtures__/${name}`, import.meta.url);

interface ProducerDone {
  type: 'done';
  id: number;
  produced: number;
  fullClaims: number;
  errors: string[];
}

interface ConsumerDone {
  type: 'done';
  seen: number;
  firstSeq: number;
  lastSeq: number;
  nextCounter: number[];
  errors: string[];
  drains: number;
  sleeps: number;
  hasDataAfter: boolean;
}

/** Starts a worker; `ready` resolves on its first message, `done` on its second, `exited` on exit 0. */
function start<T>(name: string, workerData: unknown) {
  const worker = new Worker(fixture(name), { workerData });
  let onReady: () => void = () => {};
  let onDone: (v: T) => void = () => {};
  let fail: (e: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    fail = reject;
  });
  const done = new Promise<T>((resolve, reject) => {
    onDone = resolve;
    const prev = fail;
    fail = (e) => {
      prev(e);
      reject(e);
    };
  });
  const exited = new Promise<void>((resolve, reject) => {
    worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with code ${code}`))));
  });
  worker.on('message', (msg: { type: string }) => (msg.type === 'ready' ? onReady() : onDone(msg as T)));
  worker.on('error', (err) => fail(err));
  exited.catch((err: unknown) => fail(err));
  return { worker, ready, done, exited };
}

describe('ring with real threads', () => {
  beforeAll(() => {
    // The fixtures import dist/: refuse to test stale code.
    const pairs = [
      ['../../dist/ringbuffer/ring.js', './ring.ts'],
      ['../../dist/ringbuffer/layout.js', './layout.ts'],
      ['../../dist/core/errors.js', '../core/errors.ts'],
    ] as const;
    for (const [built, source] of pairs) {
      const b = fileURLToPath(new URL(built, import.meta.url));
      const s = fileURLToPath(new URL(source, import.meta.url));
      if (!fs.existsSync(b) || fs.statSync(b).mtimeMs < fs.statSync(s).mtimeMs) {
        throw new Error(`${b} is missing or older than ${s}: run \`npm run build\` first (npm test does)`);
      }
    }
  });

  it(`${kProducers} producers x ${kPerProducer} frames through a ${kRingBytes / 1024} KiB ring: each exactly once, in order, intact, dense seqs`, async () => {
    const sab = createRingSab(kRingBytes, frameBytesFor(kMaxPayloadBytes), kLastSeq);
    const testSab = new SharedArrayBuffer(16);
    const test32 = new Int32Array(testSab);
    const consumer = start<ConsumerDone>('ring-consumer.mjs', {
      sab,
      testSab,
      producers: kProducers,
      perProducer: kPerProducer,
      lastSeq: kLastSeq,
      drainBytes: 16 * 1024,
    });
    const producers = Array.from({ length: kProducers }, (_, id) =>
      start<ProducerDone>('ring-producer.mjs', {
        sab,
        testSab,
        id,
        count: kPerProducer,
        seed: 0x1234567 + id * 7919,
        maxPayloadBytes: kMaxPayloadBytes,
      }),
    );
    try {
      await Promise.all([consumer.ready, ...producers.map((p) => p.ready)]);
      Atomics.store(test32, 0, 1); // GO
      Atomics.notify(test32, 0);
      // The consumer reports once it has seen every frame, or why not (it gives up after 30 s
      // without progress); a producer that crashes fails the race at once.
      const never = new Promise<never>(() => {});
      const seen = await Promise.race([consumer.done, ...producers.map((p) => p.done.then(() => never))]);
      expect(seen.errors).toEqual([]);
      const made = await Promise.all(producers.map((p) => p.done));
      await Promise.all([consumer.exited, ...producers.map((p) => p.exited)]);

      for (const m of made) {
        expect(m.errors).toEqual([]);
        expect(m.produced).toBe(kPerProducer);
      }
      expect(seen.seen).toBe(kProducers * kPerProducer);
      expect(seen.firstSeq).toBe(kLastSeq + 1);
      expect(seen.lastSeq).toBe(kLastSeq + kProducers * kPerProducer);
      expect(seen.nextCounter).toEqual(new Array(kProducers).fill(kPerProducer));
      expect(seen.hasDataAfter).toBe(false);
      // The ring really was full: producers had to wait for space.
      expect(made.reduce((s, m) => s + m.fullClaims, 0)).toBeGreaterThan(0);
      console.info(
        `ring threads: ${seen.drains} drains, ${seen.sleeps} consumer sleeps, full claims per producer ${made
          .map((m) => m.fullClaims)
          .join('/')}`,
      );
    } finally {
      await Promise.all([consumer.worker.terminate(), ...producers.map((p) => p.worker.terminate())]);
    }
  }, 120_000);
});
