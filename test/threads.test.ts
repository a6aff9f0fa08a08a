import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectProducer, ErrorCodes, openSink, readWal } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

it('worker threads emit into the same ring through connectProducer; seqs stay dense and per-thread ordered', async () => {
  const sink = await openSink({ dir: tmp.path, ringBytes: 256 * 1024 });
  const descriptor = sink.producer();
  const perWorker = 5_000;
  const results = await Promise.all(
    [0, 1, 2].map(
      (id) =>
        new Promise<{ id: number; seqs: number[] }>((resolve, reject) => {
          const w = new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), {
            workerData: { descriptor, id, count: perWorker, inFlight: 64 },
          });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  // The main thread emits at the same time.
  const mainAcks = await Promise.all(Array.from({ length: 1000 }, (_, i) => sink.emit({ producer: 'main', i })));
  await sink.close();

  const bySeq = new Map<number, { producer: number | string; i: number }>();
  for await (const r of readWal(tmp.path)) bySeq.set(r.seq, r.event as { producer: number; i: number });
  expect(bySeq.size).toBe(3 * perWorker + 1000);
  expect([...bySeq.keys()]).toEqual(Array.from({ length: bySeq.size }, (_, i) => i + 1));
  for (const { id, seqs } of results) {
    for (let i = 0; i < perWorker; i++) {
      expect(bySeq.get(seqs[i] as number)).toMatchObject({ producer: id, i });
    }
  }
  for (const [i, a] of mainAcks.entries()) expect(bySeq.get(a.seq)).toMatchObject({ producer: 'main', i });
});

it('connectProducer rejects something that is not a descriptor', () => {
  expect(() => connectProducer({} as never)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
});
