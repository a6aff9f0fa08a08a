/**
 * Record payload encryption (envelope): the writer worker encrypts each record's payload with
 * AES-256-GCM under a data key (wrapped by the key provider, stored in `keys/data/<kid>.json`),
 * and sets RECORD flag bit 0. The body of an encrypted RECORD frame:
 * ```
 *   u8 version (1) | u8 kidBytes | kid (ASCII) | ciphertext (= payload length) | 16-byte GCM tag
 * ```
 * Nonce (12 bytes) = `u32 0 | u64 seq` (little endian). A seq is written at most once per writer
 * session and every writer session takes fresh data keys (never one used before), so a nonce
 * never repeats under one key, also when a torn tail's seqs are written again after a crash.
 * AAD = `"ironlog/record/v1" | u8 nodeIdBytes | nodeId | u64 seq | kid`: a ciphertext moved to
 * another seq or another node fails authentication.
 *
 * Rotation: a new data key at every writer start, at the first batch of every new segment, and
 * after `recordsPerDataKey` records. Old keys stay in the key store: old segments are never
 * rewritten.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** Version byte of an encrypted record body. */
export const kRecordCryptoVersion = 1;
const kTagBytes = 16;
const kAadLabel = Buffer.from('ironlog/record/v1', 'latin1');

/** A data key in memory. */
export interface DataKey {
  readonly kid: string;
  readonly key: Buffer;
}

/** The AAD of a record. */
export function recordAad(nodeId: string, seq: number, kid: string): Buffer {
  const node = Buffer.from(nodeId, 'latin1');
  const out = Buffer.alloc(kAadLabel.length + 1 + node.length + 8 + kid.length);
  let p = kAadLabel.copy(out, 0);
  out[p++] = node.length;
  p += node.copy(out, p);
  out.writeBigUInt64LE(BigInt(seq), p);
  out.write(kid, p + 8, 'latin1');
  return out;
}

function nonceOf(seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(seq), 4);
  return n;
}

/** The kid of an encrypted record body, or '' when the layout is invalid. */
export function encryptedRecordKid(body: Uint8Array): string {
  if (body.length < 2 + kTagBytes || body[0] !== kRecordCryptoVersion) return '';
  const n = body[1] as number;
  return body.length < 2 + n + kTagBytes ? '' : Buffer.from(body.buffer, body.byteOffset + 2, n).toString('latin1');
}

/** Encrypts one payload; returns the record body. */
export function encryptRecord(dk: DataKey, nodeId: string, seq: number, payload: Uint8Array): Buffer {
  return new RecordCipher(dk, nodeId).encrypt(seq, payload);
}

/**
 * Encryption under one data key with the per-record buffers (AAD, nonce, body) reused: the
 * writer's hot path allocates only what node:crypto does.
 */
class RecordCipher {
  readonly kid: string;
  readonly #key: Buffer;
  readonly #aad: Buffer;
  readonly #seqAt: number;
  readonly #nonce = Buffer.alloc(12);
  readonly #head: number;
  #body: Buffer = Buffer.allocUnsafe(4096);

  constructor(dk: DataKey, nodeId: string) {
    this.kid = dk.kid;
    this.#key = dk.key;
    this.#aad = recordAad(nodeId, 0, dk.kid);
    this.#seqAt = this.#aad.length - 8 - dk.kid.length;
    this.#head = 2 + dk.kid.length;
  }

  /** The body of `payload` at `seq` (a view into a reused buffer: valid until the next call). */
  encrypt(seq: number, payload: Uint8Array): Buffer {
    const lo = seq % 4294967296;
    const hi = Math.floor(seq / 4294967296);
    this.#nonce.writeUInt32LE(lo, 4);
    this.#nonce.writeUInt32LE(hi, 8);
    this.#aad.writeUInt32LE(lo, this.#seqAt);
    this.#aad.writeUInt32LE(hi, this.#seqAt + 4);
    const total = this.#head + payload.length + kTagBytes;
    if (this.#body.length < total) this.#body = Buffer.allocUnsafe(Math.max(total, this.#body.length * 2));
    const body = this.#body;
    body[0] = kRecordCryptoVersion;
    body[1] = this.kid.length;
    body.write(this.kid, 2, 'latin1');
    const c = createCipheriv('aes-256-gcm', this.#key, this.#nonce);
    c.setAAD(this.#aad);
    const ct = c.update(payload);
    ct.copy(body, this.#head);
    c.final();
    c.getAuthTag().copy(body, this.#head + ct.length);
    return body.subarray(0, total);
  }
}

/** Decrypts a record body; `ERR_IRONLOG_DECRYPT` (naming the seq) when it does not authenticate. */
export function decryptRecord(key: Buffer, nodeId: string, seq: number, body: Uint8Array): Buffer {
  const kid = encryptedRecordKid(body);
  if (kid === '') throw new IronlogError(ErrorCodes.DECRYPT, `record seq ${seq}: encrypted body has an invalid layout`);
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const d = createDecipheriv('aes-256-gcm', key, nonceOf(seq));
  d.setAAD(recordAad(nodeId, seq, kid));
  d.setAuthTag(b.subarray(b.length - kTagBytes));
  try {
    return Buffer.concat([d.update(b.subarray(2 + kid.length, b.length - kTagBytes)), d.final()]);
  } catch (err) {
    throw new IronlogError(
      ErrorCodes.DECRYPT,
      `record seq ${seq} (data key '${kid}', node '${nodeId}') failed authentication: altered, moved to another seq or node, or a wrong key`,
      { cause: err },
    );
  }
}

/**
 * The writer worker's side: picks the data key for each batch (rotating as the module comment
 * says) and encrypts payloads. `takeKey` returns the next pre-supplied key or undefined;
 * `waitMs` bounds how long {@link prepare} waits for one.
 */
export class RecordEncryptor {
  readonly #nodeId: string;
  readonly #recordsPerKey: number;
  readonly #waitMs: number;
  readonly #takeKey: () => DataKey | undefined;
  readonly #sleep = new Int32Array(new SharedArrayBuffer(4));
  #current: RecordCipher | undefined;
  #count = 0;
  #segment = -1;

  constructor(nodeId: string, recordsPerKey: number, waitMs: number, takeKey: () => DataKey | undefined) {
    this.#nodeId = nodeId;
    this.#recordsPerKey = recordsPerKey;
    this.#waitMs = waitMs;
    this.#takeKey = takeKey;
  }

  /** The error records fail with when no data key arrived in time. */
  get unavailable(): IronlogError {
    return new IronlogError(
      ErrorCodes.KEY_PROVIDER_TIMEOUT,
      `no data key from the key provider within ${this.#waitMs} ms: records are not written unencrypted; nothing was written`,
    );
  }

  /**
   * Ensures a key for the next batch. A new segment takes a new key when one is ready (never
   * waiting: the old key stays safe to use, nonces are seqs); a writer start or a key past its
   * count limit must have one and waits up to `waitMs`. False when none arrived in time.
   */
  prepare(segmentFirstSeq: number): boolean {
    const mustRotate = this.#current === undefined || this.#count >= this.#recordsPerKey;
    if (!mustRotate && segmentFirstSeq === this.#segment) return true;
    const deadline = Date.now() + (mustRotate ? this.#waitMs : 0);
    for (;;) {
      const k = this.#takeKey();
      if (k !== undefined) {
        this.#current = new RecordCipher(k, this.#nodeId);
        this.#count = 0;
        this.#segment = segmentFirstSeq;
        return true;
      }
      if (!mustRotate) {
        this.#segment = segmentFirstSeq;
        return true;
      }
      if (Date.now() >= deadline) return false;
      Atomics.wait(this.#sleep, 0, 0, 2);
    }
  }

  /**
   * The encrypted body of one record (`prepare` must have returned true for this batch): a view
   * into a reused buffer, valid until the next call (the batch builder copies it at once).
   */
  seal(seq: number, src: Uint8Array, offset: number, bytes: number): Buffer {
    this.#count++;
    return (this.#current as RecordCipher).encrypt(seq, src.subarray(offset, offset + bytes));
  }
}
