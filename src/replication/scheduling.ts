/**
 * Upload scheduling: one queue, circuit breaker and backoff per backend. Each backend uploads its
 * oldest pending segment, one at a time, through the injected {@link ReplicateRunner}; a failure
 * backs that backend off (full jitter) and feeds its breaker, so a dead backend only grows its own
 * lag. What a settled upload means for quorum, waiters and retention is the manager's business
 * (the `onSettled` hook).
 */
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { backendName } from '../backends/common.js';
import { countStored } from '../backends/quorum.js';
import type { BackendConfig } from '../backends/types.js';
import { ErrorCodes, IronlogError, type WireError } from '../core/errors.js';
import { CircuitBreaker } from './breaker.js';
import type { Manifest, ManifestSegment, ReplicaRecord } from './manifest.js';
import { segmentObjectKey } from './naming.js';
import type { ResolvedReplicationOptions } from './options.js';
import { fullJitterDelayMs } from './retry.js';
import type { ReplicateResult, ReplicateRunner, ReplicateTask } from './task.js';

const debug = debuglog('ironlog');

/** The scheduling state of one backend (also read by `status.ts`). */
export interface BackendRuntime {
  readonly config: BackendConfig;
  readonly name: string;
  readonly breaker: CircuitBreaker;
  inFlight: boolean;
  retryAtMs: number;
  failStreak: number;
  timer: NodeJS.Timeout | undefined;
  lastError: { code: string; message: string; atMs: number } | undefined;
  lastSuccessAtMs: number | undefined;
}

/** What one settled upload changed, for the manager's bookkeeping. */
export type UploadOutcome =
  | { readonly ok: true; readonly segment: ManifestSegment; readonly newlyReplicated: boolean }
  | { readonly ok: false; readonly segment: ManifestSegment; readonly error: IronlogError; readonly alert: boolean };

/** Arguments of {@link UploadScheduler}. */
export interface UploadSchedulerInit {
  readonly dir: string;
  readonly nodeId: string;
  readonly manifest: Manifest;
  readonly options: ResolvedReplicationOptions;
  readonly runner: ReplicateRunner;
  readonly now: () => number;
  readonly random: () => number;
  /** Called after each settled upload's manifest record is updated (not for failures while stopping). */
  readonly onSettled: (backend: BackendRuntime, outcome: UploadOutcome) => Promise<void>;
}

/** The task that uploads `seg` to backend `b`: deterministic key, `ironlog-*` metadata. */
export function replicateTaskFor(dir: string, nodeId: string, b: BackendRuntime, seg: ManifestSegment): ReplicateTask {
  return {
    backend: b.config,
    path: path.join(dir, seg.file),
    key: segmentObjectKey(b.config.prefix, nodeId, seg.firstSeq, seg.lastSeq),
    metadata: {
      'ironlog-format': '1',
      'ironlog-node': nodeId,
      'ironlog-first-seq': String(seg.firstSeq),
      'ironlog-last-seq': String(seg.lastSeq),
      'ironlog-records': String(seg.records),
      'ironlog-seal-sha256': seg.sealSha256,
      'ironlog-merkle-root': seg.merkleRoot,
    },
    expectSha256: seg.sha256,
  };
}

/** Schedules the uploads of every backend. */
export class UploadScheduler {
  readonly backends: readonly BackendRuntime[];
  readonly #init: UploadSchedulerInit;
  readonly #inflight = new Set<Promise<void>>();
  #stopped = false;

  constructor(init: UploadSchedulerInit) {
    this.#init = init;
    const { breaker } = init.options;
    this.backends = init.options.backends.map((config) => ({
      config,
      name: backendName(config),
      breaker: new CircuitBreaker(breaker.failureThreshold, breaker.cooldownMs),
      inFlight: false,
      retryAtMs: 0,
      failStreak: 0,
      timer: undefined,
      lastError: undefined,
      lastSuccessAtMs: undefined,
    }));
  }

  /** Starts the next upload of every backend that is idle and allowed to run. */
  pumpAll(): void {
    for (const b of this.backends) this.#pump(b);
  }

  /** Starts nothing more and cancels every backoff timer. Uploads in flight run on. */
  stop(): void {
    this.#stopped = true;
    for (const b of this.backends) if (b.timer) clearTimeout(b.timer);
  }

  /** Waits until the uploads in flight settled, or `timeoutMs` passed. */
  async settle(timeoutMs: number): Promise<void> {
    if (this.#inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #schedule(b: BackendRuntime, delayMs: number): void {
    if (b.timer) return;
    b.timer = setTimeout(
      () => {
        b.timer = undefined;
        this.#pump(b);
      },
      Math.max(1, delayMs),
    );
  }

  /** The oldest segment still pending on `b` (and still on the local disk). */
  #nextFor(b: BackendRuntime): ManifestSegment | undefined {
    let best: ManifestSegment | undefined;
    for (const s of this.#init.manifest.segments.values()) {
      if (s.localDeletedAtMs !== undefined || s.backends[b.name]?.state !== 'pending') continue;
      if (best === undefined || s.firstSeq < best.firstSeq) best = s;
    }
    return best;
  }

  #pump(b: BackendRuntime): void {
    if (this.#stopped || b.inFlight) return;
    const seg = this.#nextFor(b);
    if (seg === undefined) return;
    const now = this.#init.now();
    if (now < b.retryAtMs) {
      this.#schedule(b, b.retryAtMs - now);
      return;
    }
    if (!b.breaker.allow(now)) {
      this.#schedule(b, b.breaker.openUntilMs - now);
      return;
    }
    b.inFlight = true;
    const run = this.#init.runner
      .run(replicateTaskFor(this.#init.dir, this.#init.nodeId, b, seg))
      .catch(
        (err: unknown): ReplicateResult => ({
          ok: false,
          error: new IronlogError(ErrorCodes.WORKER_EXITED, `replicator task failed: ${String(err)}`).toWire(),
          sha256: undefined,
        }),
      )
      .then((res) => this.#onResult(b, seg, res))
      .catch((err: unknown) => debug('replication bookkeeping failed: %s', String(err)))
      .finally(() => {
        b.inFlight = false;
        this.#inflight.delete(run);
        this.#pump(b);
      });
    this.#inflight.add(run);
  }

  async #onResult(b: BackendRuntime, seg: ManifestSegment, res: ReplicateResult): Promise<void> {
    // A failure while stopping is not the backend's fault (the pool is going away): record nothing.
    if (this.#stopped && !res.ok) return;
    const outcome = res.ok ? this.#recordSuccess(b, seg, res) : this.#recordFailure(b, seg, res.error);
    await this.#init.onSettled(b, outcome);
  }

  #record(b: BackendRuntime, seg: ManifestSegment): ReplicaRecord {
    const rec = seg.backends[b.name] ?? { state: 'pending', attempts: 0 };
    seg.backends[b.name] = rec;
    rec.attempts++;
    return rec;
  }

  #recordSuccess(b: BackendRuntime, seg: ManifestSegment, res: ReplicateResult & { ok: true }): UploadOutcome {
    const now = this.#init.now();
    const rec = this.#record(b, seg);
    seg.sha256 ??= res.sha256;
    rec.state = 'done';
    rec.doneAtMs = now;
    rec.lastError = undefined;
    b.breaker.success();
    b.failStreak = 0;
    b.retryAtMs = 0;
    b.lastSuccessAtMs = now;
    debug('replicated %s to %s (%s, %s)', seg.file, b.name, res.outcome, res.verifiedBy);
    const newlyReplicated =
      seg.replicatedAtMs === undefined && countStored(Object.values(seg.backends)) >= this.#init.options.quorum;
    if (newlyReplicated) seg.replicatedAtMs = now;
    return { ok: true, segment: seg, newlyReplicated };
  }

  #recordFailure(b: BackendRuntime, seg: ManifestSegment, wire: WireError): UploadOutcome {
    const now = this.#init.now();
    const rec = this.#record(b, seg);
    const err = IronlogError.fromWire(wire);
    rec.lastError = { code: err.code, message: err.message, atMs: now };
    b.lastError = rec.lastError;
    if (err.code === ErrorCodes.REPLICATION_TAMPER || err.code === ErrorCodes.REPLICATION_VERIFY) {
      // Not retried: the segment stays in this state until an operator looks.
      rec.state = err.code === ErrorCodes.REPLICATION_TAMPER ? 'tamper' : 'verify-failed';
      debug('replication alert on %s: %s', b.name, err.message);
      return { ok: false, segment: seg, error: err, alert: true };
    }
    b.failStreak++;
    // A local read error is not the backend's fault: back off, but leave its breaker alone.
    if (err.code !== ErrorCodes.IO) b.breaker.failure(now);
    const { baseMs, capMs } = this.#init.options.retry;
    b.retryAtMs = now + fullJitterDelayMs(b.failStreak - 1, baseMs, capMs, this.#init.random);
    return { ok: false, segment: seg, error: err, alert: false };
  }
}
