/**
 * Open-loop `sink.emit()` at a fixed rate from the main thread; ack latency measured from each
 * event's scheduled instant (see lib/paced.js).
 */
import { kCoreUrl, statsDelta, statsSample, withSink } from '../lib/core.js';
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
      // --trace: the ack path's split (lib trace in the ring SAB), over the measured window only.
      const traceMod = ctx.trace ? await import(new URL('../groupcommit/trace.js', kCoreUrl).href) : undefined;
      let trace;
      let traceSnapshot;
      const t1 = setTimeout(() => {
        before = statsSample(sink);
        if (traceMod) trace = traceMod.enableTrace(sink.producer().sab);
      }, ctx.warmupMs);
      const t2 = setTimeout(() => {
        after = statsSample(sink);
        if (trace) {
          trace.setEnabled(false);
          traceSnapshot = trace.snapshot();
        }
      }, ctx.warmupMs + ctx.measureMs);
      try {
        const r = await runPaced({ rate: p.rate, warmupMs: ctx.warmupMs, measureMs: ctx.measureMs, op });
        const writer = statsDelta(before, after);
        if (writer && Number.isFinite(writer.fsyncsOver1ms)) {
          writer.fsyncsOver1msPerSec = writer.fsyncsOver1ms / (ctx.measureMs / 1000);
        }
        const result = pacedResult(r, p.rate, writer);
        if (traceSnapshot) result.trace = traceSnapshot;
        return result;
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
