/**
 * Prometheus metrics of one sink (prom-client), in a registry of its own or one the user passes
 * (`openSink({ metrics })`), never the global default registry.
 *
 * Where each value comes from:
 *  - the writer's counters (records, bytes, batches, fsyncs, fsync-time and batch-size buckets,
 *    WAL bytes, seals) are read from the stats block of the ring SAB at scrape time: no message
 *    crosses a thread for them;
 *  - ring fill, state and the durable seq are read from the ring's control words at scrape time;
 *  - the segment count and disk space come from `readdir` / `statfs` at scrape time;
 *  - `ironlog_events_total` and `ironlog_emit_duration_seconds` are kept by the main thread's
 *    emit calls on this sink (a timestamp, a bucket search and a few additions per call).
 *    Producers on other threads (`connectProducer`) are not in them; they are in
 *    `ironlog_records_written_total`;
 *  - with replication, the `ironlog_replication_*` metrics (see `replication-metrics.ts`) are
 *    registered by {@link SinkMetrics.attachReplication}.
 */
import * as fsp from 'node:fs/promises';
import { Counter, Gauge, Registry } from 'prom-client';
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import type { Ack } from '../groupcommit/ack-waiter.js';
import { WriterStats } from '../groupcommit/writer-stats.js';
import { BATCH_BUCKETS_EVENTS, FSYNC_BUCKETS_SECONDS } from '../ringbuffer/layout.js';
import { listSegmentFiles } from '../wal/segment.js';
import type { ShadowStatus } from '../wal/shadow.js';
import { BucketHistogram, LocalHistogram } from './bucket-histogram.js';
import { diskSpace } from './health.js';
import { ReplicationMetricNames, ReplicationMetrics, type ReplicationMetricsSource } from './replication-metrics.js';
import { readRingUsage } from './ring-usage.js';

/** Names of every metric a sink registers (docs/monitoring.md describes each). */
export const MetricNames = {
  EVENTS_TOTAL: 'ironlog_events_total',
  EMIT_ERRORS_TOTAL: 'ironlog_emit_errors_total',
  EMIT_DURATION_SECONDS: 'ironlog_emit_duration_seconds',
  FSYNC_DURATION_SECONDS: 'ironlog_fsync_duration_seconds',
  BATCH_EVENTS: 'ironlog_batch_events',
  RECORDS_WRITTEN_TOTAL: 'ironlog_records_written_total',
  WRITTEN_BYTES_TOTAL: 'ironlog_written_bytes_total',
  BATCHES_TOTAL: 'ironlog_batches_total',
  SEGMENTS_SEALED_TOTAL: 'ironlog_segments_sealed_total',
  WAL_BYTES: 'ironlog_wal_bytes',
  SEGMENTS: 'ironlog_segments',
  RING_USED_BYTES: 'ironlog_ring_used_bytes',
  RING_CAPACITY_BYTES: 'ironlog_ring_capacity_bytes',
  CORRUPTIONS_TOTAL: 'ironlog_corruptions_total',
  LAST_DURABLE_SEQ: 'ironlog_last_durable_seq',
  WAL_WRITABLE: 'ironlog_wal_writable',
  DISK_FREE_BYTES: 'ironlog_disk_free_bytes',
  DISK_TOTAL_BYTES: 'ironlog_disk_total_bytes',
  SHADOW_FAILURES_TOTAL: 'ironlog_shadow_failures_total',
  SHADOWS_ACTIVE: 'ironlog_shadows_active',
} as const;

/** Buckets (seconds) of `ironlog_emit_duration_seconds`: the same as the fsync histogram's. */
export const EMIT_BUCKETS_SECONDS: readonly number[] = FSYNC_BUCKETS_SECONDS;

/** What the metrics read from. */
export interface SinkMetricsSource {
  readonly dir: string;
  readonly sab: SharedArrayBuffer;
  /** The shadows' state (`sink.shadowStatus()`); undefined or returning undefined without shadows. */
  readonly shadows?: () => ShadowStatus | undefined;
}

/**
 * Throws `ERR_IRONLOG_INVALID_OPTION` when `registry` already holds ironlog metrics (another
 * open sink uses it): two sinks cannot share one registry.
 */
export function assertRegistryFree(registry: Registry): void {
  for (const name of [...Object.values(MetricNames), ...Object.values(ReplicationMetricNames)]) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw invalidOption(
        `options.metrics must be a Registry without ironlog metrics, but it already holds ${name} (another open sink?); give each sink its own Registry`,
      );
    }
  }
}

/** A sink's Prometheus metrics. Get it from `sink.metrics` (with `openSink({ metrics })`). */
export class SinkMetrics {
  /** The registry holding this sink's metrics. */
  readonly registry: Registry;
  readonly #emitDuration = new LocalHistogram(EMIT_BUCKETS_SECONDS);
  #acked = 0;
  #rejected = 0;
  readonly #errorsByCode = new Map<string, number>();
  #corruptions = 0;
  readonly #names: string[] = [];
  #replication: ReplicationMetrics | undefined;
  #disposed = false;

  /**
   * @param registry where to register (created when omitted).
   * @param source the sink's directory and ring SAB.
   */
  constructor(source: SinkMetricsSource, registry: Registry = new Registry()) {
    assertRegistryFree(registry);
    this.registry = registry;
    const reg = [registry];
    const stats = new WriterStats(source.sab);
    const self = this;
    const track = <T>(name: string, metric: T): T => {
      this.#names.push(name);
      return metric;
    };

    track(
      MetricNames.EVENTS_TOTAL,
      new Counter({
        name: MetricNames.EVENTS_TOTAL,
        help: 'Events emitted through this sink on the main thread, by outcome (acked: durable per the ack level; rejected: not written)',
        labelNames: ['status'],
        registers: reg,
        collect() {
          this.reset();
          this.inc({ status: 'acked' }, self.#acked);
          this.inc({ status: 'rejected' }, self.#rejected);
        },
      }),
    );
    track(
      MetricNames.EMIT_ERRORS_TOTAL,
      new Counter({
        name: MetricNames.EMIT_ERRORS_TOTAL,
        help: 'Rejected events by error code (ERR_IRONLOG_BACKPRESSURE, ERR_IRONLOG_DISK_FULL, ...)',
        labelNames: ['code'],
        registers: reg,
        collect() {
          this.reset();
          for (const [code, n] of self.#errorsByCode) this.inc({ code }, n);
        },
      }),
    );
    track(
      MetricNames.EMIT_DURATION_SECONDS,
      new BucketHistogram({
        name: MetricNames.EMIT_DURATION_SECONDS,
        help: 'Ack latency of emit()/emitBatch() calls on the main thread: from the call to the durable ack (one observation per call)',
        buckets: EMIT_BUCKETS_SECONDS,
        registry,
        read: () => this.#emitDuration.snapshot(),
      }),
    );
    track(
      MetricNames.FSYNC_DURATION_SECONDS,
      new BucketHistogram({
        name: MetricNames.FSYNC_DURATION_SECONDS,
        help: 'Duration of each fdatasync of the WAL (writer worker)',
        buckets: FSYNC_BUCKETS_SECONDS,
        registry,
        read: () => {
          const s = stats.snapshot();
          return { cumulative: s.fsyncBuckets, sum: s.fsyncSecondsSum };
        },
      }),
    );
    track(
      MetricNames.BATCH_EVENTS,
      new BucketHistogram({
        name: MetricNames.BATCH_EVENTS,
        help: 'Events per group-commit batch (writer worker)',
        buckets: BATCH_BUCKETS_EVENTS,
        registry,
        read: () => {
          const s = stats.snapshot();
          return { cumulative: s.batchBuckets, sum: s.batchEventsSum };
        },
      }),
    );
    const counterFromStats = (name: string, help: string, read: () => number): void => {
      track(
        name,
        new Counter({
          name,
          help,
          registers: reg,
          collect() {
            this.reset();
            this.inc(read());
          },
        }),
      );
    };
    counterFromStats(
      MetricNames.RECORDS_WRITTEN_TOTAL,
      'Records the writer appended to the WAL (every producer thread)',
      () => stats.snapshot().records,
    );
    counterFromStats(
      MetricNames.WRITTEN_BYTES_TOTAL,
      'Encoded event bytes the writer appended',
      () => stats.snapshot().bytes,
    );
    counterFromStats(MetricNames.BATCHES_TOTAL, 'Group-commit batches appended', () => stats.snapshot().batches);
    counterFromStats(
      MetricNames.SEGMENTS_SEALED_TOTAL,
      'Segments sealed since the sink opened',
      () => stats.snapshot().segmentsSealed,
    );
    counterFromStats(
      MetricNames.CORRUPTIONS_TOTAL,
      'Problems found in the WAL since the sink opened, by sink.verify() and by the background check of the sealed segments',
      () => this.#corruptions,
    );
    const gauge = (name: string, help: string, read: () => number | Promise<number>): void => {
      track(
        name,
        new Gauge({
          name,
          help,
          registers: reg,
          async collect() {
            this.set(await read());
          },
        }),
      );
    };
    gauge(MetricNames.WAL_BYTES, 'Bytes of the WAL (sealed segments plus the open one), as of the last batch', () => {
      return stats.snapshot().walBytes;
    });
    gauge(MetricNames.SEGMENTS, 'Segment files in the WAL directory', async () => {
      try {
        return listSegmentFiles(source.dir, await fsp.readdir(source.dir)).segments.length;
      } catch {
        return 0;
      }
    });
    gauge(MetricNames.RING_USED_BYTES, 'Bytes of the ring claimed and not yet released by the writer', () => {
      return readRingUsage(source.sab).usedBytes;
    });
    gauge(MetricNames.RING_CAPACITY_BYTES, 'Size of the ring buffer', () => readRingUsage(source.sab).capacityBytes);
    gauge(MetricNames.LAST_DURABLE_SEQ, "Last seq that is fdatasync'd", () => readRingUsage(source.sab).durableSeq);
    gauge(MetricNames.WAL_WRITABLE, '1 while emits are accepted (WAL open, not faulted), else 0', () =>
      readRingUsage(source.sab).state === 'open' ? 1 : 0,
    );
    gauge(MetricNames.DISK_FREE_BYTES, "Free bytes on the WAL's file system (for unprivileged users)", async () => {
      try {
        return (await diskSpace(source.dir)).freeBytes;
      } catch {
        return 0;
      }
    });
    track(
      MetricNames.SHADOW_FAILURES_TOTAL,
      new Counter({
        name: MetricNames.SHADOW_FAILURES_TOTAL,
        help: 'Failed writes, fdatasyncs and open-time reconciles of each shadow directory (shadowDirs), by dir',
        labelNames: ['dir'],
        registers: reg,
        collect() {
          this.reset();
          for (const sh of source.shadows?.()?.shadows ?? []) this.inc({ dir: sh.dir }, sh.failures);
        },
      }),
    );
    gauge(
      MetricNames.SHADOWS_ACTIVE,
      'Shadow directories in the set (written and fdatasynced before every ack); 0 without shadowDirs',
      () => (source.shadows?.()?.shadows ?? []).filter((sh) => sh.state !== 'dropped').length,
    );
    gauge(MetricNames.DISK_TOTAL_BYTES, "Size of the WAL's file system", async () => {
      try {
        return (await diskSpace(source.dir)).totalBytes;
      } catch {
        return 0;
      }
    });
  }

  /** The Content-Type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The registry's metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Times one emit() call and counts its outcome. */
  trackEmit(ack: Promise<Ack>): Promise<Ack> {
    const t0 = performance.now();
    return ack.then(
      (a) => {
        this.#emitDuration.observe((performance.now() - t0) / 1000);
        this.#acked++;
        return a;
      },
      (err: unknown) => {
        this.#reject(err, 1);
        throw err;
      },
    );
  }

  /** Times one emitBatch() call of `count` events and counts their outcome. */
  trackBatch(acks: Promise<Ack[]>, count: number): Promise<Ack[]> {
    const t0 = performance.now();
    return acks.then(
      (a) => {
        this.#emitDuration.observe((performance.now() - t0) / 1000);
        this.#acked += a.length;
        return a;
      },
      (err: unknown) => {
        this.#reject(err, count);
        throw err;
      },
    );
  }

  /**
   * Registers the `ironlog_replication_*` metrics (lag, breaker, alerts, quorum; see
   * `docs/monitoring.md`), read from `source` at scrape time. Called by `openSink` when the sink
   * replicates; without replication they are not registered at all. Once per sink.
   */
  attachReplication(source: ReplicationMetricsSource): void {
    if (this.#disposed) return;
    if (this.#replication) {
      throw new IronlogError(ErrorCodes.INTERNAL, 'replication metrics are already attached to this sink');
    }
    this.#replication = new ReplicationMetrics(source, this.registry);
  }

  /** Adds `problems` to `ironlog_corruptions_total` (verify results, the sealed-segment check). */
  recordCorruptions(problems: number): void {
    if (problems > 0) this.#corruptions += problems;
  }

  /** Removes this sink's metrics from the registry (on close), so a new sink can use it. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const name of this.#names) this.registry.removeSingleMetric(name);
    this.#replication?.dispose();
  }

  #reject(err: unknown, count: number): void {
    this.#rejected += count;
    const code = (err as { code?: unknown } | null)?.code;
    const key = typeof code === 'string' ? code : 'unknown';
    this.#errorsByCode.set(key, (this.#errorsByCode.get(key) ?? 0) + count);
  }
}
