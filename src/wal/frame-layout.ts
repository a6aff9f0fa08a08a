/**
 * The map of a WAL frame: the ONLY module that knows where a frame header field lies. Everything
 * that reads or writes a frame (the batch builder and parser, the intact check, the segment scan,
 * `readWal`, the tailer, recovery, the seal codec) takes its offsets from here, through the
 * accessors below. The segment header and the SEAL frame's body are mapped in `segment.ts`. The
 * format is specified in `docs/wal-format.md` §4; `frame-layout.test.ts` pins every offset and
 * checks it against that table.
 *
 * Every frame starts at an 8-byte aligned file offset with a 32-byte header, little endian
 * (offsets in {@link WalFrameOffset}):
 * ```
 *   +0  u32 frameBytes   unpadded length incl. this header (0 = end of data / zero-filled space)
 *   +4  u32 crc          CRC-32C over bytes [0,4) ++ [8, frameBytes) of the frame
 *   +8  u8  type         1 RECORD, 2 COMMIT, 3 GAP, 4 SEAL
 *   +9  u8  flags        RECORD: bit0 encrypted, bit1 compressed; others 0
 *   +10 u16 reserved     0
 *   +12 u32 aux32        COMMIT: batchBytes; SEAL: batch count; RECORD, GAP: 0
 *   +16 u64 seq          RECORD: seq; COMMIT: first seq of batch; GAP: fromSeq; SEAL: segment firstSeq
 *   +24 u64 aux64        RECORD: timeUs; COMMIT: last seq of batch; GAP: toSeq; SEAL: segment lastSeq
 *   +32 body             RECORD: msgpack payload; COMMIT: 32B chain hash; GAP: u8 reason + msgpack detail;
 *                        SEAL: see `SealOffset` in segment.ts
 *   zero padding to a multiple of 8 (not counted in frameBytes).
 * ```
 * u64 fields hold integers below 2^53 (see `bytes.ts`); the u64 readers return -1 for a value
 * at or above 2^53, which the intact check (`checkFrame`) treats as damage.
 */
import { readU16, readU32, readU64, writeU32 } from './bytes.js';

/** Frame header field offsets (bytes, relative to the frame's start). */
export const WalFrameOffset = {
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

/** Bytes of a WAL frame header; the body starts here. (The ring's frames have their own, smaller header.) */
export const WAL_FRAME_HEADER_BYTES = 32;
/** Every WAL frame starts at a multiple of this. */
export const WAL_FRAME_ALIGN = 8;
/**
 * Largest frame a reader accepts (1 GiB). Events are limited far below that (`maxEventBytes`);
 * the bound only keeps a damaged length word from making a reader allocate gigabytes.
 */
export const MAX_FRAME_BYTES = 1 << 30;
/** Length of a SHA-256 digest (chain hashes, Merkle roots, seal hashes). */
export const HASH_BYTES = 32;
/** A COMMIT frame is a header plus a 32-byte chain hash: 64 bytes, no padding. */
export const COMMIT_FRAME_BYTES = WAL_FRAME_HEADER_BYTES + HASH_BYTES;

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

/** 2^32, for u64 halves. */
const k2p32 = 4294967296;

// ---------------------------------------------------------------------------------------------
// Readers (no allocation; small enough for V8 to inline on the hot paths)

/** The length word of the frame at `off` (unpadded; 0 = end of data). */
export function readFrameBytes(buf: Uint8Array, off: number): number {
  return readU32(buf, off + WalFrameOffset.FRAME_BYTES);
}

/** The stored CRC of the frame at `off` (unsigned). */
export function readFrameCrc(buf: Uint8Array, off: number): number {
  return readU32(buf, off + WalFrameOffset.CRC);
}

/** The type byte of the frame at `off` (one of {@link FrameType} when intact). */
export function readFrameType(buf: Uint8Array, off: number): number {
  return buf[off + WalFrameOffset.TYPE] as number;
}

/** The flags byte of the frame at `off` ({@link RecordFlags} bits for a RECORD). */
export function readFrameFlags(buf: Uint8Array, off: number): number {
  return buf[off + WalFrameOffset.FLAGS] as number;
}

/** The reserved u16 of the frame at `off` (0 when intact). */
export function readFrameReserved(buf: Uint8Array, off: number): number {
  return readU16(buf, off + WalFrameOffset.RESERVED);
}

/** The aux32 field of the frame at `off` (COMMIT: batchBytes; SEAL: batch count). */
export function readFrameAux32(buf: Uint8Array, off: number): number {
  return readU32(buf, off + WalFrameOffset.AUX32);
}

/** The seq field of the frame at `off`; -1 when it is 2^53 or more. */
export function readFrameSeq(buf: Uint8Array, off: number): number {
  return readU64(buf, off + WalFrameOffset.SEQ);
}

/** The aux64 field of the frame at `off` (RECORD: timeUs; COMMIT, GAP, SEAL: a last seq); -1 when 2^53 or more. */
export function readFrameAux64(buf: Uint8Array, off: number): number {
  return readU64(buf, off + WalFrameOffset.AUX64);
}

/** Offset of the body of the frame at `off`. */
export function frameBodyOffset(off: number): number {
  return off + WalFrameOffset.BODY;
}

// ---------------------------------------------------------------------------------------------
// Writers

/** Stores the CRC field of the frame at `off`. */
export function writeFrameCrc(buf: Uint8Array, off: number, crc: number): void {
  writeU32(buf, off + WalFrameOffset.CRC, crc);
}

/**
 * Writes the 32-byte header of a frame at `off` (CRC left 0: see `sealFrameCrc` in record.ts).
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
  writeU32(buf, off + WalFrameOffset.FRAME_BYTES, frameBytes);
  writeU32(buf, off + WalFrameOffset.CRC, 0);
  buf[off + WalFrameOffset.TYPE] = type;
  buf[off + WalFrameOffset.FLAGS] = flags;
  buf[off + WalFrameOffset.RESERVED] = 0;
  buf[off + WalFrameOffset.RESERVED + 1] = 0;
  writeU32(buf, off + WalFrameOffset.AUX32, aux32);
  writeU32(buf, off + WalFrameOffset.SEQ, seqLo);
  writeU32(buf, off + WalFrameOffset.SEQ + 4, seqHi);
  writeU32(buf, off + WalFrameOffset.AUX64, auxLo);
  writeU32(buf, off + WalFrameOffset.AUX64 + 4, auxHi);
}
