/**
 * Monitoring: Prometheus metrics of a sink and its health checks. See `docs/monitoring.md`.
 */
export { BucketHistogram, type BucketSnapshot, LocalHistogram } from './bucket-histogram.js';
export {
  checkHealth,
  diskSpace,
  type HealthOptions,
  type HealthReport,
  type HealthSource,
  type ReplicationHealth,
} from './health.js';
export {
  type ReplicationAlertKind,
  ReplicationMetricNames,
  ReplicationMetrics,
  type ReplicationMetricsSource,
} from './replication-metrics.js';
export { type RingUsage, readRingUsage, type WalStateName } from './ring-usage.js';
export {
  assertRegistryFree,
  EMIT_BUCKETS_SECONDS,
  MetricNames,
  SinkMetrics,
  type SinkMetricsSource,
} from './sink-metrics.js';
