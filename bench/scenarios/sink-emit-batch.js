/**
 * `sink.emitBatch(events)` (encode + one claim per call) or `sink.emitEncodedBatch(payloads)`
 * (already msgpack-encoded, no encoder on the hot path) from the main thread, `inFlight` calls
 * outstanding. Latency is per call (the ack of the whole batch).
 */
import { runSinkClosedLoop } from '../lib/sink-load.js';

export default {
  kind: 'sink',
  id: (p) => `${p.mode}/${p.batchSize}x${p.inFlight}`,
  describe: (p) => `sink.${p.mode}() of ${p.batchSize} events, main thread, ${p.inFlight} batches in flight`,
  run: (ctx, p) => runSinkClosedLoop(ctx, { label: `${p.mode}-${p.batchSize}-${p.inFlight}`, producers: 1, ...p }),
};
