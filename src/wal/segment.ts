/**
 * Segment files: naming, the 128-byte header, the seal frame and the running summary of an open
 * segment (which becomes its seal). Byte layouts are specified in `docs/wal-format.md`.
 *
 * Header (offset 0, 128 bytes, little endian):
 *   +0   8B  magic "IRNLOGW1"
 *   +8   u16 formatVersion = 1
 *   +10  u16 headerBytes = 128
 *   +12  u32 flags: bit 0 SEALED (set once the seal is durable), other bits 0
 *   +16  u64 firstSeq
 *   +24  u64 createdUs
 *   +32  24B writerId (nodeId, UTF-8, zero padded)
 *   +56  32B prevChainHash (chain hash at the end of the previous segment; zeros for the first)
 *   +88  32B prevSealHash (SHA-256 of the previous segment's whole SEAL frame; zeros for the first)
 *   +120 u32 reserved = 0
 *   +124 u32 CRC-32C of bytes [0,124)
 *
 * Offsets in {@link SegmentHeaderOffset}.
 *
 * SEAL frame (type 4; common frame header, then; offsets from the frame start in {@link SealOffset}):
 *   +32  u64 recordCount     +40 u64 sealedUs     +48 u64 minTimeUs    +56 u64 maxTimeUs
 *   +64  32B lastChainHash   +96 32B merkleRoot
 *   +128 u16 sigBytes        +130 u16 sigAlg (0 = none)   +132 u32 indexEntries
 *   +136 signature, zero padded to 8
 *   then indexEntries x (u64 seq, u64 offset, u64 maxTimeUsSoFar)
 *   then u64 sealFrameOffset and 8B magic "IRNLSEAL" (the last 16 bytes of a sealed file)
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { align8, readU16, readU32, readU64, writeU16, writeU32, writeU64 } from './bytes.js';
import { crc32c } from './crc32c.js';
import {
  FrameType,
  HASH_BYTES,
  readFrameAux32,
  readFrameAux64,
  readFrameBytes,
  readFrameSeq,
  readFrameType,
  WAL_FRAME_ALIGN,
  WalFrameOffset,
  writeFrameHeader,
} from './frame-layout.js';
import { MerkleAccumulator } from './merkle.js';
import { sealFrameCrc } from './record.js';

/** First 8 bytes of every segment file. */
export const SEGMENT_MAGIC: Buffer = Buffer.from('IRNLOGW1', 'latin1');
/** Last 8 bytes of every sealed segment file. */
export const SEAL_MAGIC: Buffer = Buffer.from('IRNLSEAL', 'latin1');
/** The only format version this build reads and writes. */
export const FORMAT_VERSION = 1;
/** Size of the segment header; the first frame starts here. */
export const SEGMENT_HEADER_BYTES = 128;
/** Maximum UTF-8 length of the writer id (nodeId). */
export const WRITER_ID_BYTES = 24;

/** Segment header field offsets (bytes from the start of the file), `docs/wal-format.md` §3. */
export const SegmentHeaderOffset = {
  MAGIC: 0,
  FORMAT_VERSION: 8,
  HEADER_BYTES: 10,
  FLAGS: 12,
  FIRST_SEQ: 16,
  CREATED_US: 24,
  WRITER_ID: 32,
  PREV_CHAIN_HASH: 56,
  PREV_SEAL_HASH: 88,
  RESERVED: 120,
  HEADER_CRC: 124,
} as const;

/**
 * SEAL frame body field offsets (bytes from the start of the frame, after the common header),
 * `docs/wal-format.md` §4. The signature is followed by the time index and the trailer.
 */
export const SealOffset = {
  RECORD_COUNT: WalFrameOffset.BODY,
  SEALED_US: 40,
  MIN_TIME_US: 48,
  MAX_TIME_US: 56,
  LAST_CHAIN_HASH: 64,
  MERKLE_ROOT: 96,
  SIG_BYTES: 128,
  SIG_ALG: 130,
  INDEX_ENTRIES: 132,
  SIGNATURE: 136,
} as const;
/** Fixed part of a SEAL frame, before the signature. */
export const SEAL_FIXED_BYTES = SealOffset.SIGNATURE;

/** Field offsets inside one time-index entry of the seal. */
export const IndexEntryOffset = { SEQ: 0, OFFSET: 8, MAX_TIME_US_SO_FAR: 16 } as const;
/** Bytes per time-index entry in the seal. */
export const INDEX_ENTRY_BYTES = 24;

/** Field offsets inside the seal trailer (the last 16 bytes of a SEAL frame and of a sealed file). */
export const SealTrailerOffset = { SEAL_FRAME_OFFSET: 0, MAGIC: 8 } as const;
/** The u64 sealFrameOffset + "IRNLSEAL" that end a SEAL frame (and a sealed file). */
export const SEAL_TRAILER_BYTES = 16;
/** A time-index entry is added for the first batch starting at least this far after the previous entry. */
export const INDEX_INTERVAL_BYTES = 64 * 1024;
/** Segment file name suffix. */
export const SEGMENT_SUFFIX = '.wal';

const kSegmentName = /^(\d{20})\.wal$/;
const kZeroHash = Buffer.alloc(HASH_BYTES);

/**
 * Header flag: the segment was sealed. The writer sets it (rewriting the header) only after the
 * SEAL frame and the truncate to it are durable, so a segment whose header has it must end
 * exactly at a valid seal: a file that does not (truncated, zeroed, seal cut off) is damage, even
 * when it is the last segment of the WAL. Segments written before this flag existed have 0.
 */
export const SEGMENT_FLAG_SEALED = 1;
/** Every header flag this build knows; a header with another bit set is refused. */
const kKnownHeaderFlags = SEGMENT_FLAG_SEALED;

/** A parsed segment header. */
export interface SegmentHeader {
  readonly formatVersion: number;
  readonly flags: number;
  /** The SEALED flag is set (see {@link SEGMENT_FLAG_SEALED}). */
  readonly sealed: boolean;
  readonly firstSeq: number;
  readonly createdUs: number;
  /** The writer's nodeId. */
  readonly writerId: string;
  readonly prevChainHash: Buffer;
  readonly prevSealHash: Buffer;
}

/** What a new segment header needs. */
export interface NewSegmentHeader {
  readonly firstSeq: number;
  readonly createdUs: number;
  readonly writerId: string;
  readonly prevChainHash: Uint8Array;
  readonly prevSealHash: Uint8Array;
  /** Header flags (default 0; the writer sets {@link SEGMENT_FLAG_SEALED} when it seals). */
  readonly flags?: number;
}

/** The file name of the segment whose first seq is `firstSeq`: 20 digits, so `ls` sorts them. */
export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

/** The first seq encoded in a segment file name, or undefined if `name` is not one. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = kSegmentName.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** A segment file found in a WAL directory. */
export interface SegmentFile {
  readonly name: string;
  readonly path: string;
  readonly firstSeq: number;
}

/** Segment files of a directory listing, sorted by first seq, plus foreign `*.wal` names. */
export function listSegmentFiles(
  dir: string,
  names: readonly string[],
): { segments: SegmentFile[]; foreign: string[] } {
  const segments: SegmentFile[] = [];
  const foreign: string[] = [];
  for (const name of names) {
    if (!name.endsWith(SEGMENT_SUFFIX)) continue;
    const firstSeq = parseSegmentFileName(name);
    if (firstSeq === undefined) foreign.push(name);
    else segments.push({ name, path: path.join(dir, name), firstSeq });
  }
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  foreign.sort();
  return { segments, foreign };
}

/** Encodes a segment header (128 bytes, CRC included). */
export function encodeSegmentHeader(h: NewSegmentHeader): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(buf, SegmentHeaderOffset.MAGIC);
  writeU16(buf, SegmentHeaderOffset.FORMAT_VERSION, FORMAT_VERSION);
  writeU16(buf, SegmentHeaderOffset.HEADER_BYTES, SEGMENT_HEADER_BYTES);
  writeU32(buf, SegmentHeaderOffset.FLAGS, h.flags ?? 0);
  writeU64(buf, SegmentHeaderOffset.FIRST_SEQ, h.firstSeq);
  writeU64(buf, SegmentHeaderOffset.CREATED_US, h.createdUs);
  const id = Buffer.from(h.writerId, 'utf8');
  if (id.length > WRITER_ID_BYTES) throw new RangeError(`writer id longer than ${WRITER_ID_BYTES} bytes`);
  id.copy(buf, SegmentHeaderOffset.WRITER_ID);
  buf.set(h.prevChainHash.subarray(0, HASH_BYTES), SegmentHeaderOffset.PREV_CHAIN_HASH);
  buf.set(h.prevSealHash.subarray(0, HASH_BYTES), SegmentHeaderOffset.PREV_SEAL_HASH);
  writeU32(buf, SegmentHeaderOffset.RESERVED, 0);
  writeU32(buf, SegmentHeaderOffset.HEADER_CRC, crc32c(buf, 0, SegmentHeaderOffset.HEADER_CRC));
  return buf;
}

/**
 * A copy of the 128-byte header `header` with the SEALED flag set and its CRC recomputed, or
 * undefined when `header` does not decode (the writer then leaves the file's header alone).
 */
export function withSealedFlag(header: Uint8Array): Buffer | undefined {
  const hr = decodeSegmentHeader(header, header.length);
  if (!hr.ok) return undefined;
  const buf = Buffer.from(header.subarray(0, SEGMENT_HEADER_BYTES));
  writeU32(buf, SegmentHeaderOffset.FLAGS, hr.header.flags | SEGMENT_FLAG_SEALED);
  writeU32(buf, SegmentHeaderOffset.HEADER_CRC, crc32c(buf, 0, SegmentHeaderOffset.HEADER_CRC));
  return buf;
}

/** Why a header could not be decoded. */
export type HeaderProblem = 'short' | 'magic' | 'crc' | 'version' | 'fields';

/** Result of {@link decodeSegmentHeader}. */
export type HeaderDecodeResult =
  | { readonly ok: true; readonly header: SegmentHeader }
  | { readonly ok: false; readonly problem: HeaderProblem; readonly message: string };

/** Decodes and checks the header in `buf[0, available)`. */
export function decodeSegmentHeader(buf: Uint8Array, available: number = buf.length): HeaderDecodeResult {
  if (available < SEGMENT_HEADER_BYTES) {
    return {
      ok: false,
      problem: 'short',
      message: `file is ${available} bytes, shorter than the ${SEGMENT_HEADER_BYTES}-byte header`,
    };
  }
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (buf[SegmentHeaderOffset.MAGIC + i] !== SEGMENT_MAGIC[i])
      return { ok: false, problem: 'magic', message: 'bad magic (not an ironlog WAL segment)' };
  }
  if (readU32(buf, SegmentHeaderOffset.HEADER_CRC) !== crc32c(buf, 0, SegmentHeaderOffset.HEADER_CRC))
    return { ok: false, problem: 'crc', message: 'header CRC-32C mismatch' };
  const formatVersion = readU16(buf, SegmentHeaderOffset.FORMAT_VERSION);
  if (formatVersion !== FORMAT_VERSION) {
    return {
      ok: false,
      problem: 'version',
      message: `format version ${formatVersion} (this build reads ${FORMAT_VERSION})`,
    };
  }
  const firstSeq = readU64(buf, SegmentHeaderOffset.FIRST_SEQ);
  const createdUs = readU64(buf, SegmentHeaderOffset.CREATED_US);
  const flags = readU32(buf, SegmentHeaderOffset.FLAGS);
  if (
    readU16(buf, SegmentHeaderOffset.HEADER_BYTES) !== SEGMENT_HEADER_BYTES ||
    (flags & ~kKnownHeaderFlags) !== 0 ||
    readU32(buf, SegmentHeaderOffset.RESERVED) !== 0 ||
    firstSeq < 1 ||
    createdUs < 0
  ) {
    return { ok: false, problem: 'fields', message: 'invalid header fields' };
  }
  let idEnd = SegmentHeaderOffset.WRITER_ID;
  while (idEnd < SegmentHeaderOffset.WRITER_ID + WRITER_ID_BYTES && buf[idEnd] !== 0) idEnd++;
  const b = Buffer.from(buf.buffer, buf.byteOffset, SEGMENT_HEADER_BYTES);
  return {
    ok: true,
    header: {
      formatVersion,
      flags,
      sealed: (flags & SEGMENT_FLAG_SEALED) !== 0,
      firstSeq,
      createdUs,
      writerId: b.toString('utf8', SegmentHeaderOffset.WRITER_ID, idEnd),
      prevChainHash: Buffer.from(
        b.subarray(SegmentHeaderOffset.PREV_CHAIN_HASH, SegmentHeaderOffset.PREV_CHAIN_HASH + HASH_BYTES),
      ),
      prevSealHash: Buffer.from(
        b.subarray(SegmentHeaderOffset.PREV_SEAL_HASH, SegmentHeaderOffset.PREV_SEAL_HASH + HASH_BYTES),
      ),
    },
  };
}

/** True when `buf[0, available)` could be a header that was being written when the machine stopped. */
export function isTornHeader(buf: Uint8Array, available: number): boolean {
  let allZero = true;
  for (let i = 0; i < Math.min(available, SEGMENT_HEADER_BYTES); i++) {
    if (buf[i] !== 0) {
      allZero = false;
      break;
    }
  }
  if (allZero) return true;
  // A prefix of the magic followed by nothing, or the magic followed by a bad CRC.
  for (let i = 0; i < Math.min(available, SEGMENT_MAGIC.length); i++)
    if (buf[SegmentHeaderOffset.MAGIC + i] !== SEGMENT_MAGIC[i]) return false;
  return true;
}

/** A time-index entry of a sealed segment. */
export interface TimeIndexEntry {
  /** First seq of the batch the entry points at. */
  readonly seq: number;
  /** File offset of that batch's first frame. */
  readonly offset: number;
  /** Largest record time (us) of every record in the segment before `offset` (0 if none). */
  readonly maxTimeUsSoFar: number;
}

/** The content of a SEAL frame. */
export interface SealFields {
  readonly batches: number;
  readonly firstSeq: number;
  /** Last seq of the segment (records and gaps); firstSeq - 1 for an empty segment. */
  readonly lastSeq: number;
  readonly records: number;
  readonly sealedUs: number;
  /** Smallest / largest record time in us (0 / 0 without records). */
  readonly minTimeUs: number;
  readonly maxTimeUs: number;
  readonly lastChainHash: Uint8Array;
  readonly merkleRoot: Uint8Array;
  /** Reserved for signed seals (compliance); empty in this version. */
  readonly signature: Uint8Array;
  readonly sigAlg: number;
  readonly index: readonly TimeIndexEntry[];
  /** File offset of the SEAL frame. */
  readonly sealOffset: number;
}

/** A decoded SEAL frame. */
export interface DecodedSeal extends SealFields {
  readonly frameBytes: number;
  /** SHA-256 of the whole SEAL frame: the next segment's prevSealHash. */
  readonly sha256: Buffer;
}

/** Length of a SEAL frame with `indexEntries` entries and a signature of `sigBytes`. */
export function sealFrameBytes(indexEntries: number, sigBytes = 0): number {
  return SEAL_FIXED_BYTES + align8(sigBytes) + indexEntries * INDEX_ENTRY_BYTES + SEAL_TRAILER_BYTES;
}

/** Encodes a SEAL frame (CRC included). Its length is a multiple of 8: no padding. */
export function encodeSeal(s: SealFields): Buffer {
  const frameBytes = sealFrameBytes(s.index.length, s.signature.length);
  const buf = Buffer.alloc(frameBytes);
  writeFrameHeader(buf, 0, frameBytes, FrameType.SEAL, 0, s.batches, s.firstSeq, s.lastSeq);
  writeU64(buf, SealOffset.RECORD_COUNT, s.records);
  writeU64(buf, SealOffset.SEALED_US, s.sealedUs);
  writeU64(buf, SealOffset.MIN_TIME_US, s.minTimeUs);
  writeU64(buf, SealOffset.MAX_TIME_US, s.maxTimeUs);
  buf.set(s.lastChainHash.subarray(0, HASH_BYTES), SealOffset.LAST_CHAIN_HASH);
  buf.set(s.merkleRoot.subarray(0, HASH_BYTES), SealOffset.MERKLE_ROOT);
  writeU16(buf, SealOffset.SIG_BYTES, s.signature.length);
  writeU16(buf, SealOffset.SIG_ALG, s.sigAlg);
  writeU32(buf, SealOffset.INDEX_ENTRIES, s.index.length);
  buf.set(s.signature, SealOffset.SIGNATURE);
  let p = SealOffset.SIGNATURE + align8(s.signature.length);
  for (const e of s.index) {
    writeU64(buf, p + IndexEntryOffset.SEQ, e.seq);
    writeU64(buf, p + IndexEntryOffset.OFFSET, e.offset);
    writeU64(buf, p + IndexEntryOffset.MAX_TIME_US_SO_FAR, e.maxTimeUsSoFar);
    p += INDEX_ENTRY_BYTES;
  }
  writeU64(buf, p + SealTrailerOffset.SEAL_FRAME_OFFSET, s.sealOffset);
  SEAL_MAGIC.copy(buf, p + SealTrailerOffset.MAGIC);
  sealFrameCrc(buf, 0, frameBytes);
  return buf;
}

/**
 * Decodes the SEAL frame at `off` of `buf` (its CRC, type and length already checked by
 * `checkFrame`, and `off` being the frame's file offset when `fileOffset` is not given).
 * Returns a message string when the frame's inner structure is inconsistent.
 */
export function decodeSeal(buf: Uint8Array, off: number, fileOffset: number = off): DecodedSeal | string {
  const frameBytes = readFrameBytes(buf, off);
  if (readFrameType(buf, off) !== FrameType.SEAL) return 'not a SEAL frame';
  if (frameBytes < SEAL_FIXED_BYTES + SEAL_TRAILER_BYTES || frameBytes % WAL_FRAME_ALIGN !== 0)
    return 'impossible SEAL frame length';
  const sigBytes = readU16(buf, off + SealOffset.SIG_BYTES);
  const sigAlg = readU16(buf, off + SealOffset.SIG_ALG);
  const entries = readU32(buf, off + SealOffset.INDEX_ENTRIES);
  if (sealFrameBytes(entries, sigBytes) !== frameBytes)
    return 'SEAL frame length does not match its signature and index sizes';
  const trailer = off + frameBytes - SEAL_TRAILER_BYTES;
  for (let i = 0; i < SEAL_MAGIC.length; i++)
    if (buf[trailer + SealTrailerOffset.MAGIC + i] !== SEAL_MAGIC[i]) return 'bad seal trailer magic';
  if (readU64(buf, trailer + SealTrailerOffset.SEAL_FRAME_OFFSET) !== fileOffset)
    return 'seal trailer offset does not point at the SEAL frame';
  for (let i = SEAL_FIXED_BYTES + sigBytes; i < SEAL_FIXED_BYTES + align8(sigBytes); i++) {
    if (buf[off + i] !== 0) return 'nonzero signature padding';
  }
  const index: TimeIndexEntry[] = [];
  let p = off + SEAL_FIXED_BYTES + align8(sigBytes);
  for (let i = 0; i < entries; i++) {
    const seq = readU64(buf, p + IndexEntryOffset.SEQ);
    const offset = readU64(buf, p + IndexEntryOffset.OFFSET);
    const maxTimeUsSoFar = readU64(buf, p + IndexEntryOffset.MAX_TIME_US_SO_FAR);
    if (seq < 0 || offset < 0 || maxTimeUsSoFar < 0) return 'invalid time index entry';
    index.push({ seq, offset, maxTimeUsSoFar });
    p += INDEX_ENTRY_BYTES;
  }
  const fields = [
    readFrameSeq(buf, off),
    readFrameAux64(buf, off),
    readU64(buf, off + SealOffset.RECORD_COUNT),
    readU64(buf, off + SealOffset.SEALED_US),
    readU64(buf, off + SealOffset.MIN_TIME_US),
    readU64(buf, off + SealOffset.MAX_TIME_US),
  ];
  if (fields.some((v) => v < 0)) return 'invalid u64 field in SEAL frame';
  const b = Buffer.from(buf.buffer, buf.byteOffset + off, frameBytes);
  return {
    batches: readFrameAux32(buf, off),
    firstSeq: fields[0] as number,
    lastSeq: fields[1] as number,
    records: fields[2] as number,
    sealedUs: fields[3] as number,
    minTimeUs: fields[4] as number,
    maxTimeUs: fields[5] as number,
    lastChainHash: Buffer.from(b.subarray(SealOffset.LAST_CHAIN_HASH, SealOffset.LAST_CHAIN_HASH + HASH_BYTES)),
    merkleRoot: Buffer.from(b.subarray(SealOffset.MERKLE_ROOT, SealOffset.MERKLE_ROOT + HASH_BYTES)),
    signature: Buffer.from(b.subarray(SEAL_FIXED_BYTES, SEAL_FIXED_BYTES + sigBytes)),
    sigAlg,
    index,
    sealOffset: fileOffset,
    frameBytes,
    sha256: createHash('sha256').update(b).digest(),
  };
}

/**
 * Running summary of a segment's batches: what its seal will say. The writer keeps one for the
 * open segment (and a copy at the last successful fdatasync, to roll back to); readers rebuild
 * one while scanning and compare it with the seal.
 */
export class SegmentSummary {
  /** First seq of the segment (from its header). */
  firstSeq = 1;
  /** Last seq (records and gaps) so far; firstSeq - 1 when empty. */
  lastSeq = 0;
  batches = 0;
  records = 0;
  gapFrames = 0;
  gapSeqs = 0;
  /** Smallest / largest record time; -1 while there is no record. */
  minTimeUs = -1;
  maxTimeUs = -1;
  /** Chain hash after the last batch (the header's prevChainHash while empty). */
  readonly chainHash: Buffer = Buffer.alloc(HASH_BYTES);
  /** Offset just past the last batch (where the next batch or the seal goes). */
  dataEnd = SEGMENT_HEADER_BYTES;
  /** Time index: flat triples (seq, offset, maxTimeUsSoFar). */
  index: number[] = [];
  lastIndexOffset = 0;
  readonly merkle: MerkleAccumulator = new MerkleAccumulator();

  /** Starts an empty segment. */
  reset(firstSeq: number, prevChainHash: Uint8Array): void {
    this.firstSeq = firstSeq;
    this.lastSeq = firstSeq - 1;
    this.batches = 0;
    this.records = 0;
    this.gapFrames = 0;
    this.gapSeqs = 0;
    this.minTimeUs = -1;
    this.maxTimeUs = -1;
    this.chainHash.set(prevChainHash.subarray(0, HASH_BYTES));
    this.dataEnd = SEGMENT_HEADER_BYTES;
    this.index = [];
    this.lastIndexOffset = 0;
    this.merkle.clear();
  }

  /** Accounts for one committed batch in [offset, end). */
  addBatch(
    offset: number,
    end: number,
    lastSeq: number,
    records: number,
    gapFrames: number,
    gapSeqs: number,
    minTimeUs: number,
    maxTimeUs: number,
    chainHash: Uint8Array,
  ): void {
    if (this.batches === 0 || offset >= this.lastIndexOffset + INDEX_INTERVAL_BYTES) {
      this.index.push(this.lastSeq + 1, offset, Math.max(0, this.maxTimeUs));
      this.lastIndexOffset = offset;
    }
    this.batches++;
    this.records += records;
    this.gapFrames += gapFrames;
    this.gapSeqs += gapSeqs;
    if (records > 0) {
      if (this.minTimeUs < 0 || minTimeUs < this.minTimeUs) this.minTimeUs = minTimeUs;
      if (maxTimeUs > this.maxTimeUs) this.maxTimeUs = maxTimeUs;
    }
    this.lastSeq = lastSeq;
    this.chainHash.set(chainHash.subarray(0, HASH_BYTES));
    this.dataEnd = end;
    this.merkle.add(chainHash);
  }

  /**
   * Copies `other` into this summary (sync point, or rollback to it). Both must describe the same
   * segment (reset with the same first seq since), so that one's index is a prefix of the other's.
   */
  copyFrom(other: SegmentSummary): void {
    this.firstSeq = other.firstSeq;
    this.lastSeq = other.lastSeq;
    this.batches = other.batches;
    this.records = other.records;
    this.gapFrames = other.gapFrames;
    this.gapSeqs = other.gapSeqs;
    this.minTimeUs = other.minTimeUs;
    this.maxTimeUs = other.maxTimeUs;
    this.chainHash.set(other.chainHash);
    this.dataEnd = other.dataEnd;
    // Within one segment one summary's index is always a prefix of the other's (the writer's
    // summary runs ahead of its synced copy): truncate or extend instead of copying it whole.
    if (this.index.length > other.index.length) this.index.length = other.index.length;
    else for (let i = this.index.length; i < other.index.length; i++) this.index.push(other.index[i] as number);
    this.lastIndexOffset = other.lastIndexOffset;
    this.merkle.copyFrom(other.merkle);
  }

  /** Number of time-index entries. */
  get indexEntries(): number {
    return this.index.length / 3;
  }

  /** The index as entries. */
  indexEntryList(): TimeIndexEntry[] {
    const out: TimeIndexEntry[] = [];
    for (let i = 0; i < this.index.length; i += 3) {
      out.push({
        seq: this.index[i] as number,
        offset: this.index[i + 1] as number,
        maxTimeUsSoFar: this.index[i + 2] as number,
      });
    }
    return out;
  }

  /** The seal of this summary, to be written at `sealOffset`. */
  toSealFields(sealedUs: number, sealOffset: number): SealFields {
    return {
      batches: this.batches,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      records: this.records,
      sealedUs,
      minTimeUs: this.records > 0 ? this.minTimeUs : 0,
      maxTimeUs: this.records > 0 ? this.maxTimeUs : 0,
      lastChainHash: this.chainHash,
      merkleRoot: this.merkle.root(),
      signature: Buffer.alloc(0),
      sigAlg: 0,
      index: this.indexEntryList(),
      sealOffset,
    };
  }

  /**
   * Compares a decoded seal with this summary (rebuilt by scanning the segment). Returns a list of
   * mismatching field names (empty when the seal matches).
   */
  mismatches(seal: DecodedSeal): string[] {
    const out: string[] = [];
    if (seal.firstSeq !== this.firstSeq) out.push('firstSeq');
    if (seal.lastSeq !== this.lastSeq) out.push('lastSeq');
    if (seal.batches !== this.batches) out.push('batch count');
    if (seal.records !== this.records) out.push('record count');
    if (seal.minTimeUs !== (this.records > 0 ? this.minTimeUs : 0)) out.push('minTimeUs');
    if (seal.maxTimeUs !== (this.records > 0 ? this.maxTimeUs : 0)) out.push('maxTimeUs');
    if (!Buffer.from(seal.lastChainHash).equals(this.chainHash)) out.push('lastChainHash');
    if (!Buffer.from(seal.merkleRoot).equals(this.merkle.root())) out.push('merkleRoot');
    if (seal.sealOffset !== this.dataEnd) out.push('seal offset');
    const idx = this.index;
    if (seal.index.length * 3 !== idx.length) out.push('time index');
    else {
      for (let i = 0; i < seal.index.length; i++) {
        const e = seal.index[i] as TimeIndexEntry;
        if (e.seq !== idx[i * 3] || e.offset !== idx[i * 3 + 1] || e.maxTimeUsSoFar !== idx[i * 3 + 2]) {
          out.push('time index');
          break;
        }
      }
    }
    return out;
  }
}

/** 32 zero bytes: prevChainHash / prevSealHash of the first segment. */
export function zeroHash(): Buffer {
  return Buffer.from(kZeroHash);
}
