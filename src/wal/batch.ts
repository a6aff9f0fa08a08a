/**
 * Batches: the unit of one WAL append. A batch is 1..n RECORD/GAP frames followed by a COMMIT
 * frame whose chain hash is SHA-256(previous chain hash ++ every byte of the batch's frames,
 * padding included). {@link BatchBuilder} encodes one; {@link parseBatch} checks one.
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { align8 } from './bytes.js';
import {
  COMMIT_FRAME_BYTES,
  FrameType,
  frameBodyOffset,
  GapReason,
  type GapReasonValue,
  HASH_BYTES,
  MAX_FRAME_BYTES,
  readFrameAux32,
  readFrameAux64,
  readFrameBytes,
  readFrameSeq,
  readFrameType,
  WAL_FRAME_ALIGN,
  WAL_FRAME_HEADER_BYTES,
  writeFrameHeader,
  writeFrameHeaderInt32,
} from './frame-layout.js';
import { checkFrame, describeFrameCheck, FrameCheck, sealFrameCrc } from './record.js';

/** Initial capacity of a builder's buffer; it doubles when a batch needs more. */
const kInitialCapacity = 256 * 1024;
/**
 * Payloads up to this size are copied by a JS loop of 32-bit words (bytes when misaligned).
 * `Buffer.prototype.copy` and `set(subarray())` both allocate a view object per call on Node 20,
 * and their call overhead (~120 ns) is about what the word loop needs for 200 bytes. Above this
 * size memcpy wins by far and one small view per (large) record does not matter.
 */
const kWordCopyMax = 16 * 1024;
const kMaxSafeTime = Number.MAX_SAFE_INTEGER;
const k2p32 = 4294967296;
const kGapPackr = new Packr({ useRecords: false });
const kCopy = Buffer.prototype.copy;
/** Slots of `BatchBuilder.#nums`. */
const kFirstSeq = 0;
const kLastSeq = 1;
const kMinTimeUs = 2;
const kMaxTimeUs = 3;
/** Placeholder source before the first record (word views copy bytes exactly on any endianness). */
const kEmpty = new Uint8Array(0);

/**
 * Builds one batch in a reusable buffer. The hot path ({@link addRecord}) allocates nothing (for
 * payloads up to 16 KiB; a larger one costs one small view object): the payload is copied straight
 * from the ring's bytes into the frame and its CRC computed while the bytes are still in cache.
 * `WalWriter.appendBatch` appends the COMMIT, writes everything with one positioned write and
 * calls {@link reset}. The buffer only grows (doubling) when a batch is larger than any before.
 */
export class BatchBuilder {
  // A Buffer over its own ArrayBuffer (byteOffset 0), so the word view below starts with it.
  #buf: Buffer = Buffer.from(new ArrayBuffer(kInitialCapacity));
  #words: Int32Array = new Int32Array(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length >> 2);
  /** The last payload source seen (the ring's data array) and a word view over its whole buffer. */
  #src: Uint8Array = kEmpty;
  #srcWords: Int32Array = new Int32Array(0);
  #bytes = 0;
  #count = 0;
  /**
   * firstSeq, lastSeq, minTimeUs, maxTimeUs. Seqs past 2^31 and microsecond times are not small
   * integers: kept in object fields, every store would box a fresh HeapNumber (an allocation per
   * record); a Float64Array slot is written in place.
   */
  readonly #nums = new Float64Array([0, 0, -1, -1]);
  #records = 0;
  #gapFrames = 0;
  #gapSeqs = 0;

  #get(slot: number): number {
    return this.#nums[slot] as number;
  }

  /** Frames (records and gaps) in the batch. */
  get count(): number {
    return this.#count;
  }
  /** Encoded bytes of the frames so far (padding included, COMMIT excluded). */
  get bytes(): number {
    return this.#bytes;
  }
  /** Seq of the first frame (0 while empty). */
  get firstSeq(): number {
    return this.#get(kFirstSeq);
  }
  /** Last seq covered (a GAP covers up to its toSeq; 0 while empty). */
  get lastSeq(): number {
    return this.#get(kLastSeq);
  }
  /** RECORD frames in the batch. */
  get records(): number {
    return this.#records;
  }
  /** GAP frames in the batch. */
  get gapFrames(): number {
    return this.#gapFrames;
  }
  /** Seqs covered by GAP frames. */
  get gapSeqs(): number {
    return this.#gapSeqs;
  }
  /** Smallest record time (us) in the batch, -1 without records. */
  get minTimeUs(): number {
    return this.#get(kMinTimeUs);
  }
  /** Largest record time (us) in the batch, -1 without records. */
  get maxTimeUs(): number {
    return this.#get(kMaxTimeUs);
  }

  /** Empties the builder (the buffer is kept). */
  reset(): void {
    this.#bytes = 0;
    this.#count = 0;
    this.#nums[kFirstSeq] = 0;
    this.#nums[kLastSeq] = 0;
    this.#records = 0;
    this.#gapFrames = 0;
    this.#gapSeqs = 0;
    this.#nums[kMinTimeUs] = -1;
    this.#nums[kMaxTimeUs] = -1;
  }

  #reserve(frameBytes: number): number {
    const at = this.#bytes;
    // Keep room for the COMMIT frame too, so `commit()` never has to grow the buffer.
    const need = at + align8(frameBytes) + COMMIT_FRAME_BYTES;
    if (need > this.#buf.length) {
      const grown = Buffer.from(new ArrayBuffer(Math.max(need, this.#buf.length * 2)));
      this.#buf.copy(grown, 0, 0, at);
      this.#buf = grown;
      this.#words = new Int32Array(grown.buffer, grown.byteOffset, grown.length >> 2);
    }
    return at;
  }

  #checkSeq(seq: number, what: string): void {
    if (this.#count > 0 ? seq !== this.#get(kLastSeq) + 1 : !(Number.isSafeInteger(seq) && seq >= 1)) {
      this.#badSeq(seq, what);
    }
  }

  #badSeq(seq: number, what: string): never {
    throw new IronlogError(
      ErrorCodes.INTERNAL,
      `batch ${what} seq ${seq} does not follow seq ${this.#get(kLastSeq)} (seqs in a batch must be consecutive)`,
    );
  }

  /**
   * Appends a RECORD frame: `payloadBytes` bytes of `src` from `srcOffset` (msgpack), stamped with
   * `seq` (must be the previous frame's last seq + 1), `timeUs` (microseconds since the epoch; the
   * fraction is dropped, negative or NaN become 0) and `flags` (RecordFlags bits). No allocation.
   */
  addRecord(
    seq: number,
    timeUs: number,
    flags: number,
    src: Uint8Array,
    srcOffset: number,
    payloadBytes: number,
  ): void {
    const nums = this.#nums;
    // Checked inline: passing `seq` (a double once past 2^31) to a helper that is not inlined
    // would box it.
    if (this.#count > 0 ? seq !== (nums[kLastSeq] as number) + 1 : !(Number.isSafeInteger(seq) && seq >= 1)) {
      this.#badSeq(seq, 'record');
    }
    if (
      !(
        payloadBytes >= 0 &&
        payloadBytes <= MAX_FRAME_BYTES - WAL_FRAME_HEADER_BYTES &&
        srcOffset + payloadBytes <= src.length
      )
    ) {
      throw new IronlogError(
        ErrorCodes.INTERNAL,
        `record payload of ${payloadBytes} bytes at ${srcOffset} is out of range`,
      );
    }
    let t = timeUs >= 0 ? Math.floor(timeUs) : 0; // NaN fails `>= 0` too
    if (t > kMaxSafeTime) t = kMaxSafeTime;
    const frameBytes = WAL_FRAME_HEADER_BYTES + payloadBytes;
    const at = this.#reserve(frameBytes);
    const buf = this.#buf;
    writeFrameHeaderInt32(
      buf,
      at,
      frameBytes,
      FrameType.RECORD,
      flags & 0xff,
      0,
      seq | 0,
      (seq / k2p32) | 0,
      t | 0,
      (t / k2p32) | 0,
    );
    const body = frameBodyOffset(at);
    if (payloadBytes > kWordCopyMax) {
      kCopy.call(src, buf, body, srcOffset, srcOffset + payloadBytes);
    } else {
      this.#copyPayload(src, srcOffset, buf, body, payloadBytes);
    }
    const end = at + align8(frameBytes);
    for (let i = at + frameBytes; i < end; i++) buf[i] = 0;
    sealFrameCrc(buf, at, frameBytes);
    this.#bytes = end;
    if (this.#count === 0) nums[kFirstSeq] = seq;
    this.#count++;
    nums[kLastSeq] = seq;
    this.#records++;
    if ((nums[kMinTimeUs] as number) < 0 || t < (nums[kMinTimeUs] as number)) nums[kMinTimeUs] = t;
    if (t > (nums[kMaxTimeUs] as number)) nums[kMaxTimeUs] = t;
  }

  /**
   * Copies a small payload without allocating. With `src` being the ring's SharedArrayBuffer,
   * plain (non-atomic) reads are enough: the consumer saw the frame's length word with
   * `Atomics.load` before calling us, which orders the producer's earlier plain writes of the
   * payload before these reads.
   */
  #copyPayload(src: Uint8Array, srcOffset: number, buf: Buffer, body: number, n: number): void {
    const srcByte = src.byteOffset + srcOffset;
    let i = 0;
    // `body` is 8-aligned (frames are) and `buf` starts its ArrayBuffer; the ring's payloads are
    // 8-aligned too, so the misaligned byte path is only for other callers.
    if ((srcByte & 3) === 0) {
      if (src !== this.#src) {
        // Once per distinct source array (the ring's data array never changes).
        this.#src = src;
        this.#srcWords = new Int32Array(src.buffer, 0, src.buffer.byteLength >> 2);
      }
      const sw = this.#srcWords;
      const dw = this.#words;
      const s0 = srcByte >> 2;
      const d0 = body >> 2;
      const words = n >> 2;
      for (let w = 0; w < words; w++) dw[d0 + w] = sw[s0 + w] as number;
      i = words << 2;
    }
    for (; i < n; i++) buf[body + i] = src[srcOffset + i] as number;
  }

  /**
   * Appends a GAP frame: seqs [fromSeq, toSeq] are not in the log, for `reason`
   * (1 RECOVERY_LOSS, 2 WRITE_REJECTED); `detail` is stored as msgpack. Off the hot path.
   */
  addGap(fromSeq: number, toSeq: number, reason: GapReasonValue, detail?: Record<string, unknown>): void {
    this.#checkSeq(fromSeq, 'gap');
    if (!(Number.isSafeInteger(toSeq) && toSeq >= fromSeq)) {
      throw new IronlogError(ErrorCodes.INTERNAL, `gap toSeq ${toSeq} is below fromSeq ${fromSeq}`);
    }
    if (reason !== GapReason.RECOVERY_LOSS && reason !== GapReason.WRITE_REJECTED) {
      throw new IronlogError(ErrorCodes.INTERNAL, `unknown gap reason ${String(reason)}`);
    }
    const packed = detail === undefined ? undefined : kGapPackr.pack(detail);
    const frameBytes = WAL_FRAME_HEADER_BYTES + 1 + (packed ? packed.length : 0);
    const at = this.#reserve(frameBytes);
    const buf = this.#buf;
    writeFrameHeader(buf, at, frameBytes, FrameType.GAP, 0, 0, fromSeq, toSeq);
    const body = frameBodyOffset(at);
    buf[body] = reason;
    if (packed) buf.set(packed, body + 1);
    buf.fill(0, at + frameBytes, at + align8(frameBytes));
    sealFrameCrc(buf, at, frameBytes);
    this.#bytes = at + align8(frameBytes);
    if (this.#count === 0) this.#nums[kFirstSeq] = fromSeq;
    this.#count++;
    this.#nums[kLastSeq] = toSeq;
    this.#gapFrames++;
    this.#gapSeqs += toSeq - fromSeq + 1;
  }

  /**
   * Appends a RECORD or GAP frame exactly as found at `src[off]` (already checked: CRC, padding).
   * Used by `recoverWal` to copy salvaged frames byte for byte.
   */
  addRawFrame(src: Uint8Array, off: number): void {
    const frameBytes = readFrameBytes(src, off);
    const type = readFrameType(src, off);
    const seq = readFrameSeq(src, off);
    const aux = readFrameAux64(src, off);
    if (type !== FrameType.RECORD && type !== FrameType.GAP) {
      throw new IronlogError(ErrorCodes.INTERNAL, `addRawFrame: frame type ${String(type)} is not RECORD or GAP`);
    }
    this.#checkSeq(seq, type === FrameType.GAP ? 'gap' : 'record');
    const padded = align8(frameBytes);
    const at = this.#reserve(frameBytes);
    kCopy.call(src, this.#buf, at, off, off + padded);
    this.#bytes = at + padded;
    if (this.#count === 0) this.#nums[kFirstSeq] = seq;
    this.#count++;
    if (type === FrameType.GAP) {
      this.#nums[kLastSeq] = aux;
      this.#gapFrames++;
      this.#gapSeqs += aux - seq + 1;
    } else {
      this.#nums[kLastSeq] = seq;
      this.#records++;
      if (this.#get(kMinTimeUs) < 0 || aux < this.#get(kMinTimeUs)) this.#nums[kMinTimeUs] = aux;
      if (aux > this.#get(kMaxTimeUs)) this.#nums[kMaxTimeUs] = aux;
    }
  }

  /**
   * Appends the COMMIT frame, chaining from `prevChainHash`. Returns the total length to write
   * (frames + COMMIT); the new chain hash is {@link chainHashView} afterwards. For the writer.
   */
  commit(prevChainHash: Uint8Array): number {
    const buf = this.#buf;
    const at = this.#bytes;
    const digest = createHash('sha256').update(prevChainHash).update(buf.subarray(0, at)).digest();
    writeFrameHeader(buf, at, COMMIT_FRAME_BYTES, FrameType.COMMIT, 0, at, this.#get(kFirstSeq), this.#get(kLastSeq));
    digest.copy(buf, frameBodyOffset(at));
    sealFrameCrc(buf, at, COMMIT_FRAME_BYTES);
    return at + COMMIT_FRAME_BYTES;
  }

  /** The chain hash written by the last {@link commit} (a view into the buffer). */
  chainHashView(): Buffer {
    const at = frameBodyOffset(this.#bytes);
    return this.#buf.subarray(at, at + HASH_BYTES);
  }

  /** The encoded bytes (frames, then the COMMIT once {@link commit} ran). For the writer. */
  get buffer(): Buffer {
    return this.#buf;
  }
}

/** Outcome of {@link parseBatch}. */
export const BatchStatus = {
  /** A complete, valid batch: see the {@link BatchParse} fields. */
  BATCH: 0,
  /** A SEAL frame starts here (`sealFrameBytes` is set; the caller decodes it). */
  SEAL: 1,
  /** A zero length word at a batch boundary: end of data (zero-filled space follows). */
  END_ZERO: 2,
  /** Exactly at the end of the file: end of data. */
  END_EOF: 3,
  /** The buffer ends inside the batch, but the file continues: read more and parse again. */
  NEED_MORE: 4,
  /** Damage: see `problemKind`, `problemOffset`, `message`. */
  DAMAGED: 5,
} as const;
/** One of {@link BatchStatus}. */
export type BatchStatusValue = (typeof BatchStatus)[keyof typeof BatchStatus];

/**
 * Kinds of damage. `truncated`: a frame runs past the end of the file or a zero length word sits
 * inside a batch (what a torn write looks like); `checksum`: a frame's CRC, length or fixed fields
 * are wrong; `seq`: seqs out of order; `batch`: a COMMIT that does not describe its batch; `chain`:
 * the chain hash does not match (frames intact, so not a torn write).
 */
export type BatchDamageKind = 'truncated' | 'checksum' | 'seq' | 'batch' | 'chain';

/** Reusable result object of {@link parseBatch} (parsing allocates only the chain digest). */
export class BatchParse {
  /** File offset of the batch's first frame. */
  start = 0;
  /** File offset of its COMMIT frame. */
  commitOffset = 0;
  /** File offset just past the COMMIT. */
  end = 0;
  firstSeq = 0;
  lastSeq = 0;
  frames = 0;
  records = 0;
  gapFrames = 0;
  gapSeqs = 0;
  minTimeUs = -1;
  maxTimeUs = -1;
  /** The COMMIT's chain hash (copied). */
  readonly chainHash: Buffer = Buffer.alloc(HASH_BYTES);
  /** Length of the SEAL frame when the status is SEAL. */
  sealFrameBytes = 0;
  problemKind: BatchDamageKind = 'checksum';
  /** File offset of the offending frame. */
  problemOffset = 0;
  message = '';
}

function damaged(out: BatchParse, kind: BatchDamageKind, offset: number, message: string): BatchStatusValue {
  out.problemKind = kind;
  out.problemOffset = offset;
  out.message = message;
  return BatchStatus.DAMAGED;
}

/**
 * Parses and checks the batch starting at file offset `pos`. `buf` holds the file bytes
 * [base, bufEnd); `atEof` says whether `bufEnd` is the end of the file. `expectSeq` is the seq the
 * batch must start with (-1: take the first frame's). `prevChain` is the chain hash before this
 * batch (null when unknown, e.g. after seeking: the batch's own hash is then taken as is).
 */
export function parseBatch(
  buf: Uint8Array,
  base: number,
  bufEnd: number,
  atEof: boolean,
  pos: number,
  expectSeq: number,
  prevChain: Uint8Array | null,
  out: BatchParse,
): BatchStatusValue {
  out.start = pos;
  out.frames = 0;
  out.records = 0;
  out.gapFrames = 0;
  out.gapSeqs = 0;
  out.minTimeUs = -1;
  out.maxTimeUs = -1;
  out.firstSeq = expectSeq;
  let expect = expectSeq;
  let p = pos;
  for (;;) {
    const i = p - base;
    const check = checkFrame(buf, i, bufEnd - base);
    if (check === FrameCheck.SHORT) {
      if (!atEof) return BatchStatus.NEED_MORE;
      if (p === bufEnd && out.frames === 0) return BatchStatus.END_EOF;
      return damaged(out, 'truncated', p, `${describeFrameCheck(check)} (file ends at ${bufEnd})`);
    }
    if (check === FrameCheck.ZERO) {
      if (out.frames === 0) return BatchStatus.END_ZERO;
      return damaged(out, 'truncated', p, 'batch ends without a COMMIT (zero length word)');
    }
    if (check !== FrameCheck.OK) return damaged(out, 'checksum', p, describeFrameCheck(check));
    const frameBytes = readFrameBytes(buf, i);
    const type = readFrameType(buf, i);
    const seq = readFrameSeq(buf, i);
    const aux = readFrameAux64(buf, i);
    if (type === FrameType.RECORD || type === FrameType.GAP) {
      if (expect >= 0 && seq !== expect) {
        return damaged(out, 'seq', p, `frame has seq ${seq}, expected ${expect}`);
      }
      if (out.frames === 0) out.firstSeq = seq;
      if (type === FrameType.GAP) {
        const reason = buf[frameBodyOffset(i)];
        if (
          frameBytes < WAL_FRAME_HEADER_BYTES + 1 ||
          aux < seq ||
          (reason !== GapReason.RECOVERY_LOSS && reason !== GapReason.WRITE_REJECTED)
        ) {
          return damaged(out, 'checksum', p, 'invalid GAP frame');
        }
        out.gapFrames++;
        out.gapSeqs += aux - seq + 1;
        expect = aux + 1;
      } else {
        if (readFrameAux32(buf, i) !== 0) {
          return damaged(out, 'checksum', p, 'nonzero reserved field in RECORD frame');
        }
        out.records++;
        if (out.minTimeUs < 0 || aux < out.minTimeUs) out.minTimeUs = aux;
        if (aux > out.maxTimeUs) out.maxTimeUs = aux;
        expect = seq + 1;
      }
      out.frames++;
      p += align8(frameBytes);
      continue;
    }
    if (type === FrameType.SEAL) {
      if (out.frames > 0) return damaged(out, 'batch', p, 'SEAL frame inside a batch (no COMMIT before it)');
      out.sealFrameBytes = frameBytes;
      return BatchStatus.SEAL;
    }
    // COMMIT
    if (out.frames === 0) return damaged(out, 'batch', p, 'COMMIT frame without frames before it');
    if (frameBytes !== COMMIT_FRAME_BYTES) return damaged(out, 'checksum', p, 'COMMIT frame of the wrong length');
    const batchBytes = readFrameAux32(buf, i);
    if (batchBytes !== p - pos) {
      return damaged(out, 'batch', p, `COMMIT says the batch has ${batchBytes} bytes, found ${p - pos}`);
    }
    if (seq !== out.firstSeq || aux !== expect - 1) {
      return damaged(out, 'seq', p, `COMMIT names seqs ${seq}..${aux}, the batch holds ${out.firstSeq}..${expect - 1}`);
    }
    const stored = Buffer.from(buf.buffer, buf.byteOffset + frameBodyOffset(i), HASH_BYTES);
    if (prevChain !== null) {
      const digest = createHash('sha256')
        .update(prevChain)
        .update(Buffer.from(buf.buffer, buf.byteOffset + (pos - base), p - pos))
        .digest();
      if (!digest.equals(stored)) return damaged(out, 'chain', p, 'chain hash mismatch');
    }
    stored.copy(out.chainHash);
    out.lastSeq = expect - 1;
    out.commitOffset = p;
    out.end = p + COMMIT_FRAME_BYTES;
    return BatchStatus.BATCH;
  }
}

/**
 * Looks for a complete batch (every frame CRC-valid, seqs consecutive, ending in a COMMIT that
 * describes it) starting at an 8-aligned offset in [from, end) of an in-memory file image.
 * Its chain hash cannot be checked (the previous one is unknown). Returns the batch's start
 * offset, or -1. This is what tells damage in the middle of a segment from a torn tail.
 */
export function findCompleteBatch(buf: Uint8Array, from: number, end: number, out: BatchParse): number {
  for (let off = align8(from); off + COMMIT_FRAME_BYTES <= end; off += WAL_FRAME_ALIGN) {
    if (readFrameBytes(buf, off) !== COMMIT_FRAME_BYTES || readFrameType(buf, off) !== FrameType.COMMIT) continue;
    if (checkFrame(buf, off, end) !== FrameCheck.OK) continue;
    const start = off - readFrameAux32(buf, off);
    if (start < from || start % WAL_FRAME_ALIGN !== 0) continue;
    const status = parseBatch(buf, 0, end, true, start, -1, null, out);
    if (status === BatchStatus.BATCH && out.commitOffset === off) return start;
  }
  return -1;
}
