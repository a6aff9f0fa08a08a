/**
 * The map of the ring SharedArrayBuffer: the ONLY module that knows an offset. Everything that
 * touches the SAB (ring producers and consumer, group commit, ack waiters, stats) takes its slot
 * numbers from here.
 *
 * ```
 * SAB = [control block: CONTROL_BYTES][data region: CAPACITY bytes]
 *
 * Control block (byte offset, type, slot index in its typed array):
 *   line  0   0  i32  I32.MAGIC             0  checked on attach
 *             4  i32  I32.VERSION           1  checked on attach
 *             8  i32  I32.CAPACITY          2  data region bytes (power of two, 4 KiB .. 1 GiB)
 *            12  i32  I32.MAX_FRAME_BYTES   3  largest frame one claim may hold per frame
 *   line  1  64  i64  I64.CLAIM             8  low 32 bits: tail position (bytes, mod 2^32);
 *                                              high 32 bits: seq (mod 2^32) of the last claimed frame
 *   line  2 128  i32  I32.HEAD             32  consumer's released position (mod 2^32)
 *   line  3 192  i32  I32.DATA_SIGNAL      48  bumped + notified by producers when the consumer sleeps
 *   line  4 256  i32  I32.CONSUMER_WAITING 64  1 while the consumer is (about to be) asleep
 *   line  5 320  i64  I64.RESOLVED_SEQ     40  group commit: every seq <= this is resolved
 *   line  6 384  i64  I64.DURABLE_SEQ      48  group commit: last fdatasync'd seq
 *   line  7 448  i64  I64.WRITTEN_SEQ      56  group commit: last written (page cache) seq
 *   line  8 512  i32  I32.COMMIT_SIGNAL   128  group commit: bumped + notified on every publication
 *   line  9 576  i32  I32.STATE           144  group commit: see {@link RingState}
 *           580  i32  I32.FAULT_CODE      145  group commit: index into the shared error-code table
 *   line 10 640  i32  I32.FAILURE_COUNT   160  group commit: failure entries ever written
 *   line 11 704  i64  I64.FAILURE_TABLE    88  FAILURE_ENTRIES x FAILURE_ENTRY_WORDS i64 words
 *          2752  f64  STATS (Float64 index 344), STATS_SLOTS words, see {@link Stat}
 *          3264  TRACE block (latency trace, off unless enabled), TRACE_BYTES, see `groupcommit/trace.ts`
 *          4024  unused, zero, up to CONTROL_BYTES (4096: the data region starts page aligned)
 * ```
 * Every hot word sits alone on its own 64-byte cache line, so a producer's CAS on CLAIM does not
 * invalidate the line the consumer reads HEAD or the waiting flag from (false sharing).
 *
 * Frames in the data region (8-byte aligned; offsets in {@link FrameOffset}):
 * ```
 *   +0  i32 frameBytes    total length incl. header and padding to 8; 0 = not published.
 *                         Stored LAST, with Atomics.store: it is the publication word.
 *   +4  u32 payloadBytes
 *   +8  u32 seqLow        seq mod 2^32 (PADDING: 0)
 *   +12 u32 kind          FrameKind.EVENT | FrameKind.PADDING
 *   +16 f64 timeUs        producer's clock, microseconds since the epoch
 *   +24 payload, zero padding to a multiple of 8
 * ```
 * A padding frame covers the bytes from its position to the end of the data region. When fewer
 * than {@link RING_FRAME_HEADER_BYTES} remain there (8 or 16), only its length word fits: any frame
 * that starts that close to the end is padding by definition (an event frame is >= 24 bytes).
 *
 * Byte order: the length word is accessed through `Int32Array` (Atomics, native order) and the
 * other fields through `DataView` little-endian, so the ring requires a little-endian host
 * (checked by `createRingSab`). Every platform Node ships for in practice is little-endian.
 */

/** "IRNG" as a little-endian int32: marks a SAB made by `createRingSab`. */
export const RING_MAGIC = 0x474e5249;
/** Layout version; bump on any change to this file's offsets or frame format. */
export const RING_VERSION = 1;

/** Bytes of the control block; the data region starts here. */
export const CONTROL_BYTES = 4096;

/** Smallest data region (bytes). */
export const MIN_CAPACITY_BYTES = 4 * 1024;
/** Largest data region (bytes); keeps positions, HEAD and frame lengths inside int32. */
export const MAX_CAPACITY_BYTES = 1024 * 1024 * 1024;

/** Int32Array indexes (over the control block) of the 32-bit control words. */
export const I32 = {
  MAGIC: 0,
  VERSION: 1,
  CAPACITY: 2,
  MAX_FRAME_BYTES: 3,
  HEAD: 128 / 4,
  DATA_SIGNAL: 192 / 4,
  CONSUMER_WAITING: 256 / 4,
  COMMIT_SIGNAL: 512 / 4,
  STATE: 576 / 4,
  FAULT_CODE: 580 / 4,
  FAILURE_COUNT: 640 / 4,
} as const;

/** BigInt64Array indexes (over the control block) of the 64-bit control words. */
export const I64 = {
  CLAIM: 64 / 8,
  RESOLVED_SEQ: 320 / 8,
  DURABLE_SEQ: 384 / 8,
  WRITTEN_SEQ: 448 / 8,
  /** First word of the failure table: entry n is at FAILURE_TABLE + (n % FAILURE_ENTRIES) * FAILURE_ENTRY_WORDS. */
  FAILURE_TABLE: 704 / 8,
} as const;

/** Entries in the failure table (a ring: entry n lives at n % FAILURE_ENTRIES). */
export const FAILURE_ENTRIES = 64;
/** i64 words per failure entry: fromSeq, toSeq, codeIndex, reserved. */
export const FAILURE_ENTRY_WORDS = 4;

/** Byte offset of the stats block (Float64 slots) in the SAB. */
export const STATS_BYTE_OFFSET = 2752;
/** Float64 slots in the stats block. */
export const STATS_SLOTS = 64;

/**
 * Byte offset of the latency-trace block (`src/groupcommit/trace.ts`): an i32 enable flag, an f64
 * timestamp, then TRACE_HISTOGRAMS histograms of TRACE_BUCKETS i32 counts. All zero = off.
 */
export const TRACE_BYTE_OFFSET = 3264;
/** Buckets per trace histogram (see `groupcommit/trace.ts` for their bounds). */
export const TRACE_BUCKETS = 62;
/** Histograms in the trace block: emit->drain, drain->durable, durable->wake. */
export const TRACE_HISTOGRAMS = 3;
/** Bytes of the trace block: 16 header bytes + the histograms. */
export const TRACE_BYTES = 16 + TRACE_HISTOGRAMS * TRACE_BUCKETS * 4;

/** Values of `I32.STATE` (owned by group commit; the ring only zeroes it = OPEN). */
export const RingState = {
  OPEN: 0,
  FAULTED: 1,
  CLOSING: 2,
  CLOSED: 3,
  DEAD: 4,
} as const;

/** Upper bounds (seconds) of the fsync-time histogram buckets; one more slot counts +Inf. */
export const FSYNC_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);
/** Upper bounds (events) of the batch-size histogram buckets; one more slot counts +Inf. */
export const BATCH_BUCKETS_EVENTS: readonly number[] = Object.freeze([
  1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
]);

/**
 * Float64 indexes inside the stats block ({@link statsView}). The writer is the only writer;
 * others read racily. Bucket slots are per-bucket counts (not cumulative):
 * FSYNC_BUCKETS .. FSYNC_BUCKETS + FSYNC_BUCKETS_SECONDS.length (16 slots, last = +Inf),
 * BATCH_BUCKETS .. BATCH_BUCKETS + BATCH_BUCKETS_EVENTS.length (17 slots, last = +Inf).
 */
export const Stat = {
  RECORDS: 0,
  BYTES: 1,
  BATCHES: 2,
  BATCH_EVENTS_SUM: 3,
  FSYNCS: 4,
  FSYNC_SECONDS_SUM: 5,
  SEGMENTS_SEALED: 6,
  WAL_BYTES: 7,
  FSYNC_BUCKETS: 8,
  BATCH_BUCKETS: 24,
} as const;

/** Frame header field offsets (bytes, relative to the frame's start in the data region). */
export const FrameOffset = {
  FRAME_BYTES: 0,
  PAYLOAD_BYTES: 4,
  SEQ_LOW: 8,
  KIND: 12,
  TIME_US: 16,
  PAYLOAD: 24,
} as const;

/** Bytes of a ring frame header; the payload starts here. (A WAL frame's header is 32 bytes: `WAL_FRAME_HEADER_BYTES`.) */
export const RING_FRAME_HEADER_BYTES = 24;
/** Frames start and end on multiples of this. */
export const FRAME_ALIGN = 8;

/** Values of a frame's `kind` field. */
export const FrameKind = {
  EVENT: 1,
  PADDING: 2,
} as const;

/** Total frame length for a payload: header + payload, rounded up to 8 bytes. */
export function frameBytesFor(payloadBytes: number): number {
  return (RING_FRAME_HEADER_BYTES + payloadBytes + 7) & ~7;
}

/** Typed views over the control block of a ring SAB. */
export interface ControlViews {
  /** Index with {@link I32}. */
  readonly i32: Int32Array;
  /** Index with {@link I64}. */
  readonly i64: BigInt64Array;
}

/** Creates the control-block views of `sab` (no validation: see `RingProducer`/`RingConsumer`). */
export function controlViews(sab: SharedArrayBuffer): ControlViews {
  return {
    i32: new Int32Array(sab, 0, CONTROL_BYTES / 4),
    i64: new BigInt64Array(sab, 0, CONTROL_BYTES / 8),
  };
}

/** The stats block of `sab` as Float64 slots (index with {@link Stat}). */
export function statsView(sab: SharedArrayBuffer): Float64Array {
  return new Float64Array(sab, STATS_BYTE_OFFSET, STATS_SLOTS);
}
