/**
 * What the WAL writer reports for each segment it seals: the replicator's input, carried to the
 * main thread in the writer worker's `sealed` message. A module of its own so that the thread
 * messages and the replication layer can name it without importing the writer.
 */

/** Summary of a segment the writer sealed (what the replicator uploads). */
export interface SealedSegment {
  readonly path: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** RECORD frames in the segment (gaps not counted). */
  readonly records: number;
  /** File size, seal included. */
  readonly bytes: number;
  /** SHA-256 of the SEAL frame, hex: the next segment's prevSealHash. */
  readonly sealSha256: string;
  /** Merkle root over the segment's COMMIT chain hashes, hex. */
  readonly merkleRoot: string;
}
