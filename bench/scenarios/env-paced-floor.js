/**
 * Environment floor for the paced scenarios: the same open-loop scheduler at the same rate, but
 * each "ack" is only a trip through the event loop (`setImmediate`), while another thread of this
 * process appends ~2 events' worth of bytes and fdatasyncs in a loop (what the sink's writer does
 * at 10,000/s). No sink, no lmdb. On a VM where a flush stalls the other vCPUs, this shows the tail
 * that any design with an fsync in the process gets here; the sink's paced p99/p99.9 are read
 * against it.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { withTimeout } from '../lib/core.js';
import { kEventBytes } from '../lib/event.js';
import { runPaced } from '../lib/paced.js';
import { pacedResult } from './sink-paced.js';

const kWorkerUrl = new URL('../workers/fsync-loop.js', import.meta.url);

export default {
  kind: 'yardstick',
  id: (p) => `paced/floor/${p.rate / 1000}k`,
  describe: (p) =>
    `environment floor: paced no-op at ${p.rate.toLocaleString('en-US')}/s while another thread loops write + fdatasync`,
  run: async (ctx, p) => {
    const dir = ctx.tmp.newDir('paced-floor');
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(kWorkerUrl, {
      workerData: { file: path.join(dir, 'log'), bytes: 2 * (kEventBytes + 32), stopSab: stop.buffer },
    });
    const messages = [];
    let notify = () => {};
    worker.on('message', (m) => {
      messages.push(m);
      notify();
    });
    const next = (type) =>
      withTimeout(
        new Promise((resolve) => {
          const check = () => {
            const m = messages.find((x) => x.type === type);
            if (m) resolve(m);
          };
          notify = check;
          check();
        }),
        30_000,
        `fsync-loop ${type}`,
      );
    try {
      await next('ready');
      const op = () => new Promise((resolve) => setImmediate(resolve));
      const r = await runPaced({ rate: p.rate, warmupMs: ctx.warmupMs, measureMs: ctx.measureMs, op });
      Atomics.store(stop, 0, 1);
      const done = await next('done');
      const result = pacedResult(r, p.rate, undefined);
      result.fsyncsPerSec = done.syncs / done.seconds;
      // The disk's own fsync tail in this round, without the sink (see workers/fsync-loop.js).
      result.writer = { fsyncsOver1msPerSec: done.over1ms / done.seconds, slowestFsyncMs: done.slowestMs };
      return result;
    } finally {
      Atomics.store(stop, 0, 1);
      await worker.terminate();
      ctx.tmp.removeDir(dir);
    }
  },
};
