/**
 * Open-loop `sink.emit()` at a fixed rate from the main thread; ack latency measured from each
 * event's scheduled instant (see lib/paced.js).
 */
import { statsDelta, statsSample, withSink } from '../lib/core.js';
import { makeEvent } from '../lib/event.js';
import { runPaced } from '../lib/paced.js';
import { summarizeLatency } from '../lib/stats.js';

export default {
  kind: 'sink',
  id: (p) => `paced/emit/${p.rate / 1000}k`,
  describe: (p) => `sink.emit() paced at ${p.rate.toLocaleString('en-US')}/s (open loop), main thread`,
  run: (ctx, p) =>
    withSink(ctx, `paced-emit-${p.rate}`, async (sink) => {
      const ev = makeEvent();
      const op = () => {
        ev.n++;
        return sink.emit(ev);
      };
      let before;
      let after;
      const t1 = setTimeout(() => {
        before = statsSample(sink);
      }, ctx.warmupMs);
      const t2 = setTimeout(() => {
        after = statsSample(sink);
      }, ctx.warmupMs + ctx.measureMs);
      try {
        const r = await runPaced({ rate: p.rate, warmupMs: ctx.warmupMs, measureMs: ctx.measureMs, op });
        return pacedResult(r, p.rate, statsDelta(before, after));
      } finally {
        clearTimeout(t1);
        clearTimeout(t2);
      }
    }),
};

/** Shared with the lmdb paced yardstick. */
export function pacedResult(r, rate, writer) {
  return {
    targetRate: rate,
    events: r.ops,
    windowMs: r.windowMs,
    eventsPerSec: (r.ops / r.windowMs) * 1000,
    latency: summarizeLatency(r.latencies),
    issueLag: summarizeLatency(r.issueLag),
    writer,
  };
}
