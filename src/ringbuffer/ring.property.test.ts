/**
 * Model-based property test of the ring in one thread: random interleavings of claims (single
 * frames and batches, several producer instances, sizes aimed right around the wrap), out-of-order
 * publications, bounded drains and releases, checked step by step against a simple model of
 * positions, padding and seqs. fast-check prints the seed and the shrunk counterexample on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/errors.js';
import { controlViews, FrameKind, FrameOffset, frameBytesFor, I32, I64, RING_FRAME_HEADER_BYTES } from './layout.js';
import { createRingSab, RingConsumer, RingProducer } from './ring.js';

const kTwo32 = 2 ** 32;

type Op =
  | { t: 'claim'; p: number; sizes: number[]; wrap: number | null; fill: number | null; copy: boolean }
  | { t: 'publish'; i: number }
  | { t: 'drain'; maxBytes: number }
  | { t: 'release'; resolve: boolean };

interface Entry {
  pos: number; // mod 2^32
  bytes: number;
  pad: boolean;
  seq: number;
  payload: Uint8Array;
  timeUs: number;
  published: boolean;
}

interface Pending {
  off: number;
  frames: Entry[];
  copy: boolean;
}

const payloadSize = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 600 }),
  fc.integer({ min: 0, max: 20_000 }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('claim' as const),
      p: fc.nat(2),
      sizes: fc.array(payloadSize, { minLength: 1, maxLength: 4 }),
      // Aim the claim at the end of the data region: region ends 32 bytes before .. 32 after it.
      wrap: fc.option(fc.integer({ min: -4, max: 4 }), { freq: 3 }),
      // Aim the claim at the free space: 16 bytes less .. 16 bytes more than what is left.
      fill: fc.option(fc.integer({ min: -2, max: 2 }), { freq: 2 }),
      copy: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('publish' as const), i: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('drain' as const),
      maxBytes: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 70_000 }), fc.constant(Number.POSITIVE_INFINITY)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), resolve: fc.boolean() }) },
);

const configArb = fc.record({
  capacity: fc.integer({ min: 12, max: 16 }).map((s) => 2 ** s),
  lastSeq: fc.oneof(
    fc.constant(0),
    fc.integer({ min: kTwo32 - 400, max: kTwo32 + 50 }),
    fc.integer({ min: 2 ** 53 - 2 ** 20, max: 2 ** 53 - 2 ** 19 }),
  ),
  startPos: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 20_000 }).map((k) => kTwo32 - 8 * k),
    fc.integer({ min: 0, max: 2 ** 29 - 1 }).map((k) => 8 * k),
  ),
  producers: fc.integer({ min: 1, max: 3 }),
  ops: fc.array(opArb, { maxLength: 250 }),
});

function fillPayload(n: number, seq: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seq * 131 + i * 29 + 7) & 255;
  return b;
}

type Config = typeof configArb extends fc.Arbitrary<infer T> ? T : never;

function run(cfg: Config): void {
  const { capacity, lastSeq, startPos } = cfg;
  const maxFrame = capacity / 4;
  const mask = capacity - 1;
  const sab = createRingSab(capacity, maxFrame, lastSeq);
  const ctl = controlViews(sab);
  // Start both the tail and HEAD at startPos (an empty ring somewhere in the 2^32 position space).
  Atomics.store(ctl.i64, I64.CLAIM, BigInt.asIntN(64, (BigInt(lastSeq % kTwo32) << 32n) | BigInt(startPos)));
  Atomics.store(ctl.i32, I32.HEAD, startPos | 0);
  const producers = Array.from({ length: cfg.producers }, () => new RingProducer(sab));
  const consumer = new RingConsumer(sab, lastSeq);
  const data = consumer.data;
  const view = new DataView(sab, data.byteOffset, capacity);

  let tail = startPos;
  let head = startPos;
  let seqNext = lastSeq + 1;
  let resolved = lastSeq;
  const entries: Entry[] = []; // claimed, not released, in position order
  let drained = 0; // entries[0, drained) are drained
  const pending: Pending[] = [];
  const visited: number[] = [];

  // Plain comparisons first, `expect` only on a mismatch: expect() per byte would dominate the run time.
  const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  const allZero = (from: number, bytes: number): boolean => {
    for (let k = 0; k < bytes; k++) if (data[(from + k) & mask] !== 0) return false;
    return true;
  };

  const frameIntact = (e: Entry): void => {
    const at = e.pos & mask;
    const payload = data.subarray(at + RING_FRAME_HEADER_BYTES, at + RING_FRAME_HEADER_BYTES + e.payload.length);
    if (
      view.getUint32(at + FrameOffset.SEQ_LOW, true) !== e.seq >>> 0 ||
      view.getUint32(at + FrameOffset.PAYLOAD_BYTES, true) !== e.payload.length ||
      !sameBytes(payload, e.payload)
    ) {
      expect({ seqLow: view.getUint32(at + FrameOffset.SEQ_LOW, true), payload }).toEqual({
        seqLow: e.seq >>> 0,
        payload: e.payload,
      });
    }
  };

  const publish = (pd: Pending): void => {
    const first = pd.frames[0] as Entry;
    if (pd.copy) {
      // Lay the frames out in a private buffer and copy them in (seqs stamped by the ring).
      const total = pd.frames.reduce((s, e) => s + e.bytes, 0);
      const src = new Uint8Array(total);
      const v = new DataView(src.buffer);
      let at = 0;
      for (const e of pd.frames) {
        v.setInt32(at, e.bytes, true);
        v.setUint32(at + FrameOffset.PAYLOAD_BYTES, e.payload.length, true);
        v.setUint32(at + FrameOffset.SEQ_LOW, 0xdeadbeef, true); // must be overwritten
        v.setUint32(at + FrameOffset.KIND, FrameKind.EVENT, true);
        v.setFloat64(at + FrameOffset.TIME_US, e.timeUs, true);
        src.set(e.payload, at + RING_FRAME_HEADER_BYTES);
        at += e.bytes;
      }
      // Until now the claimed region is untouched zeros.
      expect(allZero(pd.off, total)).toBe(true);
      (producers[0] as RingProducer).copyAndPublish(pd.off, src, pd.frames.length, first.seq);
    } else {
      for (const e of pd.frames) frameIntact(e); // nobody overwrote the unpublished frames
      (producers[0] as RingProducer).publish(pd.off, first.bytes);
    }
    for (const e of pd.frames) e.published = true;
  };

  const expectedHasData = (): boolean => {
    for (let i = drained; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (!e.published) return false;
      if (!e.pad) return true;
    }
    return false;
  };

  const drain = (maxBytes: number): void => {
    expect(consumer.hasData()).toBe(expectedHasData());
    const want: Entry[] = [];
    let i = drained;
    let bytes = 0;
    while (i < entries.length) {
      const e = entries[i] as Entry;
      if (!e.published) break;
      i++;
      if (e.pad) continue;
      want.push(e);
      bytes += e.bytes;
      if (bytes >= maxBytes) break;
    }
    const got: { seq: number; timeUs: number; payload: Uint8Array }[] = [];
    const n = consumer.drain(maxBytes, (d, off, len, seq, timeUs) => {
      got.push({ seq, timeUs, payload: d.slice(off, off + len) });
    });
    expect(n).toBe(want.length);
    const same =
      got.length === want.length &&
      got.every((g, k) => {
        const w = want[k] as Entry;
        return g.seq === w.seq && g.timeUs === w.timeUs && sameBytes(g.payload, w.payload);
      });
    if (!same) expect(got).toEqual(want.map((e) => ({ seq: e.seq, timeUs: e.timeUs, payload: e.payload })));
    for (const g of got) visited.push(g.seq);
    drained = i;
  };

  const release = (resolve: boolean): void => {
    // Everything drained but not released is still intact: no producer wrote over it.
    for (let i = 0; i < drained; i++) {
      const e = entries[i] as Entry;
      if (!e.pad) frameIntact(e);
    }
    consumer.release();
    if (drained > 0) {
      const last = entries[drained - 1] as Entry;
      const from = head;
      head = (last.pos + last.bytes) >>> 0;
      // The released span is zero again.
      expect(allZero(from, (head - from) >>> 0)).toBe(true);
      entries.splice(0, drained);
      drained = 0;
    }
    expect(Atomics.load(ctl.i32, I32.HEAD) >>> 0).toBe(head);
    if (resolve && visited.length > 0) {
      // As group commit would: everything drained is now resolved.
      resolved = visited[visited.length - 1] as number;
      Atomics.store(ctl.i64, I64.RESOLVED_SEQ, BigInt(resolved));
    }
  };

  for (const op of cfg.ops) {
    switch (op.t) {
      case 'claim': {
        const producer = producers[op.p % producers.length] as RingProducer;
        let sizes = op.sizes.map((s) => Math.min(s, maxFrame - RING_FRAME_HEADER_BYTES));
        const index = tail & mask;
        const toEnd = capacity - index;
        const clamp = (n: number): number => Math.max(0, Math.min(maxFrame - RING_FRAME_HEADER_BYTES, n));
        if (op.wrap !== null) {
          sizes = [clamp(toEnd - RING_FRAME_HEADER_BYTES + op.wrap * 8)];
        } else if (op.fill !== null) {
          const free = capacity - ((tail - head) >>> 0);
          const room = free <= toEnd ? free : Math.max(toEnd, free - toEnd); // where a frame could go
          sizes = [clamp(room - RING_FRAME_HEADER_BYTES + op.fill * 8)];
        }
        const fbs = sizes.map(frameBytesFor);
        const region = fbs.reduce((a, b) => a + b, 0);
        if (region > capacity / 2) {
          expect(() => producer.claim(region, sizes.length)).toThrow(
            expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
          );
          break;
        }
        const pad = region <= toEnd ? 0 : toEnd;
        const fits = ((tail - head) >>> 0) + pad + region <= capacity;
        const off = producer.claim(region, sizes.length);
        if (!fits) {
          expect(off).toBe(-1);
          break;
        }
        expect(off).toBe(pad === 0 ? index : 0);
        expect(producer.claimedFirstSeq).toBe(seqNext);
        expect(producer.lastClaimedSeq()).toBe(seqNext + sizes.length - 1);
        // A fresh claim sees only zeros (never stale bytes a consumer could mistake for a frame).
        expect(allZero(off, region)).toBe(true);
        if (pad !== 0) {
          expect(Atomics.load(new Int32Array(sab, data.byteOffset, capacity / 4), index >> 2)).toBe(pad);
          entries.push({
            pos: tail,
            bytes: pad,
            pad: true,
            seq: 0,
            payload: new Uint8Array(0),
            timeUs: 0,
            published: true,
          });
        }
        let pos = (tail + pad) >>> 0;
        const frames: Entry[] = [];
        for (let i = 0; i < sizes.length; i++) {
          const seq = seqNext + i;
          const e: Entry = {
            pos,
            bytes: fbs[i] as number,
            pad: false,
            seq,
            payload: fillPayload(sizes[i] as number, seq),
            timeUs: seq * 3 + 0.5,
            published: false,
          };
          frames.push(e);
          entries.push(e);
          pos = (pos + e.bytes) >>> 0;
        }
        if (!op.copy) {
          for (let i = 0; i < frames.length; i++) {
            const e = frames[i] as Entry;
            const at = e.pos & mask;
            producer.writeHeader(at, i === 0 ? 0 : e.bytes, e.payload.length, e.seq, e.timeUs, FrameKind.EVENT);
            producer.data.set(e.payload, at + RING_FRAME_HEADER_BYTES);
          }
        }
        pending.push({ off, frames, copy: op.copy });
        tail = pos;
        seqNext += sizes.length;
        break;
      }
      case 'publish': {
        if (pending.length === 0) break;
        const [pd] = pending.splice(op.i % pending.length, 1);
        publish(pd as Pending);
        break;
      }
      case 'drain':
        drain(op.maxBytes);
        break;
      case 'release':
        release(op.resolve);
        break;
    }
    expect(consumer.hasUnpublishedClaims()).toBe(
      tail !==
        (drained > 0 ? ((entries[drained - 1] as Entry).pos + (entries[drained - 1] as Entry).bytes) >>> 0 : head) &&
        !expectedHasData(),
    );
  }

  // Finish: publish the rest, drain everything: every claimed seq exactly once, in order.
  for (const pd of pending.splice(0)) publish(pd);
  drain(Number.POSITIVE_INFINITY);
  release(true);
  expect(consumer.hasData()).toBe(false);
  expect(visited.length).toBe(seqNext - lastSeq - 1);
  for (let i = 0; i < visited.length; i++) {
    if (visited[i] !== lastSeq + 1 + i) expect(visited[i]).toBe(lastSeq + 1 + i);
  }
  expect(consumer.nextSeq).toBe(seqNext);
}

describe('ring (property)', () => {
  it('claim/publish/drain/release interleavings keep order, payloads and seqs, and never overwrite unreleased data', () => {
    fc.assert(fc.property(configArb, run), { numRuns: 400 });
  });
});
