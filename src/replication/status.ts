/**
 * What `sink.replicationStatus()` reports: per-backend lag, breaker and last error, quorum
 * health, and how far the log is replicated. A pure read of the manifest and the backends'
 * runtime state; it changes when the report changes, not when scheduling does.
 */
import type { BackendConfig } from '../backends/types.js';
import type { BreakerState } from './breaker.js';
import type { Manifest } from './manifest.js';
import type { BackendRuntime } from './scheduling.js';

/** Replication state of one backend, as `sink.replicationStatus()` reports it. */
export interface BackendReplicationStatus {
  readonly name: string;
  readonly type: BackendConfig['type'];
  /** Sealed segments not (yet) stored and verified on this backend: `ironlog_replication_lag_segments{backend}`. */
  readonly lagSegments: number;
  /** Bytes of those segments. */
  readonly lagBytes: number;
  /** Segments stored and verified. */
  readonly replicatedSegments: number;
  readonly breaker: BreakerState;
  /** Failures in a row (0 after a success). */
  readonly consecutiveFailures: number;
  /** How often the breaker opened since open. */
  readonly breakerOpened: number;
  /** Tamper and verification alerts (segments that will not be retried). */
  readonly alerts: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly atMs: number } | undefined;
  readonly lastSuccessAtMs: number | undefined;
}

/** Replication state of the sink. */
export interface ReplicationStatus {
  readonly quorum: number;
  /** False when a breaker is open, an alert was raised, or quorum cannot currently be met. */
  readonly healthy: boolean;
  /** Why it is not healthy (one line each); empty when healthy. */
  readonly reasons: readonly string[];
  /** Sealed segments not yet stored on `quorum` backends. */
  readonly segmentsBelowQuorum: number;
  /** Every seq up to this one is in a segment stored on `quorum` backends (0: none yet). */
  readonly replicatedThroughSeq: number;
  readonly backends: readonly BackendReplicationStatus[];
}

/** Inputs of {@link replicationStatus}. */
export interface StatusInput {
  readonly manifest: Manifest;
  readonly backends: readonly BackendRuntime[];
  readonly quorum: number;
  /** The last failed manifest save, if the latest save failed. */
  readonly manifestError: string | undefined;
  readonly nowMs: number;
}

/** The status report of one manager at `input.nowMs`. */
export function replicationStatus(input: StatusInput): ReplicationStatus {
  const { manifest, quorum, nowMs } = input;
  const segs = manifest.sorted();
  const reasons: string[] = [];
  let reachable = 0;
  const backends = input.backends.map((b): BackendReplicationStatus => {
    let lagSegments = 0;
    let lagBytes = 0;
    let replicatedSegments = manifest.compacted.segments;
    let alerts = 0;
    for (const s of segs) {
      const r = s.backends[b.name];
      if (r?.state === 'done') replicatedSegments++;
      else {
        lagSegments++;
        lagBytes += s.bytes;
        if (r?.state === 'tamper' || r?.state === 'verify-failed') alerts++;
      }
    }
    const breaker = b.breaker.state(nowMs);
    if (breaker === 'closed') reachable++;
    else {
      reasons.push(
        `${b.name}: circuit breaker ${breaker} after ${b.breaker.failures} failures in a row (last error: ${b.lastError?.message ?? 'none'})`,
      );
    }
    if (alerts > 0) reasons.push(`${b.name}: ${alerts} segment(s) with tamper/verification alerts, not retried`);
    return {
      name: b.name,
      type: b.config.type,
      lagSegments,
      lagBytes,
      replicatedSegments,
      breaker,
      consecutiveFailures: b.breaker.failures,
      breakerOpened: b.breaker.timesOpened,
      alerts,
      lastError: b.lastError,
      lastSuccessAtMs: b.lastSuccessAtMs,
    };
  });
  if (reachable < quorum) {
    reasons.push(
      `quorum ${quorum} cannot be met: only ${reachable} of ${input.backends.length} backends reachable; ack 'replicated' waits`,
    );
  }
  if (input.manifestError !== undefined) reasons.push(`manifest: ${input.manifestError}`);
  let replicatedThroughSeq = manifest.compacted.throughSeq;
  let below = 0;
  let contiguous = true;
  for (const s of segs) {
    if (s.replicatedAtMs === undefined) {
      below++;
      contiguous = false;
    } else if (contiguous) replicatedThroughSeq = s.lastSeq;
  }
  return {
    quorum,
    healthy: reasons.length === 0,
    reasons,
    segmentsBelowQuorum: below,
    replicatedThroughSeq,
    backends,
  };
}
