/**
 * CPU time of the *calling thread*. `process.cpuUsage()` sums every thread of the process (the
 * writer worker, libuv, V8's GC helpers), so it cannot tell the producer's cost apart. On Linux,
 * `/proc/thread-self/schedstat` holds the calling thread's on-CPU time in nanoseconds (first
 * field): exact, per thread, usable from the main thread and from workers. A read costs ~20 us,
 * so it is only sampled at the edges of a measurement window. Elsewhere we fall back to the
 * event-loop utilization (active time of this thread's event loop), which also counts time the
 * thread was runnable but preempted, so it overstates CPU on a busy machine.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

const kSchedstat = '/proc/thread-self/schedstat';

function readSchedstatNs() {
  try {
    const text = fs.readFileSync(kSchedstat, 'latin1');
    const ns = Number(text.slice(0, text.indexOf(' ')));
    return Number.isFinite(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}

/** 'schedstat' when per-thread CPU time is available, else 'elu'. */
export const kThreadCpuMethod = readSchedstatNs() === undefined ? 'elu' : 'schedstat';

/**
 * A sample of this thread's CPU counters. Pass two samples to {@link threadCpuDelta}.
 * `processUs` is process-wide (all threads), for the "everything else" figure.
 */
export function sampleThreadCpu() {
  const pu = process.cpuUsage();
  return {
    wallMs: performance.now(),
    threadNs: kThreadCpuMethod === 'schedstat' ? readSchedstatNs() : undefined,
    elu: performance.eventLoopUtilization(),
    processUs: pu.user + pu.system,
  };
}

/**
 * CPU used by this thread between two samples, in milliseconds, by the best available method,
 * plus the event-loop utilization over the window as a cross-check.
 */
export function threadCpuDelta(a, b) {
  const elu = performance.eventLoopUtilization(b.elu, a.elu);
  const threadMs = a.threadNs !== undefined && b.threadNs !== undefined ? (b.threadNs - a.threadNs) / 1e6 : elu.active;
  return {
    method: kThreadCpuMethod,
    threadMs,
    eluActiveMs: elu.active,
    eluUtilization: elu.utilization,
    processMs: (b.processUs - a.processUs) / 1000,
    wallMs: b.wallMs - a.wallMs,
  };
}
