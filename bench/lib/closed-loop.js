/**
 * Closed-loop load: `inFlight` lanes per producer thread, each `await op()` in a loop, so at
 * most `inFlight` operations are outstanding. A shared Int32 phase word (WARMUP -> MEASURE ->
 * STOP) is flipped by the controller in the main thread; the same code runs in the main thread
 * and in producer workers. Each thread measures its own window: from the first completion it sees
 * in MEASURE to the first moment it sees STOP, and counts only completions inside it, so the
 * count and the CPU time cover exactly the same span.
 */
import { performance } from 'node:perf_hooks';
import { sampleThreadCpu, threadCpuDelta } from './cpu.js';
import { LatencyRecorder } from './stats.js';

export const Phase = Object.freeze({ WARMUP: 0, MEASURE: 1, STOP: 2 });

/** A phase word that can be shared with workers. */
export function createControl() {
  const ctl = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(ctl, 0, Phase.WARMUP);
  return ctl;
}

/** Resolves after `ms` (a referenced timer keeps the process alive meanwhile). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Flips the phase word: WARMUP for `warmupMs`, MEASURE for `measureMs`, then STOP. `onEdge`
 * is called right after each flip (e.g. to read the sink's counters).
 */
export async function driveWindow(ctl, warmupMs, measureMs, onEdge = () => {}) {
  Atomics.store(ctl, 0, Phase.WARMUP);
  await sleep(warmupMs);
  Atomics.store(ctl, 0, Phase.MEASURE);
  onEdge(Phase.MEASURE);
  await sleep(measureMs);
  Atomics.store(ctl, 0, Phase.STOP);
  onEdge(Phase.STOP);
}

/**
 * Runs the lanes until the phase word says STOP and every outstanding op has settled.
 * @param {{ ctl: Int32Array, inFlight: number, op: () => PromiseLike<unknown> }} args
 * @returns {Promise<{ ops: number, windowMs: number, cpu: ReturnType<typeof threadCpuDelta> | undefined, latencies: Float64Array }>}
 */
export async function runLanes({ ctl, inFlight, op }) {
  const rec = new LatencyRecorder();
  let ops = 0;
  let first;
  let last;
  const lane = async () => {
    for (;;) {
      if (Atomics.load(ctl, 0) === Phase.STOP) {
        if (first !== undefined && last === undefined) last = sampleThreadCpu();
        return;
      }
      const t0 = performance.now();
      await op();
      const t1 = performance.now();
      const phase = Atomics.load(ctl, 0);
      if (phase === Phase.MEASURE) {
        if (first === undefined) first = sampleThreadCpu();
        else {
          // The sample that opens the window is not counted: the window is (first, last].
          rec.add(t1 - t0);
          ops++;
        }
      } else if (phase === Phase.STOP && first !== undefined && last === undefined) {
        last = sampleThreadCpu();
      }
    }
  };
  const lanes = new Array(inFlight);
  for (let i = 0; i < inFlight; i++) lanes[i] = lane();
  await Promise.all(lanes);
  const cpu = first !== undefined && last !== undefined ? threadCpuDelta(first, last) : undefined;
  return { ops, windowMs: cpu ? cpu.wallMs : Number.NaN, cpu, latencies: rec.toArray() };
}

/**
 * The harness's own cost per op on this thread: the same lane loop (two `performance.now()`,
 * two phase loads, one sample store, one `await`) around an op that returns an already
 * resolved promise. Reported next to the producer CPU figures, which include it. Count-bounded
 * rather than timed: with resolved promises the lanes never yield to timers.
 */
export async function calibrateHarness(totalOps = 400_000, inFlight = 256) {
  const ctl = createControl();
  Atomics.store(ctl, 0, Phase.MEASURE);
  const resolved = Promise.resolve({ seq: 0 });
  const op = () => resolved;
  const rec = new LatencyRecorder();
  const perLane = Math.ceil(totalOps / inFlight);
  let ops = 0;
  const lane = async () => {
    for (let i = 0; i < perLane; i++) {
      if (Atomics.load(ctl, 0) === Phase.STOP) return;
      const t0 = performance.now();
      await op();
      const t1 = performance.now();
      if (Atomics.load(ctl, 0) === Phase.MEASURE) {
        rec.add(t1 - t0);
        ops++;
      }
    }
  };
  const run = async () => {
    const lanes = new Array(inFlight);
    for (let i = 0; i < inFlight; i++) lanes[i] = lane();
    await Promise.all(lanes);
  };
  await run(); // warm-up (JIT)
  ops = 0;
  const a = sampleThreadCpu();
  await run();
  const b = sampleThreadCpu();
  const cpu = threadCpuDelta(a, b);
  return { method: cpu.method, usPerOp: (cpu.threadMs * 1000) / ops, ops };
}
