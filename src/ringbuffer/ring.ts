/**
 * Multi-producer, single-consumer ring of variable-length frames in one SharedArrayBuffer, after
 * Aeron's ManyToOneRingBuffer. The offsets live in `layout.ts`; this module gives them behaviour.
 *
 * Protocol, in one paragraph: a producer claims `need` bytes with one CAS on the 64-bit CLAIM
 * word, which packs the tail position (low 32 bits) and the seq of the last claimed frame (high
 * 32 bits), so a claim of k frames gets k dense seqs in ring order. It writes its frames and
 * publishes by storing the first frame's length word last (Atomics.store). The consumer walks
 * frames in position order, stops at the first length word that is 0, and later releases the
 * space: it zeroes the released bytes, then stores HEAD and notifies producers waiting for space.
 *
 * Every shared access below is a seq-cst Atomics operation or is ordered by one:
 *  - frame bytes written by a producer before its `Atomics.store` of the length word are visible
 *    to a consumer that `Atomics.load`s a non-zero length there;
 *  - bytes zeroed by the consumer before its `Atomics.store(HEAD)` are visible (as zeros) to a
 *    producer that loaded that HEAD before claiming the space.
 *
 * Positions are byte counts mod 2^32 (`>>> 0`); the data region size divides 2^32, so a
 * position's physical offset is `position & (capacity - 1)` on every lap. Two positions are only
 * ever compared through their difference `(a - b) >>> 0`.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import {
  CONTROL_BYTES,
  FrameKind,
  FrameOffset,
  I32,
  I64,
  MAX_CAPACITY_BYTES,
  MIN_CAPACITY_BYTES,
  RING_FRAME_HEADER_BYTES,
  RING_MAGIC,
  RING_VERSION,
} from './layout.js';

const kTwo32 = 4294967296;
const kMaxInt64 = (1n << 63n) - 1n;
const kTwo64 = 1n << 64n;
/** Bound of a producer's cache of BigInt claim deltas (one per distinct region size in use). */
const kDeltaCacheMax = 64;
/** Period of the timer that keeps the event loop alive during `waitForSpace` (never fires in practice). */
const kKeepAliveMs = 1 << 30;

const kLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Slot numbers as module constants: they inline as small integers on the hot path.
const kHead = I32.HEAD;
const kDataSignal = I32.DATA_SIGNAL;
const kConsumerWaiting = I32.CONSUMER_WAITING;
const kClaim = I64.CLAIM;
const kResolvedSeq = I64.RESOLVED_SEQ;
const kKindOffset = FrameOffset.KIND;
const kPadding = FrameKind.PADDING;
const kEvent = FrameKind.EVENT;

/**
 * Called by {@link RingConsumer.drain} for each EVENT frame. `data` is the whole data region;
 * the payload is `data[payloadOffset, payloadOffset + payloadBytes)`, valid until `release()`.
 */
export type RingVisitor = (
  data: Uint8Array,
  payloadOffset: number,
  payloadBytes: number,
  seq: number,
  timeUs: number,
) => void;

/**
 * Creates and initialises a ring SAB.
 *
 * @param capacityBytes data region size: a power of two, 4 KiB .. 1 GiB (`options.ringBytes`).
 * @param maxFrameBytes largest frame (header included) a producer may claim per frame,
 *   24 .. capacityBytes/4 (usually `frameBytesFor(maxEventBytes)`).
 * @param lastSeq the last seq already in the WAL (0 for a new one): the first claimed frame
 *   gets `lastSeq + 1`, and RESOLVED/DURABLE/WRITTEN_SEQ start at `lastSeq`.
 * @throws IronlogError `INVALID_OPTION` for a bad capacity or frame limit, `INVALID_ARGUMENT` for
 *   a bad `lastSeq`, `INTERNAL` on a big-endian host.
 */
export function createRingSab(capacityBytes: number, maxFrameBytes: number, lastSeq: number): SharedArrayBuffer {
  if (
    !Number.isInteger(capacityBytes) ||
    capacityBytes < MIN_CAPACITY_BYTES ||
    capacityBytes > MAX_CAPACITY_BYTES ||
    (capacityBytes & (capacityBytes - 1)) !== 0
  ) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      `options.ringBytes must be a power of two from ${MIN_CAPACITY_BYTES} to ${MAX_CAPACITY_BYTES}, got ${String(capacityBytes)}`,
    );
  }
  if (
    !Number.isInteger(maxFrameBytes) ||
    maxFrameBytes < RING_FRAME_HEADER_BYTES ||
    maxFrameBytes > capacityBytes / 4
  ) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      `options.maxEventBytes must give frames of ${RING_FRAME_HEADER_BYTES} to ringBytes/4 (${capacityBytes / 4}) bytes, got frames of ${String(maxFrameBytes)} bytes`,
    );
  }
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `lastSeq must be a non-negative safe integer, got ${String(lastSeq)}`,
    );
  }
  if (!kLittleEndian) {
    throw new IronlogError(ErrorCodes.INTERNAL, 'the ironlog ring buffer needs a little-endian host');
  }
  const sab = new SharedArrayBuffer(CONTROL_BYTES + capacityBytes);
  const i32 = new Int32Array(sab, 0, CONTROL_BYTES / 4);
  const i64 = new BigInt64Array(sab, 0, CONTROL_BYTES / 8);
  i32[I32.MAGIC] = RING_MAGIC;
  i32[I32.VERSION] = RING_VERSION;
  i32[I32.CAPACITY] = capacityBytes;
  i32[I32.MAX_FRAME_BYTES] = maxFrameBytes;
  // Tail 0, seq part = lastSeq mod 2^32: the next claim gets lastSeq + 1.
  i64[kClaim] = BigInt.asIntN(64, BigInt(lastSeq % kTwo32) << 32n);
  i64[I64.RESOLVED_SEQ] = BigInt(lastSeq);
  i64[I64.DURABLE_SEQ] = BigInt(lastSeq);
  i64[I64.WRITTEN_SEQ] = BigInt(lastSeq);
  // Everything else (HEAD, signals, STATE = OPEN, failure table, stats, the data region) is the
  // SAB's initial zero. Plain writes suffice: the SAB reaches other threads via postMessage,
  // which orders them before anything those threads do with it.
  return sab;
}

/**
 * Wakes the consumer if it sleeps in {@link RingConsumer.waitForData}, whether or not data was
 * published: for control changes outside the ring (e.g. STATE set to CLOSING). Store the
 * change first; the consumer re-checks it after waking. Callable from any thread.
 */
export function wakeConsumer(sab: SharedArrayBuffer): void {
  const ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
  // Bumping the signal (not only notifying) also covers a consumer that has read DATA_SIGNAL
  // but not yet entered Atomics.wait: its wait then returns at once ("not-equal").
  Atomics.add(ctl, kDataSignal, 1);
  Atomics.notify(ctl, kDataSignal);
}

interface Geometry {
  readonly capacityBytes: number;
  readonly maxFrameBytes: number;
}

/** Validates that `sab` is a ring made by {@link createRingSab} with this layout version. */
function attach(sab: SharedArrayBuffer, who: string): Geometry {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < CONTROL_BYTES + MIN_CAPACITY_BYTES) {
    throw new IronlogError(ErrorCodes.INTERNAL, `${who}: not an ironlog ring (a SharedArrayBuffer from createRingSab)`);
  }
  const i32 = new Int32Array(sab, 0, CONTROL_BYTES / 4);
  const magic = Atomics.load(i32, I32.MAGIC);
  const version = Atomics.load(i32, I32.VERSION);
  if (magic !== RING_MAGIC) {
    throw new IronlogError(ErrorCodes.INTERNAL, `${who}: not an ironlog ring (magic 0x${(magic >>> 0).toString(16)})`);
  }
  if (version !== RING_VERSION) {
    throw new IronlogError(
      ErrorCodes.INTERNAL,
      `${who}: ring layout version ${version}, this build uses ${RING_VERSION}`,
    );
  }
  const capacityBytes = Atomics.load(i32, I32.CAPACITY);
  const maxFrameBytes = Atomics.load(i32, I32.MAX_FRAME_BYTES);
  if (
    capacityBytes < MIN_CAPACITY_BYTES ||
    capacityBytes > MAX_CAPACITY_BYTES ||
    (capacityBytes & (capacityBytes - 1)) !== 0 ||
    sab.byteLength !== CONTROL_BYTES + capacityBytes ||
    maxFrameBytes < RING_FRAME_HEADER_BYTES ||
    maxFrameBytes > capacityBytes / 4
  ) {
    throw new IronlogError(
      ErrorCodes.INTERNAL,
      `${who}: corrupt ring geometry (capacity ${capacityBytes}, max frame ${maxFrameBytes}, SAB ${sab.byteLength} bytes)`,
    );
  }
  return { capacityBytes, maxFrameBytes };
}

function noop(): void {}

/**
 * The producer side: one per thread (any number of threads). Attach with `new RingProducer(sab)`.
 *
 * Hot path, allocation-free apart from the BigInts of the CAS:
 * ```ts
 * const off = ring.claim(frameBytes, 1);            // -1: no room now -> waitForSpace / reject
 * ring.writeHeader(off, 0, payload.length, ring.claimedFirstSeq, timeUs, FrameKind.EVENT);
 * ring.data.set(payload, off + FrameOffset.PAYLOAD);
 * ring.publish(off, frameBytes);
 * ```
 * Keep the claim-to-publish window short: the consumer is in order, so an unpublished claim
 * holds back every frame claimed after it.
 */
export class RingProducer {
  /** The data region, bytes. Frame offsets returned by {@link claim} index into it. */
  readonly data: Uint8Array;
  /** The data region as a DataView (little-endian field access). */
  readonly view: DataView;
  /** Data region size in bytes. */
  readonly capacityBytes: number;
  /** Largest frame (header included) one frame of a claim may average; see {@link claim}. */
  readonly maxFrameBytes: number;
  /** Largest region one claim may take: capacity / 2, so a claim plus its wrap padding always fits an empty ring. */
  readonly maxClaimBytes: number;
  /** Full seq of the first frame of the last successful {@link claim} (frames get it, +1, +2, ...). */
  claimedFirstSeq = 0;

  readonly #ctl: Int32Array;
  readonly #i64: BigInt64Array;
  /** The data region as int32 words: Atomics on frame length words (index = offset >> 2). */
  readonly #words: Int32Array;
  readonly #mask: number;
  /** HEAD as the last failed claim saw it: `waitForSpace` waits for it to change. */
  #headSeen = 0;
  /**
   * The CLAIM word this producer's last successful CAS stored, with its tail and seq halves as
   * numbers: the next claim first tries a CAS on exactly that word (see {@link claim}).
   */
  #word: bigint | undefined;
  #wordTail = 0;
  #wordSeqLow = 0;
  /** BigInt claim deltas by their number value (a claim of the same size allocates none). */
  readonly #deltas = new Map<number, bigint>();

  constructor(sab: SharedArrayBuffer) {
    const g = attach(sab, 'RingProducer');
    this.capacityBytes = g.capacityBytes;
    this.maxFrameBytes = g.maxFrameBytes;
    this.maxClaimBytes = g.capacityBytes / 2;
    this.#mask = g.capacityBytes - 1;
    this.#ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.#i64 = new BigInt64Array(sab, 0, CONTROL_BYTES / 8);
    this.#words = new Int32Array(sab, CONTROL_BYTES, g.capacityBytes / 4);
    this.data = new Uint8Array(sab, CONTROL_BYTES, g.capacityBytes);
    this.view = new DataView(sab, CONTROL_BYTES, g.capacityBytes);
    this.#headSeen = Atomics.load(this.#ctl, kHead);
  }

  /**
   * Claims a contiguous region of `regionBytes` (a multiple of 8, the sum of `frames` frame
   * lengths) for `frames` frames. Returns the region's offset in {@link data}, or -1 when the
   * ring has no room right now (then {@link waitForSpace} and retry, or fail fast). On success
   * {@link claimedFirstSeq} holds the first frame's seq; the frames get consecutive seqs.
   *
   * The region never wraps: when it would cross the end of the data region, the same CAS also
   * claims the bytes up to the end, which this method fills with a published padding frame, and
   * the region starts at offset 0.
   *
   * Every frame of the region must be published (see {@link publish}) or the consumer stalls.
   *
   * @throws IronlogError `EVENT_TOO_LARGE` (one frame) or `INVALID_ARGUMENT` (several) when the
   *   region can never fit (more than {@link maxClaimBytes}, or more than
   *   `maxFrameBytes * frames`); `INVALID_ARGUMENT` for a malformed size or frame count.
   */
  claim(regionBytes: number, frames: number): number {
    if (
      (regionBytes | 0) !== regionBytes ||
      (frames | 0) !== frames ||
      frames < 1 ||
      (regionBytes & 7) !== 0 ||
      regionBytes < frames * RING_FRAME_HEADER_BYTES ||
      regionBytes > this.maxClaimBytes ||
      regionBytes > this.maxFrameBytes * frames
    ) {
      throw this.#claimError(regionBytes, frames);
    }
    const ctl = this.#ctl;
    const i64 = this.#i64;
    const capacity = this.capacityBytes;
    // First try: the word this producer's last CAS stored. While no other producer claimed since,
    // CLAIM still holds it, so its halves are known without loading and unpacking it. It is only a
    // guess: a guess that does not fit or whose CAS fails sends the loop to the general claim.
    let word = this.#word;
    let tail = this.#wordTail;
    let seqLow = this.#wordSeqLow;
    for (let guessed = word !== undefined; ; guessed = false) {
      // HEAD before CLAIM. HEAD never passes the tail that existed when it was stored, and both
      // only grow, so a HEAD loaded before the claim word is never ahead of the tail we read:
      // (tail - head) >>> 0 is the true used space or more (a stale HEAD only under-reports
      // free space). Loaded the other way round, a fresh HEAD against a stale tail would give a
      // "negative" difference, i.e. a spuriously full ring. (A guessed word is the current one
      // whenever its CAS succeeds; a stale guess can look full, so it is retried, not refused.)
      const head = Atomics.load(ctl, kHead);
      if (!guessed || word === undefined) {
        word = Atomics.load(i64, kClaim);
        tail = Number(BigInt.asUintN(32, word));
        seqLow = Number(BigInt.asUintN(32, word >> 32n));
      }
      const index = tail & this.#mask;
      const toEnd = capacity - index;
      const padBytes = regionBytes <= toEnd ? 0 : toEnd;
      const total = padBytes + regionBytes;
      // capacity <= 2^30 and total < capacity: the sum cannot overflow.
      if (((tail - head) >>> 0) + total > capacity) {
        if (guessed) continue;
        this.#headSeen = head;
        return -1;
      }
      const next = this.#nextWord(word, tail, total, frames);
      if (Atomics.compareExchange(i64, kClaim, word, next) !== word) continue;
      return this.#claimed(index, padBytes, next, tail, total, seqLow, frames);
    }
  }

  /**
   * The CLAIM word after claiming `total` bytes (padding included) for `frames` frames: tail +
   * total (mod 2^32) in the low half, seq + frames (mod 2^32) in the high half, as one 64-bit add
   * that cancels the carry out of the low half when the tail wraps 2^32.
   */
  #nextWord(word: bigint, tail: number, total: number, frames: number): bigint {
    let delta = frames * kTwo32 + total;
    if (tail + total >= kTwo32) delta -= kTwo32;
    let d = this.#deltas.get(delta);
    if (d === undefined) {
      if (this.#deltas.size >= kDeltaCacheMax) this.#deltas.clear();
      d = BigInt(delta);
      this.#deltas.set(delta, d);
    }
    // The int64 wrap of BigInt.asIntN(64, word + d), without its allocation when there is none.
    const next = word + d;
    return next > kMaxInt64 ? next - kTwo64 : next;
  }

  /**
   * After a successful CAS from a word with halves `tail` / `seqLow` to `next`: writes the
   * padding frame if any, remembers `next` for the fast path, sets {@link claimedFirstSeq} and
   * returns the region's offset.
   */
  #claimed(
    index: number,
    padBytes: number,
    next: bigint,
    tail: number,
    total: number,
    seqLow: number,
    frames: number,
  ): number {
    this.#word = next;
    this.#wordTail = (tail + total) >>> 0;
    this.#wordSeqLow = (seqLow + frames) >>> 0;
    // The region is ours. Its bytes are zero: the consumer zeroed them before the HEAD store
    // we loaded, and nothing else writes there until we publish.
    let offset = index;
    if (padBytes !== 0) {
      if (padBytes >= kKindOffset + 4) this.view.setUint32(index + kKindOffset, kPadding, true);
      Atomics.store(this.#words, index >> 2, padBytes);
      offset = 0;
    }
    // Full seq from its low 32 bits: RESOLVED_SEQ, loaded after the CAS, is below our first
    // seq (resolving a seq needs its frame drained, ours is not even published) and at most
    // 2^31 below it (between them are only frames still in the ring, < 2^26 of them, and the
    // writer's drained-but-unsynced ones, bounded by its sync interval). So the mod-2^32
    // difference of the low bits is the true, positive difference. (This holds for the fast
    // path's word too, even one that came back to the same value after 2^32 claims elsewhere:
    // the CAS proved it is the current word, and nothing here depends on how it got there.)
    const firstSeqLow = (seqLow + 1) >>> 0;
    const resolved = Number(Atomics.load(this.#i64, kResolvedSeq));
    this.claimedFirstSeq = resolved + ((firstSeqLow - (resolved >>> 0)) >>> 0);
    return offset;
  }

  /**
   * Writes a frame header at `offset` without publishing it. For the first frame of a claim,
   * pass `frameBytes = 0` (its length word is stored by {@link publish}); for frames 2..k of a
   * batch pass their real length, so the whole batch becomes visible with the first frame's
   * publication. `seq` is the full seq (its low 32 bits are stored).
   */
  writeHeader(
    offset: number,
    frameBytes: number,
    payloadBytes: number,
    seq: number,
    timeUs: number,
    kind: number,
  ): void {
    const v = this.view;
    v.setInt32(offset, frameBytes, true);
    v.setUint32(offset + FrameOffset.PAYLOAD_BYTES, payloadBytes, true);
    v.setUint32(offset + FrameOffset.SEQ_LOW, seq >>> 0, true);
    v.setUint32(offset + FrameOffset.KIND, kind, true);
    v.setFloat64(offset + FrameOffset.TIME_US, timeUs, true);
  }

  /**
   * Publishes the frame (or batch) at `offset`: stores its length word last, with a seq-cst
   * store, then wakes the consumer only if it said it is going to sleep.
   *
   * Why no wakeup is lost (a Dekker pair): the producer does store(length) then
   * load(CONSUMER_WAITING); the consumer does store(CONSUMER_WAITING = 1) then load(length).
   * Under seq-cst at least one of the two loads sees the other side's store: either the
   * consumer sees the frame and does not sleep, or we see the flag and bump + notify
   * DATA_SIGNAL, whose old value the consumer read before raising the flag, so its
   * `Atomics.wait` returns at once or is woken.
   */
  publish(offset: number, frameBytes: number): void {
    Atomics.store(this.#words, offset >> 2, frameBytes);
    const ctl = this.#ctl;
    if (Atomics.load(ctl, kConsumerWaiting) !== 0) {
      Atomics.add(ctl, kDataSignal, 1);
      Atomics.notify(ctl, kDataSignal);
    }
  }

  /**
   * Copies `count` frames already laid out as ring frames in `frames` (header + payload +
   * padding each, length words filled in, seqs ignored) into the region claimed at `offset`,
   * stamps their seqs from `firstSeq` and publishes them as one unit.
   *
   * The first frame's length word is never written by the copy: a non-zero word there, even
   * for an instant, would let the consumer read the frames before their seqs are stamped.
   */
  copyAndPublish(offset: number, frames: Uint8Array, count: number, firstSeq: number): void {
    const v = this.view;
    // The first frame's length, little-endian (no DataView allocation for the caller's buffer).
    const first = (frames[0] ?? 0) | ((frames[1] ?? 0) << 8) | ((frames[2] ?? 0) << 16) | ((frames[3] ?? 0) << 24);
    this.data.set(frames.subarray(4), offset + 4);
    let pos = offset;
    let size = first;
    for (let i = 0; ; ) {
      v.setUint32(pos + FrameOffset.SEQ_LOW, (firstSeq + i) >>> 0, true);
      if (++i === count) break;
      pos += size;
      size = v.getInt32(pos, true);
    }
    this.publish(offset, first);
  }

  /**
   * Resolves when HEAD differs from the value the last failed {@link claim} saw (space was
   * released; resolves at once if that already happened), or after `timeoutMs`. The caller
   * retries the claim either way. Never blocks the thread (`Atomics.waitAsync`), and keeps the
   * event loop alive while pending (a pending waitAsync alone does not).
   */
  waitForSpace(timeoutMs: number): Promise<void> {
    const r = Atomics.waitAsync(this.#ctl, kHead, this.#headSeen, timeoutMs);
    if (!r.async) return Promise.resolve();
    const keepAlive = setInterval(noop, kKeepAliveMs);
    return r.value.then(() => clearInterval(keepAlive));
  }

  /**
   * Full seq of the last frame claimed by any producer (`lastSeq` of `createRingSab` if none):
   * once every seq up to it is resolved, everything emitted so far is.
   */
  lastClaimedSeq(): number {
    // RESOLVED_SEQ first: every seq resolved then had been claimed then, so the claim word
    // loaded afterwards names a seq >= resolved, and the low-bit difference is non-negative.
    const resolved = Number(Atomics.load(this.#i64, kResolvedSeq));
    const lastLow = Number(BigInt.asUintN(32, Atomics.load(this.#i64, kClaim) >> 32n));
    return resolved + ((lastLow - (resolved >>> 0)) >>> 0);
  }

  #claimError(regionBytes: number, frames: number): IronlogError {
    if (!Number.isInteger(frames) || frames < 1) {
      return new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `claim(): frames must be a positive integer, got ${String(frames)}`,
      );
    }
    if (!Number.isInteger(regionBytes) || regionBytes % 8 !== 0 || regionBytes < frames * RING_FRAME_HEADER_BYTES) {
      return new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `claim(): regionBytes must be a multiple of 8 and at least ${RING_FRAME_HEADER_BYTES} per frame, got ${String(regionBytes)} for ${frames} frame(s)`,
      );
    }
    const limit = Math.min(this.maxClaimBytes, this.maxFrameBytes * frames);
    if (frames === 1) {
      return new IronlogError(
        ErrorCodes.EVENT_TOO_LARGE,
        `a frame of ${regionBytes} bytes is larger than the ring allows (${limit} bytes); nothing was written`,
      );
    }
    return new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `claim(): ${frames} frames of ${regionBytes} bytes exceed the ring's claim limit (${limit} bytes); split the batch`,
    );
  }
}

/**
 * The consumer side: exactly one, in the writer worker. Drains published frames in order,
 * checks their seqs, and releases their space when the caller is done with them.
 */
export class RingConsumer {
  /** The data region (payloads handed to the visitor point into it). */
  readonly data: Uint8Array;
  /** Data region size in bytes. */
  readonly capacityBytes: number;

  readonly #ctl: Int32Array;
  readonly #i64: BigInt64Array;
  readonly #words: Int32Array;
  readonly #view: DataView;
  readonly #mask: number;
  /** Next frame to read (position, mod 2^32). */
  #pos: number;
  /** Start of the drained-but-unreleased span (= HEAD as last stored). */
  #releasedPos: number;
  /** Seq the next EVENT frame must carry (full number). */
  #nextSeq: number;

  /**
   * @param lastSeq the last seq before this ring's first frame (the value given to `createRingSab`).
   */
  constructor(sab: SharedArrayBuffer, lastSeq: number) {
    const g = attach(sab, 'RingConsumer');
    if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `lastSeq must be a non-negative safe integer, got ${String(lastSeq)}`,
      );
    }
    this.capacityBytes = g.capacityBytes;
    this.#mask = g.capacityBytes - 1;
    this.#ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.#i64 = new BigInt64Array(sab, 0, CONTROL_BYTES / 8);
    this.#words = new Int32Array(sab, CONTROL_BYTES, g.capacityBytes / 4);
    this.data = new Uint8Array(sab, CONTROL_BYTES, g.capacityBytes);
    this.#view = new DataView(sab, CONTROL_BYTES, g.capacityBytes);
    this.#pos = Atomics.load(this.#ctl, kHead) >>> 0;
    this.#releasedPos = this.#pos;
    this.#nextSeq = lastSeq + 1;
  }

  /** The seq the next drained EVENT frame will have. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Visits published frames in order from the consumer's position, skipping padding, until an
   * unpublished frame or until the visited frames total >= `maxBytes` (at least one frame is
   * visited when one is published). Returns the number of EVENT frames visited. Does not free
   * their space: call {@link release} when their payloads are no longer needed.
   *
   * @throws IronlogError `INTERNAL` when a frame is malformed or its seq is not the next one.
   */
  drain(maxBytes: number, visit: RingVisitor): number {
    const words = this.#words;
    const view = this.#view;
    const data = this.data;
    const mask = this.#mask;
    const capacity = this.capacityBytes;
    let pos = this.#pos;
    let visited = 0;
    let bytes = 0;
    // A full lap of drained-but-unreleased frames: the next "frame" would be the first of them
    // (their length words are still set). Only a release() makes room for new frames there.
    const stop = (this.#releasedPos + capacity) >>> 0;
    for (;;) {
      if (pos === stop) break;
      const index = pos & mask;
      // Acquire: a non-zero length makes every byte the producer wrote before it visible.
      const frameBytes = Atomics.load(words, index >> 2);
      if (frameBytes === 0) break;
      const toEnd = capacity - index;
      if ((frameBytes & 7) !== 0 || frameBytes < 0 || frameBytes > toEnd) {
        throw this.#corrupt(pos, `length word ${frameBytes}`);
      }
      if (toEnd < RING_FRAME_HEADER_BYTES || view.getUint32(index + kKindOffset, true) === kPadding) {
        if (frameBytes !== toEnd) throw this.#corrupt(pos, `padding of ${frameBytes} bytes, ${toEnd} to the end`);
        pos = (pos + frameBytes) >>> 0;
        this.#pos = pos;
        continue;
      }
      const seq = this.#nextSeq;
      const payloadBytes = view.getUint32(index + FrameOffset.PAYLOAD_BYTES, true);
      if (
        view.getUint32(index + kKindOffset, true) !== kEvent ||
        frameBytes < RING_FRAME_HEADER_BYTES ||
        payloadBytes > frameBytes - RING_FRAME_HEADER_BYTES
      ) {
        throw this.#corrupt(pos, `frame of ${frameBytes} bytes, payload ${payloadBytes}`);
      }
      const seqLow = view.getUint32(index + FrameOffset.SEQ_LOW, true);
      if (seqLow !== seq >>> 0) {
        throw new IronlogError(
          ErrorCodes.INTERNAL,
          `ring frame at position ${pos} carries seq low bits ${seqLow}, expected seq ${seq} (low bits ${seq >>> 0})`,
        );
      }
      visit(
        data,
        index + RING_FRAME_HEADER_BYTES,
        payloadBytes,
        seq,
        view.getFloat64(index + FrameOffset.TIME_US, true),
      );
      // Advance only after the visit returned: a visitor that throws leaves its frame undrained.
      pos = (pos + frameBytes) >>> 0;
      this.#pos = pos;
      this.#nextSeq = seq + 1;
      visited++;
      bytes += frameBytes;
      if (bytes >= maxBytes) break;
    }
    return visited;
  }

  /**
   * Frees the space of every frame drained so far: zeroes those bytes, then stores HEAD and
   * wakes producers waiting for space.
   *
   * The whole span is zeroed, not only the old length words: the next lap's frames start at
   * other offsets, and a claimed-but-unwritten frame must read as length 0 (unpublished), never
   * as leftover payload bytes. Zeroing happens BEFORE the HEAD store, which publishes it: a
   * producer can only claim these bytes after loading the new HEAD.
   */
  release(): void {
    const from = this.#releasedPos;
    const to = this.#pos;
    const span = (to - from) >>> 0;
    if (span === 0) return;
    const start = from & this.#mask;
    const end = start + span;
    if (end <= this.capacityBytes) {
      this.data.fill(0, start, end);
    } else {
      this.data.fill(0, start, this.capacityBytes);
      this.data.fill(0, 0, end - this.capacityBytes);
    }
    this.#releasedPos = to;
    Atomics.store(this.#ctl, kHead, to | 0);
    Atomics.notify(this.#ctl, kHead);
  }

  /** True when a frame (after any padding) is published at the consumer's position. */
  hasData(): boolean {
    if ((this.#pos - this.#releasedPos) >>> 0 === this.capacityBytes) return false;
    const index = this.#pos & this.#mask;
    const frameBytes = Atomics.load(this.#words, index >> 2);
    if (frameBytes === 0) return false;
    const toEnd = this.capacityBytes - index;
    if (toEnd >= RING_FRAME_HEADER_BYTES && this.#view.getUint32(index + kKindOffset, true) !== kPadding) return true;
    // Published padding: what counts is the frame after it, at offset 0. (That is never a
    // drained-but-unreleased frame: padding is only written by a claim whose frames follow it
    // at offset 0, so those bytes were free when it was claimed.)
    return Atomics.load(this.#words, 0) !== 0;
  }

  /**
   * True when producers have claimed space past the consumer's position that it cannot drain
   * yet (a claim not yet published). Used by a closing writer to give such producers a moment.
   */
  hasUnpublishedClaims(): boolean {
    const tail = Number(BigInt.asUintN(32, Atomics.load(this.#i64, kClaim)));
    return tail !== this.#pos && !this.hasData();
  }

  /**
   * Blocks (`Atomics.wait`: call it only in a worker thread) until a frame is published at the
   * consumer's position or `timeoutMs` passes. Returns whether data is available.
   *
   * DATA_SIGNAL is read BEFORE raising CONSUMER_WAITING, and the frame checked AFTER: a producer
   * that publishes after our check sees the flag and bumps DATA_SIGNAL past the value we wait
   * on (see `RingProducer.publish`), so the wait cannot miss it.
   */
  waitForData(timeoutMs: number): boolean {
    const ctl = this.#ctl;
    const signal = Atomics.load(ctl, kDataSignal);
    Atomics.store(ctl, kConsumerWaiting, 1);
    if (this.hasData()) {
      Atomics.store(ctl, kConsumerWaiting, 0);
      return true;
    }
    Atomics.wait(ctl, kDataSignal, signal, timeoutMs);
    Atomics.store(ctl, kConsumerWaiting, 0);
    return this.hasData();
  }

  /**
   * First half of the non-blocking wait of a consumer thread that serves several rings (a sink
   * group's shared writer): the same Dekker pair as {@link waitForData}, split so one thread can
   * arm every ring, then sleep on all of them at once. Reads DATA_SIGNAL, raises
   * CONSUMER_WAITING, then checks for a frame. Returns the signal value to wait on
   * ({@link dataSignalWaiter}), or undefined when a frame is already there (the flag is lowered
   * again). Call {@link disarmWait} after waking.
   */
  armWait(): number | undefined {
    const ctl = this.#ctl;
    const signal = Atomics.load(ctl, kDataSignal);
    Atomics.store(ctl, kConsumerWaiting, 1);
    if (this.hasData()) {
      Atomics.store(ctl, kConsumerWaiting, 0);
      return undefined;
    }
    return signal;
  }

  /** Lowers CONSUMER_WAITING after an {@link armWait} (producers stop bumping DATA_SIGNAL). */
  disarmWait(): void {
    Atomics.store(this.#ctl, kConsumerWaiting, 0);
  }

  /**
   * A promise that settles once DATA_SIGNAL differs from `signal` (a producer published after
   * {@link armWait}, or {@link wakeConsumer} was called): `Atomics.waitAsync`, so the thread's
   * event loop keeps running. No time-out: the caller keeps one per ring and reuses it while the
   * signal is unchanged (a bump is always followed by a notify, so it cannot be missed).
   */
  dataSignalWaiter(signal: number): Promise<unknown> {
    const r = Atomics.waitAsync(this.#ctl, kDataSignal, signal);
    return r.async ? r.value : Promise.resolve(r.value);
  }

  /** The current DATA_SIGNAL value (to tell whether a kept {@link dataSignalWaiter} is still current). */
  get dataSignal(): number {
    return Atomics.load(this.#ctl, kDataSignal);
  }

  #corrupt(pos: number, what: string): IronlogError {
    return new IronlogError(ErrorCodes.INTERNAL, `corrupt ring frame at position ${pos}: ${what}`);
  }
}
