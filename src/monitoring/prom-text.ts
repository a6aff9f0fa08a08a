/**
 * A small reader of the Prometheus text format (what `GET /metrics` serves), enough for
 * `ironlog monitor`: samples with labels, histogram quantiles from cumulative buckets.
 */

/** One sample line. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const kLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const kLabel = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

/** Parses the text format; comment and malformed lines are skipped. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = kLine.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const l of m[2].matchAll(kLabel)) {
        labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
      }
    }
    const v = m[3] as string;
    const value = v === '+Inf' ? Number.POSITIVE_INFINITY : v === '-Inf' ? Number.NEGATIVE_INFINITY : Number(v);
    out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sampleValue(samples: readonly PromSample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue;
    sum += s.value;
    found = true;
  }
  return found ? sum : Number.NaN;
}

/** Cumulative buckets of histogram `name`: upper bound (Infinity for +Inf) and count. */
export function histogramBuckets(samples: readonly PromSample[], name: string): Array<{ le: number; count: number }> {
  const out: Array<{ le: number; count: number }> = [];
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const { le } = s.labels;
    if (le === undefined) continue;
    out.push({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: s.value });
  }
  return out.sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile (0-1) of cumulative buckets, interpolated linearly inside the bucket, like
 * PromQL's `histogram_quantile`. `previous` (an earlier scrape) makes it a windowed quantile.
 */
export function bucketQuantile(
  q: number,
  buckets: ReadonlyArray<{ le: number; count: number }>,
  previous?: ReadonlyArray<{ le: number; count: number }>,
): number {
  const cum = buckets.map((b, i) => ({ le: b.le, count: b.count - (previous?.[i]?.count ?? 0) }));
  const total = cum[cum.length - 1]?.count ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of cum) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
