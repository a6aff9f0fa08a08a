// A producer thread: connects to the sink with connectProducer(), runs the closed-loop lanes
// of bench/lib/closed-loop.js against it and posts back its count, window, own CPU time and
// latency samples. The main thread flips the shared phase word; this thread only reads it.
import { parentPort, workerData } from 'node:worker_threads';
import { runLanes } from '../lib/closed-loop.js';
import { makeSinkOp } from '../lib/ops.js';

const { coreUrl, descriptor, ctlSab, inFlight, mode, batchSize } = workerData;
const { connectProducer } = await import(coreUrl);
const producer = connectProducer(descriptor);
const op = makeSinkOp(producer, mode, batchSize);
const ctl = new Int32Array(ctlSab);

parentPort.once('message', async () => {
  try {
    const r = await runLanes({ ctl, inFlight, op });
    producer.dispose();
    parentPort.postMessage({ type: 'done', ops: r.ops, windowMs: r.windowMs, cpu: r.cpu, latencies: r.latencies }, [
      r.latencies.buffer,
    ]);
  } catch (err) {
    producer.dispose();
    parentPort.postMessage({ type: 'error', message: String(err?.stack ?? err) });
  }
});
parentPort.postMessage({ type: 'ready' });
