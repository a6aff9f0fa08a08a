/**
 * The producer side of a sink: encode an event with msgpackr, claim a frame in the shared ring,
 * copy, publish, and hand the ack to this thread's {@link AckWaiter}. One per thread: the main
 * thread's lives in the {@link Sink}; a worker thread gets its own with {@link connectProducer}.
 */

// ---- data protection (issue 11) ----
import type { KeyProvider } from '../compliance/keys.js';
import {
  EventProtector,
  kNeedsKey,
  type ProtectionConfig,
  type ProtectionDescriptor,
} from '../compliance/protection.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { type Ack, AckWaiter, stateError } from '../groupcommit/ack-waiter.js';
import { CommitState, RingState, sharedErrorCode } from '../groupcommit/commit-state.js';
import { FrameKind, FrameOffset, frameBytesFor } from '../ringbuffer/layout.js';
import { RingProducer } from '../ringbuffer/ring.js';
import { decodeEventPayload, EventEncoder } from '../wal/event-codec.js';
import type { OnFull } from './options.js';

// ---- end data protection ----

export type { Ack };

/**
 * What `sink.producer()` returns: structured-cloneable, so it can be posted to a worker thread
 * (or passed in `workerData`), where {@link connectProducer} turns it into a {@link Producer}.
 */
export interface ProducerDescriptor {
  readonly kind: 'ironlog-producer';
  readonly version: 1;
  readonly sab: SharedArrayBuffer;
  readonly maxEventBytes: number;
  readonly onFull: OnFull;
  readonly ack: 'durable' | 'written';
  /** Masking, pseudonymization and subject-encryption rules, as data (undefined: none). */
  readonly protection?: ProtectionDescriptor | undefined;
  /** The WAL directory (its key store holds the subject keys). */
  readonly dir?: string | undefined;
}

/** Options a producer is built with. */
export interface ProducerOptions {
  readonly maxEventBytes: number;
  readonly onFull: OnFull;
  readonly ack: 'durable' | 'written';
  readonly clock?: (() => number) | undefined;
  /** Data protection applied before encoding (see `src/compliance/protection.ts`). */
  readonly protection?: ProtectionConfig | ProtectionDescriptor | undefined;
  readonly dir?: string | undefined;
  /** A key provider object for subject keys (overrides the one in `protection`). */
  readonly keyProvider?: KeyProvider | undefined;
}

interface WaitingClaim {
  /** A private copy of the frames, laid out exactly as they go into the ring. */
  readonly frames: Buffer;
  readonly count: number;
  readonly batch: boolean;
  readonly resolve: (acks: Ack | Ack[]) => void;
  readonly reject: (err: unknown) => void;
}

const kSpaceWaitMs = 100;

function defaultClockUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Emits events into a sink's ring from the current thread. */
export class Producer {
  readonly #ring: RingProducer;
  readonly #acks: AckWaiter;
  readonly #state: CommitState;
  /** msgpack with ironlog's event rules: Errors as `{ name, message, stack, code, cause }` (docs/api/sink.md). */
  readonly #encoder = new EventEncoder();
  readonly #maxEventBytes: number;
  readonly #onFull: OnFull;
  readonly #nowUs: () => number;
  /** Largest region one claim may take; bigger batches go in several claims. */
  readonly #maxClaimBytes: number;
  readonly #waiting: WaitingClaim[] = [];
  #pumping = false;
  #scratch: Buffer = Buffer.allocUnsafe(64 * 1024);
  #scratchView: DataView = new DataView(this.#scratch.buffer, this.#scratch.byteOffset, this.#scratch.byteLength);
  /** Masking + subject sealing, when configured (issue 11). */
  readonly #protector: EventProtector | undefined;
  /** Set while an emit waits for a subject key: later emits of this thread queue behind it (order). */
  #protectQueue: Promise<unknown> | undefined;

  constructor(sab: SharedArrayBuffer, options: ProducerOptions) {
    this.#protector =
      options.protection === undefined
        ? undefined
        : new EventProtector(options.protection, options.dir ?? '.', options.keyProvider);
    this.#ring = new RingProducer(sab);
    this.#acks = new AckWaiter(sab, options.ack);
    this.#state = new CommitState(sab);
    this.#maxEventBytes = options.maxEventBytes;
    this.#onFull = options.onFull;
    this.#maxClaimBytes = this.#ring.maxClaimBytes;
    const clock = options.clock;
    this.#nowUs = clock ? () => clock() * 1000 : defaultClockUs;
  }

  /** Acks outstanding in this thread. */
  get pending(): number {
    return this.#acks.pending + this.#waiting.length;
  }

  /**
   * Appends one event. Resolves (with its seq) once the event is durable, per the sink's `ack`
   * level. Rejects with `ERR_IRONLOG_ENCODE`, `ERR_IRONLOG_EVENT_TOO_LARGE`, `ERR_IRONLOG_BACKPRESSURE`,
   * `ERR_IRONLOG_CLOSED`, a WAL error code, ... (see docs/errors.md); a rejected event is not in the WAL.
   */
  emit(event: unknown): Promise<Ack> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (this.#protector !== undefined) return this.#protected([event], (e) => this.#emitPlain(e[0])) as Promise<Ack>;
    return this.#emitPlain(event);
  }

  #emitPlain(event: unknown): Promise<Ack> {
    let payload: Buffer;
    try {
      payload = this.#encode(event);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#emitOne(payload);
  }

  /** Appends one event that is already msgpack-encoded (no encoder on the hot path). */
  emitEncoded(payload: Uint8Array): Promise<Ack> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(
        new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'emitEncoded() takes a Uint8Array of msgpack bytes'),
      );
    }
    // With protection rules, encoded bytes go through them too (decoded, protected, re-encoded).
    if (this.#protector !== undefined) {
      try {
        return this.emit(decodeProtected(payload));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const tooBig = this.#sizeError(payload.byteLength);
    if (tooBig) return Promise.reject(tooBig);
    return this.#emitOne(payload);
  }

  /**
   * For adapters that must know at once whether the ring took an event (stream backpressure):
   * like {@link emitEncoded}, but returns `undefined`, having written nothing, when the ring has
   * no room right now (whatever `onFull` says). A returned promise is the event's ack; it rejects
   * for a refused event (closed or faulted sink, too large), also decided without writing.
   *
   * Why not `emitEncoded` and `pending`: an ack can settle inside the call (the writer made the
   * frame durable before the ack was registered), so `pending` does not tell a claim from a refusal.
   */
  tryEmitEncoded(payload: Uint8Array): Promise<Ack> | undefined {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    const tooBig = this.#sizeError(payload.byteLength);
    if (tooBig) return Promise.reject(tooBig);
    // Behind this thread's waiting emits: taking the ring now would reorder them.
    if (this.#waiting.length > 0) return undefined;
    const frameBytes = frameBytesFor(payload.byteLength);
    const ring = this.#ring;
    const off = ring.claim(frameBytes, 1);
    if (off < 0) return undefined;
    const seq = ring.claimedFirstSeq;
    ring.writeHeader(off, 0, payload.byteLength, seq, this.#nowUs(), FrameKind.EVENT);
    ring.data.set(payload, off + FrameOffset.PAYLOAD);
    ring.publish(off, frameBytes);
    return this.#acks.add(seq, seq, false);
  }

  /**
   * Appends several events with one claim. Resolves with one ack per event, in order. The
   * events of one call are written together: all become durable, or all are rejected (a call
   * bigger than half the ring is split into several such groups).
   */
  emitBatch(events: readonly unknown[]): Promise<Ack[]> {
    if (!Array.isArray(events)) {
      return Promise.reject(new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'emitBatch() takes an array of events'));
    }
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (events.length === 0) return Promise.resolve([]);
    if (this.#protector !== undefined) {
      return this.#protected(events, (e) => this.#emitMany(e.length, (i) => this.#encode(e[i]))) as Promise<Ack[]>;
    }
    return this.#emitMany(events.length, (i) => this.#encode(events[i]));
  }

  /** {@link emitBatch} for events that are already msgpack-encoded. */
  emitEncodedBatch(payloads: readonly Uint8Array[]): Promise<Ack[]> {
    if (!Array.isArray(payloads)) {
      return Promise.reject(
        new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'emitEncodedBatch() takes an array of Uint8Array'),
      );
    }
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    if (payloads.length === 0) return Promise.resolve([]);
    if (this.#protector !== undefined) {
      try {
        return this.emitBatch(
          payloads.map((p, i) => {
            if (!(p instanceof Uint8Array)) {
              throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `emitEncodedBatch(): item ${i} is not a Uint8Array`);
            }
            return decodeProtected(p);
          }),
        );
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#emitMany(payloads.length, (i) => {
      const p = payloads[i];
      if (!(p instanceof Uint8Array)) {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `emitEncodedBatch(): item ${i} is not a Uint8Array`);
      }
      const tooBig = this.#sizeError(p.byteLength);
      if (tooBig) throw tooBig;
      return p;
    });
  }

  /**
   * Resolves once every event emitted so far, by any thread, has been resolved by the writer
   * (durable, or rejected to its emitter).
   */
  async flush(): Promise<void> {
    await this.drainWaiting();
    const target = this.#ring.lastClaimedSeq();
    await this.#acks.flush(target);
  }

  /** Resolves once every emit of this thread that was waiting for ring space has entered the ring. */
  async drainWaiting(): Promise<void> {
    while (this.#waiting.length > 0) {
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Rejects everything outstanding in this thread (used when the writer worker died). */
  terminate(err: IronlogError): void {
    for (const w of this.#waiting.splice(0)) w.reject(err);
    this.#acks.terminate(err);
  }

  /** Releases this thread's timers. Outstanding acks are not waited for. */
  dispose(): void {
    this.#acks.dispose();
    this.#protector?.dispose();
  }

  // ---- internals ---------------------------------------------------------------------------

  /**
   * Protects `events` (masking, subject sealing) and hands them to `send`. Synchronous when every
   * subject key is in memory; otherwise the keys are fetched (or made and stored durably) first,
   * and later emits of this thread wait behind, so the thread's order holds. A failure (bad
   * subject, provider error or timeout) rejects this call only; nothing of it was written.
   */
  #protected(events: readonly unknown[], send: (protectedEvents: unknown[]) => Promise<unknown>): Promise<unknown> {
    const protector = this.#protector as EventProtector;
    if (this.#protectQueue === undefined) {
      try {
        const out: unknown[] = [];
        for (const e of events) {
          const p = protector.tryProtect(e);
          if (p === kNeedsKey) break;
          out.push(p);
        }
        if (out.length === events.length) return send(out);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    let ack: Promise<unknown> | undefined;
    const entered = (this.#protectQueue ?? Promise.resolve())
      .then(() => Promise.all(events.map((e) => protector.protect(e))))
      .then((out) => {
        const refused = this.#refusal();
        ack = refused ? Promise.reject(refused) : send(out);
      });
    const queued = entered.catch(() => undefined);
    this.#protectQueue = queued;
    void queued.then(() => {
      if (this.#protectQueue === queued) this.#protectQueue = undefined;
    });
    return entered.then(() => ack);
  }

  #refusal(): IronlogError | undefined {
    const st = this.#state.state;
    if (st === RingState.OPEN) return undefined;
    return stateError(st, sharedErrorCode(this.#state.faultCodeIndex));
  }

  #sizeError(bytes: number): IronlogError | undefined {
    if (bytes <= this.#maxEventBytes) return undefined;
    return new IronlogError(
      ErrorCodes.EVENT_TOO_LARGE,
      `event is ${bytes} bytes encoded, more than maxEventBytes (${this.#maxEventBytes}); nothing was written`,
    );
  }

  #encode(event: unknown): Buffer {
    if (event === undefined || typeof event === 'function' || typeof event === 'symbol') {
      throw new IronlogError(ErrorCodes.ENCODE, `an event must be a msgpack-encodable value, got ${typeof event}`);
    }
    let payload: Buffer;
    try {
      // Transient: every caller copies the bytes (into the ring, the scratch or a private
      // frame) before it encodes the next event.
      payload = this.#encoder.encodeTransient(event);
    } catch (err) {
      const why =
        err instanceof RangeError && /call stack/.test(err.message)
          ? 'it is cyclic or too deeply nested'
          : String((err as Error)?.message ?? err);
      throw new IronlogError(ErrorCodes.ENCODE, `event cannot be encoded as msgpack: ${why}; nothing was written`, {
        cause: err,
      });
    }
    const tooBig = this.#sizeError(payload.byteLength);
    if (tooBig) throw tooBig;
    return payload;
  }

  #emitOne(payload: Uint8Array): Promise<Ack> {
    const frameBytes = frameBytesFor(payload.byteLength);
    const timeUs = this.#nowUs();
    if (this.#waiting.length === 0) {
      const ring = this.#ring;
      const off = ring.claim(frameBytes, 1);
      if (off >= 0) {
        const seq = ring.claimedFirstSeq;
        ring.writeHeader(off, 0, payload.byteLength, seq, timeUs, FrameKind.EVENT);
        ring.data.set(payload, off + FrameOffset.PAYLOAD);
        ring.publish(off, frameBytes);
        return this.#acks.add(seq, seq, false);
      }
      if (this.#onFull === 'reject') return Promise.reject(this.#backpressure());
    } else if (this.#onFull === 'reject') {
      return Promise.reject(this.#backpressure());
    }
    // Slow path: the ring is full. Keep a private copy (the encoder reuses its buffer) in the
    // ring's own frame layout, and queue behind earlier waiters so this thread's order holds.
    const frames = Buffer.alloc(frameBytes);
    const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
    writeFrameHeader(view, 0, frameBytes, payload.byteLength, timeUs);
    frames.set(payload, FrameOffset.PAYLOAD);
    return this.#enqueue(frames, 1, false);
  }

  /** Lays the events out as ring frames in the scratch buffer, then claims once per group. */
  #emitMany(count: number, payloadAt: (i: number) => Uint8Array): Promise<Ack[]> {
    const timeUs = this.#nowUs();
    const groups: Promise<Ack[]>[] = [];
    let groupStart = 0;
    let used = 0;
    let groupCount = 0;
    try {
      for (let i = 0; i < count; i++) {
        const payload = payloadAt(i);
        const fb = frameBytesFor(payload.byteLength);
        if (groupCount > 0 && used - groupStart + fb > this.#maxClaimBytes) {
          // This group is as big as one claim may be: send it and start the next one.
          groups.push(this.#sendGroup(groupStart, used, groupCount));
          used = 0;
          groupStart = 0;
          groupCount = 0;
        }
        this.#ensureScratch(used + fb);
        writeFrameHeader(this.#scratchView, used, fb, payload.byteLength, timeUs);
        this.#scratch.set(payload, used + FrameOffset.PAYLOAD);
        used += fb;
        groupCount++;
      }
    } catch (err) {
      // An event failed to encode: nothing of this call (after earlier full groups) is sent.
      if (groups.length === 0) return Promise.reject(err);
      return Promise.all(groups).then(() => Promise.reject(err));
    }
    groups.push(this.#sendGroup(groupStart, used, groupCount));
    if (groups.length === 1) return groups[0] as Promise<Ack[]>;
    return Promise.all(groups).then((parts) => parts.flat());
  }

  #sendGroup(start: number, end: number, count: number): Promise<Ack[]> {
    const bytes = end - start;
    if (this.#waiting.length === 0) {
      const ring = this.#ring;
      const off = ring.claim(bytes, count);
      if (off >= 0) {
        ring.copyAndPublish(off, this.#scratch.subarray(start, end), count, ring.claimedFirstSeq);
        return this.#acks.add(ring.claimedFirstSeq, ring.claimedFirstSeq + count - 1, true);
      }
      if (this.#onFull === 'reject') return Promise.reject(this.#backpressure());
    } else if (this.#onFull === 'reject') {
      return Promise.reject(this.#backpressure());
    }
    return this.#enqueue(Buffer.from(this.#scratch.subarray(start, end)), count, true);
  }

  #enqueue(frames: Buffer, count: number, batch: false): Promise<Ack>;
  #enqueue(frames: Buffer, count: number, batch: true): Promise<Ack[]>;
  #enqueue(frames: Buffer, count: number, batch: boolean): Promise<Ack | Ack[]> {
    return new Promise<Ack | Ack[]>((resolve, reject) => {
      this.#waiting.push({ frames, count, batch, resolve, reject });
      if (!this.#pumping) void this.#pump();
    });
  }

  /** Moves waiting claims into the ring, in order, as space frees up. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0) {
        const w = this.#waiting[0] as WaitingClaim;
        const st = this.#state.state;
        // CLOSING still drains: close() waits for this queue before it asks the writer to stop.
        if (st !== RingState.OPEN && st !== RingState.CLOSING) {
          this.#waiting.shift();
          w.reject(stateError(st, sharedErrorCode(this.#state.faultCodeIndex)));
          continue;
        }
        const off = this.#ring.claim(w.frames.byteLength, w.count);
        if (off < 0) {
          await this.#ring.waitForSpace(kSpaceWaitMs);
          continue;
        }
        this.#waiting.shift();
        const seq = this.#ring.claimedFirstSeq;
        this.#ring.copyAndPublish(off, w.frames, w.count, seq);
        this.#acks.add(seq, seq + w.count - 1, w.batch).then(w.resolve, w.reject);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #ensureScratch(bytes: number): void {
    if (bytes <= this.#scratch.byteLength) return;
    let size = this.#scratch.byteLength * 2;
    while (size < bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#scratch.copy(next);
    this.#scratch = next;
    this.#scratchView = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  #backpressure(): IronlogError {
    return new IronlogError(
      ErrorCodes.BACKPRESSURE,
      "the ring buffer is full and onFull is 'reject'; nothing was written, retry later",
    );
  }
}

/** Writes a frame header (seq left 0: stamped after the claim) into a private buffer. */
function writeFrameHeader(view: DataView, at: number, frameBytes: number, payloadBytes: number, timeUs: number): void {
  view.setInt32(at + FrameOffset.FRAME_BYTES, frameBytes, true);
  view.setUint32(at + FrameOffset.PAYLOAD_BYTES, payloadBytes, true);
  view.setUint32(at + FrameOffset.SEQ_LOW, 0, true);
  view.setUint32(at + FrameOffset.KIND, FrameKind.EVENT, true);
  view.setFloat64(at + FrameOffset.TIME_US, timeUs, true);
  // Zero the alignment padding so the ring never carries stale bytes.
  for (let p = at + FrameOffset.PAYLOAD + payloadBytes; p < at + frameBytes; p++) view.setUint8(p, 0);
}

/**
 * Connects to a sink from any thread, given the descriptor `sink.producer()` returned (posted
 * to this thread or passed in `workerData`). The producer emits into the same ring, with the same
 * durability; call `dispose()` when the thread is done with it.
 */
export function connectProducer(
  descriptor: ProducerDescriptor,
  options: { clock?: () => number; keyProvider?: KeyProvider } = {},
): Producer {
  if (
    typeof descriptor !== 'object' ||
    descriptor === null ||
    descriptor.kind !== 'ironlog-producer' ||
    !(descriptor.sab instanceof SharedArrayBuffer)
  ) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'connectProducer() takes the descriptor returned by sink.producer()',
    );
  }
  if (descriptor.version !== 1) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `producer descriptor version ${String(descriptor.version)} is not supported`,
    );
  }
  return new Producer(descriptor.sab, {
    maxEventBytes: descriptor.maxEventBytes,
    onFull: descriptor.onFull,
    ack: descriptor.ack,
    clock: options.clock,
    protection: descriptor.protection,
    dir: descriptor.dir,
    keyProvider: options.keyProvider,
  });
}

/** Decodes an `emitEncoded` payload so protection rules can apply; `ERR_IRONLOG_ENCODE` when it is not msgpack. */
function decodeProtected(payload: Uint8Array): unknown {
  try {
    return decodeEventPayload(payload);
  } catch (err) {
    throw new IronlogError(
      ErrorCodes.ENCODE,
      'emitEncoded(): the sink has masking or subject rules, so the payload must be valid msgpack; nothing was written',
      { cause: err },
    );
  }
}
