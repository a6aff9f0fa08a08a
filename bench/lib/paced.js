/**
 * Open-loop (paced) load: operations are scheduled at fixed instants (`rate` per second) and
 * issued whether or not earlier ones were acknowledged. Latency is measured from the
 * *scheduled* instant to the ack, so a stall delays every op scheduled during it and shows up
 * in the tail (no coordinated omission). To issue on time at sub-millisecond intervals the
 * scheduler spins on `setImmediate` when the next instant is < 2 ms away (timers have ~1 ms
 * granularity). Two ways to wait that last stretch (IRONLOG_BENCH_PACER):
 *  - 'sleep' (default): block the thread in `Atomics.wait` for up to 50 us, then yield to the
 *    event loop with `setImmediate` (acks are processed there), and repeat. Precise, and the
 *    thread sleeps instead of competing for a core with the writer (2-core VM).
 *  - 'spin': yield with `setImmediate` only (busy loop; burns one core).
 * The issue lag (actual minus scheduled issue time) is reported so harness lateness is visible.
 */
import { performance } from 'node:perf_hooks';
import { LatencyRecorder } from './stats.js';

const kPacer = process.env.IRONLOG_BENCH_PACER === 'spin' ? 'spin' : 'sleep';
const kSleepCell = new Int32Array(new SharedArrayBuffer(4));
const kMaxSleepMs = 0.05;

/** How the paced scheduler waits between issue instants ('sleep' or 'spin'). */
export const kPacerMethod = kPacer;

/**
 * @param {{ rate: number, warmupMs: number, measureMs: number, op: () => PromiseLike<unknown>, drainTimeoutMs?: number }} args
 * @returns {Promise<{ ops: number, windowMs: number, latencies: Float64Array, issueLag: Float64Array }>}
 */
export function runPaced({ rate, warmupMs, measureMs, op, drainTimeoutMs = 30_000 }) {
  const intervalMs = 1000 / rate;
  const latency = new LatencyRecorder();
  const lag = new LatencyRecorder();
  const start = performance.now() + 2;
  const measureFrom = start + warmupMs;
  const end = measureFrom + measureMs;
  let next = start;
  let outstanding = 0;
  let ops = 0;
  let issuing = true;
  return new Promise((resolve, reject) => {
    let failed = false;
    let drainTimer;
    const finish = () => {
      if (issuing || outstanding !== 0 || failed) return;
      clearTimeout(drainTimer);
      resolve({ ops, windowMs: measureMs, latencies: latency.toArray(), issueLag: lag.toArray() });
    };
    const fail = (err) => {
      if (failed) return;
      failed = true;
      clearTimeout(drainTimer);
      reject(err);
    };
    const tick = () => {
      const now = performance.now();
      while (next <= now && next < end) {
        const scheduled = next;
        next += intervalMs;
        const measured = scheduled >= measureFrom;
        if (measured) lag.add(now - scheduled);
        outstanding++;
        op().then(() => {
          outstanding--;
          if (measured) {
            latency.add(performance.now() - scheduled);
            ops++;
          }
          if (!issuing && outstanding === 0) finish();
        }, fail);
      }
      if (next >= end) {
        issuing = false;
        drainTimer = setTimeout(
          () => fail(new Error(`paced run: ${outstanding} acks still outstanding after ${drainTimeoutMs} ms`)),
          drainTimeoutMs,
        );
        finish();
        return;
      }
      const wait = next - performance.now();
      if (wait > 2) setTimeout(tick, wait - 1.5);
      else {
        // Nobody ever notifies this cell: the wait always times out (a precise, idle sleep).
        if (kPacer === 'sleep' && wait > 0) Atomics.wait(kSleepCell, 0, 0, Math.min(wait, kMaxSleepMs));
        setImmediate(tick);
      }
    };
    setTimeout(tick, 1);
  });
}
