import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RING_FRAME_HEADER_BYTES } from '../ringbuffer/layout.js';
import { BatchBuilder } from './batch.js';
import { writeU64 } from './bytes.js';
import {
  COMMIT_FRAME_BYTES,
  FrameType,
  frameBodyOffset,
  HASH_BYTES,
  MAX_FRAME_BYTES,
  readFrameAux32,
  readFrameAux64,
  readFrameBytes,
  readFrameCrc,
  readFrameFlags,
  readFrameReserved,
  readFrameSeq,
  readFrameType,
  WAL_FRAME_ALIGN,
  WAL_FRAME_HEADER_BYTES,
  WalFrameOffset,
  writeFrameCrc,
  writeFrameHeader,
  writeFrameHeaderInt32,
} from './frame-layout.js';
import { checkFrame, computeFrameCrc, FrameCheck, sealFrameCrc } from './record.js';
import {
  encodeSeal,
  encodeSegmentHeader,
  INDEX_ENTRY_BYTES,
  IndexEntryOffset,
  SEAL_FIXED_BYTES,
  SEAL_TRAILER_BYTES,
  SEGMENT_HEADER_BYTES,
  SealOffset,
  SealTrailerOffset,
  SegmentHeaderOffset,
} from './segment.js';

const kSpec = fs.readFileSync(fileURLToPath(new URL('../../docs/wal-format.md', import.meta.url)), 'utf8');

/** The text of the spec section whose heading starts with `heading`, up to the next heading of that level. */
function section(heading: string): string {
  const start = kSpec.indexOf(`\n${heading}`);
  expect(start, `docs/wal-format.md has a section "${heading}"`).toBeGreaterThanOrEqual(0);
  const level = (heading.match(/^#+/) as RegExpMatchArray)[0];
  const rest = kSpec.slice(start + 1 + heading.length);
  const end = rest.search(new RegExp(`\\n${level} `));
  return end < 0 ? rest : rest.slice(0, end);
}

interface SpecRow {
  readonly offset: number;
  readonly size: string;
  readonly key: string;
}

/**
 * The rows of the first markdown table in `text` whose offset column is a plain number, with
 * the field name (up to a colon or space) as a layout key: `frameBytes` -> `FRAME_BYTES`.
 */
function specTable(text: string): SpecRow[] {
  const rows: SpecRow[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (!/^\d+$/.test(cells[0] ?? '')) continue;
    const hasSizeColumn = cells.length >= 3;
    const name = (hasSizeColumn ? (cells[2] as string) : '').split(/[:\s]/)[0] as string;
    rows.push({
      offset: Number(cells[0]),
      size: cells[1] ?? '',
      key: name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase(),
    });
  }
  return rows;
}

/** Bytes of a spec size cell: `u8`/`u16`/`u32`/`u64` or a plain number; NaN otherwise. */
function sizeBytes(size: string): number {
  const u = /^u(8|16|32|64)$/.exec(size);
  if (u) return Number(u[1]) / 8;
  return /^\d+$/.test(size) ? Number(size) : Number.NaN;
}

describe('WAL frame layout', () => {
  it('pins every header offset and size', () => {
    expect(WalFrameOffset).toEqual({
      FRAME_BYTES: 0,
      CRC: 4,
      TYPE: 8,
      FLAGS: 9,
      RESERVED: 10,
      AUX32: 12,
      SEQ: 16,
      AUX64: 24,
      BODY: 32,
    });
    expect(WAL_FRAME_HEADER_BYTES).toBe(32);
    expect(WalFrameOffset.BODY).toBe(WAL_FRAME_HEADER_BYTES);
    expect(WAL_FRAME_ALIGN).toBe(8);
    expect(HASH_BYTES).toBe(32);
    expect(COMMIT_FRAME_BYTES).toBe(64);
    expect(MAX_FRAME_BYTES).toBe(2 ** 30);
    expect(FrameType).toEqual({ RECORD: 1, COMMIT: 2, GAP: 3, SEAL: 4 });
    // The two frame headers have distinct names because they have distinct sizes.
    expect(RING_FRAME_HEADER_BYTES).toBe(24);
    expect(RING_FRAME_HEADER_BYTES).not.toBe(WAL_FRAME_HEADER_BYTES);
  });

  it('matches the frame header table of docs/wal-format.md §4, field by field', () => {
    const rows = specTable(section('## 4. Frames'));
    expect(Object.fromEntries(rows.map((r) => [r.key, r.offset]))).toEqual(WalFrameOffset);
    // Each field ends where the next begins: the header has no holes and no overlaps.
    for (let i = 0; i + 1 < rows.length; i++) {
      const r = rows[i] as SpecRow;
      expect(r.offset + sizeBytes(r.size), `${r.key} (${r.size}) ends where the next field starts`).toBe(
        (rows[i + 1] as SpecRow).offset,
      );
    }
    expect(section('## 4. Frames')).toContain(`Every frame has a ${WAL_FRAME_HEADER_BYTES}-byte header`);
  });

  it('matches the SEAL table of docs/wal-format.md §4 and the header table of §3', () => {
    const seal = specTable(section('### SEAL (type 4)'));
    expect(Object.fromEntries(seal.map((r) => [r.key, r.offset]))).toEqual(SealOffset);
    expect(SealOffset.RECORD_COUNT).toBe(WAL_FRAME_HEADER_BYTES);
    expect(SEAL_FIXED_BYTES).toBe(136);
    expect(IndexEntryOffset).toEqual({ SEQ: 0, OFFSET: 8, MAX_TIME_US_SO_FAR: 16 });
    expect(INDEX_ENTRY_BYTES).toBe(24);
    expect(SealTrailerOffset).toEqual({ SEAL_FRAME_OFFSET: 0, MAGIC: 8 });
    expect(SEAL_TRAILER_BYTES).toBe(16);

    const header = specTable(section('## 3. Segment header'));
    expect(Object.fromEntries(header.map((r) => [r.key, r.offset]))).toEqual(SegmentHeaderOffset);
    const last = header[header.length - 1] as SpecRow;
    expect(last.offset + sizeBytes(last.size)).toBe(SEGMENT_HEADER_BYTES);
    for (let i = 0; i + 1 < header.length; i++) {
      const r = header[i] as SpecRow;
      expect(r.offset + sizeBytes(r.size), `${r.key} (${r.size})`).toBe((header[i + 1] as SpecRow).offset);
    }
  });

  it('accessors read and write exactly the documented bytes', () => {
    const off = 40; // any 8-aligned offset inside a larger buffer
    const buf = Buffer.alloc(off + 128, 0xee);
    const seq = 2 ** 52 + 12_345;
    const aux64 = 2 ** 40 + 7;
    writeFrameHeader(buf, off, 77, FrameType.GAP, 0xa5, 0x01020304, seq, aux64);
    const v = new DataView(buf.buffer, buf.byteOffset, buf.length);
    expect(v.getUint32(off + 0, true)).toBe(77);
    expect(v.getUint32(off + 4, true)).toBe(0);
    expect(v.getUint8(off + 8)).toBe(FrameType.GAP);
    expect(v.getUint8(off + 9)).toBe(0xa5);
    expect(v.getUint16(off + 10, true)).toBe(0);
    expect(v.getUint32(off + 12, true)).toBe(0x01020304);
    expect(v.getBigUint64(off + 16, true)).toBe(BigInt(seq));
    expect(v.getBigUint64(off + 24, true)).toBe(BigInt(aux64));
    // Nothing outside the 32 header bytes was touched.
    for (let i = 0; i < off; i++) expect(buf[i]).toBe(0xee);
    for (let i = off + WAL_FRAME_HEADER_BYTES; i < buf.length; i++) expect(buf[i]).toBe(0xee);

    expect(readFrameBytes(buf, off)).toBe(77);
    expect(readFrameType(buf, off)).toBe(FrameType.GAP);
    expect(readFrameFlags(buf, off)).toBe(0xa5);
    expect(readFrameReserved(buf, off)).toBe(0);
    expect(readFrameAux32(buf, off)).toBe(0x01020304);
    expect(readFrameSeq(buf, off)).toBe(seq);
    expect(readFrameAux64(buf, off)).toBe(aux64);
    expect(frameBodyOffset(off)).toBe(off + 32);

    writeFrameCrc(buf, off, 0xdeadbeef);
    expect(v.getUint32(off + 4, true)).toBe(0xdeadbeef);
    expect(readFrameCrc(buf, off)).toBe(0xdeadbeef);

    v.setUint16(off + 10, 0x0102, true);
    expect(readFrameReserved(buf, off)).toBe(0x0102);

    // u64 fields at or above 2^53 read as -1 (invalid).
    v.setBigUint64(off + 16, 2n ** 53n, true);
    v.setBigUint64(off + 24, 2n ** 64n - 1n, true);
    expect(readFrameSeq(buf, off)).toBe(-1);
    expect(readFrameAux64(buf, off)).toBe(-1);
    writeU64(buf, off + 16, 2 ** 53 - 1);
    expect(readFrameSeq(buf, off)).toBe(2 ** 53 - 1);
  });

  it('writeFrameHeaderInt32 writes the same bytes as writeFrameHeader', () => {
    for (const [seq, aux] of [
      [1, 0],
      [2 ** 31, 2 ** 32 + 1],
      [2 ** 53 - 1, 1_767_225_600_000_000],
    ] as const) {
      const a = Buffer.alloc(WAL_FRAME_HEADER_BYTES);
      const b = Buffer.alloc(WAL_FRAME_HEADER_BYTES);
      writeFrameHeader(a, 0, 40, FrameType.RECORD, 3, 0, seq, aux);
      writeFrameHeaderInt32(
        b,
        0,
        40,
        FrameType.RECORD,
        3,
        0,
        seq | 0,
        (seq / 2 ** 32) | 0,
        aux | 0,
        (aux / 2 ** 32) | 0,
      );
      expect(b).toEqual(a);
      expect(readFrameSeq(b, 0)).toBe(seq);
      expect(readFrameAux64(b, 0)).toBe(aux);
    }
  });

  it('the CRC covers [0, CRC) ++ [CRC + 4, frameBytes) and nothing else', () => {
    const frameBytes = WAL_FRAME_HEADER_BYTES + 5;
    const buf = Buffer.alloc(48);
    writeFrameHeader(buf, 0, frameBytes, FrameType.RECORD, 0, 0, 9, 10);
    buf.set([1, 2, 3, 4, 5], frameBodyOffset(0));
    sealFrameCrc(buf, 0, frameBytes);
    expect(checkFrame(buf, 0, buf.length)).toBe(FrameCheck.OK);
    const crc = readFrameCrc(buf, 0);
    for (let i = 0; i < frameBytes; i++) {
      if (i >= WalFrameOffset.CRC && i < WalFrameOffset.CRC + 4) continue;
      const c = Buffer.from(buf);
      c[i] = (c[i] as number) ^ 0x01;
      expect(computeFrameCrc(c, 0, frameBytes), `byte ${i} is covered`).not.toBe(crc);
    }
  });

  it('a frame built by the batch builder reads back through the accessors', () => {
    const b = new BatchBuilder();
    const payload = randomBytes(13);
    b.addRecord(5, 1_000_000.9, 2, payload, 0, payload.length);
    const total = b.commit(Buffer.alloc(HASH_BYTES));
    const bytes = b.buffer.subarray(0, total);
    expect(readFrameBytes(bytes, 0)).toBe(WAL_FRAME_HEADER_BYTES + 13);
    expect(readFrameType(bytes, 0)).toBe(FrameType.RECORD);
    expect(readFrameFlags(bytes, 0)).toBe(2);
    expect(readFrameSeq(bytes, 0)).toBe(5);
    expect(readFrameAux64(bytes, 0)).toBe(1_000_000);
    expect(bytes.subarray(frameBodyOffset(0), frameBodyOffset(0) + 13)).toEqual(payload);
    const commit = total - COMMIT_FRAME_BYTES;
    expect(commit % WAL_FRAME_ALIGN).toBe(0);
    expect(readFrameType(bytes, commit)).toBe(FrameType.COMMIT);
    expect(readFrameAux32(bytes, commit)).toBe(commit);
    expect(readFrameSeq(bytes, commit)).toBe(5);
    expect(readFrameAux64(bytes, commit)).toBe(5);
    expect(bytes.subarray(frameBodyOffset(commit), frameBodyOffset(commit) + HASH_BYTES)).toEqual(b.chainHashView());
  });

  it('the seal and the segment header put each field at its declared offset', () => {
    const lastChainHash = randomBytes(32);
    const merkleRoot = randomBytes(32);
    const seal = encodeSeal({
      batches: 3,
      firstSeq: 11,
      lastSeq: 20,
      records: 9,
      sealedUs: 1_000_001,
      minTimeUs: 1_000_002,
      maxTimeUs: 1_000_003,
      lastChainHash,
      merkleRoot,
      signature: Buffer.alloc(0),
      sigAlg: 0,
      index: [{ seq: 11, offset: 128, maxTimeUsSoFar: 0 }],
      sealOffset: 4096,
    });
    expect(readFrameType(seal, 0)).toBe(FrameType.SEAL);
    expect(readFrameAux32(seal, 0)).toBe(3);
    expect(readFrameSeq(seal, 0)).toBe(11);
    expect(readFrameAux64(seal, 0)).toBe(20);
    expect(Number(seal.readBigUInt64LE(SealOffset.RECORD_COUNT))).toBe(9);
    expect(Number(seal.readBigUInt64LE(SealOffset.SEALED_US))).toBe(1_000_001);
    expect(Number(seal.readBigUInt64LE(SealOffset.MIN_TIME_US))).toBe(1_000_002);
    expect(Number(seal.readBigUInt64LE(SealOffset.MAX_TIME_US))).toBe(1_000_003);
    expect(seal.subarray(SealOffset.LAST_CHAIN_HASH, SealOffset.LAST_CHAIN_HASH + 32)).toEqual(lastChainHash);
    expect(seal.subarray(SealOffset.MERKLE_ROOT, SealOffset.MERKLE_ROOT + 32)).toEqual(merkleRoot);
    expect(seal.readUInt16LE(SealOffset.SIG_BYTES)).toBe(0);
    expect(seal.readUInt16LE(SealOffset.SIG_ALG)).toBe(0);
    expect(seal.readUInt32LE(SealOffset.INDEX_ENTRIES)).toBe(1);
    const entry = SealOffset.SIGNATURE;
    expect(Number(seal.readBigUInt64LE(entry + IndexEntryOffset.SEQ))).toBe(11);
    expect(Number(seal.readBigUInt64LE(entry + IndexEntryOffset.OFFSET))).toBe(128);
    const trailer = seal.length - SEAL_TRAILER_BYTES;
    expect(trailer).toBe(entry + INDEX_ENTRY_BYTES);
    expect(Number(seal.readBigUInt64LE(trailer + SealTrailerOffset.SEAL_FRAME_OFFSET))).toBe(4096);
    expect(seal.toString('latin1', trailer + SealTrailerOffset.MAGIC)).toBe('IRNLSEAL');

    const prevChainHash = randomBytes(32);
    const prevSealHash = randomBytes(32);
    const h = encodeSegmentHeader({ firstSeq: 11, createdUs: 123, writerId: 'w1', prevChainHash, prevSealHash });
    expect(h.toString('latin1', SegmentHeaderOffset.MAGIC, 8)).toBe('IRNLOGW1');
    expect(h.readUInt16LE(SegmentHeaderOffset.FORMAT_VERSION)).toBe(1);
    expect(h.readUInt16LE(SegmentHeaderOffset.HEADER_BYTES)).toBe(SEGMENT_HEADER_BYTES);
    expect(Number(h.readBigUInt64LE(SegmentHeaderOffset.FIRST_SEQ))).toBe(11);
    expect(Number(h.readBigUInt64LE(SegmentHeaderOffset.CREATED_US))).toBe(123);
    expect(h.toString('utf8', SegmentHeaderOffset.WRITER_ID, SegmentHeaderOffset.WRITER_ID + 2)).toBe('w1');
    expect(h.subarray(SegmentHeaderOffset.PREV_CHAIN_HASH, SegmentHeaderOffset.PREV_CHAIN_HASH + 32)).toEqual(
      prevChainHash,
    );
    expect(h.subarray(SegmentHeaderOffset.PREV_SEAL_HASH, SegmentHeaderOffset.PREV_SEAL_HASH + 32)).toEqual(
      prevSealHash,
    );
  });
});
