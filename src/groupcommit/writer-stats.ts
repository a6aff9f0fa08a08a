/**
 * The writer's counters, in the STATS block of the ring SAB (Float64 slots). The writer is the
 * only one that writes them; the main thread reads them for metrics without any message. Reads
 * are racy by design (a reader may see a batch counted in `records` but not yet in `bytes`); each
 * slot is an aligned 8-byte word, so no single value is ever torn.
 */
import { BATCH_BUCKETS_EVENTS, FSYNC_BUCKETS_SECONDS, Stat, statsView } from '../ringbuffer/layout.js';

/** A snapshot of the writer's counters. */
export interface WriterStatsSnapshot {
  readonly records: number;
  readonly bytes: number;
  readonly batches: number;
  readonly fsyncs: number;
  readonly fsyncSecondsSum: number;
  /**
   * Cumulative counts per bucket upper bound, in seconds: 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
   * 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, then +Inf (`FSYNC_BUCKETS_SECONDS`).
   */
  readonly fsyncBuckets: readonly number[];
  readonly batchEventsSum: number;
  /** Cumulative counts per bucket upper bound, in events: 1, 2, 4, ... 32768, then +Inf (`BATCH_BUCKETS_EVENTS`). */
  readonly batchBuckets: readonly number[];
  readonly segmentsSealed: number;
  readonly walBytes: number;
}

export class WriterStats {
  readonly #f64: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    this.#f64 = statsView(sab);
  }

  recordBatch(events: number, bytes: number, walBytes: number): void {
    const f = this.#f64;
    f[Stat.RECORDS] = (f[Stat.RECORDS] ?? 0) + events;
    f[Stat.BYTES] = (f[Stat.BYTES] ?? 0) + bytes;
    f[Stat.BATCHES] = (f[Stat.BATCHES] ?? 0) + 1;
    f[Stat.BATCH_EVENTS_SUM] = (f[Stat.BATCH_EVENTS_SUM] ?? 0) + events;
    f[Stat.WAL_BYTES] = walBytes;
    let i = 0;
    while (i < BATCH_BUCKETS_EVENTS.length && events > (BATCH_BUCKETS_EVENTS[i] as number)) i++;
    f[Stat.BATCH_BUCKETS + i] = (f[Stat.BATCH_BUCKETS + i] ?? 0) + 1;
  }

  recordFsync(seconds: number): void {
    const f = this.#f64;
    f[Stat.FSYNCS] = (f[Stat.FSYNCS] ?? 0) + 1;
    f[Stat.FSYNC_SECONDS_SUM] = (f[Stat.FSYNC_SECONDS_SUM] ?? 0) + seconds;
    let i = 0;
    while (i < FSYNC_BUCKETS_SECONDS.length && seconds > (FSYNC_BUCKETS_SECONDS[i] as number)) i++;
    f[Stat.FSYNC_BUCKETS + i] = (f[Stat.FSYNC_BUCKETS + i] ?? 0) + 1;
  }

  recordSeal(): void {
    const f = this.#f64;
    f[Stat.SEGMENTS_SEALED] = (f[Stat.SEGMENTS_SEALED] ?? 0) + 1;
  }

  /** Reads every counter (from any thread). */
  snapshot(): WriterStatsSnapshot {
    const f = this.#f64;
    const get = (i: number): number => f[i] ?? 0;
    const buckets = (base: number, n: number): number[] => {
      const out: number[] = [];
      let acc = 0;
      for (let i = 0; i <= n; i++) {
        acc += get(base + i);
        out.push(acc);
      }
      return out;
    };
    return {
      records: get(Stat.RECORDS),
      bytes: get(Stat.BYTES),
      batches: get(Stat.BATCHES),
      fsyncs: get(Stat.FSYNCS),
      fsyncSecondsSum: get(Stat.FSYNC_SECONDS_SUM),
      fsyncBuckets: buckets(Stat.FSYNC_BUCKETS, FSYNC_BUCKETS_SECONDS.length),
      batchEventsSum: get(Stat.BATCH_EVENTS_SUM),
      batchBuckets: buckets(Stat.BATCH_BUCKETS, BATCH_BUCKETS_EVENTS.length),
      segmentsSealed: get(Stat.SEGMENTS_SEALED),
      walBytes: get(Stat.WAL_BYTES),
    };
  }
}
