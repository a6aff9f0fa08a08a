/**
 * Durable `await sink.emit(event)` at full speed: `inFlight` emits outstanding per producer
 * thread, 1 producer = the main thread, 2/4 producers = worker threads (see lib/sink-load.js).
 * Reports throughput, ack latency (emit call to resumption after the ack) and CPU per event.
 */
import { runSinkClosedLoop } from '../lib/sink-load.js';

export default {
  kind: 'sink',
  id: (p) => `emit/${p.producers}p/x${p.inFlight}`,
  describe: (p) =>
    `sink.emit(), ${p.producers === 1 ? 'main thread' : `${p.producers} worker threads`}, ${p.inFlight} in flight per producer`,
  run: (ctx, p) => runSinkClosedLoop(ctx, { label: `emit-${p.producers}p-${p.inFlight}`, mode: 'emit', ...p }),
};
