/**
 * The main thread's side of the checkpointer worker (started by `openSink` when `signing` is
 * given): forwards the writer's seals, ticks every `checkpointIntervalMs`, carries `prove`
 * requests and the final `close`. Every time it sends is the sink's clock, so the time notes
 * attest the same time the records are stamped with.
 */

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { CheckpointerStatus, CheckpointInfo } from '../compliance/checkpointer.js';
import type { RecordProof } from '../compliance/prove.js';
import { type ResolvedSigningOptions, signerKeyOf } from '../compliance/signing-options.js';
import { assertNever, ErrorCodes, IronlogError } from '../core/errors.js';
import { workerExecArgv } from '../core/worker-exec-argv.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import type { CheckpointerInit, CheckpointerToMain, MainToCheckpointer } from '../workers/messages.js';

/** Events of the checkpointer (re-emitted on `sink.events`). */
export interface CheckpointerEvents {
  /** A checkpoint was signed and stored. */
  checkpoint: [checkpoint: CheckpointInfo];
  /** A checkpoint failed (`ERR_IRONLOG_CHECKPOINTER`, I/O): retried at the next tick; emits go on. */
  checkpointError: [error: IronlogError];
  /** A witness failed, or fewer than the quorum cosigned (`ERR_IRONLOG_WITNESS_QUORUM`). */
  witnessError: [error: IronlogError, url: string | undefined];
}

/** The running checkpointer worker of one sink. */
export class CheckpointerHandle {
  readonly events: EventEmitter<CheckpointerEvents> = new EventEmitter<CheckpointerEvents>();
  readonly #worker: Worker;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  readonly #pending = new Map<number, { resolve: (p: RecordProof) => void; reject: (e: unknown) => void }>();
  #nextId = 1;
  #status: CheckpointerStatus;
  #closed: Promise<void> | undefined;
  #gone: IronlogError | undefined;
  readonly #exit: Promise<void>;
  #onClosed: (() => void) | undefined;

  private constructor(worker: Worker, now: () => number, intervalMs: number, status: CheckpointerStatus) {
    this.#worker = worker;
    this.#now = now;
    this.#status = status;
    this.#exit = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (msg: CheckpointerToMain) => this.#onMessage(msg));
    worker.on('error', (err) => this.#onGone(err));
    worker.on('exit', (code) => this.#onGone(new Error(`checkpointer worker exited with code ${code}`)));
    this.#timer = setInterval(
      () => this.#post({ type: 'checkpoint', event: 'interval', timeMs: this.#now() }),
      intervalMs,
    );
    this.#timer.unref();
  }

  /**
   * Starts the worker and waits until it caught up with the WAL and signed the `open` checkpoint.
   * Rejects with its error (a bad tlog state, I/O) after the worker ended.
   */
  static async start(
    dir: string,
    sab: SharedArrayBuffer,
    signing: ResolvedSigningOptions,
    now: () => number,
  ): Promise<CheckpointerHandle> {
    const init: CheckpointerInit = {
      dir,
      sab,
      signerKey: signerKeyOf(signing),
      origin: signing.origin,
      checkpointIntervalMs: signing.checkpointIntervalMs,
      witnesses: signing.witnesses,
      witnessQuorum: signing.witnessQuorum,
      witnessTimeoutMs: signing.witnessTimeoutMs,
      openTimeMs: now(),
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL('../workers/checkpointer/entry.js', import.meta.url), {
        execArgv: workerExecArgv(),
        workerData: init,
      });
    } catch (err) {
      throw new IronlogError(
        ErrorCodes.CHECKPOINTER,
        `cannot start the checkpointer worker: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const status = await new Promise<CheckpointerStatus>((resolve, reject) => {
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (msg: CheckpointerToMain): void => {
        if (msg.type === 'ready') {
          cleanup();
          resolve(msg.status);
        } else if (msg.type === 'fatal') {
          cleanup();
          reject(IronlogError.fromWire(msg.error));
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(
          new IronlogError(ErrorCodes.CHECKPOINTER, `the checkpointer worker failed to start: ${err.message}`, {
            cause: err,
          }),
        );
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(
          new IronlogError(ErrorCodes.CHECKPOINTER, `the checkpointer worker exited during start-up (code ${code})`),
        );
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new CheckpointerHandle(worker, now, signing.checkpointIntervalMs, status);
  }

  /** The last checkpoint and the witnesses' state. */
  status(): CheckpointerStatus {
    return this.#status;
  }

  /** A segment was sealed: sign a checkpoint for it. */
  onSealed(segment: SealedSegment): void {
    this.#post({
      type: 'checkpoint',
      event: 'seal',
      timeMs: this.#now(),
      segment: { firstSeq: segment.firstSeq, lastSeq: segment.lastSeq },
    });
  }

  /** The inclusion proof of `seq` (a checkpoint covering it is signed first if needed). */
  prove(seq: number): Promise<RecordProof> {
    if (this.#gone || this.#closed) {
      return Promise.reject(this.#gone ?? new IronlogError(ErrorCodes.CLOSED, 'the sink is closed'));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#post({ type: 'prove', id, seq, timeMs: this.#now() });
    });
  }

  /** Signs the `close` checkpoint (call after the writer stopped) and ends the worker. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    clearInterval(this.#timer);
    this.#closed = (async () => {
      if (!this.#gone) {
        const done = new Promise<void>((resolve) => {
          this.#onClosed = resolve;
        });
        this.#post({ type: 'close', timeMs: this.#now() });
        await Promise.race([done, this.#exit]);
      }
      await this.#exit;
    })();
    return this.#closed;
  }

  #post(msg: MainToCheckpointer): void {
    if (this.#gone) return;
    this.#worker.postMessage(msg);
  }

  #onMessage(msg: CheckpointerToMain): void {
    switch (msg.type) {
      case 'ready':
        return;
      case 'checkpoint':
        this.#status = msg.status;
        this.events.emit('checkpoint', msg.checkpoint);
        return;
      case 'proof': {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        p?.resolve(msg.proof);
        return;
      }
      case 'proof-error': {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        p?.reject(IronlogError.fromWire(msg.error));
        return;
      }
      case 'witness-error':
        this.events.emit('witnessError', IronlogError.fromWire(msg.error), msg.url);
        return;
      case 'error':
        this.#emitError(IronlogError.fromWire(msg.error));
        return;
      case 'closed':
        this.#status = msg.status;
        this.#onClosed?.();
        return;
      case 'fatal':
        this.#emitError(IronlogError.fromWire(msg.error));
        return;
      default:
        assertNever(msg, 'checkpointer message');
    }
  }

  #emitError(err: IronlogError): void {
    this.events.emit('checkpointError', err);
  }

  #onGone(cause: Error): void {
    if (this.#gone) return;
    const err = new IronlogError(ErrorCodes.CHECKPOINTER, `the checkpointer worker stopped: ${cause.message}`, {
      cause,
    });
    this.#gone = err;
    clearInterval(this.#timer);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#onClosed?.();
    if (!this.#closed) this.#emitError(err);
  }
}
