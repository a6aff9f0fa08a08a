/**
 * Latency trace of the ack path, in the TRACE block of the ring SAB (`ringbuffer/layout.ts`):
 * where the time between `emit()` and the producer's wake-up goes, split in three legs:
 *
 * - **emit->drain**: from the frame's `timeUs` (taken by the producer at `emit`) to the moment
 *   the writer starts the drain that takes the frame (per record);
 * - **drain->durable**: from that drain to the writer publishing the batch durable, i.e. write +
 *   fdatasync (per record of the batch);
 * - **durable->wake**: from that publication to the producer thread's ack waiter running (per ack
 *   it settles in that wake-up).
 *
 * Off by default, and then nearly free: the writer reads the flag once per drained batch and the
 * ack waiter once per wake-up; nothing else is written. `npm run bench -- --trace` switches it on
 * (`enableTrace(sab)`) for the paced scenario and prints the percentiles.
 *
 * All times are the default producer clock, `(performance.timeOrigin + performance.now())` in
 * microseconds, which every thread of the process reads alike (to a few microseconds). A sink
 * opened with a custom `clock` stamps frames with that clock instead: its emit->drain leg is then
 * meaningless. Counts are i32 histograms with 4 buckets per power of two (bounds below); a
 * percentile is reported as its bucket's geometric midpoint, i.e. within about +-9 %.
 */
import { TRACE_BUCKETS, TRACE_BYTE_OFFSET, TRACE_HISTOGRAMS } from '../ringbuffer/layout.js';

/** The three legs, in the order of their histograms in the block. */
export const TraceLeg = {
  EMIT_TO_DRAIN: 0,
  DRAIN_TO_DURABLE: 1,
  DURABLE_TO_WAKE: 2,
} as const;
export type TraceLeg = (typeof TraceLeg)[keyof typeof TraceLeg];

/** Bucket 0 holds everything below this (microseconds). */
const kMinUs = 8;
/** Sub-buckets per power of two. */
const kPerOctave = 4;
/** i32 index of the flag; the f64 durable timestamp is at byte 8 of the block. */
const kFlag = 0;
const kHistBase = 4; // i32 index of the first histogram (byte 16 of the block)

/** The clock of the trace: microseconds since the epoch, high resolution. */
export function traceNowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Bucket of a duration in microseconds: 0 below 8 us, then 4 per octave, last = overflow. */
export function traceBucket(us: number): number {
  if (!(us >= kMinUs)) return 0;
  const b = 1 + Math.floor(Math.log2(us / kMinUs) * kPerOctave);
  return Math.min(b, TRACE_BUCKETS - 1);
}

/** Lower bound (us) of bucket `b` (0 for bucket 0). */
export function traceBucketLowerUs(b: number): number {
  return b <= 0 ? 0 : kMinUs * 2 ** ((b - 1) / kPerOctave);
}

/** Per-leg summary of a trace snapshot (milliseconds). */
export interface TraceLegSummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

/** What {@link LatencyTrace.snapshot} returns. */
export interface TraceSnapshot {
  readonly emitToDrain: TraceLegSummary;
  readonly drainToDurable: TraceLegSummary;
  readonly durableToWake: TraceLegSummary;
}

/** Views over the TRACE block of one ring SAB; usable from any thread. */
export class LatencyTrace {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    this.#i32 = new Int32Array(sab, TRACE_BYTE_OFFSET, kHistBase + TRACE_HISTOGRAMS * TRACE_BUCKETS);
    this.#f64 = new Float64Array(sab, TRACE_BYTE_OFFSET + 8, 1);
  }

  /** True while tracing is on (one load: the whole cost of the trace when it is off). */
  get enabled(): boolean {
    return this.#i32[kFlag] !== 0;
  }

  /** Switches tracing on or off (counts are kept; see {@link reset}). */
  setEnabled(on: boolean): void {
    Atomics.store(this.#i32, kFlag, on ? 1 : 0);
  }

  /** Zeroes every histogram. */
  reset(): void {
    for (let i = kHistBase; i < this.#i32.length; i++) Atomics.store(this.#i32, i, 0);
  }

  /** Adds `n` samples of `us` microseconds to `leg`. */
  add(leg: TraceLeg, us: number, n = 1): void {
    Atomics.add(this.#i32, kHistBase + leg * TRACE_BUCKETS + traceBucket(us), n);
  }

  /** Writer: the instant (trace clock, us) of the latest durable publication. */
  set durableAtUs(us: number) {
    this.#f64[0] = us;
  }
  get durableAtUs(): number {
    return this.#f64[0] ?? 0;
  }

  /** Raw counts of one leg (a copy). */
  counts(leg: TraceLeg): number[] {
    const out: number[] = [];
    const base = kHistBase + leg * TRACE_BUCKETS;
    for (let b = 0; b < TRACE_BUCKETS; b++) out.push(Atomics.load(this.#i32, base + b));
    return out;
  }

  /** Percentiles of every leg. */
  snapshot(): TraceSnapshot {
    return {
      emitToDrain: summarize(this.counts(TraceLeg.EMIT_TO_DRAIN)),
      drainToDurable: summarize(this.counts(TraceLeg.DRAIN_TO_DURABLE)),
      durableToWake: summarize(this.counts(TraceLeg.DURABLE_TO_WAKE)),
    };
  }
}

/** Percentile `q` (0..1) of bucket counts, as the bucket's geometric midpoint in ms; NaN when empty. */
export function tracePercentileMs(counts: readonly number[], q: number): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return Number.NaN;
  const rank = Math.ceil(q * total);
  let acc = 0;
  for (let b = 0; b < counts.length; b++) {
    acc += counts[b] ?? 0;
    if (acc >= rank) {
      if (b === 0) return kMinUs / 2 / 1000;
      const lo = traceBucketLowerUs(b);
      const hi = b === counts.length - 1 ? lo * 2 : traceBucketLowerUs(b + 1);
      return Math.sqrt(lo * hi) / 1000;
    }
  }
  return Number.NaN;
}

function summarize(counts: readonly number[]): TraceLegSummary {
  let count = 0;
  for (const c of counts) count += c;
  return {
    count,
    p50Ms: tracePercentileMs(counts, 0.5),
    p99Ms: tracePercentileMs(counts, 0.99),
    p999Ms: tracePercentileMs(counts, 0.999),
  };
}

/** Switches the trace of a sink's SAB on (after zeroing it); returns the trace to read. */
export function enableTrace(sab: SharedArrayBuffer): LatencyTrace {
  const t = new LatencyTrace(sab);
  t.reset();
  t.setEnabled(true);
  return t;
}
