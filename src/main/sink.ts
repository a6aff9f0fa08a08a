/**
 * `openSink()` and the {@link Sink}: the public face of the durable core. The sink owns the
 * writer worker and the directory lock; the main thread's {@link Producer} does the emitting.
 */

import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type MessagePort, Worker } from 'node:worker_threads';
import type { CheckpointerStatus, CheckpointInfo } from '../compliance/checkpointer.js';
import { writeComplianceRecord } from '../compliance/compliance-record.js';
import type { CustodyAction, CustodyRange } from '../compliance/custody.js';
import {
  type CustodyContext,
  custodyRangeOf,
  generateWithCustody,
  recordCustody,
  withCustody,
} from '../compliance/custody-session.js';
import { resolveKeyProvider } from '../compliance/keys.js';
import { readProtectedWal } from '../compliance/protected-read.js';
import { protectionDescriptor } from '../compliance/protection.js';
import type { RecordProof } from '../compliance/prove.js';
import { signerKeyOf } from '../compliance/signing-options.js';
import { assertNever, ErrorCodes, IronlogError } from '../core/errors.js';
import { workerExecArgv } from '../core/worker-exec-argv.js';
import { CommitState, RingState } from '../groupcommit/commit-state.js';
import { WriterStats, type WriterStatsSnapshot } from '../groupcommit/writer-stats.js';
import { checkHealth, type HealthOptions, type HealthReport, type IntegrityStatus } from '../monitoring/health.js';
import type { SinkMetrics } from '../monitoring/sink-metrics.js';
import type { ReplicationEvents, ReplicationManager, ReplicationStatus } from '../replication/manager.js';
import { I32 } from '../ringbuffer/layout.js';
import { wakeConsumer } from '../ringbuffer/ring.js';
import { acquireDirLock, type DirLock } from '../wal/dir-lock.js';
import { readWal, type WalRecord } from '../wal/reader.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import { type VerifyProblem, type VerifyReport, verifyWal } from '../wal/verify.js';
import type { WriterEncryptionInit, WriterInit, WriterToMain } from '../workers/messages.js';
import { CheckpointerHandle } from './checkpointing.js';
import type { DataKeyFeeder } from './data-keys.js';
import { FailurePolicy } from './failure-policy.js';
import { type ResolvedSinkOptions, resolveSinkOptions, type SinkOptions } from './options.js';
import { type Ack, Producer, type ProducerDescriptor } from './producer.js';
import { SealedSegmentAudit, sealedDamageError } from './sealed-audit.js';
import { lockShadows, type ShadowFailureEvent, type ShadowStatus, ShadowTracker } from './shadows.js';

/** How long a faulted writer waits between attempts to write its gap record and clear the fault. */
const kFaultRetryMs = 200;

// Module-private symbols, as undici keeps its internals: openSink() wires a Sink through them.
// They are not exported, so nothing outside this module can call these members, and their
// `@internal` tag drops them from the published .d.ts (`stripInternal` in tsconfig.build.json).
const kCreate = Symbol('ironlog.sink.create');
const kAttachMetrics = Symbol('ironlog.sink.attachMetrics');
const kAttachReplication = Symbol('ironlog.sink.attachReplication');
const kStartReplication = Symbol('ironlog.sink.startReplication');
const kStartSealedAudit = Symbol('ironlog.sink.startSealedAudit');
const kShadowFailures = Symbol('ironlog.sink.shadowFailures');

/**
 * @internal What a {@link Sink} listens to for its writer: the writer Worker itself, or (in a sink
 * group, `sink-group.ts`) one tenant's slice of the group's shared writer. `exit` comes after
 * `closed`, as a worker's does.
 */
export interface WriterEndpoint {
  on(event: 'message', listener: (msg: WriterToMain) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  once(event: 'exit', listener: (code: number) => void): unknown;
}

/**
 * @internal How {@link openSinkOn} gets its writer running: resolves once the writer has opened
 * the WAL (`ready`), rejects with the writer's error otherwise (it then holds nothing). `early`
 * holds the messages the writer sent before `ready` (a shadow reconciled or dropped at open).
 */
export type WriterLauncher = (init: WriterInit, transferList: readonly MessagePort[]) => Promise<StartedWriter>;

/** @internal What a {@link WriterLauncher} resolves with. */
export interface StartedWriter {
  readonly endpoint: WriterEndpoint;
  readonly sab: SharedArrayBuffer;
  readonly early: readonly WriterToMain[];
}

/** Options of {@link Sink.replay}. */
export interface ReplayOptions {
  /** First seq to return (inclusive). */
  fromSeq?: number;
  /** Last seq to return (inclusive). */
  toSeq?: number;
  /** Only records whose time is at or after this instant. */
  from?: Date;
  /** Only records whose time is before this instant. */
  to?: Date;
}

/** Events on {@link Sink.events}. */
export interface SinkEvents {
  /** A segment was sealed (the replicator's cue). */
  sealed: [segment: SealedSegment];
  /** A write or fsync failed; emits are refused until it clears. */
  fault: [error: IronlogError];
  /** The fault cleared; `gapFromSeq..gapToSeq` were rejected and are named by a gap record. */
  faultCleared: [gap: { gapFromSeq: number; gapToSeq: number }];
  /** With `signing`: a checkpoint was signed and stored under `<dir>/tlog/`. */
  checkpoint: [checkpoint: CheckpointInfo];
  /** With `signing`: a checkpoint could not be signed or stored (retried at the next tick); emits go on. */
  checkpointError: [error: IronlogError];
  /** With `signing.witnesses`: a witness failed, or fewer than `witnessQuorum` cosigned. */
  witnessError: [error: IronlogError, url: string | undefined];
  /**
   * The background check after open found damage in sealed segments (a flipped byte, a broken
   * chain or seal): an `ERR_IRONLOG_WAL_CORRUPT` error and every problem found. New events are
   * still written; health turns `degraded` and `ironlog_corruptions_total` counts the problems.
   */
  corruption: [error: IronlogError, problems: readonly VerifyProblem[]];
  /**
   * With `shadowDirs`: a shadow directory's write, fdatasync or open-time reconcile failed
   * (`ERR_IRONLOG_SHADOW_FAILED`). With `onShadowFailure: 'drop'` the shadow left the set
   * (`dropped: true`); with `'fail'` the affected acks were rejected (a `fault` follows).
   * Failures during open are emitted just after `openSink` resolves.
   */
  shadowFailure: [failure: ShadowFailureEvent];
}

/**
 * A durable event sink over one WAL directory. Create it with {@link openSink}.
 *
 * `emit()` resolves only after the event is written and `fdatasync`'d (with the default
 * `ack: 'durable'`); many concurrent emits share one fsync.
 */
export class Sink {
  /**
   * Lifecycle events: `sealed`, `fault`, `faultCleared` (see {@link SinkEvents}). A separate
   * emitter, because `emit` is the sink's own verb.
   */
  readonly events: EventEmitter<SinkEvents> = new EventEmitter<SinkEvents>();
  /** The options in force, after validation and defaults. */
  readonly options: ResolvedSinkOptions;
  readonly #lock: DirLock;
  readonly #sab: SharedArrayBuffer;
  readonly #state: CommitState;
  readonly #producer: Producer;
  readonly #stats: WriterStats;
  #metrics: SinkMetrics | undefined;
  #replication: ReplicationManager | undefined;
  #checkpointer: CheckpointerHandle | undefined;
  readonly #now: () => number;
  /** `onFailure` / `failStop` (issue 14): fault episodes, see failure-policy.ts. */
  readonly #failure: FailurePolicy;
  #audit: SealedSegmentAudit | undefined;
  #closePromise: Promise<void> | undefined;
  /** Custody entries being appended in the background (deletions by local retention). */
  #custodyPending: Promise<unknown> = Promise.resolve();
  #closed: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  #exited = false;
  readonly #exitPromise: Promise<void>;
  /** @internal Run once when the sink closes (the data-key feeder of record encryption, issue 11). */
  readonly closeHooks: Array<() => void> = [];
  /** Shadow copies (issue 14): each shadow's state; undefined without `shadowDirs`. */
  readonly #shadows: ShadowTracker | undefined;

  /** Use {@link openSink}: the writer worker must be running and have attached first. */
  private constructor(
    options: ResolvedSinkOptions,
    worker: WriterEndpoint,
    lock: DirLock,
    sab: SharedArrayBuffer,
    clock: (() => number) | undefined,
  ) {
    this.options = options;
    this.#lock = lock;
    this.#sab = sab;
    this.#state = new CommitState(sab);
    this.#stats = new WriterStats(sab);
    this.#now = clock ?? Date.now;
    this.#shadows =
      options.shadowDirs.length > 0 ? new ShadowTracker(options.shadowDirs, options.onShadowFailure) : undefined;
    this.#producer = new Producer(sab, {
      maxEventBytes: options.maxEventBytes,
      onFull: options.onFull,
      // 'replicated' = durable ack first, then the quorum wait added by [kAttachReplication]().
      ack: options.ack === 'replicated' ? 'durable' : options.ack,
      clock,
      protection: options.protection,
      dir: options.dir,
    });
    this.#failure = new FailurePolicy(options, {
      refuse: (err) => {
        const refused = (): Promise<never> => Promise.reject(err);
        this.emit = refused;
        this.emitEncoded = refused;
        this.emitBatch = refused;
        this.emitEncodedBatch = refused;
      },
      drain: () => this.#producer.flush(),
      rejectPending: (err) => {
        this.#producer.terminate(err);
        this.#replication?.rejectWaiters(err);
        // Producers on other threads: their waiters see DEAD and reject what is outstanding.
        if (this.#state.state !== RingState.CLOSED) {
          Atomics.store(this.#state.i32, I32.STATE, RingState.DEAD);
          this.#state.notify();
        }
      },
    });
    worker.on('message', (msg: WriterToMain) => this.#onMessage(msg));
    worker.on('error', (err) => this.#onWorkerGone(err));
    this.#exitPromise = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('exit', (code) => this.#onWorkerGone(new Error(`writer worker exited with code ${code}`)));
  }

  /** @internal Called once by {@link openSink}. */
  static [kCreate](
    options: ResolvedSinkOptions,
    worker: WriterEndpoint,
    lock: DirLock,
    sab: SharedArrayBuffer,
    clock: (() => number) | undefined,
  ): Sink {
    return new Sink(options, worker, lock, sab, clock);
  }

  /** Appends one event; resolves with its seq once durable. See {@link Producer.emit}. */
  emit(event: unknown): Promise<Ack> {
    return this.#producer.emit(event);
  }

  /** Appends several events with one claim; one ack per event, in order. */
  emitBatch(events: readonly unknown[]): Promise<Ack[]> {
    return this.#producer.emitBatch(events);
  }

  /** Appends one already msgpack-encoded event (skips the encoder). */
  emitEncoded(payload: Uint8Array): Promise<Ack> {
    return this.#producer.emitEncoded(payload);
  }

  /** Appends several already msgpack-encoded events with one claim. */
  emitEncodedBatch(payloads: readonly Uint8Array[]): Promise<Ack[]> {
    return this.#producer.emitEncodedBatch(payloads);
  }

  /** Resolves once everything emitted so far (by any thread) is durable or rejected. */
  flush(): Promise<void> {
    return this.#producer.flush();
  }

  /**
   * A structured-cloneable descriptor for emitting from another thread: post it to a worker
   * and call {@link connectProducer} there.
   */
  producer(): ProducerDescriptor {
    return {
      kind: 'ironlog-producer',
      version: 1,
      sab: this.#sab,
      maxEventBytes: this.options.maxEventBytes,
      onFull: this.options.onFull,
      ack: this.options.ack === 'replicated' ? 'durable' : this.options.ack,
      ...(this.options.protection
        ? { protection: protectionDescriptor(this.options.protection), dir: this.options.dir }
        : {}),
    };
  }

  /** The last seq that is durable (fdatasync'd). */
  get durableSeq(): number {
    return this.#state.durableSeq;
  }

  /** True once `close()` was called or the writer is gone. */
  get closed(): boolean {
    return this.#closePromise !== undefined || this.#exited;
  }

  /** The writer's counters (records, bytes, batches, fsync timings), read from shared memory. */
  stats(): WriterStatsSnapshot {
    return this.#stats.snapshot();
  }

  /**
   * The sink's Prometheus metrics (`metrics.registry`, `metrics.text()`), or undefined unless
   * the sink was opened with `metrics: true` or a Registry. See `docs/monitoring.md`.
   */
  get metrics(): SinkMetrics | undefined {
    return this.#metrics;
  }

  /**
   * Live/ready health: the WAL state (open, faulted, ...), free disk space and ring fill, as
   * JSON detail. Live while the writer runs; ready when the WAL is writable, the disk has at least
   * `minDiskFreeBytes` free (default 2 × segmentBytes) and the ring is at most `maxRingFill` full.
   * With replication, the report has a `replication` part and says `degraded` (with reasons) when a
   * breaker is open, an alert was raised or the quorum is unreachable; only with
   * `ack: 'replicated'` does an unreachable quorum also make the sink not ready.
   */
  health(options: HealthOptions = {}): Promise<HealthReport> {
    return checkHealth(
      {
        dir: this.options.dir,
        sab: this.#sab,
        segmentBytes: this.options.segmentBytes,
        replication: this.#replication?.status(),
        ack: this.options.ack,
        integrity: this.#audit?.status(),
        shadows: this.#shadows?.status(),
      },
      options,
    );
  }

  /**
   * With `shadowDirs`: each shadow's state (`active`, `failing`: its last step failed and the
   * acks with it, `dropped`: out of the set until the sink reopens), failures counted and the
   * last error. Undefined without shadows. See `docs/durability.md#shadow-copies`.
   */
  shadowStatus(): ShadowStatus | undefined {
    return this.#shadows?.status();
  }

  /** @internal Called once by {@link openSink} with the shadow failures reported while the writer opened. */
  [kShadowFailures](failures: readonly ShadowFailureEvent[]): void {
    for (const f of failures) this.#shadows?.onFailure(f);
    // After openSink resolved: a listener attached right after `await openSink()` hears them.
    if (failures.length === 0) return;
    setImmediate(() => {
      for (const f of failures) this.events.emit('shadowFailure', f);
    });
  }

  /**
   * Called once by {@link openSink}: starts the background check of the sealed segments
   * (opening checked only their headers, seals and links).
   */
  [kStartSealedAudit](): void {
    this.#audit = SealedSegmentAudit.start(this.options.dir, (status) => {
      if (status.state !== 'damaged') return;
      this.#metrics?.recordCorruptions(status.problems.length);
      this.events.emit('corruption', sealedDamageError(this.options.dir, status.problems), status.problems);
    });
  }

  /**
   * Resolves when the background check of the sealed segments that were on disk at open has
   * finished, with its result (also in `health().integrity`). Every frame's CRC, every chain
   * hash and every seal is recomputed there, off the main thread; opening does not wait for it.
   */
  sealedSegmentsChecked(): Promise<IntegrityStatus> {
    return this.#audit?.done ?? Promise.resolve({ state: 'none', segmentsChecked: 0, bytesChecked: 0, problems: [] });
  }

  /**
   * @internal Called once by {@link openSink} when metrics are on: from here on the main
   * thread's emit calls are timed and counted. With metrics off the prototype's methods run
   * untouched.
   */
  [kAttachMetrics](metrics: SinkMetrics): void {
    this.#metrics = metrics;
    const producer = this.#producer;
    this.emit = (event) => metrics.trackEmit(producer.emit(event));
    this.emitEncoded = (payload) => metrics.trackEmit(producer.emitEncoded(payload));
    // Not `events.length` blindly: a non-array must reach the producer's typed rejection.
    const count = (list: unknown): number => (Array.isArray(list) ? list.length : 0);
    this.emitBatch = (events) => metrics.trackBatch(producer.emitBatch(events), count(events));
    this.emitEncodedBatch = (payloads) => metrics.trackBatch(producer.emitEncodedBatch(payloads), count(payloads));
  }

  /**
   * Replication state per backend (lag in segments and bytes, breaker state, last error) and
   * whether `quorum` can be met; undefined without `replication`. See `docs/replication.md`.
   */
  replicationStatus(): ReplicationStatus | undefined {
    return this.#replication?.status();
  }

  /** Replication events (`replicated`, `alert`, `backendError`); undefined without `replication`. */
  get replicationEvents(): EventEmitter<ReplicationEvents> | undefined {
    return this.#replication?.events;
  }

  /**
   * @internal Called once by {@link openSink} with replication on: every sealed segment goes to
   * the manager, and with `ack: 'replicated'` each emit also waits for its segment's quorum. Wraps
   * whatever emit functions are in place (so it composes with metrics).
   */
  [kAttachReplication](manager: ReplicationManager): void {
    this.#replication = manager;
    this.#metrics?.attachReplication(manager);
    this.events.on('sealed', (segment) => manager.enqueue(segment));
    manager.events.on('deleted', (segments) => this.#recordDeletion(segments));
    // With signing: tlog/ (tiles, checkpoints, time notes, index) follows every finished
    // checkpoint to the backends; the open checkpoint was signed before this attach.
    this.events.on('checkpoint', (c) => manager.enqueueTlog(c.counter, c.throughSeq));
    const last = this.#checkpointer?.status().last;
    if (last !== undefined) manager.enqueueTlog(last.counter, last.throughSeq);
    if (this.options.ack !== 'replicated') return;
    if (this.#failure.active) {
      manager.events.on('quorumLost', (err) => this.#failure.fault('quorum', err));
      manager.events.on('quorumRegained', () => this.#failure.recovered('quorum'));
    }
    const { emit, emitEncoded, emitBatch, emitEncodedBatch } = this;
    const one = (ack: Ack): Promise<Ack> => manager.waitReplicated(ack.seq).then(() => ack);
    const many = (acks: Ack[]): Promise<Ack[]> =>
      acks.length === 0
        ? Promise.resolve(acks)
        : manager.waitReplicated(acks[acks.length - 1]?.seq ?? 0).then(() => acks);
    this.emit = (event) => emit.call(this, event).then(one);
    this.emitEncoded = (payload) => emitEncoded.call(this, payload).then(one);
    this.emitBatch = (events) => emitBatch.call(this, events).then(many);
    this.emitEncodedBatch = (payloads) => emitEncodedBatch.call(this, payloads).then(many);
  }

  /** @internal Starts the replication catch-up (called once by {@link openSink}). */
  [kStartReplication](): Promise<void> {
    return this.#replication?.start() ?? Promise.resolve();
  }

  /**
   * @internal Called once by {@link openSink} with `signing`: starts the checkpointer worker
   * (it catches up with the WAL and signs the `open` checkpoint before this resolves) and
   * forwards every seal to it.
   */
  async startCheckpointer(): Promise<void> {
    const signing = this.options.signing;
    if (signing === undefined) return;
    const handle = await CheckpointerHandle.start(this.options.dir, this.#sab, signing, () => this.#now());
    this.#checkpointer = handle;
    this.events.on('sealed', (segment) => handle.onSealed(segment));
    handle.events.on('checkpoint', (c) => this.events.emit('checkpoint', c));
    handle.events.on('checkpointError', (e) => this.events.emit('checkpointError', e));
    handle.events.on('witnessError', (e, url) => this.events.emit('witnessError', e, url));
  }

  /**
   * The inclusion proof of record `seq` (JSON contract: `{ seq, index, treeSize, leafData,
   * leafHash, proof, checkpoint }`), against a signed checkpoint that covers it: when the latest
   * one does not yet, a checkpoint is signed first. `formatRecordProof` turns it into a C2SP
   * tlog-proof file. Needs the `signing` option (`ERR_IRONLOG_NOT_CHECKPOINTED` without it, or for
   * a seq that is not durable).
   */
  prove(seq: number): Promise<RecordProof> {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return Promise.reject(
        new IronlogError(ErrorCodes.INVALID_ARGUMENT, `sink.prove: seq must be a positive integer, got ${String(seq)}`),
      );
    }
    if (this.#checkpointer === undefined) {
      return Promise.reject(
        new IronlogError(ErrorCodes.NOT_CHECKPOINTED, 'sink.prove needs a sink opened with the signing option'),
      );
    }
    const checkpointer = this.#checkpointer;
    return withCustody(this.#custody('prove', { seq }), () => checkpointer.prove(seq));
  }

  /** With `signing`: the last signed checkpoint and each witness's state; undefined without. */
  checkpointStatus(): CheckpointerStatus | undefined {
    return this.#checkpointer?.status();
  }

  /**
   * Reads the records back in seq order, up to what was durable when the call was made.
   * Works while the sink is writing.
   */
  async *replay(options: ReplayOptions = {}): AsyncGenerator<WalRecord> {
    const durable = this.#state.durableSeq;
    const toSeq = options.toSeq === undefined ? durable : Math.min(options.toSeq, durable);
    const range = custodyRangeOf(options);
    const kp = this.options.protection?.keyProvider;
    yield* generateWithCustody(this.#custody('replay', range), () =>
      kp !== undefined
        ? // Sealed subject fields come back decrypted ('[ERASED]' once erased): issue 11.
          readProtectedWal(this.options.dir, { ...options, toSeq, live: true, keyProvider: kp })
        : readWal(this.options.dir, { ...options, toSeq, live: true }),
    );
  }

  /** Checks every checksum, the hash chain, seals and seq continuity of what is durable now. */
  async verify(): Promise<VerifyReport> {
    const report = await withCustody(
      this.#custody('verify'),
      async () => {
        await this.flush();
        // The sink's own directory: empty before the first event is a valid, empty log.
        return verifyWal(this.options.dir, { live: true, throughSeq: this.#state.durableSeq, allowEmpty: true });
      },
      (r) => (r.valid ? { status: 'ok' } : { status: 'problems', problems: r.problems.length }),
    );
    this.#metrics?.recordCorruptions(report.problems.length);
    return report;
  }

  /** One custody entry (`delete`, the seq range and the files) per local-retention run that deleted segments. */
  #recordDeletion(
    segments: readonly { readonly firstSeq: number; readonly lastSeq: number; readonly file: string }[],
  ): void {
    const first = segments[0];
    const last = segments[segments.length - 1];
    if (first === undefined || last === undefined) return;
    const ctx = this.#custody('delete', { fromSeq: first.firstSeq, toSeq: last.lastSeq });
    const details = {
      reason: 'local retention',
      segments: segments.length,
      firstFile: first.file,
      lastFile: last.file,
    };
    this.#custodyPending = this.#custodyPending
      .then(() => recordCustody({ ...ctx, details }))
      .catch((err: unknown) => {
        process.emitWarning(
          `the custody entry of a local-retention deletion could not be written: ${String(err)}`,
          'IronlogCustodyWarning',
        );
      });
  }

  /** The custody context of an action of this sink (option `custody`; a signed sink's key signs). */
  #custody(action: CustodyAction, range?: CustodyRange): CustodyContext {
    const dir = this.options.dir;
    return {
      action,
      target: dir,
      walDir: dir,
      via: 'library',
      option: this.options.custody,
      ...(range ? { range } : {}),
      // A signed sink signs its custody entries with its log key (unless custody.key says otherwise).
      ...(this.options.signing ? { defaultKey: signerKeyOf(this.options.signing) } : {}),
    };
  }

  /**
   * Stops accepting events, waits until every event already emitted is durable (or rejected),
   * fsyncs and stops the writer. The open segment stays open; the next `openSink` continues it.
   */
  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closePromise = this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    try {
      if (!this.#exited) {
        // Emits waiting for ring space were called before close(): let them in first.
        await this.#producer.drainWaiting();
        const done = new Promise<void>((resolve, reject) => {
          this.#closed = { resolve, reject };
        });
        const st = this.#state.state;
        if (st === RingState.OPEN || st === RingState.FAULTED) {
          Atomics.store(this.#state.i32, I32.STATE, RingState.CLOSING);
          this.#state.notify();
          wakeConsumer(this.#sab);
        }
        await done;
        // The worker ends by itself after 'closed'; wait for it so no thread outlives close().
        await this.#exitPromise;
      }
    } finally {
      for (const hook of this.closeHooks.splice(0)) hook();
      this.#producer.dispose();
      await this.#audit?.stop();
      this.#metrics?.dispose();
      // After the writer stopped: the close checkpoint covers everything durable.
      await this.#checkpointer?.close();
      await this.#replication?.close();
      await this.#custodyPending;
      this.#lock.release();
    }
  }

  #onMessage(msg: WriterToMain): void {
    switch (msg.type) {
      case 'ready':
        return;
      case 'sealed':
        this.events.emit('sealed', msg.segment);
        return;
      case 'fault': {
        const err = IronlogError.fromWire(msg.error);
        this.events.emit('fault', err);
        if (msg.rejecting) this.#failure.fault('wal', err);
        return;
      }
      case 'fault-cleared':
        this.#failure.recovered('wal');
        this.#shadows?.onFaultCleared();
        this.events.emit('faultCleared', { gapFromSeq: msg.gapFromSeq, gapToSeq: msg.gapToSeq });
        return;
      case 'shadow-failure': {
        const f = shadowFailureOf(msg);
        this.#shadows?.onFailure(f);
        this.events.emit('shadowFailure', f);
        return;
      }
      case 'closed':
        this.#closed?.resolve();
        return;
      case 'fatal': {
        const err = IronlogError.fromWire(msg.error);
        const gone = new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker failed: ${err.message}`, {
          cause: err,
        });
        this.#producer.terminate(gone);
        this.#closed?.reject(err);
        this.#failure.fault('writer', gone);
        return;
      }
      default:
        assertNever(msg, 'writer message');
    }
  }

  #onWorkerGone(cause: Error): void {
    if (this.#exited) return;
    this.#exited = true;
    const st = this.#state.state;
    if (st === RingState.CLOSED) {
      this.#closed?.resolve();
      return;
    }
    // Tell every producer thread: their waiters see DEAD and reject what is outstanding.
    Atomics.store(this.#state.i32, I32.STATE, RingState.DEAD);
    this.#state.notify();
    const err = new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker exited unexpectedly: ${cause.message}`, {
      cause,
    });
    this.#producer.terminate(err);
    this.#closed?.reject(err);
    this.#lock.release();
    this.#failure.fault('writer', err);
  }
}

/**
 * Opens (creating if needed) the WAL in `options.dir`, recovers a torn tail left by a crash,
 * starts the writer worker and returns a ready {@link Sink}.
 *
 * Rejects with `ERR_IRONLOG_INVALID_OPTION` for bad options, `ERR_IRONLOG_WAL_LOCKED` when
 * another sink holds the directory, `ERR_IRONLOG_WAL_CORRUPT` when the WAL is damaged before its
 * tail (run `ironlog recover`), `ERR_IRONLOG_IO` when the directory cannot be used.
 */
export function openSink(options: SinkOptions): Promise<Sink> {
  return openSinkOn(options, undefined);
}

/**
 * @internal {@link openSink} with the writer started by `launcher` (a sink group's shared writer)
 * instead of a worker of its own (`undefined`). Everything else (lock, keys, checkpointer,
 * replication, metrics) is the same.
 */
export async function openSinkOn(options: SinkOptions, launcher: WriterLauncher | undefined): Promise<Sink> {
  const resolved = resolveSinkOptions(options);
  const dir = path.resolve(resolved.dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot create the WAL directory ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // Loaded only when asked for: prom-client stays out of a sink without metrics.
  const metricsModule = resolved.metrics === false ? undefined : await import('../monitoring/sink-metrics.js');
  if (metricsModule && typeof resolved.metrics !== 'boolean') metricsModule.assertRegistryFree(resolved.metrics);
  // Loaded only when asked for: piscina and the storage SDKs stay out of a sink without replication.
  const replicationModule = resolved.replication ? await import('../replication/manager.js') : undefined;
  const replicatorPoolModule = resolved.replication ? await import('../workers/replicator/pool.js') : undefined;
  const lock = lockShadows(acquireDirLock(dir), resolved.shadowDirs);
  if (resolved.compliance) {
    try {
      writeComplianceRecord(dir, resolved.compliance);
    } catch (err) {
      lock.release();
      throw err;
    }
  }
  // ---- data protection (issue 11): record encryption's first data keys, before the writer starts ----
  let sinkRef: Sink | undefined;
  const dataKeys = await startDataKeys(resolved, dir, (err) => sinkRef?.events.emit('fault', err)).catch((err) => {
    lock.release();
    throw err;
  });
  // ---- end data protection ----
  const init: WriterInit = {
    dir,
    nodeId: resolved.nodeId,
    syncMode: resolved.syncMode,
    syncIntervalMs: resolved.syncIntervalMs,
    ringBytes: resolved.ringBytes,
    maxEventBytes: resolved.maxEventBytes,
    maxBatchBytes: resolved.maxBatchBytes,
    segmentBytes: resolved.segmentBytes,
    segmentMaxAgeMs: resolved.segmentMaxAgeMs,
    rollAt: resolved.rollAt,
    faultRetryMs: kFaultRetryMs,
    walFsModule: resolved.walFsModule,
    walFsModuleData: resolved.walFsModuleData,
    encryption: dataKeys?.init,
    shadowDirs: resolved.shadowDirs,
    onShadowFailure: resolved.onShadowFailure,
  };
  let started: StartedWriter;
  try {
    started = await (launcher ?? startOwnWriter)(init, dataKeys ? [dataKeys.init.port] : []);
  } catch (err) {
    dataKeys?.feeder.close();
    lock.release();
    throw err;
  }
  const ready = { sab: started.sab };
  const sink = Sink[kCreate]({ ...resolved, dir }, started.endpoint, lock, ready.sab, options.clock);
  sinkRef = sink;
  if (dataKeys) sink.closeHooks.push(() => dataKeys.feeder.close());
  if (metricsModule) {
    const registry = typeof resolved.metrics === 'boolean' ? undefined : resolved.metrics;
    try {
      sink[kAttachMetrics](
        new metricsModule.SinkMetrics({ dir, sab: ready.sab, shadows: () => sink.shadowStatus() }, registry),
      );
    } catch (err) {
      // Another sink took the registry since the check above: do not leak this one.
      await sink.close().catch(() => undefined);
      throw err;
    }
  }
  if (resolved.signing) {
    try {
      await sink.startCheckpointer();
    } catch (err) {
      await sink.close().catch(() => undefined);
      throw err;
    }
  }
  if (replicationModule && replicatorPoolModule && resolved.replication) {
    const runner = replicatorPoolModule.createReplicatorPool(resolved.replication.threads);
    try {
      // Synchronous up to [kAttachReplication]: no writer message ('sealed') can slip past unheard.
      sink[kAttachReplication](
        replicationModule.ReplicationManager.create({
          dir,
          nodeId: resolved.nodeId,
          options: resolved.replication,
          runner,
        }),
      );
      // Catch-up: sealed segments on disk that the manifest does not know, and pending uploads.
      await sink[kStartReplication]();
    } catch (err) {
      await sink.close().catch(() => undefined);
      // A manifest that failed to load leaves the pool unattached: close it here (idempotent).
      await runner.close?.().catch(() => undefined);
      throw err;
    }
  }
  sink[kStartSealedAudit]();
  sink[kShadowFailures](started.early.flatMap((m) => (m.type === 'shadow-failure' ? [shadowFailureOf(m)] : [])));
  return sink;
}

/** The default {@link WriterLauncher}: a writer worker of the sink's own (`workers/writer/entry.ts`). */
const startOwnWriter: WriterLauncher = async (init, transferList) => {
  let worker: Worker;
  try {
    worker = new Worker(new URL('../workers/writer/entry.js', import.meta.url), {
      execArgv: workerExecArgv(),
      workerData: init,
      transferList: [...transferList],
    });
  } catch (err) {
    throw new IronlogError(ErrorCodes.INTERNAL, `cannot start the writer worker: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const early: WriterToMain[] = [];
  try {
    return await new Promise((resolve, reject) => {
      const onMessage = (msg: WriterToMain): void => {
        if (msg.type === 'ready') {
          cleanup();
          resolve({ endpoint: worker, sab: msg.sab, early });
        } else if (msg.type === 'fatal') {
          cleanup();
          reject(IronlogError.fromWire(msg.error));
        } else early.push(msg);
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(
          new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker failed to start: ${err.message}`, {
            cause: err,
          }),
        );
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker exited during start-up (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
};

/** The sink event of a writer's `shadow-failure` message. */
function shadowFailureOf(msg: Extract<WriterToMain, { type: 'shadow-failure' }>): ShadowFailureEvent {
  return {
    dir: msg.dir,
    op: msg.op,
    error: IronlogError.fromWire(msg.error),
    dropped: msg.dropped,
    active: msg.active,
  };
}

/** Record encryption (issue 11): starts the data-key feeder (loaded only when encryption is on). */
async function startDataKeys(
  resolved: ResolvedSinkOptions,
  dir: string,
  onError: (err: IronlogError) => void,
): Promise<{ feeder: DataKeyFeeder; init: WriterEncryptionInit } | undefined> {
  const enc = resolved.protection?.encryption;
  const kp = resolved.protection?.keyProvider;
  if (enc === undefined || kp === undefined) return undefined;
  const { DataKeyFeeder } = await import('./data-keys.js');
  const provider = resolveKeyProvider(kp);
  const feeder = await DataKeyFeeder.start(dir, resolved.nodeId, provider, onError);
  return {
    feeder,
    init: { port: feeder.writerPort, recordsPerDataKey: enc.recordsPerDataKey, waitMs: provider.timeoutMs },
  };
}
