import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchBuilder, BatchParse, BatchStatus, findCompleteBatch, parseBatch } from './batch.js';
import { align8, readU64, writeU64 } from './bytes.js';
import { COMMIT_FRAME_BYTES, FrameType } from './frame-layout.js';
import { checkFrame, FrameCheck } from './record.js';

function built(records: number, payload = 10): { b: BatchBuilder; bytes: Buffer } {
  const b = new BatchBuilder();
  const src = Buffer.alloc(1000);
  for (let i = 0; i < src.length; i++) src[i] = i & 0xff;
  for (let s = 1; s <= records; s++) b.addRecord(s, 1_000_000 + s + 0.75, s & 3, src, s, payload + s);
  const total = b.commit(Buffer.alloc(32));
  return { b, bytes: Buffer.from(b.buffer.subarray(0, total)) };
}

describe('u64 helpers', () => {
  it('round-trip every safe integer and reject >= 2^53', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const buf = Buffer.alloc(8);
        writeU64(buf, 0, n);
        expect(readU64(buf, 0)).toBe(n);
        expect(buf.readBigUInt64LE(0)).toBe(BigInt(n));
      }),
    );
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(2n ** 53n);
    expect(readU64(buf, 0)).toBe(-1);
  });
});

describe('BatchBuilder', () => {
  it('encodes RECORD frames and a COMMIT that parse back', () => {
    const { b, bytes } = built(5);
    expect(b.count).toBe(5);
    expect(b.firstSeq).toBe(1);
    expect(b.lastSeq).toBe(5);
    expect(bytes.length % 8).toBe(0);
    // first frame: header fields
    expect(bytes.readUInt32LE(0)).toBe(32 + 11);
    expect(bytes[8]).toBe(FrameType.RECORD);
    expect(bytes[9]).toBe(1);
    expect(readU64(bytes, 16)).toBe(1);
    expect(readU64(bytes, 24)).toBe(1_000_001); // fraction dropped
    expect(checkFrame(bytes, 0, bytes.length)).toBe(FrameCheck.OK);
    // padding is zero
    for (let i = 43; i < 48; i++) expect(bytes[i]).toBe(0);
    const out = new BatchParse();
    expect(parseBatch(bytes, 0, bytes.length, true, 0, 1, Buffer.alloc(32), out)).toBe(BatchStatus.BATCH);
    expect(out.lastSeq).toBe(5);
    expect(out.records).toBe(5);
    expect(out.end).toBe(bytes.length);
    const chain = createHash('sha256')
      .update(Buffer.alloc(32))
      .update(bytes.subarray(0, bytes.length - COMMIT_FRAME_BYTES))
      .digest();
    expect(out.chainHash).toEqual(chain);
    expect(b.chainHashView()).toEqual(chain);
  });

  it('rejects non-consecutive seqs with INTERNAL', () => {
    const b = new BatchBuilder();
    const src = Buffer.alloc(4);
    b.addRecord(7, 0, 0, src, 0, 4);
    expect(() => b.addRecord(9, 0, 0, src, 0, 4)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INTERNAL' }));
    expect(() => b.addGap(9, 10, 2)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INTERNAL' }));
    b.addGap(8, 10, 2, { code: 'X' });
    b.addRecord(11, 0, 0, src, 0, 4);
    expect(b.lastSeq).toBe(11);
    expect(b.gapSeqs).toBe(3);
    b.reset();
    expect(b.count).toBe(0);
    b.addRecord(100, 0, 0, src, 0, 4);
    expect(b.firstSeq).toBe(100);
  });

  it('grows past its initial buffer and keeps frames intact', () => {
    const b = new BatchBuilder();
    const src = Buffer.alloc(100_000, 0xab);
    for (let s = 1; s <= 20; s++) b.addRecord(s, s, 0, src, 0, 100_000 - s);
    const total = b.commit(Buffer.alloc(32));
    const out = new BatchParse();
    expect(parseBatch(b.buffer, 0, total, true, 0, 1, Buffer.alloc(32), out)).toBe(BatchStatus.BATCH);
    expect(out.records).toBe(20);
  });

  it('copies payloads exactly: aligned (word copy), misaligned, large, and from changing sources', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64 * 1024));
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 7 + (i >> 8)) & 0xff;
    const other = Buffer.from(shared.subarray(0, 1024)).reverse();
    const sub = new Uint8Array(shared.buffer, 5, 1000); // a view with an odd byteOffset
    const cases: Array<[Uint8Array, number, number]> = [
      [shared, 8, 200],
      [shared, 3, 201],
      [other, 16, 77],
      [shared, 300, 5],
      [sub, 3, 400], // byteOffset 5 + 3: aligned again
      [sub, 0, 33],
      [shared, 1024, 20_000], // above the word-copy limit
      [shared, 0, 0],
    ];
    const b = new BatchBuilder();
    cases.forEach(([src, off, n], i) => {
      b.addRecord(i + 1, 1, 0, src, off, n);
    });
    const total = b.commit(Buffer.alloc(32));
    const out = new BatchParse();
    expect(parseBatch(b.buffer, 0, total, true, 0, 1, Buffer.alloc(32), out)).toBe(BatchStatus.BATCH);
    let p = 0;
    for (const [src, off, n] of cases) {
      expect(Buffer.from(b.buffer.subarray(p + 32, p + 32 + n))).toEqual(Buffer.from(src.subarray(off, off + n)));
      p += align8(32 + n);
    }
  });
});

describe('parseBatch', () => {
  it('tells a torn batch (cut anywhere) from end of data', () => {
    const { bytes } = built(3);
    const out = new BatchParse();
    for (let cut = 1; cut < bytes.length; cut++) {
      const st = parseBatch(bytes.subarray(0, cut), 0, cut, true, 0, 1, Buffer.alloc(32), out);
      expect(st).toBe(BatchStatus.DAMAGED);
      expect(out.problemKind).toBe('truncated');
      expect(parseBatch(bytes.subarray(0, cut), 0, cut, false, 0, 1, Buffer.alloc(32), out)).toBe(
        BatchStatus.NEED_MORE,
      );
    }
    expect(parseBatch(Buffer.alloc(64), 0, 64, true, 0, 1, null, out)).toBe(BatchStatus.END_ZERO);
    expect(parseBatch(Buffer.alloc(0), 0, 0, true, 0, 1, null, out)).toBe(BatchStatus.END_EOF);
  });

  it('detects every single-bit flip in a batch', () => {
    const { bytes } = built(3, 3);
    const out = new BatchParse();
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Buffer.from(bytes);
        copy[i] = (copy[i] as number) ^ (1 << bit);
        expect(parseBatch(copy, 0, copy.length, true, 0, 1, Buffer.alloc(32), out)).toBe(BatchStatus.DAMAGED);
      }
    }
  });

  it('findCompleteBatch finds a later complete batch but not a torn one', () => {
    const { bytes } = built(3);
    const two = Buffer.concat([bytes, bytes]);
    const out = new BatchParse();
    expect(findCompleteBatch(two, 8, two.length, out)).toBe(bytes.length);
    expect(findCompleteBatch(two.subarray(0, two.length - 1), 8, two.length - 1, out)).toBe(-1);
  });
});
