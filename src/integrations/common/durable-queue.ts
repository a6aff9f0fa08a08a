/**
 * The write path shared by the pino transport and the pino destination: a stream-style
 * `push(event): boolean` over a sink's ring, with a `flush()` (async) and a `flushSync()`
 * (blocking) that both mean "every event pushed before the call is durable".
 *
 * Backpressure: the queue emits through a producer of its own with `tryEmitEncoded`, which says
 * synchronously whether the ring took an event. An event the ring has no room for waits in a small overflow list,
 * `push()` returns false, and `'drain'` follows once the list has entered the ring. A caller that
 * ignores false (pino does) cannot grow memory without bound: past `maxBufferedBytes` of overflow,
 * `push()` blocks the thread (`Atomics.wait` on the ring's HEAD word, which the writer worker
 * notifies as it frees space) until the overflow fits again, as sonic-boom's sync mode does.
 *
 * Order: every event settles in push order. Ring acks of one producer settle in seq order, and an
 * overflow event enters the ring only after every earlier event has, so awaiting the settlement of
 * the last event pushed is awaiting all of them.
 */
import { EventEmitter } from 'node:events';
import { ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import { stateError } from '../../groupcommit/ack-waiter.js';
import { CommitState, RingState, sharedErrorCode } from '../../groupcommit/commit-state.js';
import { connectProducer, type Producer } from '../../main/producer.js';
import type { Sink } from '../../main/sink.js';
import { FAILURE_ENTRIES, I32 } from '../../ringbuffer/layout.js';
import { RingProducer } from '../../ringbuffer/ring.js';
import { EventEncoder } from '../../wal/event-codec.js';

/** Default bound of the overflow list, bytes of encoded events. */
export const kDefaultMaxBufferedBytes = 4 * 1024 * 1024;
/** Slice of one blocking wait, so a state change (fault, close) is noticed even without a notify. */
const kBlockSliceMs = 50;
/** A blocking call gives up after this long without progress (a writer that never frees space). */
const kBlockTimeoutMs = 60_000;

/** Events of a {@link DurableQueue}. */
export interface DurableQueueEvents {
  /** The overflow list entered the ring after a `push()` returned false. */
  drain: [];
  /** An event failed (not durable, not in the WAL): encode error, too large, WAL fault, closed sink. */
  error: [err: IronlogError];
}

interface Overflow {
  readonly payload: Buffer;
  readonly ordinal: number;
  readonly done: () => void;
}

function asIronlogError(err: unknown): IronlogError {
  if (err instanceof IronlogError) return err;
  if (isIronlogError(err)) return err;
  return new IronlogError(ErrorCodes.INTERNAL, String((err as Error)?.message ?? err), { cause: err });
}

/** See the module comment. One per adapter instance; not shared between threads. */
export class DurableQueue extends EventEmitter<DurableQueueEvents> {
  readonly sink: Sink;
  readonly #producer: Producer;
  readonly #encoder = new EventEncoder();
  readonly #state: CommitState;
  readonly #ring: RingProducer;
  readonly #maxEventBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #overflow: Overflow[] = [];
  #overflowBytes = 0;
  #pushed = 0;
  /** Settles (never rejects) once the latest pushed event is settled. */
  #last: Promise<void> = Promise.resolve();
  /** Failures not yet reported to a flush, by ordinal. */
  #unreported: { ordinal: number; error: IronlogError }[] = [];
  #needDrain = false;
  #pumping = false;
  /** Lowest seq a record pushed since the last successful `flushSync()` can have. */
  #flushSyncLowSeq = 0;
  /** Failure-table entries before this index were looked at by `flushSync()`. */
  #failureCursor: number;
  #disposed = false;
  /** Events up to this ordinal were reported failed-or-durable by a `flushSync()`: later ack rejections of theirs are not reported to a flush again. */
  #reportedThrough = 0;

  constructor(sink: Sink, options: { maxBufferedBytes?: number | undefined } = {}) {
    super();
    this.sink = sink;
    const descriptor = sink.producer();
    this.#producer = connectProducer(descriptor);
    this.#state = new CommitState(descriptor.sab);
    this.#ring = new RingProducer(descriptor.sab);
    this.#maxEventBytes = descriptor.maxEventBytes;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? kDefaultMaxBufferedBytes;
    this.#failureCursor = this.#state.failureCount;
    this.#flushSyncLowSeq = this.#ring.lastClaimedSeq() + 1;
  }

  /** Encoded bytes waiting for ring space. */
  get bufferedBytes(): number {
    return this.#overflowBytes;
  }

  /**
   * Appends `event`. Returns false when the ring had no room (the event waits in the overflow
   * list; `'drain'` follows). Never throws for a bad event: it is reported as `'error'` and to the
   * next flush.
   */
  push(event: unknown): boolean {
    const ordinal = ++this.#pushed;
    if (this.#disposed) {
      this.#fail(ordinal, new IronlogError(ErrorCodes.CLOSED, 'the adapter is closed; the event was not written'));
      return false;
    }
    let payload: Buffer;
    try {
      payload = this.#encode(event);
    } catch (err) {
      this.#fail(ordinal, asIronlogError(err));
      return this.#overflow.length === 0;
    }
    if (this.#overflow.length === 0) {
      const refusal = this.#tryEmit(payload, ordinal, undefined);
      if (refusal === undefined) return true;
      if (refusal !== 'full') {
        this.#fail(ordinal, refusal);
        return true;
      }
    }
    // Before #queue: its pump may empty the list at once (space freed meanwhile) and must then
    // emit the 'drain' this false promises.
    this.#needDrain = true;
    this.#queue(payload, ordinal);
    if (this.#overflowBytes > this.#maxBufferedBytes) this.#drainOverflowSync(this.#maxBufferedBytes);
    return false;
  }

  /**
   * Resolves once every event pushed before the call is durable; rejects with the first failure
   * among them (each failure is reported to one flush only).
   */
  async flush(): Promise<void> {
    const upTo = this.#pushed;
    await this.#last;
    this.#throwFailuresUpTo(upTo);
  }

  /**
   * Blocks the thread until every event pushed before the call is durable (pushes the overflow
   * list into the ring, then waits on the ring's commit word). Throws the typed error of a failed
   * event, of a sink that is not open, or `ERR_IRONLOG_BACKPRESSURE` after a minute without
   * progress. Never deadlocks on this thread's own work: the writer is another thread.
   */
  flushSync(): void {
    this.#drainOverflowSync(0);
    const target = this.#ring.lastClaimedSeq();
    const deadline = Date.now() + kBlockTimeoutMs;
    for (;;) {
      // Load the signal before the seq: a publication after this load wakes the wait at once.
      const signal = this.#state.signal;
      if (this.#state.resolvedSeq >= target) break;
      const st = this.#state.state;
      if (st === RingState.DEAD || st === RingState.CLOSED) {
        throw stateError(st, sharedErrorCode(this.#state.faultCodeIndex)) as IronlogError;
      }
      if (Date.now() > deadline) {
        throw new IronlogError(ErrorCodes.BACKPRESSURE, 'flushSync(): the writer made no progress for 60 s');
      }
      Atomics.wait(this.#state.i32, I32.COMMIT_SIGNAL, signal, kBlockSliceMs);
    }
    // A failure entry overlapping what this queue pushed since the last flushSync: some of our
    // records are not durable. (The range is an upper bound: with other producers in this sink,
    // their failure in the same window is reported here too; an audit log errs on that side.)
    const count = this.#state.failureCount;
    const low = this.#flushSyncLowSeq;
    let failed: IronlogError | undefined;
    for (let n = Math.max(this.#failureCursor, count - FAILURE_ENTRIES); n < count; n++) {
      const f = this.#state.failure(n);
      if (f.toSeq >= low && f.fromSeq <= target && failed === undefined) {
        failed = new IronlogError(
          sharedErrorCode(f.codeIndex),
          `flushSync(): seqs ${f.fromSeq}-${f.toSeq} are not durable (${sharedErrorCode(f.codeIndex)})`,
        );
      }
    }
    this.#failureCursor = count;
    this.#flushSyncLowSeq = target + 1;
    const through = this.#pushed;
    if (failed) {
      // The acks of these events reject later, asynchronously: not a second report to a flush.
      this.#reportedThrough = through;
      this.#unreported = [];
      throw failed;
    }
    // Failures found before this call (encode errors, acks already rejected) are reported too.
    this.#reportedThrough = through;
    this.#throwFailuresUpTo(through, true);
  }

  /** Stops accepting events and releases this queue's producer (the sink stays as it is). */
  dispose(): void {
    this.#disposed = true;
    this.#producer.dispose();
  }

  // ---- internals ---------------------------------------------------------------------------

  #encode(event: unknown): Buffer {
    if (event === undefined || typeof event === 'function' || typeof event === 'symbol') {
      throw new IronlogError(ErrorCodes.ENCODE, `an event must be a msgpack-encodable value, got ${typeof event}`);
    }
    let payload: Buffer;
    try {
      payload = this.#encoder.encode(event);
    } catch (err) {
      throw new IronlogError(
        ErrorCodes.ENCODE,
        `event cannot be encoded as msgpack: ${String((err as Error)?.message ?? err)}; nothing was written`,
        { cause: err },
      );
    }
    if (payload.byteLength > this.#maxEventBytes) {
      throw new IronlogError(
        ErrorCodes.EVENT_TOO_LARGE,
        `event is ${payload.byteLength} bytes encoded, more than maxEventBytes (${this.#maxEventBytes}); nothing was written`,
      );
    }
    return payload;
  }

  /**
   * Tries to put one event in the ring. Returns undefined when the ring took it (its ack is
   * tracked), `'full'` when there is no room, or the error that refuses it for good.
   */
  #tryEmit(payload: Buffer, ordinal: number, done: (() => void) | undefined): IronlogError | 'full' | undefined {
    const st = this.#state.state;
    if (st !== RingState.OPEN) return stateError(st, sharedErrorCode(this.#state.faultCodeIndex));
    const ack = this.#producer.tryEmitEncoded(payload);
    if (ack === undefined) return 'full';
    const settled = ack.then(
      () => undefined,
      (err: unknown) => this.#fail(ordinal, asIronlogError(err)),
    );
    // An overflow event is already chained into #last (see #queue); a direct one becomes it:
    // every earlier event is in the ring before it, so it settles last. (A refused event, e.g.
    // a faulted sink, settles at once: it is failed through the same handler.)
    if (done) void settled.then(done);
    else this.#last = settled;
    return undefined;
  }

  #queue(payload: Buffer, ordinal: number): void {
    let done!: () => void;
    const settled = new Promise<void>((resolve) => {
      done = resolve;
    });
    // The event after it in order waits for it: chain the queue's tail to this one.
    const previous = this.#last;
    this.#last = previous.then(() => settled);
    this.#overflow.push({ payload, ordinal, done });
    this.#overflowBytes += payload.byteLength;
    if (!this.#pumping) void this.#pump();
  }

  /** Moves the overflow list into the ring as the writer frees space (async). */
  async #pump(): Promise<void> {
    this.#pumping = true;
    // A pending Atomics.waitAsync does not keep the event loop alive: a timer does.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      while (this.#overflow.length > 0) {
        const head = Atomics.load(this.#state.i32, I32.HEAD);
        if (!this.#moveHead()) {
          const r = Atomics.waitAsync(this.#state.i32, I32.HEAD, head, kBlockSliceMs);
          if (r.async) await r.value;
        }
      }
    } finally {
      clearInterval(keepAlive);
      this.#pumping = false;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      // Never from inside push(): the caller registers its 'drain' listener after push returned
      // false, and the pump may have finished without waiting once.
      process.nextTick(() => this.emit('drain'));
    }
  }

  /** Moves the first overflow event into the ring (or fails it for good). False: no room yet. */
  #moveHead(): boolean {
    const item = this.#overflow[0];
    if (item === undefined) return true;
    const refusal = this.#tryEmit(item.payload, item.ordinal, item.done);
    if (refusal === 'full') return false;
    this.#overflow.shift();
    this.#overflowBytes -= item.payload.byteLength;
    if (refusal !== undefined) {
      this.#fail(item.ordinal, refusal);
      item.done();
    }
    return true;
  }

  /** Blocks until at most `limitBytes` of overflow remain. */
  #drainOverflowSync(limitBytes: number): void {
    const deadline = Date.now() + kBlockTimeoutMs;
    while (this.#overflow.length > 0 && this.#overflowBytes > limitBytes) {
      const head = Atomics.load(this.#state.i32, I32.HEAD);
      if (this.#moveHead()) continue;
      if (Date.now() > deadline) {
        throw new IronlogError(ErrorCodes.BACKPRESSURE, 'the ring stayed full for 60 s; the writer makes no progress');
      }
      Atomics.wait(this.#state.i32, I32.HEAD, head, kBlockSliceMs);
    }
  }

  #fail(ordinal: number, error: IronlogError): void {
    if (ordinal > this.#reportedThrough) this.#unreported.push({ ordinal, error });
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #throwFailuresUpTo(upTo: number, all = false): void {
    if (this.#unreported.length === 0) return;
    const mine = all ? this.#unreported : this.#unreported.filter((f) => f.ordinal <= upTo);
    if (mine.length === 0) return;
    this.#unreported = all ? [] : this.#unreported.filter((f) => f.ordinal > upTo);
    const first = mine[0] as { error: IronlogError };
    if (mine.length === 1) throw first.error;
    throw new IronlogError(first.error.code, `${mine.length} events failed; the first: ${first.error.message}`, {
      cause: first.error,
    });
  }
}
