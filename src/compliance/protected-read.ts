/**
 * Reading protected records: sealed fields are decrypted with the subject keys of the WAL's key
 * store (unwrapped through the key provider), shown as `[ERASED]` where the key was erased, or
 * left as {@link SealedValue}s (JSON `{"$sealed":"<kid>"}`) with `decrypt: false`.
 */
import { IronlogError } from '../core/errors.js';
import { RecordFlags } from '../wal/frame-layout.js';
import { decodeEvent, type ReadWalOptions, readWal, type WalRecord } from '../wal/reader.js';
import { type KeyProvider, type KeyProviderSpec, type ResolvedKeyProvider, resolveKeyProvider } from './keys.js';
import { type kErased, SubjectKeyStore } from './keystore.js';
import { decryptRecord, encryptedRecordKid } from './record-crypto.js';
import { openSealed, sealedKids } from './subject-seal.js';

/** How readers treat encrypted parts. */
export interface DecryptOptions {
  /** Master keys (a spec or a provider object). Needed to decrypt anything that was not erased. */
  keyProvider?: KeyProviderSpec | KeyProvider | ResolvedKeyProvider;
  /** `false`: return sealed values as they are (marked), never ask for keys. Default true. */
  decrypt?: boolean;
}

/** A key provider as readers take it (a spec, a provider object or a resolved one), resolved. */
export function resolveDecryptProvider(p: DecryptOptions['keyProvider']): ResolvedKeyProvider | undefined {
  if (p === undefined) return undefined;
  if (typeof p === 'object' && p !== null && 'provider' in p && 'timeoutMs' in p) return p as ResolvedKeyProvider;
  return resolveKeyProvider(p as KeyProviderSpec | KeyProvider);
}

/** Opens the sealed fields of records read from one WAL directory. */
export class RecordOpener {
  readonly #store: SubjectKeyStore;
  readonly #decrypt: boolean;

  constructor(dir: string, options: DecryptOptions = {}) {
    this.#decrypt = options.decrypt !== false;
    this.#store = new SubjectKeyStore(dir, resolveDecryptProvider(options.keyProvider));
  }

  /**
   * `r` with its sealed fields opened (or as is with `decrypt: false`). Rejects with
   * `ERR_IRONLOG_KEY_UNAVAILABLE` naming a kid that is neither stored nor erased, or
   * `ERR_IRONLOG_DECRYPT` (naming the seq) when a field fails authentication.
   */
  async open(record: WalRecord): Promise<WalRecord> {
    let r = record;
    if ((r.flags & RecordFlags.ENCRYPTED) !== 0 && r.event instanceof Uint8Array) {
      const kid = encryptedRecordKid(r.event);
      if (!this.#decrypt) return { ...r, event: { $encrypted: kid } };
      let plain: Buffer;
      try {
        const dk = await this.#store.dataKeyById(kid);
        plain = decryptRecord(dk.key, dk.nodeId, r.seq, r.event);
      } catch (err) {
        throw withSeq(err, r.seq);
      }
      r = { ...r, event: decodeEvent(plain, 0, plain.length, 0) };
    }
    if (!this.#decrypt || typeof r.event !== 'object' || r.event === null) return r;
    const kids = sealedKids(r.event);
    if (kids.size === 0) return r;
    const keys = new Map<string, Buffer | typeof kErased>();
    for (const kid of kids) {
      try {
        keys.set(kid, this.#store.cachedKeyById(kid) ?? (await this.#store.keyById(kid)));
      } catch (err) {
        throw withSeq(err, r.seq);
      }
    }
    try {
      return { ...r, event: openSealed(r.event, (kid) => keys.get(kid) as Buffer | typeof kErased) };
    } catch (err) {
      throw withSeq(err, r.seq);
    }
  }

  /** Releases the key store (and its cached keys). */
  dispose(): void {
    this.#store.dispose();
  }
}

function withSeq(err: unknown, seq: number): unknown {
  const e = err as IronlogError;
  if (typeof e?.code !== 'string' || e.message.startsWith(`record seq ${seq}`)) return err;
  return new IronlogError(e.code, `record seq ${seq}: ${e.message}`, { cause: e.cause ?? e });
}

/** {@link readWal} with sealed fields opened (see {@link RecordOpener}). */
export async function* readProtectedWal(
  dir: string,
  options: ReadWalOptions & DecryptOptions = {},
): AsyncGenerator<WalRecord> {
  const opener = new RecordOpener(dir, options);
  try {
    for await (const r of readWal(dir, options)) yield await opener.open(r);
  } finally {
    opener.dispose();
  }
}

/** Result of {@link checkDecryption}. */
export interface DecryptionReport {
  /** Records read. */
  readonly records: number;
  /** Records with an encrypted payload or at least one sealed field. */
  readonly protectedRecords: number;
  /** Every record that did not open: its seq, the error code (`ERR_IRONLOG_DECRYPT`, `..._KEY_UNAVAILABLE`) and message. */
  readonly failures: ReadonlyArray<{ readonly seq: number; readonly code: string; readonly message: string }>;
}

/**
 * Opens every record of `dir` with the keys (as `verify --key-file` does): every encrypted payload
 * and sealed field must authenticate under a key the store and the provider have. Erased fields
 * count as fine. Integrity damage (`ERR_IRONLOG_WAL_CORRUPT`) is not caught here: run `verifyWal` first.
 */
export async function checkDecryption(dir: string, options: DecryptOptions = {}): Promise<DecryptionReport> {
  const opener = new RecordOpener(dir, { ...options, decrypt: true });
  let records = 0;
  let protectedRecords = 0;
  const failures: { seq: number; code: string; message: string }[] = [];
  try {
    for await (const r of readWal(dir)) {
      records++;
      const isProtected =
        (r.flags & RecordFlags.ENCRYPTED) !== 0 ||
        (typeof r.event === 'object' && r.event !== null && sealedKids(r.event).size > 0);
      if (!isProtected) continue;
      protectedRecords++;
      try {
        await opener.open(r);
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        if (typeof e?.code !== 'string') throw err;
        failures.push({ seq: r.seq, code: e.code, message: String(e.message) });
      }
    }
  } finally {
    opener.dispose();
  }
  return { records, protectedRecords, failures };
}
