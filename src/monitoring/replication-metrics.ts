/**
 * Replication metrics of a sink (registered only when the sink replicates; see
 * `docs/monitoring.md`). Gauges are read from `replicationStatus()` at scrape time, so they cost
 * nothing between scrapes; the two event counters (alerts, retryable errors) are kept from the
 * replication manager's events, because a status snapshot cannot tell how often something happened.
 */
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ErrorCodes, type IronlogError } from '../core/errors.js';
import type { ReplicationEvents, ReplicationStatus } from '../replication/manager.js';

/** Names of the replication metrics (all start with `ironlog_replicat`). */
export const ReplicationMetricNames = {
  LAG_SEGMENTS: 'ironlog_replication_lag_segments',
  LAG_BYTES: 'ironlog_replication_lag_bytes',
  REPLICATED_SEGMENTS: 'ironlog_replication_replicated_segments',
  BREAKER_OPEN: 'ironlog_replication_breaker_open',
  CONSECUTIVE_FAILURES: 'ironlog_replication_consecutive_failures',
  BREAKER_OPENED_TOTAL: 'ironlog_replication_breaker_opened_total',
  ALERT_SEGMENTS: 'ironlog_replication_alert_segments',
  ALERTS_TOTAL: 'ironlog_replication_alerts_total',
  ERRORS_TOTAL: 'ironlog_replication_errors_total',
  LAST_SUCCESS_SECONDS: 'ironlog_replication_last_success_timestamp_seconds',
  BACKENDS_REACHABLE: 'ironlog_replication_backends_reachable',
  QUORUM: 'ironlog_replication_quorum',
  SEGMENTS_BELOW_QUORUM: 'ironlog_replication_segments_below_quorum',
  REPLICATED_THROUGH_SEQ: 'ironlog_replicated_through_seq',
  HEALTHY: 'ironlog_replication_healthy',
} as const;

/** The `kind` label of `ironlog_replication_alerts_total`. */
export type ReplicationAlertKind = 'tamper' | 'verify';

/** What the replication metrics read: the sink's replication manager fits. */
export interface ReplicationMetricsSource {
  /** The current replication state (`sink.replicationStatus()`). */
  status(): ReplicationStatus;
  /** `alert` and `backendError` events feed the two counters. */
  readonly events: EventEmitter<ReplicationEvents>;
}

/** Replication metrics registered into one registry; {@link dispose} removes them. */
export class ReplicationMetrics {
  /** Names registered, for removal. */
  readonly names: readonly string[];
  readonly #registry: Registry;
  readonly #events: EventEmitter<ReplicationEvents>;
  readonly #alerts = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #onAlert: (err: IronlogError, backend: string) => void;
  readonly #onError: (err: IronlogError, backend: string) => void;
  #disposed = false;

  /** Registers every replication metric in `registry` and starts counting events of `source`. */
  constructor(source: ReplicationMetricsSource, registry: Registry) {
    this.#registry = registry;
    this.#events = source.events;
    const reg = [registry];
    const names: string[] = [];
    const alerts = this.#alerts;
    const errors = this.#errors;
    const backendNames = source.status().backends.map((b) => b.name);
    // Both kinds start at 0 for every backend, so `increase()` sees the first alert.
    for (const backend of backendNames) {
      for (const kind of ['tamper', 'verify'] as const) alerts.set(JSON.stringify([backend, kind]), 0);
    }
    this.#onAlert = (err, backend) => {
      const kind: ReplicationAlertKind = err.code === ErrorCodes.REPLICATION_TAMPER ? 'tamper' : 'verify';
      const key = JSON.stringify([backend, kind]);
      alerts.set(key, (alerts.get(key) ?? 0) + 1);
    };
    this.#onError = (err, backend) => {
      const key = JSON.stringify([backend, err.code]);
      errors.set(key, (errors.get(key) ?? 0) + 1);
    };
    source.events.on('alert', this.#onAlert);
    source.events.on('backendError', this.#onError);

    type BackendStatus = ReplicationStatus['backends'][number];
    const perBackend = (name: string, help: string, read: (b: BackendStatus) => number | undefined): void => {
      names.push(name);
      new Gauge({
        name,
        help,
        labelNames: ['backend'],
        registers: reg,
        collect() {
          this.reset();
          for (const b of source.status().backends) {
            const v = read(b);
            if (v !== undefined) this.set({ backend: b.name }, v);
          }
        },
      });
    };
    const whole = (name: string, help: string, read: (s: ReplicationStatus) => number): void => {
      names.push(name);
      new Gauge({
        name,
        help,
        registers: reg,
        collect() {
          this.set(read(source.status()));
        },
      });
    };
    const N = ReplicationMetricNames;
    perBackend(
      N.LAG_SEGMENTS,
      'Sealed segments not yet stored and verified on this backend (alerted ones included)',
      (b) => b.lagSegments,
    );
    perBackend(N.LAG_BYTES, 'Bytes of the sealed segments not yet stored on this backend', (b) => b.lagBytes);
    perBackend(
      N.REPLICATED_SEGMENTS,
      'Segments stored and verified on this backend (from the manifest)',
      (b) => b.replicatedSegments,
    );
    perBackend(
      N.BREAKER_OPEN,
      "1 while this backend's circuit breaker is open or half-open (uploads paused), else 0",
      (b) => (b.breaker === 'closed' ? 0 : 1),
    );
    perBackend(
      N.CONSECUTIVE_FAILURES,
      'Upload failures in a row on this backend (0 after a success)',
      (b) => b.consecutiveFailures,
    );
    perBackend(
      N.ALERT_SEGMENTS,
      'Segments held back on this backend by a tamper or verification alert (not retried; an operator must look)',
      (b) => b.alerts,
    );
    perBackend(
      N.LAST_SUCCESS_SECONDS,
      'Unix time of the last successful upload to this backend since the sink opened (absent before the first)',
      (b) => (b.lastSuccessAtMs === undefined ? undefined : b.lastSuccessAtMs / 1000),
    );
    names.push(N.BREAKER_OPENED_TOTAL);
    new Counter({
      name: N.BREAKER_OPENED_TOTAL,
      help: "How often this backend's circuit breaker opened since the sink opened",
      labelNames: ['backend'],
      registers: reg,
      collect() {
        this.reset();
        for (const b of source.status().backends) this.inc({ backend: b.name }, b.breakerOpened);
      },
    });
    names.push(N.ALERTS_TOTAL);
    new Counter({
      name: N.ALERTS_TOTAL,
      help: 'Tamper (kind="tamper") and verification (kind="verify") alerts raised since the sink opened',
      labelNames: ['backend', 'kind'],
      registers: reg,
      collect() {
        this.reset();
        for (const [key, n] of alerts) {
          const [backend, kind] = JSON.parse(key) as [string, string];
          this.inc({ backend, kind }, n);
        }
      },
    });
    names.push(N.ERRORS_TOTAL);
    new Counter({
      name: N.ERRORS_TOTAL,
      help: 'Retryable upload failures since the sink opened, by backend and error code',
      labelNames: ['backend', 'code'],
      registers: reg,
      collect() {
        this.reset();
        for (const [key, n] of errors) {
          const [backend, code] = JSON.parse(key) as [string, string];
          this.inc({ backend, code }, n);
        }
      },
    });
    whole(
      N.BACKENDS_REACHABLE,
      'Backends whose circuit breaker is closed (fewer than ironlog_replication_quorum: quorum cannot be met)',
      (s) => s.backends.filter((b) => b.breaker === 'closed').length,
    );
    whole(
      N.QUORUM,
      'Backends a segment must be stored on to count as replicated (replication.quorum)',
      (s) => s.quorum,
    );
    whole(
      N.SEGMENTS_BELOW_QUORUM,
      'Sealed segments not yet stored on a quorum of backends',
      (s) => s.segmentsBelowQuorum,
    );
    whole(
      N.REPLICATED_THROUGH_SEQ,
      'Every seq up to this one is in a segment stored on a quorum of backends (0: none yet)',
      (s) => s.replicatedThroughSeq,
    );
    whole(
      N.HEALTHY,
      '1 when replication is healthy (breakers closed, no alerts, quorum reachable, manifest writable), else 0',
      (s) => (s.healthy ? 1 : 0),
    );
    this.names = names;
  }

  /** Removes the metrics from the registry and stops listening to the events. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#events.off('alert', this.#onAlert);
    this.#events.off('backendError', this.#onError);
    for (const name of this.names) this.#registry.removeSingleMetric(name);
  }
}
