/**
 * Reading protected records: sealed fields are decrypted with the subject keys of the WAL's key
 * store (unwrapped through the key provider), shown as `[ERASED]` where the key was erased, or
 * left as {@link SealedValue}s (JSON `{"$sealed":"<kid>"}`) with `decrypt: false`.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { type ReadWalOptions, readWal, type WalRecord } from '../wal/reader.js';
import { type KeyProvider, type KeyProviderSpec, type ResolvedKeyProvider, resolveKeyProvider } from './keys.js';
import { type kErased, SubjectKeyStore, typedSubject } from './keystore.js';
import { openSealed, sealedKids } from './subject-seal.js';

/** How readers treat encrypted parts. */
export interface DecryptOptions {
  /** Master keys (a spec or a provider object). Needed to decrypt anything that was not erased. */
  keyProvider?: KeyProviderSpec | KeyProvider | ResolvedKeyProvider;
  /** `false`: return sealed values as they are (marked), never ask for keys. Default true. */
  decrypt?: boolean;
}

function resolveProvider(p: DecryptOptions['keyProvider']): ResolvedKeyProvider | undefined {
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
    this.#store = new SubjectKeyStore(dir, resolveProvider(options.keyProvider));
  }

  /**
   * `r` with its sealed fields opened (or as is with `decrypt: false`). Rejects with
   * `ERR_IRONLOG_KEY_UNAVAILABLE` naming a kid that is neither stored nor erased, or
   * `ERR_IRONLOG_DECRYPT` (naming the seq) when a field fails authentication.
   */
  async open(r: WalRecord): Promise<WalRecord> {
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

  dispose(): void {
    this.#store.dispose();
  }
}

function withSeq(err: unknown, seq: number): unknown {
  const e = err as IronlogError;
  if (typeof e?.code !== 'string') return err;
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

/** Result of {@link eraseSubject}. */
export interface EraseSubjectResult {
  /** True when a key existed and was destroyed; false when the store never keyed this subject. */
  readonly erased: boolean;
  /** The destroyed key id (its records now read `[ERASED]` in the subject's fields). */
  readonly kid?: string;
}

/**
 * GDPR Art. 17 erasure by crypto-shredding: destroys the subject's key in the key store of
 * `dir` durably (see `SubjectKeyStore.erase`). The WAL is not touched: every record keeps its
 * bytes, so `verify` and every inclusion proof stay valid, while the subject's sealed fields are
 * unreadable from then on. Needs the key provider (to unwrap the index key that names subjects).
 * `subjectId` is the raw id as events carry it (a string, number or bigint).
 */
export async function eraseSubject(
  dir: string,
  subjectId: string | number | bigint,
  options: { keyProvider: KeyProviderSpec | KeyProvider },
): Promise<EraseSubjectResult> {
  const typed = typedSubject(subjectId);
  if (typed === undefined) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'eraseSubject: subjectId must be a non-empty string, a finite number or a bigint',
    );
  }
  if (!SubjectKeyStore.exists(dir)) return { erased: false };
  const store = new SubjectKeyStore(dir, resolveProvider(options.keyProvider));
  try {
    return await store.erase(typed);
  } finally {
    store.dispose();
  }
}
