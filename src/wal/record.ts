/**
 * Frame codec: the only place that knows the byte layout of a WAL frame (segment header and seal
 * layouts live in `segment.ts`). The full format is specified in `docs/wal-format.md`.
 *
 * Every frame starts at an 8-byte aligned offset with a 32-byte header, little endian:
 *
 *   +0  u32 frameBytes   unpadded length incl. this header (0 = end of data / zero-filled space)
 *   +4  u32 crc          CRC-32C over bytes [0,4) ++ [8, frameBytes) of the frame
 *   +8  u8  type         1 RECORD, 2 COMMIT, 3 GAP, 4 SEAL
 *   +9  u8  flags        RECORD: bit0 encrypted, bit1 compressed; others 0
 *   +10 u16 reserved     0
 *   +12 u32 aux32        COMMIT: batchBytes; SEAL: batch count; RECORD, GAP: 0
 *   +16 u64 seq          RECORD: seq; COMMIT: first seq of batch; GAP: fromSeq; SEAL: segment firstSeq
 *   +24 u64 aux64        RECORD: timeUs; COMMIT: last seq of batch; GAP: toSeq; SEAL: segment lastSeq
 *   +32 body             RECORD: msgpack payload; COMMIT: 32B chain hash; GAP: u8 reason + msgpack detail
 *   zero padding to a multiple of 8 (not counted in frameBytes).
 *
 * u64 fields hold integers below 2^53 (JS numbers); they are written as two u32 halves, so the hot
 * path needs no BigInt. A u64 at or above 2^53 is invalid on read.
 */
import { crc32cUpdateInt32 } from './crc32c.js';

/** Size of the common frame header. */
export const FRAME_HEADER_BYTES = 32;
/** Every frame starts at a multiple of this. */
export const FRAME_ALIGN = 8;
/**
 * Largest frame a reader accepts (1 GiB). Events are limited far below that (`maxEventBytes`);
 * the bound only keeps a damaged length word from making a reader allocate gigabytes.
 */
export const MAX_FRAME_BYTES = 1 << 30;

/** Frame types (byte +8). */
export const FrameType = { RECORD: 1, COMMIT: 2, GAP: 3, SEAL: 4 } as const;
/** One of {@link FrameType}. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** RECORD flag bits (byte +9). Unknown bits are kept as they are and reported to readers. */
export const RecordFlags = { ENCRYPTED: 1, COMPRESSED: 2 } as const;

/** GAP reasons (first body byte). */
export const GapReason = {
  /** `recoverWal` could not salvage these seqs. */
  RECOVERY_LOSS: 1,
  /** A write or fsync failed; these seqs were rejected (their emits failed) and never stored. */
  WRITE_REJECTED: 2,
} as const;
/** One of {@link GapReason}. */
export type GapReasonValue = (typeof GapReason)[keyof typeof GapReason];

/** Field offsets inside a frame. */
export const FrameField = {
  FRAME_BYTES: 0,
  CRC: 4,
  TYPE: 8,
  FLAGS: 9,
  RESERVED: 10,
  AUX32: 12,
  SEQ: 16,
  AUX64: 24,
  BODY: 32,
} as const;

/** Length of a SHA-256 digest (chain hashes, Merkle roots, seal hashes). */
export const HASH_BYTES = 32;
/** A COMMIT frame is a header plus a 32-byte chain hash: 64 bytes, no padding. */
export const COMMIT_FRAME_BYTES = FRAME_HEADER_BYTES + HASH_BYTES;
/** 2^32, for u64 halves. */
const k2p32 = 4294967296;
/** Highest allowed high half of a u64 (2^53 - 1 >> 32). */
const kMaxHigh = 0x1fffff;

/** Rounds up to the frame alignment. */
export function align8(n: number): number {
  return (n + 7) & ~7;
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

/**
 * Writes the 32-byte header of a frame at `off` (CRC left 0: see {@link sealFrameCrc}).
 * `aux64`: see the module comment.
 */
export function writeFrameHeader(
  buf: Uint8Array,
  off: number,
  frameBytes: number,
  type: FrameTypeValue,
  flags: number,
  aux32: number,
  seq: number,
  aux64: number,
): void {
  writeFrameHeaderInt32(
    buf,
    off,
    frameBytes,
    type,
    flags,
    aux32,
    seq | 0,
    (seq / k2p32) | 0,
    aux64 | 0,
    (aux64 / k2p32) | 0,
  );
}

/**
 * {@link writeFrameHeader} with the u64 fields given as int32 halves (`v | 0` and
 * `(v / 2**32) | 0`). For the hot path: a seq past 2^31 or a microsecond time passed as a
 * number to a call V8 does not inline is boxed in a fresh HeapNumber; int32 arguments are not.
 */
export function writeFrameHeaderInt32(
  buf: Uint8Array,
  off: number,
  frameBytes: number,
  type: number,
  flags: number,
  aux32: number,
  seqLo: number,
  seqHi: number,
  auxLo: number,
  auxHi: number,
): void {
  writeU32(buf, off, frameBytes);
  writeU32(buf, off + 4, 0);
  buf[off + 8] = type;
  buf[off + 9] = flags;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeU32(buf, off + 12, aux32);
  writeU32(buf, off + 16, seqLo);
  writeU32(buf, off + 20, seqHi);
  writeU32(buf, off + 24, auxLo);
  writeU32(buf, off + 28, auxHi);
}

/** The CRC-32C a frame must carry: over [0,4) ++ [8, frameBytes) of the frame (unsigned). */
export function computeFrameCrc(buf: Uint8Array, off: number, frameBytes: number): number {
  return frameCrcInt32(buf, off, frameBytes) >>> 0;
}

/** {@link computeFrameCrc} as a signed int32 (same bits; allocation-free return). */
function frameCrcInt32(buf: Uint8Array, off: number, frameBytes: number): number {
  return crc32cUpdateInt32(crc32cUpdateInt32(0, buf, off, off + 4), buf, off + 8, off + frameBytes);
}

/** Computes and stores the CRC of the (otherwise complete) frame at `off`. */
export function sealFrameCrc(buf: Uint8Array, off: number, frameBytes: number): void {
  writeU32(buf, off + 4, frameCrcInt32(buf, off, frameBytes));
}

/** Zeroes the padding after a frame of `frameBytes` at `off` (up to the next multiple of 8). */
export function zeroPadding(buf: Uint8Array, off: number, frameBytes: number): void {
  const end = off + align8(frameBytes);
  for (let i = off + frameBytes; i < end; i++) buf[i] = 0;
}

/** Result of {@link checkFrame}. */
export const FrameCheck = {
  /** A complete frame with a valid CRC, a known type and zero padding. */
  OK: 0,
  /** The length word is 0: end of data (zero-filled space) when at a batch boundary. */
  ZERO: 1,
  /** The buffer ends inside the frame (or its padding). */
  SHORT: 2,
  /** Impossible length (below the header size or above {@link MAX_FRAME_BYTES}). */
  BAD_LENGTH: 3,
  /** The CRC does not match. */
  BAD_CRC: 4,
  /** CRC fine but unknown type, nonzero reserved bits or nonzero padding. */
  BAD_FIELDS: 5,
} as const;
/** One of {@link FrameCheck}. */
export type FrameCheckValue = (typeof FrameCheck)[keyof typeof FrameCheck];

/**
 * Checks the frame at `off` in `buf[.., end)`: length, CRC, type, reserved bytes, padding.
 * Allocates nothing. On OK the frame (with padding) lies in [off, off + align8(frameBytes)).
 */
export function checkFrame(buf: Uint8Array, off: number, end: number): FrameCheckValue {
  if (off + 4 > end) return FrameCheck.SHORT;
  const frameBytes = readU32(buf, off);
  if (frameBytes === 0) return FrameCheck.ZERO;
  if (frameBytes < FRAME_HEADER_BYTES || frameBytes > MAX_FRAME_BYTES) return FrameCheck.BAD_LENGTH;
  const padded = align8(frameBytes);
  if (off + padded > end) return FrameCheck.SHORT;
  if (readU32(buf, off + 4) !== computeFrameCrc(buf, off, frameBytes)) return FrameCheck.BAD_CRC;
  const type = buf[off + 8] as number;
  if (type < FrameType.RECORD || type > FrameType.SEAL) return FrameCheck.BAD_FIELDS;
  if (buf[off + 10] !== 0 || buf[off + 11] !== 0) return FrameCheck.BAD_FIELDS;
  if (type !== FrameType.RECORD && buf[off + 9] !== 0) return FrameCheck.BAD_FIELDS;
  for (let i = off + frameBytes; i < off + padded; i++) if (buf[i] !== 0) return FrameCheck.BAD_FIELDS;
  if (readU64(buf, off + 16) < 0 || readU64(buf, off + 24) < 0) return FrameCheck.BAD_FIELDS;
  return FrameCheck.OK;
}

/** Human-readable reason for a {@link FrameCheck} value. */
export function describeFrameCheck(check: FrameCheckValue): string {
  switch (check) {
    case FrameCheck.OK:
      return 'ok';
    case FrameCheck.ZERO:
      return 'zero length word inside a batch';
    case FrameCheck.SHORT:
      return 'frame runs past the end of the file';
    case FrameCheck.BAD_LENGTH:
      return 'impossible frame length';
    case FrameCheck.BAD_CRC:
      return 'CRC-32C mismatch';
    case FrameCheck.BAD_FIELDS:
      return 'invalid type, reserved field or padding';
    default:
      return 'unknown';
  }
}

/** Frame length word at `off` (unpadded). */
export function frameBytesAt(buf: Uint8Array, off: number): number {
  return readU32(buf, off);
}

/** Frame type at `off`. */
export function frameTypeAt(buf: Uint8Array, off: number): number {
  return buf[off + 8] as number;
}
