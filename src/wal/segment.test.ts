import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkFrame, FrameCheck } from './record.js';
import {
  decodeSeal,
  decodeSegmentHeader,
  encodeSeal,
  encodeSegmentHeader,
  listSegmentFiles,
  parseSegmentFileName,
  SEGMENT_HEADER_BYTES,
  sealFrameBytes,
  segmentFileName,
} from './segment.js';

describe('segment naming', () => {
  it('zero-pads to 20 digits so names sort by seq', () => {
    expect(segmentFileName(1)).toBe('00000000000000000001.wal');
    expect(segmentFileName(2 ** 53 - 1)).toBe('00009007199254740991.wal');
    expect(parseSegmentFileName('00000000000000000042.wal')).toBe(42);
    expect(parseSegmentFileName('42.wal')).toBeUndefined();
    expect(parseSegmentFileName('00000000000000000000.wal')).toBeUndefined();
    const { segments, foreign } = listSegmentFiles('/d', ['LOCK', segmentFileName(10), 'x.wal', segmentFileName(2)]);
    expect(segments.map((s) => s.firstSeq)).toEqual([2, 10]);
    expect(foreign).toEqual(['x.wal']);
  });
});

describe('segment header', () => {
  it('has the documented layout and round-trips', () => {
    const prevChainHash = randomBytes(32);
    const prevSealHash = randomBytes(32);
    const h = encodeSegmentHeader({
      firstSeq: 77,
      createdUs: 1_700_000_000_123_456,
      writerId: 'node-ä',
      prevChainHash,
      prevSealHash,
    });
    expect(h.length).toBe(SEGMENT_HEADER_BYTES);
    expect(h.toString('latin1', 0, 8)).toBe('IRNLOGW1');
    expect(h.readUInt16LE(8)).toBe(1);
    expect(h.readUInt16LE(10)).toBe(128);
    expect(Number(h.readBigUInt64LE(16))).toBe(77);
    expect(Number(h.readBigUInt64LE(24))).toBe(1_700_000_000_123_456);
    expect(h.subarray(56, 88)).toEqual(prevChainHash);
    expect(h.subarray(88, 120)).toEqual(prevSealHash);
    const d = decodeSegmentHeader(h);
    expect(d.ok && d.header.writerId).toBe('node-ä');
    expect(d.ok && d.header.firstSeq).toBe(77);
    for (let i = 0; i < 128; i++) {
      const c = Buffer.from(h);
      c[i] = (c[i] as number) ^ 0x10;
      expect(decodeSegmentHeader(c).ok).toBe(false);
    }
    expect(() =>
      encodeSegmentHeader({ firstSeq: 1, createdUs: 0, writerId: 'x'.repeat(25), prevChainHash, prevSealHash }),
    ).toThrow();
  });
});

describe('seal frame', () => {
  it('round-trips, ends with offset + IRNLSEAL, and is a valid frame', () => {
    const index = [
      { seq: 1, offset: 128, maxTimeUsSoFar: 0 },
      { seq: 900, offset: 70_000, maxTimeUsSoFar: 12345 },
    ];
    const seal = encodeSeal({
      batches: 3,
      firstSeq: 1,
      lastSeq: 1000,
      records: 998,
      sealedUs: 5,
      minTimeUs: 6,
      maxTimeUs: 7,
      lastChainHash: randomBytes(32),
      merkleRoot: randomBytes(32),
      signature: Buffer.alloc(0),
      sigAlg: 0,
      index,
      sealOffset: 123_456,
    });
    expect(seal.length).toBe(sealFrameBytes(2));
    expect(seal.length).toBe(136 + 48 + 16);
    expect(checkFrame(seal, 0, seal.length)).toBe(FrameCheck.OK);
    expect(seal.toString('latin1', seal.length - 8)).toBe('IRNLSEAL');
    expect(Number(seal.readBigUInt64LE(seal.length - 16))).toBe(123_456);
    const d = decodeSeal(seal, 0, 123_456);
    expect(typeof d).toBe('object');
    if (typeof d === 'object') {
      expect(d.index).toEqual(index);
      expect(d.records).toBe(998);
      expect(d.lastSeq).toBe(1000);
    }
    expect(typeof decodeSeal(seal, 0, 999)).toBe('string');
  });
});
