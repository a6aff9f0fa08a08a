/**
 * Frame codec: the CRC of a frame and the check that a frame is intact. Where each header field
 * lies is declared in `frame-layout.ts` (the frame map and its accessors); the segment header and
 * seal layouts live in `segment.ts`. The full format is specified in `docs/wal-format.md`.
 */
import { align8 } from './bytes.js';
import { crc32cUpdateInt32 } from './crc32c.js';
import {
  FrameType,
  MAX_FRAME_BYTES,
  readFrameAux64,
  readFrameBytes,
  readFrameCrc,
  readFrameFlags,
  readFrameReserved,
  readFrameSeq,
  readFrameType,
  WAL_FRAME_HEADER_BYTES,
  WalFrameOffset,
  writeFrameCrc,
} from './frame-layout.js';

/** Bytes of the length word (`frameBytes`, the first header field). */
const kLengthWordBytes = 4;
/** End of the CRC field: the CRC covers [0, CRC) ++ [kCrcEnd, frameBytes). */
const kCrcEnd = WalFrameOffset.CRC + 4;

/** The CRC-32C a frame must carry: over [0,4) ++ [8, frameBytes) of the frame (unsigned). */
export function computeFrameCrc(buf: Uint8Array, off: number, frameBytes: number): number {
  return frameCrcInt32(buf, off, frameBytes) >>> 0;
}

/** {@link computeFrameCrc} as a signed int32 (same bits; allocation-free return). */
function frameCrcInt32(buf: Uint8Array, off: number, frameBytes: number): number {
  return crc32cUpdateInt32(
    crc32cUpdateInt32(0, buf, off, off + WalFrameOffset.CRC),
    buf,
    off + kCrcEnd,
    off + frameBytes,
  );
}

/** Computes and stores the CRC of the (otherwise complete) frame at `off`. */
export function sealFrameCrc(buf: Uint8Array, off: number, frameBytes: number): void {
  writeFrameCrc(buf, off, frameCrcInt32(buf, off, frameBytes));
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
  if (off + kLengthWordBytes > end) return FrameCheck.SHORT;
  const frameBytes = readFrameBytes(buf, off);
  if (frameBytes === 0) return FrameCheck.ZERO;
  if (frameBytes < WAL_FRAME_HEADER_BYTES || frameBytes > MAX_FRAME_BYTES) return FrameCheck.BAD_LENGTH;
  const padded = align8(frameBytes);
  if (off + padded > end) return FrameCheck.SHORT;
  if (readFrameCrc(buf, off) !== computeFrameCrc(buf, off, frameBytes)) return FrameCheck.BAD_CRC;
  const type = readFrameType(buf, off);
  if (type < FrameType.RECORD || type > FrameType.SEAL) return FrameCheck.BAD_FIELDS;
  if (readFrameReserved(buf, off) !== 0) return FrameCheck.BAD_FIELDS;
  if (type !== FrameType.RECORD && readFrameFlags(buf, off) !== 0) return FrameCheck.BAD_FIELDS;
  for (let i = off + frameBytes; i < off + padded; i++) if (buf[i] !== 0) return FrameCheck.BAD_FIELDS;
  if (readFrameSeq(buf, off) < 0 || readFrameAux64(buf, off) < 0) return FrameCheck.BAD_FIELDS;
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
