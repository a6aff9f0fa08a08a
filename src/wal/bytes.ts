/**
 * Little-endian integer helpers over byte arrays, shared by every WAL layout (frames, segment
 * header, seal). u64 fields hold integers below 2^53 (JS numbers); they are written as two u32
 * halves, so the hot path needs no BigInt. A u64 at or above 2^53 is invalid on read.
 */

/** 2^32, for u64 halves. */
const k2p32 = 4294967296;
/** Highest allowed high half of a u64 (2^53 - 1 >> 32). */
const kMaxHigh = 0x1fffff;

/** Rounds up to the frame alignment (8 bytes). */
export function align8(n: number): number {
  // Bitwise on the hot path (frame lengths); offsets past 2^31 (segments up to 4 GiB) need floats.
  return n < 0x7ffffff8 ? (n + 7) & ~7 : Math.ceil(n / 8) * 8;
}

/** Writes a u64 (integer in [0, 2^53)) little endian as two u32 halves. */
export function writeU64(buf: Uint8Array, off: number, value: number): void {
  const lo = value >>> 0;
  const hi = Math.floor(value / k2p32) >>> 0;
  buf[off] = lo;
  buf[off + 1] = lo >>> 8;
  buf[off + 2] = lo >>> 16;
  buf[off + 3] = lo >>> 24;
  buf[off + 4] = hi;
  buf[off + 5] = hi >>> 8;
  buf[off + 6] = hi >>> 16;
  buf[off + 7] = hi >>> 24;
}

/** Writes a u32 little endian. */
export function writeU32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value;
  buf[off + 1] = value >>> 8;
  buf[off + 2] = value >>> 16;
  buf[off + 3] = value >>> 24;
}

/** Reads a u32 little endian. */
export function readU32(buf: Uint8Array, off: number): number {
  return (
    ((buf[off] as number) |
      ((buf[off + 1] as number) << 8) |
      ((buf[off + 2] as number) << 16) |
      ((buf[off + 3] as number) << 24)) >>>
    0
  );
}

/** Reads a u16 little endian. */
export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off] as number) | ((buf[off + 1] as number) << 8);
}

/** Writes a u16 little endian. */
export function writeU16(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value;
  buf[off + 1] = value >>> 8;
}

/** Reads a u64 written by {@link writeU64}; returns -1 when it is 2^53 or more (invalid). */
export function readU64(buf: Uint8Array, off: number): number {
  const hi = readU32(buf, off + 4);
  if (hi > kMaxHigh) return -1;
  return hi * k2p32 + readU32(buf, off);
}

const kZeroChunk = Buffer.alloc(64 * 1024);

/** Offset of the first nonzero byte of `buf[from, to)`, or -1. */
export function firstNonZero(buf: Buffer, from: number, to: number): number {
  let p = from;
  while (p < to) {
    const n = Math.min(kZeroChunk.length, to - p);
    if (!buf.subarray(p, p + n).equals(kZeroChunk.subarray(0, n))) {
      for (let i = p; i < p + n; i++) if (buf[i] !== 0) return i;
    }
    p += n;
  }
  return -1;
}
