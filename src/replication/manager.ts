/**
 * The replication manager (main thread): owns the manifest, one queue + circuit breaker + backoff
 * per backend, the piscina pool that does the uploads, quorum bookkeeping for
 * `ack: 'replicated'`, and local retention. Nothing here blocks the writer: the sink hands over
 * sealed segments and carries on; a dead backend only grows its own lag.
 */
import { EventEmitter } from 'node:events';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { Piscina } from 'piscina';
import { backendName } from '../backends/common.js';
import { countStored } from '../backends/quorum.js';
import type { BackendConfig } from '../backends/types.js';
import { ErrorCodes, IronlogError, type WireError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import { listSegmentFiles, segmentFileName } from '../wal/segment.js';
import type { ReplicateResult, ReplicateTask } from '../workers/replicator/messages.js';
import { type BreakerState, CircuitBreaker } from './breaker.js';
import { listSealedSegments } from './local-segments.js';
import { Manifest, type ManifestSegment } from './manifest.js';
import { segmentObjectKey } from './naming.js';
import type { ResolvedReplicationOptions } from './options.js';
import { fullJitterDelayMs } from './retry.js';

const debug = debuglog('ironlog');

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

/** Events of {@link ReplicationManager.events}. */
export interface ReplicationEvents {
  /** A segment reached quorum. */
  replicated: [segment: { firstSeq: number; lastSeq: number }];
  /** A tamper or verification alert (`ERR_IRONLOG_REPLICATION_TAMPER` / `_VERIFY`): a metric and an operator's job. */
  alert: [error: IronlogError, backend: string];
  /** A retryable backend failure. */
  backendError: [error: IronlogError, backend: string];
}

/** How the manager runs a task (the piscina pool by default; tests may run in-process). */
export type RunReplicateTask = (task: ReplicateTask) => Promise<ReplicateResult>;

/** Arguments of {@link ReplicationManager.open}. */
export interface ReplicationManagerInit {
  readonly dir: string;
  readonly nodeId: string;
  readonly options: ResolvedReplicationOptions;
  readonly runTask?: RunReplicateTask;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface BackendRuntime {
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

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Replicates sealed segments of one WAL directory. Create with {@link ReplicationManager.open}. */
export class ReplicationManager {
  /** `replicated`, `alert`, `backendError`. */
  readonly events: EventEmitter<ReplicationEvents> = new EventEmitter<ReplicationEvents>();
  readonly #dir: string;
  readonly #nodeId: string;
  readonly #opts: ResolvedReplicationOptions;
  readonly #manifest: Manifest;
  readonly #backends: BackendRuntime[];
  readonly #runTask: RunReplicateTask;
  readonly #pool: Piscina | undefined;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #inflight = new Set<Promise<void>>();
  #waiters: Waiter[] = [];
  #maxSealedSeq = 0;
  #closing = false;
  #manifestError: string | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;

  private constructor(init: ReplicationManagerInit, manifest: Manifest) {
    this.#dir = init.dir;
    this.#nodeId = init.nodeId;
    this.#opts = init.options;
    this.#manifest = manifest;
    this.#now = init.now ?? Date.now;
    this.#random = init.random ?? Math.random;
    this.#backends = init.options.backends.map((config) => ({
      config,
      name: backendName(config),
      breaker: new CircuitBreaker(init.options.breaker.failureThreshold, init.options.breaker.cooldownMs),
      inFlight: false,
      retryAtMs: 0,
      failStreak: 0,
      timer: undefined,
      lastError: undefined,
      lastSuccessAtMs: undefined,
    }));
    if (init.runTask) {
      this.#runTask = init.runTask;
    } else {
      // Workers start from the compiled JS next to this file (Node 20 cannot load .ts in a worker).
      const pool = new Piscina({
        filename: new URL('../workers/replicator/task.js', import.meta.url).href,
        maxThreads: init.options.threads,
        minThreads: 0,
        idleTimeout: 30_000,
      });
      this.#pool = pool;
      this.#runTask = (task) => pool.run(task) as Promise<ReplicateResult>;
    }
    const names = this.#backends.map((b) => b.name).sort();
    const c = manifest.compacted;
    if (c.throughSeq > 0 && !names.every((n) => c.backends.includes(n))) {
      // A backend was added: compacted segments must go there too. The open scan queues them again;
      // the backends that already hold them answer the HEAD and count them as done.
      manifest.compacted = { throughSeq: 0, segments: 0, backends: names };
    }
    this.#maxSealedSeq = manifest.compacted.throughSeq;
    for (const seg of manifest.segments.values()) {
      this.#maxSealedSeq = Math.max(this.#maxSealedSeq, seg.lastSeq);
      // Backends added to the configuration since the last run start as pending.
      for (const b of this.#backends) seg.backends[b.name] ??= { state: 'pending', attempts: 0 };
    }
  }

  /**
   * Loads (or creates) the manifest of `init.dir` and sets up the upload pool (threads start on
   * the first upload). Synchronous: see {@link Manifest.loadSync}. Call {@link start} next.
   */
  static create(init: ReplicationManagerInit): ReplicationManager {
    return new ReplicationManager(init, Manifest.loadSync(init.dir, init.nodeId));
  }

  /**
   * Catch-up on open: queues every sealed segment in the WAL directory that the manifest does not
   * know yet, and resumes every pending upload the manifest lists.
   */
  async start(): Promise<void> {
    const sealed = await listSealedSegments(this.#dir);
    for (const s of sealed) {
      if (s.lastSeq > this.#manifest.compacted.throughSeq) this.#add(s, Math.floor(s.sealedUs / 1000));
    }
    await this.#save();
    for (const seg of this.#manifest.segments.values()) if (seg.replicatedAtMs !== undefined) this.#resolveWaiters(seg);
    if (this.#opts.localRetention && !this.#opts.localRetention.legalHold) {
      const every = Math.max(1000, Math.min(this.#opts.localRetention.deleteAfterMs, 60_000));
      this.#retentionTimer = setInterval(() => void this.#applyRetention(), every);
      this.#retentionTimer.unref();
      await this.#applyRetention();
    }
    this.#pumpAll();
  }

  /** Hands over a segment the writer just sealed. */
  enqueue(segment: SealedSegment): void {
    if (this.#closing) return;
    if (this.#add(segment, this.#now())) void this.#save();
    this.#pumpAll();
  }

  /** Resolves once the segment holding `seq` is stored and verified on `quorum` backends. */
  waitReplicated(seq: number): Promise<void> {
    if (seq <= this.#maxSealedSeq && this.#isReplicated(seq)) return Promise.resolve();
    if (this.#closing) return Promise.reject(this.#closedError(seq));
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
  }

  /** The state of every backend: lag, breaker, last error; and whether quorum can be met. */
  status(): ReplicationStatus {
    const now = this.#now();
    const segs = this.#manifest.sorted();
    const reasons: string[] = [];
    let reachable = 0;
    const backends = this.#backends.map((b): BackendReplicationStatus => {
      let lagSegments = 0;
      let lagBytes = 0;
      let replicatedSegments = 0;
      let alerts = 0;
      replicatedSegments += this.#manifest.compacted.segments;
      for (const s of segs) {
        const r = s.backends[b.name];
        if (r?.state === 'done') replicatedSegments++;
        else {
          lagSegments++;
          lagBytes += s.bytes;
          if (r?.state === 'tamper' || r?.state === 'verify-failed') alerts++;
        }
      }
      const breaker = b.breaker.state(now);
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
    if (reachable < this.#opts.quorum) {
      reasons.push(
        `quorum ${this.#opts.quorum} cannot be met: only ${reachable} of ${this.#backends.length} backends reachable; ack 'replicated' waits`,
      );
    }
    if (this.#manifestError !== undefined) reasons.push(`manifest: ${this.#manifestError}`);
    let replicatedThroughSeq = this.#manifest.compacted.throughSeq;
    let below = 0;
    let contiguous = true;
    for (const s of this.#manifest.sorted()) {
      if (s.replicatedAtMs === undefined) {
        below++;
        contiguous = false;
      } else if (contiguous) replicatedThroughSeq = s.lastSeq;
    }
    return {
      quorum: this.#opts.quorum,
      healthy: reasons.length === 0,
      reasons,
      segmentsBelowQuorum: below,
      replicatedThroughSeq,
      backends,
    };
  }

  /**
   * Stops scheduling, waits up to `closeTimeoutMs` for uploads in flight (an abandoned one resumes
   * on the next open), stops the pool and rejects `ack: 'replicated'` waiters with `ERR_IRONLOG_CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const b of this.#backends) if (b.timer) clearTimeout(b.timer);
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    if (this.#inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inflight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#opts.closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.#pool?.destroy();
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError(w.seq));
    await this.#save();
  }

  #closedError(seq: number): IronlogError {
    return new IronlogError(
      ErrorCodes.CLOSED,
      `the sink closed before seq ${seq} was replicated to a quorum; it is durable locally and replication resumes on the next open`,
    );
  }

  #add(s: SealedSegment, sealedAtMs: number): boolean {
    if (this.#manifest.segments.has(s.firstSeq)) return false;
    const backends: ManifestSegment['backends'] = {};
    for (const b of this.#backends) backends[b.name] = { state: 'pending', attempts: 0 };
    this.#manifest.segments.set(s.firstSeq, {
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      records: s.records,
      bytes: s.bytes,
      file: segmentFileName(s.firstSeq),
      sealSha256: s.sealSha256,
      merkleRoot: s.merkleRoot,
      sealedAtMs,
      backends,
    });
    this.#maxSealedSeq = Math.max(this.#maxSealedSeq, s.lastSeq);
    return true;
  }

  async #save(): Promise<void> {
    try {
      await this.#manifest.save();
      this.#manifestError = undefined;
    } catch (err) {
      this.#manifestError = err instanceof Error ? err.message : String(err);
      debug('replication manifest save failed: %s', this.#manifestError);
    }
  }

  #isReplicated(seq: number): boolean {
    if (seq <= this.#manifest.compacted.throughSeq) return true;
    for (const s of this.#manifest.segments.values()) {
      if (seq >= s.firstSeq && seq <= s.lastSeq) return s.replicatedAtMs !== undefined;
    }
    return false;
  }

  #resolveWaiters(seg: ManifestSegment): void {
    if (this.#waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq >= seg.firstSeq && w.seq <= seg.lastSeq) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  #pendingAnywhere(s: ManifestSegment): boolean {
    return Object.values(s.backends).some((r) => r.state === 'pending');
  }

  #pumpAll(): void {
    for (const b of this.#backends) this.#pump(b);
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

  #nextFor(b: BackendRuntime): ManifestSegment | undefined {
    let best: ManifestSegment | undefined;
    for (const s of this.#manifest.segments.values()) {
      if (s.localDeletedAtMs !== undefined || s.backends[b.name]?.state !== 'pending') continue;
      if (best === undefined || s.firstSeq < best.firstSeq) best = s;
    }
    return best;
  }

  #pump(b: BackendRuntime): void {
    if (this.#closing || b.inFlight) return;
    const seg = this.#nextFor(b);
    if (seg === undefined) return;
    const now = this.#now();
    if (now < b.retryAtMs) {
      this.#schedule(b, b.retryAtMs - now);
      return;
    }
    if (!b.breaker.allow(now)) {
      this.#schedule(b, b.breaker.openUntilMs - now);
      return;
    }
    b.inFlight = true;
    const task: ReplicateTask = {
      backend: b.config,
      path: path.join(this.#dir, seg.file),
      key: segmentObjectKey(b.config.prefix, this.#nodeId, seg.firstSeq, seg.lastSeq),
      metadata: {
        'ironlog-format': '1',
        'ironlog-node': this.#nodeId,
        'ironlog-first-seq': String(seg.firstSeq),
        'ironlog-last-seq': String(seg.lastSeq),
        'ironlog-records': String(seg.records),
        'ironlog-seal-sha256': seg.sealSha256,
        'ironlog-merkle-root': seg.merkleRoot,
      },
      expectSha256: seg.sha256,
    };
    const run = this.#runTask(task)
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
    if (this.#closing && !res.ok) return;
    const now = this.#now();
    const rec = seg.backends[b.name] ?? { state: 'pending', attempts: 0 };
    seg.backends[b.name] = rec;
    rec.attempts++;
    if (res.ok) {
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
        seg.replicatedAtMs === undefined && countStored(Object.values(seg.backends)) >= this.#opts.quorum;
      if (newlyReplicated) seg.replicatedAtMs = now;
      this.#compact();
      await this.#save();
      if (newlyReplicated) {
        this.#resolveWaiters(seg);
        this.events.emit('replicated', { firstSeq: seg.firstSeq, lastSeq: seg.lastSeq });
        await this.#applyRetention();
      }
      return;
    }
    const err = IronlogError.fromWire(res.error as WireError);
    rec.lastError = { code: err.code, message: err.message, atMs: now };
    b.lastError = rec.lastError;
    if (err.code === ErrorCodes.REPLICATION_TAMPER || err.code === ErrorCodes.REPLICATION_VERIFY) {
      rec.state = err.code === ErrorCodes.REPLICATION_TAMPER ? 'tamper' : 'verify-failed';
      debug('replication alert on %s: %s', b.name, err.message);
      if (this.events.listenerCount('alert') > 0) this.events.emit('alert', err, b.name);
    } else {
      b.failStreak++;
      // A local read error is not the backend's fault: back off, but leave its breaker alone.
      if (err.code !== ErrorCodes.IO) b.breaker.failure(now);
      b.retryAtMs =
        now + fullJitterDelayMs(b.failStreak - 1, this.#opts.retry.baseMs, this.#opts.retry.capMs, this.#random);
      if (this.events.listenerCount('backendError') > 0) this.events.emit('backendError', err, b.name);
    }
    await this.#save();
  }

  /**
   * Drops the leading run of complete segments from the manifest (see `ManifestCompaction`):
   * stored on every backend and, when local retention will delete them, deleted already.
   */
  #compact(): void {
    const lr = this.#opts.localRetention;
    const waitForRetention = lr !== undefined && !lr.legalHold;
    const c = this.#manifest.compacted;
    for (const s of this.#manifest.sorted()) {
      const complete = this.#backends.every((b) => s.backends[b.name]?.state === 'done');
      if (!complete || (waitForRetention && s.localDeletedAtMs === undefined)) break;
      if (s.firstSeq > c.throughSeq + 1 && c.throughSeq > 0) break;
      this.#manifest.segments.delete(s.firstSeq);
      c.throughSeq = s.lastSeq;
      c.segments++;
      c.backends = this.#backends.map((b) => b.name).sort();
    }
  }

  /** Deletes local sealed segments that are replicated, old enough, and not the newest file. */
  async #applyRetention(): Promise<void> {
    const lr = this.#opts.localRetention;
    if (!lr || lr.legalHold || this.#closing) return;
    const now = this.#now();
    let names: string[];
    try {
      names = await fsp.readdir(this.#dir);
    } catch (err) {
      debug('local retention cannot list %s: %s', this.#dir, String(err));
      return;
    }
    const { segments } = listSegmentFiles(this.#dir, names);
    const newest = segments[segments.length - 1]?.firstSeq;
    let changed = false;
    for (const s of this.#manifest.sorted()) {
      if (s.localDeletedAtMs !== undefined || s.replicatedAtMs === undefined || s.firstSeq === newest) continue;
      if (this.#pendingAnywhere(s) || now - s.sealedAtMs < lr.deleteAfterMs) continue;
      try {
        await fsp.rm(path.join(this.#dir, s.file), { force: true });
        s.localDeletedAtMs = now;
        changed = true;
      } catch (err) {
        debug('local retention could not delete %s: %s', s.file, String(err));
      }
    }
    if (changed) {
      try {
        fsyncDir(this.#dir);
      } catch (err) {
        debug('local retention: fsync of %s failed: %s', this.#dir, String(err));
      }
      this.#compact();
      await this.#save();
    }
  }
}
