/**
 * The write-ahead log: segment files of checksummed, hash-chained, sealed frames. The format is
 * specified in `docs/wal-format.md`.
 */
export { BatchBuilder, type BatchDamageKind, BatchParse, BatchStatus, parseBatch } from './batch.js';
export { CRC32C_POLYNOMIAL, crc32c, crc32cUpdate } from './crc32c.js';
export {
  COMMIT_FRAME_BYTES,
  FrameType,
  GapReason,
  type GapReasonValue,
  RecordFlags,
  WAL_FRAME_HEADER_BYTES,
  WalFrameOffset,
} from './frame-layout.js';
export { fsyncDir, nodeWalFs, type WalFs } from './fs.js';
export { MerkleAccumulator, type MerkleProofStep, merkleProof, merkleRoot, verifyMerkleProof } from './merkle.js';
export { type ReadWalOptions, readWal, type WalRecord } from './reader.js';
export {
  type RecoverWalOptions,
  type RecoveryReport,
  recoverWal,
  type ShadowContribution,
} from './recovery.js';
export type { SealedSegment } from './sealed-segment.js';
export {
  FORMAT_VERSION,
  parseSegmentFileName,
  SEAL_MAGIC,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
  segmentFileName,
  type TimeIndexEntry,
} from './segment.js';
export type { WalProblemKind } from './segment-scan.js';
export {
  type ShadowComparison,
  type VerifyProblem,
  type VerifyReport,
  type VerifyWalOptions,
  verifyWal,
  type WalProgress,
} from './verify.js';
export { WalTailer } from './wal-tailer.js';
export { WalWriter, type WalWriterOptions } from './writer.js';
export type { WalOpenReport } from './writer-open.js';
export { kDefaultZeroFillAheadBytes } from './zero-fill.js';
