/**
 * Latency recording and summary statistics. The recorder appends into preallocated
 * Float64Array chunks so the hot loop does one bounds check and one store per sample.
 */

const kChunk = 1 << 16;

/** Append-only store of latency samples in milliseconds. */
export class LatencyRecorder {
  constructor() {
    /** @type {Float64Array[]} */
    this.full = [];
    this.cur = new Float64Array(kChunk);
    this.n = 0;
  }

  /** @param {number} ms */
  add(ms) {
    if (this.n === kChunk) {
      this.full.push(this.cur);
      this.cur = new Float64Array(kChunk);
      this.n = 0;
    }
    this.cur[this.n++] = ms;
  }

  get count() {
    return this.full.length * kChunk + this.n;
  }

  /** All samples in one Float64Array (transferable). */
  toArray() {
    const out = new Float64Array(this.count);
    let at = 0;
    for (const c of this.full) {
      out.set(c, at);
      at += c.length;
    }
    out.set(this.cur.subarray(0, this.n), at);
    return out;
  }
}

/** Concatenates sample arrays (e.g. one per producer thread). */
export function concatSamples(arrays) {
  let n = 0;
  for (const a of arrays) n += a.length;
  const out = new Float64Array(n);
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Nearest-rank percentile of an ascending sorted array; q in [0, 1]. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * Summary of latency samples (ms). Sorts `samples` in place.
 * @param {Float64Array} samples
 */
export function summarizeLatency(samples) {
  samples.sort();
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i];
  return {
    count: samples.length,
    meanMs: samples.length ? sum / samples.length : Number.NaN,
    p50Ms: percentile(samples, 0.5),
    p90Ms: percentile(samples, 0.9),
    p99Ms: percentile(samples, 0.99),
    p999Ms: percentile(samples, 0.999),
    maxMs: samples.length ? samples[samples.length - 1] : Number.NaN,
  };
}

/** Median of finite numbers (NaN if none). */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Smallest and largest finite value, for a spread column. */
export function range(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return [Number.NaN, Number.NaN];
  return [Math.min(...v), Math.max(...v)];
}
