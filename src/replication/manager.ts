/**
 * The replication manager (main thread): owns the manifest and its saves, quorum bookkeeping for
 * `ack: 'replicated'`, and the lifecycle (catch-up on open, hand-over of sealed segments, close).
 * It composes the parts that change for their own reasons: upload scheduling (`scheduling.ts`),
 * local retention and manifest compaction (`retention.ts`), the status report (`status.ts`). The
 * uploads run in whatever {@link ReplicateRunner} the caller injects (a sink passes the piscina
 * pool of `workers/replicator/pool.ts`). Nothing here blocks the writer: the sink hands over
 * sealed segments and carries on; a dead backend only grows its own lag.
 */
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import { segmentFileName } from '../wal/segment.js';
import { listSealedSegments } from './local-segments.js';
import { Manifest, type ManifestSegment } from './manifest.js';
import type { ResolvedReplicationOptions } from './options.js';
import { compactManifest, deleteRetainedSegments, retentionDeletes, retentionIntervalMs } from './retention.js';
import {
  type BackendRuntime,
  type TlogOutcome,
  tlogRecordOf,
  type UploadOutcome,
  UploadScheduler,
} from './scheduling.js';
import { type ReplicationStatus, replicationStatus } from './status.js';
import type { ReplicateRunner } from './task.js';

export type { BackendReplicationStatus, ReplicationStatus } from './status.js';
export type { ReplicateResult, ReplicateRunner, ReplicateTask } from './task.js';

const debug = debuglog('ironlog');

/** Events of `sink.replicationEvents` (the replication manager's emitter); see `docs/replication.md`. */
export interface ReplicationEvents {
  /** A segment reached quorum. */
  replicated: [segment: { firstSeq: number; lastSeq: number }];
  /** A tamper or verification alert (`ERR_IRONLOG_REPLICATION_TAMPER` / `_VERIFY`): a metric and an operator's job. */
  alert: [error: IronlogError, backend: string];
  /** A retryable backend failure. */
  backendError: [error: IronlogError, backend: string];
  /** Local retention deleted these sealed segments from the WAL directory (one event per run; the chain of custody records it). */
  deleted: [segments: readonly { readonly firstSeq: number; readonly lastSeq: number; readonly file: string }[]];
  /**
   * Fewer than `quorum` backends are reachable (their breakers are not closed), checked after
   * every upload outcome: an `ERR_IRONLOG_REPLICATION_QUORUM_LOST` error. Once per loss, until
   * `quorumRegained`.
   */
  quorumLost: [error: IronlogError];
  /** After `quorumLost`: `quorum` backends are reachable again. */
  quorumRegained: [];
}

/** Arguments of {@link ReplicationManager.create}. */
export interface ReplicationManagerInit {
  readonly dir: string;
  readonly nodeId: string;
  readonly options: ResolvedReplicationOptions;
  /** Runs the uploads (the piscina pool in a sink; an in-process function in tests). Closed by {@link ReplicationManager.close}. */
  readonly runner: ReplicateRunner;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Replicates sealed segments of one WAL directory. Create with {@link ReplicationManager.create}. */
export class ReplicationManager {
  /** `replicated`, `alert`, `backendError`. */
  readonly events: EventEmitter<ReplicationEvents> = new EventEmitter<ReplicationEvents>();
  readonly #dir: string;
  readonly #opts: ResolvedReplicationOptions;
  readonly #manifest: Manifest;
  readonly #scheduler: UploadScheduler;
  readonly #runner: ReplicateRunner;
  readonly #now: () => number;
  #waiters: Waiter[] = [];
  #maxSealedSeq = 0;
  #closing = false;
  #manifestError: string | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #quorumLost = false;
  /** Set by {@link rejectWaiters}: every later wait rejects with it too. */
  #failed: IronlogError | undefined;

  private constructor(init: ReplicationManagerInit, manifest: Manifest) {
    this.#dir = init.dir;
    this.#opts = init.options;
    this.#manifest = manifest;
    this.#runner = init.runner;
    this.#now = init.now ?? Date.now;
    this.#scheduler = new UploadScheduler({
      dir: init.dir,
      nodeId: init.nodeId,
      manifest,
      options: init.options,
      runner: init.runner,
      now: this.#now,
      random: init.random ?? Math.random,
      onSettled: (b, outcome) => this.#onSettled(b, outcome),
      onTlogSettled: (b, outcome) => this.#onTlogSettled(b, outcome),
    });
    const names = this.#backendNames().sort();
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
      for (const name of names) seg.backends[name] ??= { state: 'pending', attempts: 0 };
    }
  }

  /**
   * Loads (or creates) the manifest of `init.dir`. Synchronous: see {@link Manifest.loadSync}.
   * Call {@link start} next.
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
    const lr = this.#opts.localRetention;
    if (retentionDeletes(lr)) {
      this.#retentionTimer = setInterval(() => void this.#applyRetention(), retentionIntervalMs(lr));
      this.#retentionTimer.unref();
      await this.#applyRetention();
    }
    this.#scheduler.pumpAll();
  }

  /** Hands over a segment the writer just sealed. */
  enqueue(segment: SealedSegment): void {
    if (this.#closing) return;
    if (this.#add(segment, this.#now())) void this.#save();
    this.#scheduler.pumpAll();
  }

  /**
   * The checkpointer finished checkpoint `counter` (signed, cosigned, stored), which covers the
   * records up to `throughSeq`: bring every backend's copy of `tlog/` up to it (tiles,
   * checkpoints, time notes, index; `tlog-sync.ts`) once that backend holds every segment up to
   * `throughSeq`. Asynchronous and coalescing: checkpoints that arrive while a sync runs are
   * covered by the next one.
   */
  enqueueTlog(counter: number, throughSeq: number): void {
    if (this.#closing || !(Number.isSafeInteger(counter) && counter > this.#manifest.tlog.throughCounter)) return;
    const t = this.#manifest.tlog;
    t.throughCounter = counter;
    // Idle interval checkpoints cover the same records: keep the newest of such a run only, so a
    // long backend outage grows the list by the checkpoints over new records, not by the minutes.
    const prev = t.checkpoints[t.checkpoints.length - 1];
    if (prev !== undefined && prev.throughSeq === throughSeq) prev.counter = counter;
    else t.checkpoints.push({ counter, throughSeq });
    for (const name of this.#backendNames()) tlogRecordOf(this.#manifest, name);
    void this.#save();
    this.#scheduler.pumpAll();
  }

  /** Resolves once the segment holding `seq` is stored and verified on `quorum` backends. */
  waitReplicated(seq: number): Promise<void> {
    if (seq <= this.#maxSealedSeq && this.#isReplicated(seq)) return Promise.resolve();
    if (this.#closing) return Promise.reject(this.#closedError(seq));
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject }));
  }

  /** The state of every backend: lag, breaker, last error; and whether quorum can be met. */
  status(): ReplicationStatus {
    return replicationStatus({
      manifest: this.#manifest,
      backends: this.#scheduler.backends,
      quorum: this.#opts.quorum,
      manifestError: this.#manifestError,
      nowMs: this.#now(),
    });
  }

  /**
   * Stops scheduling, waits up to `closeTimeoutMs` for uploads in flight (an abandoned one resumes
   * on the next open), closes the runner and rejects `ack: 'replicated'` waiters with `ERR_IRONLOG_CLOSED`.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#scheduler.stop();
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    await this.#scheduler.settle(this.#opts.closeTimeoutMs);
    await this.#runner.close?.();
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError(w.seq));
    await this.#save();
  }

  /**
   * Rejects every `waitReplicated` promise now, and every later one, with `err` (the sink's
   * fail-stop: the process ends, and no ack may be left unsettled).
   */
  rejectWaiters(err: IronlogError): void {
    this.#failed = err;
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  /** Emits `quorumLost` / `quorumRegained` when the number of reachable backends crosses `quorum`. */
  #checkQuorum(): void {
    const now = this.#now();
    const backends = this.#scheduler.backends;
    const reachable = backends.filter((b) => b.breaker.state(now) === 'closed').length;
    const lost = reachable < this.#opts.quorum;
    if (lost === this.#quorumLost || this.#closing) return;
    this.#quorumLost = lost;
    if (!lost) {
      this.events.emit('quorumRegained');
      return;
    }
    const last = backends.find((b) => b.breaker.state(now) !== 'closed' && b.lastError !== undefined)?.lastError;
    this.events.emit(
      'quorumLost',
      new IronlogError(
        ErrorCodes.REPLICATION_QUORUM_LOST,
        `replication quorum ${this.#opts.quorum} cannot be met: only ${reachable} of ${backends.length} backends reachable${
          last ? ` (last error: ${last.code}: ${last.message})` : ''
        }; replicated acks wait`,
      ),
    );
  }

  #backendNames(): string[] {
    return this.#scheduler.backends.map((b) => b.name);
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
    for (const name of this.#backendNames()) backends[name] = { state: 'pending', attempts: 0 };
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

  /** Bookkeeping after one upload settled: save, then waiters, events and retention. */
  async #onSettled(b: BackendRuntime, outcome: UploadOutcome): Promise<void> {
    this.#checkQuorum();
    if (outcome.ok) {
      this.#compact();
      await this.#save();
      if (outcome.newlyReplicated) {
        const seg = outcome.segment;
        this.#resolveWaiters(seg);
        this.events.emit('replicated', { firstSeq: seg.firstSeq, lastSeq: seg.lastSeq });
        await this.#applyRetention();
      }
      return;
    }
    const event = outcome.alert ? 'alert' : 'backendError';
    if (this.events.listenerCount(event) > 0) this.events.emit(event, outcome.error, b.name);
    await this.#save();
  }

  async #onTlogSettled(b: BackendRuntime, outcome: TlogOutcome): Promise<void> {
    this.#checkQuorum();
    if (!outcome.ok) {
      const event = outcome.alert ? 'alert' : 'backendError';
      if (this.events.listenerCount(event) > 0) this.events.emit(event, outcome.error, b.name);
    }
    await this.#save();
  }

  #compact(): void {
    compactManifest(this.#manifest, this.#backendNames(), this.#opts.localRetention);
  }

  /** Deletes local sealed segments that retention allows now, then compacts and saves the manifest. */
  async #applyRetention(): Promise<void> {
    const lr = this.#opts.localRetention;
    if (!retentionDeletes(lr) || this.#closing) return;
    const kept = this.#manifest.sorted().filter((seg) => seg.localDeletedAtMs === undefined);
    if (await deleteRetainedSegments(this.#dir, this.#manifest, lr, this.#now())) {
      const deleted = kept.filter((seg) => seg.localDeletedAtMs !== undefined);
      this.#compact();
      await this.#save();
      this.events.emit(
        'deleted',
        deleted.map((seg) => ({ firstSeq: seg.firstSeq, lastSeq: seg.lastSeq, file: seg.file })),
      );
    }
  }
}
