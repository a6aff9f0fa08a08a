/**
 * Health of a sink for `/health`, `/health/live` and `/health/ready`:
 *  - live: the writer worker is running (a faulted WAL is still live: it retries by itself);
 *  - ready: live, the WAL is open and writable, the disk has room, and the ring is not saturated;
 *    with `ack: 'replicated'` also: enough backends are reachable for the quorum (otherwise every
 *    emit would wait). A backend being down does not by itself make a sink unready: emits keep
 *    working and the backlog drains once it is back;
 *  - status `degraded`: live but not ready, or ready with unhealthy replication (breaker open,
 *    tamper/verification alert, quorum unreachable, manifest not writable), or ready with damaged
 *    sealed segments (found by the background check after open), or with a shadow directory
 *    (`shadowDirs`) failing or dropped, with the reasons.
 */
import * as fsp from 'node:fs/promises';
import { invalidOption } from '../core/errors.js';
import type { BackendReplicationStatus, ReplicationStatus } from '../replication/manager.js';
import type { ShadowStatus } from '../wal/shadow.js';
import type { VerifyProblem } from '../wal/verify.js';
import { readRingUsage, type WalStateName } from './ring-usage.js';

/** Where the check of the sealed segments stands (`sink.health().integrity`). */
export interface IntegrityStatus {
  /**
   * `none`: no sealed segment to check; `pending`: the worker is reading; `ok`: every sealed
   * segment is intact; `damaged`: see `problems`; `error`: the check itself failed (`error`).
   */
  readonly state: 'none' | 'pending' | 'ok' | 'damaged' | 'error';
  /** Sealed segments checked. */
  readonly segmentsChecked: number;
  /** Bytes read. */
  readonly bytesChecked: number;
  /** Damage found (empty unless `damaged`). */
  readonly problems: readonly VerifyProblem[];
  /** Why the check failed (`error` only). */
  readonly error?: string;
  /** Wall time of the check, milliseconds (once done). */
  readonly durationMs?: number;
}

/** Thresholds of the health check (`sink.health(options)`, `/health` of `ironlog serve`). */
export interface HealthOptions {
  /** Not ready below this many free bytes on the WAL's file system. Default: 2 × segmentBytes. */
  minDiskFreeBytes?: number;
  /** Not ready when the ring is fuller than this fraction (0-1). Default 0.9. */
  maxRingFill?: number;
}

/** The replication part of a {@link HealthReport} (present when the sink replicates). */
export interface ReplicationHealth {
  /** False when a breaker is not closed, a backend has alerts, the quorum is unreachable or the manifest cannot be written. */
  readonly ok: boolean;
  readonly quorum: number;
  /** Backends whose circuit breaker is closed. */
  readonly backendsReachable: number;
  /** `backendsReachable >= quorum`. */
  readonly quorumReachable: boolean;
  /** True with `ack: 'replicated'`: emits wait for the quorum, so an unreachable quorum makes the sink unready. */
  readonly acksWaitForQuorum: boolean;
  readonly segmentsBelowQuorum: number;
  readonly replicatedThroughSeq: number;
  /** Why replication is not ok (one line each). */
  readonly reasons: readonly string[];
  readonly backends: readonly BackendReplicationStatus[];
}

/** What the health check reports (`sink.health()`, `/health` of `ironlog serve`). */
export interface HealthReport {
  /**
   * `ok` (ready, replication healthy), `degraded` (live, but not ready or replication unhealthy)
   * or `down` (not live).
   */
  readonly status: 'ok' | 'degraded' | 'down';
  readonly live: boolean;
  readonly ready: boolean;
  /**
   * Why the status is not `ok` (empty when it is): readiness problems, then replication problems
   * prefixed `replication: `.
   */
  readonly reasons: string[];
  readonly wal: {
    readonly dir: string;
    readonly state: WalStateName;
    /** True when emits are accepted right now. */
    readonly writable: boolean;
    readonly faultCode?: string;
    readonly durableSeq: number;
  };
  readonly disk: {
    readonly freeBytes: number;
    readonly totalBytes: number;
    readonly freeRatio: number;
    readonly minFreeBytes: number;
    readonly ok: boolean;
    /** Set when `statfs` failed. */
    readonly error?: string;
  };
  readonly ring: {
    readonly usedBytes: number;
    readonly capacityBytes: number;
    readonly fill: number;
    readonly maxFill: number;
    readonly ok: boolean;
  };
  /** Replication detail; absent when the sink does not replicate. */
  readonly replication?: ReplicationHealth;
  /**
   * The background check of the sealed segments found at open (every CRC, chain hash and seal
   * recomputed). `damaged` makes the status `degraded` (still ready: new events are written).
   */
  readonly integrity?: IntegrityStatus;
  /**
   * With `shadowDirs`: each shadow's state. A shadow that is `failing` or `dropped` makes the
   * status `degraded` (reasons `shadow <dir>: ...`); readiness follows the WAL as usual.
   */
  readonly shadows?: ShadowStatus;
  /** ISO time of the check. */
  readonly checkedAt: string;
}

/** What the health check (`checkHealth`) looks at. */
export interface HealthSource {
  readonly dir: string;
  readonly sab: SharedArrayBuffer;
  readonly segmentBytes: number;
  /** The replication state (`sink.replicationStatus()`), when the sink replicates. */
  readonly replication?: ReplicationStatus | undefined;
  /** The sink's ack level: with `'replicated'`, an unreachable quorum makes the sink unready. */
  readonly ack?: 'durable' | 'written' | 'replicated';
  /** The sealed-segment check's status, when the sink ran one. */
  readonly integrity?: IntegrityStatus | undefined;
  /** The shadows' state (`sink.shadowStatus()`), when the sink has shadows. */
  readonly shadows?: ShadowStatus | undefined;
}

function replicationHealth(status: ReplicationStatus, ack: HealthSource['ack']): ReplicationHealth {
  const backendsReachable = status.backends.filter((b) => b.breaker === 'closed').length;
  return {
    ok: status.healthy,
    quorum: status.quorum,
    backendsReachable,
    quorumReachable: backendsReachable >= status.quorum,
    acksWaitForQuorum: ack === 'replicated',
    segmentsBelowQuorum: status.segmentsBelowQuorum,
    replicatedThroughSeq: status.replicatedThroughSeq,
    reasons: status.reasons,
    backends: status.backends,
  };
}

/** Free and total bytes of the file system holding `dir`. */
export async function diskSpace(dir: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const s = await fsp.statfs(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

function resolveHealthOptions(source: HealthSource, opts: HealthOptions): Required<HealthOptions> {
  const { minDiskFreeBytes, maxRingFill } = opts;
  if (minDiskFreeBytes !== undefined && !(Number.isSafeInteger(minDiskFreeBytes) && minDiskFreeBytes >= 0)) {
    throw invalidOption('options.minDiskFreeBytes must be a non-negative integer');
  }
  if (maxRingFill !== undefined && !(typeof maxRingFill === 'number' && maxRingFill > 0 && maxRingFill <= 1)) {
    throw invalidOption('options.maxRingFill must be a number in (0, 1]');
  }
  return {
    minDiskFreeBytes: minDiskFreeBytes ?? 2 * source.segmentBytes,
    maxRingFill: maxRingFill ?? 0.9,
  };
}

/** Checks the WAL state, the disk and the ring. Never throws for an unhealthy sink. */
export async function checkHealth(source: HealthSource, opts: HealthOptions = {}): Promise<HealthReport> {
  const { minDiskFreeBytes, maxRingFill } = resolveHealthOptions(source, opts);
  const ring = readRingUsage(source.sab);
  const reasons: string[] = [];
  const live = ring.state !== 'dead';
  const writable = ring.state === 'open';
  if (!writable) reasons.push(`the WAL is ${ring.state}${ring.faultCode ? ` (${ring.faultCode})` : ''}`);
  let disk: HealthReport['disk'];
  try {
    const space = await diskSpace(source.dir);
    const ok = space.freeBytes >= minDiskFreeBytes;
    if (!ok) reasons.push(`only ${space.freeBytes} bytes free on the WAL's disk (minimum ${minDiskFreeBytes})`);
    disk = {
      ...space,
      freeRatio: space.totalBytes > 0 ? space.freeBytes / space.totalBytes : 0,
      minFreeBytes: minDiskFreeBytes,
      ok,
    };
  } catch (err) {
    reasons.push(`cannot statfs the WAL directory: ${(err as Error).message}`);
    disk = {
      freeBytes: 0,
      totalBytes: 0,
      freeRatio: 0,
      minFreeBytes: minDiskFreeBytes,
      ok: false,
      error: (err as Error).message,
    };
  }
  const ringOk = ring.fill <= maxRingFill;
  if (!ringOk) reasons.push(`the ring is ${(ring.fill * 100).toFixed(1)}% full (maximum ${maxRingFill * 100}%)`);
  const replication = source.replication ? replicationHealth(source.replication, source.ack) : undefined;
  // Only an ack that waits for the quorum makes an unreachable quorum an ingest problem.
  const quorumOk = replication === undefined || !replication.acksWaitForQuorum || replication.quorumReachable;
  if (!quorumOk && replication) {
    reasons.push(
      `ack 'replicated' cannot complete: ${replication.backendsReachable} of ${replication.backends.length} backends reachable, quorum ${replication.quorum}`,
    );
  }
  const ready = live && writable && disk.ok && ringOk && quorumOk;
  if (replication) for (const r of replication.reasons) reasons.push(`replication: ${r}`);
  const integrity = source.integrity;
  const damaged = integrity?.state === 'damaged';
  if (damaged && integrity) {
    const shown = integrity.problems.slice(0, 3);
    for (const p of shown) {
      reasons.push(`wal: sealed segment ${p.segment} is damaged at offset ${p.offset}: ${p.message}`);
    }
    if (integrity.problems.length > shown.length) {
      reasons.push(`wal: ${integrity.problems.length - shown.length} more problem(s) in sealed segments`);
    }
    reasons.push('wal: run `ironlog verify` on the directory, then `ironlog recover`');
  }
  const shadows = source.shadows;
  let shadowsOk = true;
  for (const sh of shadows?.shadows ?? []) {
    if (sh.state === 'active') continue;
    shadowsOk = false;
    const what = sh.state === 'dropped' ? 'dropped from the set' : 'failing (emits are rejected until it works)';
    reasons.push(`shadow ${sh.dir}: ${what} after ${sh.failures} failure(s); last: ${sh.lastError ?? 'unknown'}`);
  }
  const healthy = ready && (replication === undefined || replication.ok) && !damaged && shadowsOk;
  return {
    status: healthy ? 'ok' : live ? 'degraded' : 'down',
    live,
    ready,
    reasons,
    wal: {
      dir: source.dir,
      state: ring.state,
      writable,
      ...(ring.faultCode ? { faultCode: ring.faultCode } : {}),
      durableSeq: ring.durableSeq,
    },
    disk,
    ring: {
      usedBytes: ring.usedBytes,
      capacityBytes: ring.capacityBytes,
      fill: ring.fill,
      maxFill: maxRingFill,
      ok: ringOk,
    },
    ...(replication ? { replication } : {}),
    ...(integrity ? { integrity } : {}),
    ...(shadows ? { shadows } : {}),
    checkedAt: new Date().toISOString(),
  };
}
