import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/errors.js';
import {
  BATCH_BUCKETS_EVENTS,
  CONTROL_BYTES,
  controlViews,
  FAILURE_ENTRIES,
  FAILURE_ENTRY_WORDS,
  FrameKind,
  FrameOffset,
  FSYNC_BUCKETS_SECONDS,
  frameBytesFor,
  I32,
  I64,
  RING_FRAME_HEADER_BYTES,
  RING_MAGIC,
  RING_VERSION,
  STATS_BYTE_OFFSET,
  STATS_SLOTS,
  Stat,
  statsView,
} from './layout.js';
import { createRingSab, RingConsumer, RingProducer, wakeConsumer } from './ring.js';

const kTwo32 = 2 ** 32;

interface Seen {
  seq: number;
  timeUs: number;
  payload: number[];
}

function ring(capacity = 4096, lastSeq = 0, maxFrameBytes = capacity / 4) {
  const sab = createRingSab(capacity, maxFrameBytes, lastSeq);
  return { sab, p: new RingProducer(sab), c: new RingConsumer(sab, lastSeq), ctl: controlViews(sab) };
}

function payloadOf(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (salt * 31 + i * 7) & 255;
  return b;
}

/** claim + write + publish of one event; returns its seq, or -1 when the ring is full. */
function put(p: RingProducer, payload: Uint8Array, timeUs = 0): number {
  const fb = frameBytesFor(payload.length);
  const off = p.claim(fb, 1);
  if (off < 0) return -1;
  const seq = p.claimedFirstSeq;
  p.writeHeader(off, 0, payload.length, seq, timeUs, FrameKind.EVENT);
  p.data.set(payload, off + FrameOffset.PAYLOAD);
  p.publish(off, fb);
  return seq;
}

function drainAll(c: RingConsumer, maxBytes = Number.POSITIVE_INFINITY): Seen[] {
  const out: Seen[] = [];
  c.drain(maxBytes, (data, off, n, seq, timeUs) => {
    out.push({ seq, timeUs, payload: Array.from(data.subarray(off, off + n)) });
  });
  return out;
}

/** Moves both the tail and HEAD to `pos` (mod 2^32) on a fresh, empty ring. */
function startAt(sab: SharedArrayBuffer, pos: number): void {
  const { i32, i64 } = controlViews(sab);
  const hi = BigInt.asUintN(32, Atomics.load(i64, I64.CLAIM) >> 32n);
  Atomics.store(i64, I64.CLAIM, BigInt.asIntN(64, (hi << 32n) | BigInt(pos >>> 0)));
  Atomics.store(i32, I32.HEAD, pos | 0);
}

describe('layout', () => {
  it('puts every hot word on its own 64-byte line, inside the control block', () => {
    const bytes = [
      I32.HEAD * 4,
      I32.DATA_SIGNAL * 4,
      I32.CONSUMER_WAITING * 4,
      I32.COMMIT_SIGNAL * 4,
      I32.STATE * 4,
      I32.FAILURE_COUNT * 4,
      I64.CLAIM * 8,
      I64.RESOLVED_SEQ * 8,
      I64.DURABLE_SEQ * 8,
      I64.WRITTEN_SEQ * 8,
      I64.FAILURE_TABLE * 8,
      STATS_BYTE_OFFSET,
    ];
    const lines = bytes.map((b) => Math.floor(b / 64));
    expect(new Set(lines).size).toBe(lines.length);
    expect(Math.max(...bytes)).toBeLessThan(CONTROL_BYTES);
    // The failure table ends before the stats block, which ends inside the control block.
    expect(I64.FAILURE_TABLE * 8 + FAILURE_ENTRIES * FAILURE_ENTRY_WORDS * 8).toBeLessThanOrEqual(STATS_BYTE_OFFSET);
    expect(STATS_BYTE_OFFSET % 8).toBe(0);
    expect(STATS_BYTE_OFFSET + STATS_SLOTS * 8).toBeLessThanOrEqual(CONTROL_BYTES);
    // Stat slots do not overlap and fit the block (buckets: one slot per bound plus +Inf).
    const fsyncEnd = Stat.FSYNC_BUCKETS + FSYNC_BUCKETS_SECONDS.length + 1;
    const batchEnd = Stat.BATCH_BUCKETS + BATCH_BUCKETS_EVENTS.length + 1;
    expect(Stat.WAL_BYTES).toBeLessThan(Stat.FSYNC_BUCKETS);
    expect(fsyncEnd).toBeLessThanOrEqual(Stat.BATCH_BUCKETS);
    expect(batchEnd).toBeLessThanOrEqual(STATS_SLOTS);
    expect(frameBytesFor(0)).toBe(24);
    expect(frameBytesFor(1)).toBe(32);
    expect(frameBytesFor(8)).toBe(32);
    expect(frameBytesFor(9)).toBe(40);
    expect(frameBytesFor(100)).toBe(128);
  });

  it('createRingSab initialises the control block', () => {
    const last = 5 * kTwo32 + 7;
    const sab = createRingSab(8192, 1024, last);
    expect(sab.byteLength).toBe(CONTROL_BYTES + 8192);
    const { i32, i64 } = controlViews(sab);
    expect(i32[I32.MAGIC]).toBe(RING_MAGIC);
    expect(i32[I32.VERSION]).toBe(RING_VERSION);
    expect(i32[I32.CAPACITY]).toBe(8192);
    expect(i32[I32.MAX_FRAME_BYTES]).toBe(1024);
    expect(i32[I32.HEAD]).toBe(0);
    expect(i32[I32.STATE]).toBe(0);
    expect(i64[I64.CLAIM]).toBe(7n << 32n);
    expect(i64[I64.RESOLVED_SEQ]).toBe(BigInt(last));
    expect(i64[I64.DURABLE_SEQ]).toBe(BigInt(last));
    expect(i64[I64.WRITTEN_SEQ]).toBe(BigInt(last));
    expect(statsView(sab).every((x) => x === 0)).toBe(true);
    expect(new RingProducer(sab).lastClaimedSeq()).toBe(last);
  });

  it('createRingSab validates its arguments', () => {
    for (const bad of [0, 2048, 4096 + 8, 3 * 4096, 2 ** 31, 4096.5, Number.NaN]) {
      expect(() => createRingSab(bad, 64, 0)).toThrow(
        expect.objectContaining({
          code: ErrorCodes.INVALID_OPTION,
          message: expect.stringMatching(/^options\.ringBytes must be/),
        }),
      );
    }
    expect(() => createRingSab(4096, 1025, 0)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    expect(() => createRingSab(4096, 16, 0)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    expect(() => createRingSab(4096, 1024, -1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => createRingSab(4096, 1024, 2 ** 53)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
    );
    expect(createRingSab(4096, 1024, 0).byteLength).toBe(CONTROL_BYTES + 4096);
  });

  it('refuses to attach to a foreign or mismatched SAB (INTERNAL)', () => {
    const internal = expect.objectContaining({ code: ErrorCodes.INTERNAL });
    const foreign = new SharedArrayBuffer(CONTROL_BYTES + 4096);
    expect(() => new RingProducer(foreign)).toThrow(internal);
    expect(() => new RingConsumer(foreign, 0)).toThrow(internal);
    expect(() => new RingProducer(new ArrayBuffer(8192) as unknown as SharedArrayBuffer)).toThrow(internal);
    const wrongVersion = createRingSab(4096, 1024, 0);
    controlViews(wrongVersion).i32[I32.VERSION] = RING_VERSION + 1;
    expect(() => new RingProducer(wrongVersion)).toThrow(internal);
    const wrongCapacity = createRingSab(4096, 1024, 0);
    controlViews(wrongCapacity).i32[I32.CAPACITY] = 8192;
    expect(() => new RingConsumer(wrongCapacity, 0)).toThrow(internal);
  });
});

describe('RingProducer / RingConsumer, one thread', () => {
  it('round-trips frames: claim, publish, drain, release', () => {
    const { p, c, ctl } = ring();
    expect(c.hasData()).toBe(false);
    expect(drainAll(c)).toEqual([]);
    expect(put(p, payloadOf(5, 1), 111)).toBe(1);
    expect(put(p, payloadOf(0, 2), 222)).toBe(2);
    expect(put(p, payloadOf(100, 3), 1.7e15)).toBe(3);
    expect(p.lastClaimedSeq()).toBe(3);
    expect(c.hasData()).toBe(true);
    const seen = drainAll(c);
    expect(seen).toEqual([
      { seq: 1, timeUs: 111, payload: Array.from(payloadOf(5, 1)) },
      { seq: 2, timeUs: 222, payload: [] },
      { seq: 3, timeUs: 1.7e15, payload: Array.from(payloadOf(100, 3)) },
    ]);
    expect(c.nextSeq).toBe(4);
    expect(c.hasData()).toBe(false);
    // Not released yet: HEAD stays, bytes stay.
    expect(Atomics.load(ctl.i32, I32.HEAD)).toBe(0);
    expect(p.data[FrameOffset.PAYLOAD]).toBe(payloadOf(5, 1)[0]);
    c.release();
    const used = frameBytesFor(5) + frameBytesFor(0) + frameBytesFor(100);
    expect(Atomics.load(ctl.i32, I32.HEAD)).toBe(used);
    // The whole released span is zero again (the next lap's frames start at other offsets).
    expect(p.data.subarray(0, used).every((b) => b === 0)).toBe(true);
    c.release(); // nothing drained: no-op
    expect(Atomics.load(ctl.i32, I32.HEAD)).toBe(used);
  });

  it('stops at the first unpublished frame and keeps claim order', () => {
    const { p, c } = ring();
    const fb = frameBytesFor(8);
    const a = p.claim(fb, 1);
    const seqA = p.claimedFirstSeq;
    const b = p.claim(fb, 1);
    const seqB = p.claimedFirstSeq;
    expect([a, seqA, b, seqB]).toEqual([0, 1, fb, 2]);
    p.writeHeader(b, 0, 8, seqB, 0, FrameKind.EVENT);
    p.publish(b, fb);
    expect(c.hasData()).toBe(false);
    expect(c.hasUnpublishedClaims()).toBe(true);
    expect(drainAll(c)).toEqual([]);
    p.writeHeader(a, 0, 8, seqA, 0, FrameKind.EVENT);
    p.publish(a, fb);
    expect(drainAll(c).map((s) => s.seq)).toEqual([1, 2]);
    expect(c.hasUnpublishedClaims()).toBe(false);
  });

  it('publishes a batch claim as one unit (writeHeader for frames 2..k, and copyAndPublish)', () => {
    const { p, c } = ring();
    const sizes = [3, 40, 0];
    const fbs = sizes.map(frameBytesFor);
    const region = fbs.reduce((x, y) => x + y, 0);
    let off = p.claim(region, 3);
    expect(p.claimedFirstSeq).toBe(1);
    let pos = off;
    for (let i = 0; i < 3; i++) {
      p.writeHeader(pos, i === 0 ? 0 : (fbs[i] as number), sizes[i] as number, 1 + i, i, FrameKind.EVENT);
      p.data.set(payloadOf(sizes[i] as number, i), pos + RING_FRAME_HEADER_BYTES);
      pos += fbs[i] as number;
    }
    expect(c.hasData()).toBe(false);
    p.publish(off, fbs[0] as number);
    expect(drainAll(c).map((s) => [s.seq, s.payload.length, s.timeUs])).toEqual([
      [1, 3, 0],
      [2, 40, 1],
      [3, 0, 2],
    ]);
    c.release();

    // The same frames laid out in a private buffer, copied in with copyAndPublish.
    const src = new Uint8Array(region);
    const v = new DataView(src.buffer);
    pos = 0;
    for (let i = 0; i < 3; i++) {
      v.setInt32(pos, fbs[i] as number, true);
      v.setUint32(pos + FrameOffset.PAYLOAD_BYTES, sizes[i] as number, true);
      v.setUint32(pos + FrameOffset.KIND, FrameKind.EVENT, true);
      v.setFloat64(pos + FrameOffset.TIME_US, 10 + i, true);
      src.set(payloadOf(sizes[i] as number, 9 + i), pos + RING_FRAME_HEADER_BYTES);
      pos += fbs[i] as number;
    }
    off = p.claim(region, 3);
    expect(p.claimedFirstSeq).toBe(4);
    p.copyAndPublish(off, src, 3, p.claimedFirstSeq);
    expect(drainAll(c)).toEqual(
      sizes.map((n, i) => ({ seq: 4 + i, timeUs: 10 + i, payload: Array.from(payloadOf(n, 9 + i)) })),
    );
  });

  it('pads at the wrap, including the 8- and 16-byte tails that have no room for a header', () => {
    for (const tailRoom of [8, 16, 24, 40, 200]) {
      const cap = 4096;
      const { p, c, sab } = ring(cap);
      // Leave exactly `tailRoom` bytes before the end of the data region.
      startAt(sab, 0);
      let pos = 0;
      const target = cap - tailRoom;
      while (pos < target) {
        const n = Math.min(512, target - pos);
        expect(put(p, payloadOf(n - RING_FRAME_HEADER_BYTES, pos), pos)).toBeGreaterThan(0);
        pos += n;
        drainAll(c);
        c.release();
      }
      const big = payloadOf(tailRoom + 8, 77); // never fits in the tail room
      const seq = put(p, big, 5);
      expect(seq).toBe(p.lastClaimedSeq());
      // Padding frame at the end, the event at offset 0.
      expect(Atomics.load(new Int32Array(sab, CONTROL_BYTES), (cap - tailRoom) / 4)).toBe(tailRoom);
      if (tailRoom >= 16) expect(p.view.getUint32(cap - tailRoom + FrameOffset.KIND, true)).toBe(FrameKind.PADDING);
      expect(p.view.getUint32(FrameOffset.SEQ_LOW, true)).toBe(seq);
      expect(c.hasData()).toBe(true);
      expect(drainAll(c)).toEqual([{ seq, timeUs: 5, payload: Array.from(big) }]);
      c.release();
      expect(p.data.every((b) => b === 0)).toBe(true);
    }
  });

  it('uses the space right up to the end without padding when a frame fits exactly', () => {
    const cap = 4096;
    const { p, c } = ring(cap);
    for (let i = 0; i < 4; i++) expect(put(p, payloadOf(1024 - 24 - 8, i))).toBe(i + 1); // 4 x 1016 bytes
    expect(put(p, payloadOf(64 - 24 - 32, 9))).toBe(5); // 4064 + 32 = 4096: ends exactly at the end
    expect(drainAll(c).map((s) => s.seq)).toEqual([1, 2, 3, 4, 5]);
    c.release();
    expect(put(p, payloadOf(10, 10))).toBe(6);
    expect(p.view.getUint32(FrameOffset.SEQ_LOW, true)).toBe(6); // starts at offset 0, no padding needed
    expect(drainAll(c).map((s) => s.seq)).toEqual([6]);
  });

  it('returns -1 when full, also while drained frames are not yet released', () => {
    const cap = 4096;
    const { p, c } = ring(cap);
    // 32 frames of 128 bytes fill the ring exactly.
    for (let i = 0; i < 32; i++) expect(put(p, payloadOf(104, i))).toBe(i + 1);
    expect(p.claim(frameBytesFor(0), 1)).toBe(-1);
    // A completely full ring drains exactly once around, not into its own drained frames.
    expect(drainAll(c).map((s) => s.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(c.hasData()).toBe(false);
    expect(drainAll(c)).toEqual([]);
    expect(p.claim(frameBytesFor(0), 1)).toBe(-1); // drained but not released: still full
    c.release();
    expect(put(p, payloadOf(104, 99))).toBe(33);
    expect(drainAll(c).map((s) => s.seq)).toEqual([33]);
  });

  it('drain honours maxBytes but always visits at least one frame', () => {
    const { p, c } = ring();
    for (let i = 0; i < 5; i++) put(p, payloadOf(40, i)); // 64-byte frames
    expect(drainAll(c, 1).map((s) => s.seq)).toEqual([1]);
    expect(drainAll(c, 128).map((s) => s.seq)).toEqual([2, 3]);
    expect(drainAll(c, 100).map((s) => s.seq)).toEqual([4, 5]);
  });

  it('a visitor that throws leaves its frame undrained', () => {
    const { p, c } = ring();
    put(p, payloadOf(1, 1));
    put(p, payloadOf(1, 2));
    let calls = 0;
    expect(() =>
      c.drain(Number.POSITIVE_INFINITY, (_d, _o, _n, seq) => {
        calls++;
        if (seq === 2) throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(calls).toBe(2);
    expect(c.nextSeq).toBe(2);
    expect(drainAll(c).map((s) => s.seq)).toEqual([2]);
  });

  it('waitForSpace resolves when the consumer releases', async () => {
    const { p, c } = ring();
    while (put(p, payloadOf(200, 1)) > 0);
    expect(p.claim(frameBytesFor(200), 1)).toBe(-1);
    let settled = false;
    const t0 = performance.now();
    const waiting = p.waitForSpace(60_000).then(() => {
      settled = true;
    });
    // One full turn of the event loop: still waiting, HEAD has not moved.
    await new Promise<void>((r) => setImmediate(r));
    expect(settled).toBe(false);
    drainAll(c);
    c.release();
    await waiting;
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(put(p, payloadOf(200, 2))).toBeGreaterThan(0);
  });

  it('waitForSpace resolves at once if space was released after the failed claim, and on timeout', async () => {
    const { p, c } = ring();
    while (put(p, payloadOf(200, 1)) > 0);
    drainAll(c);
    c.release(); // HEAD moved after the failed claim
    await p.waitForSpace(60_000);
    while (put(p, payloadOf(200, 1)) > 0);
    await p.waitForSpace(5); // nobody releases: the timeout resolves it
    expect(p.claim(frameBytesFor(200), 1)).toBe(-1);
  });

  it('reconstructs full seqs across the 2^32 boundary', () => {
    for (const lastSeq of [kTwo32 - 3, 7 * kTwo32 - 2, 2 ** 53 - 50]) {
      const { p, c, ctl } = ring(4096, lastSeq);
      const got: number[] = [];
      for (let i = 0; i < 6; i++) got.push(put(p, payloadOf(i, i)));
      const want = Array.from({ length: 6 }, (_, i) => lastSeq + 1 + i);
      expect(got).toEqual(want);
      expect(p.lastClaimedSeq()).toBe(lastSeq + 6);
      expect(drainAll(c).map((s) => s.seq)).toEqual(want);
      // The writer resolves what it drained; later claims reconstruct against the new value.
      Atomics.store(ctl.i64, I64.RESOLVED_SEQ, BigInt(lastSeq + 4));
      c.release();
      expect(put(p, payloadOf(3, 3))).toBe(lastSeq + 7);
      const off = p.claim(frameBytesFor(0) * 3, 3);
      expect(off).toBeGreaterThanOrEqual(0);
      expect(p.claimedFirstSeq).toBe(lastSeq + 8);
      expect(p.lastClaimedSeq()).toBe(lastSeq + 10);
    }
  });

  it("claims through another producer's claims in between (the fast path's CAS fails, the general claim runs)", () => {
    const { sab, p, c } = ring(4096, 0);
    const q = new RingProducer(sab);
    const got: number[] = [];
    for (let i = 0; i < 12; i++) got.push(put(i % 3 === 0 ? q : p, payloadOf(i * 5, i)));
    expect(got).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(drainAll(c).map((x) => x.seq)).toEqual(got);
  });

  it('gets the right seq when CLAIM comes back to the word of its last claim after 2^32 claims elsewhere', () => {
    const { p, c, ctl } = ring(4096, 0);
    expect(put(p, payloadOf(8, 1))).toBe(1);
    expect(drainAll(c).map((x) => x.seq)).toEqual([1]);
    c.release();
    // As if other producers had claimed 2^32 frames whose bytes total a multiple of 2^32 (the
    // CLAIM word is bit for bit what p stored) and the writer had resolved all of them.
    const word = Atomics.load(ctl.i64, I64.CLAIM);
    Atomics.store(ctl.i64, I64.RESOLVED_SEQ, BigInt(1 + kTwo32));
    Atomics.store(ctl.i64, I64.CLAIM, word);
    expect(put(p, payloadOf(8, 2))).toBe(2 + kTwo32);
    expect(p.lastClaimedSeq()).toBe(2 + kTwo32);
  });

  it('keeps working when the byte position wraps 2^32', () => {
    const { p, sab, ctl } = ring(4096, kTwo32 - 10);
    startAt(sab, kTwo32 - 4096 - 1000);
    const c2 = new RingConsumer(sab, kTwo32 - 10); // attaches at the moved HEAD
    let next = kTwo32 - 9;
    for (let round = 0; round < 40; round++) {
      const seqs: number[] = [];
      for (let i = 0; i < 7; i++) {
        const n = (round * 37 + i * 101) % 500;
        const s = put(p, payloadOf(n, round + i), n);
        if (s < 0) break;
        seqs.push(s);
      }
      const seen = drainAll(c2);
      expect(seen.map((s) => s.seq)).toEqual(seqs);
      expect(seqs[0]).toBe(next);
      for (const s of seen)
        expect(s.payload).toEqual(Array.from(payloadOf(s.timeUs, round + s.seq - (seqs[0] as number))));
      next += seqs.length;
      c2.release();
    }
    const head = Atomics.load(ctl.i32, I32.HEAD) >>> 0;
    expect(head).toBeLessThan(kTwo32 - 4096 - 1000); // wrapped past 2^32
    expect(c2.hasData()).toBe(false);
  });

  it('throws INTERNAL when a frame carries the wrong seq', () => {
    const { p, c } = ring(4096, 41);
    const fb = frameBytesFor(4);
    const off = p.claim(fb, 1);
    expect(p.claimedFirstSeq).toBe(42);
    p.writeHeader(off, 0, 4, 43, 0, FrameKind.EVENT);
    p.publish(off, fb);
    expect(() => drainAll(c)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INTERNAL, message: expect.stringMatching(/expected seq 42/) }),
    );
  });

  it('throws INTERNAL on a malformed frame', () => {
    const { p, c } = ring();
    const fb = frameBytesFor(4);
    const off = p.claim(fb, 1);
    p.writeHeader(off, 0, 400, 1, 0, FrameKind.EVENT); // payload longer than the frame
    p.publish(off, fb);
    expect(() => drainAll(c)).toThrow(expect.objectContaining({ code: ErrorCodes.INTERNAL }));
  });

  it('rejects claims that can never fit', () => {
    const { p } = ring(4096, 0, 1024);
    expect(p.maxClaimBytes).toBe(2048);
    expect(() => p.claim(1032, 1)).toThrow(expect.objectContaining({ code: ErrorCodes.EVENT_TOO_LARGE }));
    expect(() => p.claim(2056, 3)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(2048 + 8, 4)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(3 * 1024 + 8, 4)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(36, 1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(16, 1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(48, 0)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(48, 1.5)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => p.claim(Number.NaN, 1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(p.claim(1024, 1)).toBe(0);
    expect(p.claim(2048, 2)).toBe(1024);
    expect(p.lastClaimedSeq()).toBe(3);
  });

  it('publish signals the consumer only while it waits; waitForData sleeps and wakes', () => {
    const { p, c, sab, ctl } = ring();
    const signal = () => Atomics.load(ctl.i32, I32.DATA_SIGNAL);
    put(p, payloadOf(1, 1));
    expect(signal()).toBe(0); // nobody waiting: no notify cost
    expect(c.waitForData(10_000)).toBe(true); // data already there: no sleep
    expect(Atomics.load(ctl.i32, I32.CONSUMER_WAITING)).toBe(0);
    drainAll(c);
    expect(c.waitForData(1)).toBe(false); // times out
    expect(Atomics.load(ctl.i32, I32.CONSUMER_WAITING)).toBe(0);
    Atomics.store(ctl.i32, I32.CONSUMER_WAITING, 1); // as if the consumer were asleep
    put(p, payloadOf(1, 2));
    expect(signal()).toBe(1);
    Atomics.store(ctl.i32, I32.CONSUMER_WAITING, 0);
    wakeConsumer(sab);
    expect(signal()).toBe(2);
  });

  it('hasData looks past a published padding frame', () => {
    const cap = 4096;
    const { p, c } = ring(cap);
    for (let i = 0; i < 3; i++) put(p, payloadOf(1000 - 24, i)); // 3 x 1000 bytes
    put(p, payloadOf(600 - 24, 3)); // tail 3600: 496 bytes to the end
    drainAll(c);
    c.release();
    const fb = frameBytesFor(900);
    const off = p.claim(fb, 1); // does not fit in 496: padded, starts at 0
    expect(off).toBe(0);
    expect(c.hasData()).toBe(false); // padding published, the frame after it is not
    expect(c.hasUnpublishedClaims()).toBe(true);
    p.writeHeader(off, 0, 900, p.claimedFirstSeq, 0, FrameKind.EVENT);
    p.publish(off, fb);
    expect(c.hasData()).toBe(true);
    expect(drainAll(c).map((s) => s.seq)).toEqual([5]);
  });
});
