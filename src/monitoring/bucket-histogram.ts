/**
 * Histograms whose bucket counts live somewhere else: in the writer's shared-memory stats block
 * (fsync time, batch size) or in a plain local accumulator (ack latency). prom-client's own
 * `Histogram.observe()` hashes labels on every call; these are read once per scrape instead.
 */
import { Histogram, type Registry } from 'prom-client';

/** Bucket counts at one instant. */
export interface BucketSnapshot {
  /** Cumulative counts: one per upper bound, then one for +Inf (which is the total count). */
  readonly cumulative: readonly number[];
  /** Sum of every observed value. */
  readonly sum: number;
}

/** Configuration of a {@link BucketHistogram}. */
export interface BucketHistogramConfig {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending (+Inf is implicit). */
  readonly buckets: readonly number[];
  readonly registry: Registry;
  /** Reads the current counts; called once per scrape. */
  readonly read: () => BucketSnapshot;
}

interface ExportValue {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  metricName: string;
}

/**
 * A prom-client histogram that reports counts read from {@link BucketHistogramConfig.read}
 * at scrape time. `observe()` is not used.
 */
export class BucketHistogram extends Histogram<string> {
  readonly #metricName: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #read: () => BucketSnapshot;

  constructor(cfg: BucketHistogramConfig) {
    super({ name: cfg.name, help: cfg.help, buckets: [...cfg.buckets], registers: [cfg.registry] });
    this.#metricName = cfg.name;
    this.#help = cfg.help;
    this.#bounds = cfg.buckets;
    this.#read = cfg.read;
  }

  /**
   * What prom-client's registry formats (it prefers this method over `get()` when present, and
   * `Histogram.get()` builds on it too).
   */
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: string;
    values: ExportValue[];
    aggregator: 'sum';
  }> {
    const snap = this.#read();
    const values: ExportValue[] = [];
    const bucketName = `${this.#metricName}_bucket`;
    for (let i = 0; i < this.#bounds.length; i++) {
      values.push({
        value: snap.cumulative[i] ?? 0,
        labels: { le: this.#bounds[i] as number },
        sharedLabels: {},
        metricName: bucketName,
      });
    }
    const count = snap.cumulative[this.#bounds.length] ?? 0;
    values.push({ value: count, labels: { le: '+Inf' }, sharedLabels: {}, metricName: bucketName });
    values.push({ value: snap.sum, labels: {}, sharedLabels: {}, metricName: `${this.#metricName}_sum` });
    values.push({ value: count, labels: {}, sharedLabels: {}, metricName: `${this.#metricName}_count` });
    return { name: this.#metricName, help: this.#help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** A cheap local histogram: a bucket search and two additions per observation, no labels. */
export class LocalHistogram {
  readonly bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
    this.#sum += value;
  }

  snapshot(): BucketSnapshot {
    const cumulative: number[] = [];
    let acc = 0;
    for (const c of this.#counts) {
      acc += c;
      cumulative.push(acc);
    }
    return { cumulative, sum: this.#sum };
  }
}
