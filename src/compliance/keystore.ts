/**
 * The key store beside a WAL: wrapped subject keys (crypto-shredding, GDPR Art. 17) in
 * `<walDir>/keys/`. Only wrapped keys are stored; the master key stays in the provider. Layout
 * (every file written durably: temp, fsync, rename or link, directory fsync):
 * ```
 *   keys/index-key.json          the HMAC key that names subjects, wrapped: {"v":1,"masterKeyId","wrapped"}
 *   keys/subject-index/<hex>     hex = HMAC-SHA-256(index key, typed subject id): holds the subject's kid
 *   keys/subjects/<kid>.json     a subject key, wrapped: {"v":1,"kid","masterKeyId","wrapped","createdAt"}
 *   keys/erased/<kid>            tombstone: this kid was erased ({"erasedAt"}) -- readers show "[ERASED]"
 * ```
 * A `kid` is 16 random bytes (base64url), not derived from the subject: once the index entry and
 * the key file are gone, nothing in the WAL or the key store links a record to its subject any
 * more, even for someone holding the index key. Neither the subject id nor any key in plaintext
 * is ever written here.
 *
 * Several threads and processes may share one store: creating a subject's key is a create-only
 * link of its index entry, so racing creators agree on the first one.
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { ensureDirDurable, readFileIfExists, unlinkDurable, writeFileDurable } from './durable-file.js';
import { callProvider, type KeyContext, type ResolvedKeyProvider } from './keys.js';

/** Name of the key store directory inside a WAL directory. */
export const kKeyStoreDir = 'keys';
/** Text readers show in place of a field whose subject key was erased. */
export const kErased = '[ERASED]';
const kKidPattern = /^[A-Za-z0-9_-]{22}$/;
/** Domain of {@link SubjectKeyStore.subjectPseudonym} (never equal to an index entry name). */
const kPseudonymDomain = 'ironlog/subject-pseudonym/v1\n';

/** A subject key in memory. */
export interface SubjectKey {
  readonly kid: string;
  readonly key: Buffer;
}

interface WrappedFile {
  readonly v: 1;
  readonly kid?: string;
  readonly masterKeyId: string;
  readonly wrapped: string;
  readonly createdAt?: string;
  /** Data keys: the node whose writer made it (bound into every record's AAD). */
  readonly nodeId?: string;
}

interface CachedSubject extends SubjectKey {
  checkedAtMs: number;
}

/** Result of {@link SubjectKeyStore.erase}. */
export interface EraseResult {
  /** False when the store had no key for this subject (nothing to erase; still a tombstone-free no-op). */
  readonly erased: boolean;
  /** The erased key id (records sealed under it now read as `[ERASED]`), when there was one. */
  readonly kid?: string;
}

const kStores = new Map<string, Set<SubjectKeyStore>>();
const kMaxCached = 100_000;

/** Canonical text of a subject id: type tag + value, as in pseudonyms (`s:alice`, `n:42`, `i:9007199254740993`). */
export function typedSubject(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : `s:${value}`;
  if (typeof value === 'number') return Number.isFinite(value) ? `n:${String(value)}` : undefined;
  if (typeof value === 'bigint') return `i:${value.toString()}`;
  return undefined;
}

/** Wrapped subject keys of one WAL directory; see the module comment. */
export class SubjectKeyStore {
  readonly root: string;
  readonly #provider: ResolvedKeyProvider | undefined;
  readonly #cacheMs: number;
  #indexKey: Buffer | undefined;
  #indexKeyLoading: Promise<Buffer> | undefined;
  readonly #bySubject = new Map<string, CachedSubject>();
  readonly #byKid = new Map<string, Buffer | typeof kErased>();
  readonly #creating = new Map<string, Promise<SubjectKey>>();
  readonly #dataKeys = new Map<string, { key: Buffer; nodeId: string }>();

  /**
   * `walDir`: the WAL directory. `provider`: unwraps (and, for writers, wraps) keys; without one
   * the store can only tell erased keys from missing ones. `cacheMs`: how long a cached subject
   * key is used before the store checks again that it was not erased (by another process).
   */
  constructor(walDir: string, provider: ResolvedKeyProvider | undefined, cacheMs = 1_000) {
    this.root = path.join(path.resolve(walDir), kKeyStoreDir);
    this.#provider = provider;
    this.#cacheMs = cacheMs;
    const set = kStores.get(this.root) ?? new Set<SubjectKeyStore>();
    kStores.set(this.root, set);
    set.add(this);
  }

  /** Stops this store from hearing in-process erasures (call when done with it). */
  dispose(): void {
    kStores.get(this.root)?.delete(this);
  }

  /** True when `walDir` has a key store (any subject was ever keyed there). */
  static exists(walDir: string): boolean {
    return fs.existsSync(path.join(path.resolve(walDir), kKeyStoreDir));
  }

  #file(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  #needProvider(what: string): ResolvedKeyProvider {
    if (this.#provider === undefined) {
      throw new IronlogError(
        ErrorCodes.KEY_UNAVAILABLE,
        `${what} needs a key provider (--key-file, IRONLOG_KEYS or options.keyProvider)`,
      );
    }
    return this.#provider;
  }

  async #unwrapFile(file: WrappedFile, context: KeyContext, what: string): Promise<Buffer> {
    const p = this.#needProvider(what);
    const wrapped = Buffer.from(file.wrapped, 'base64');
    return callProvider(p, `unwrapping ${what}`, (signal) =>
      p.provider.unwrapDataKey(wrapped, file.masterKeyId, context, signal),
    );
  }

  /** The HMAC key naming subjects: loaded, or (`create`) made and stored on first use. */
  async #loadIndexKey(create: boolean): Promise<Buffer | undefined> {
    if (this.#indexKey) return this.#indexKey;
    if (this.#indexKeyLoading) return this.#indexKeyLoading;
    const file = this.#file('index-key.json');
    const context = { purpose: 'ironlog-subject-index' };
    const load = async (): Promise<Buffer | undefined> => {
      let raw = readFileIfExists(file);
      if (raw === undefined) {
        if (!create) return undefined;
        const p = this.#needProvider('the subject index key');
        const dk = await callProvider(p, 'generating the subject index key', (signal) =>
          p.provider.generateDataKey(context, signal),
        );
        ensureDirDurable(this.root);
        const body: WrappedFile = { v: 1, masterKeyId: dk.masterKeyId, wrapped: dk.wrapped.toString('base64') };
        // Create-only: a racing thread or process may have stored its own first; then use that one.
        if (writeFileDurable(file, Buffer.from(`${JSON.stringify(body)}\n`), true)) return dk.plaintext;
        raw = readFileIfExists(file);
        if (raw === undefined) throw new IronlogError(ErrorCodes.IO, `${file} vanished while it was being created`);
      }
      return this.#unwrapFile(parseWrapped(raw, file), context, 'the subject index key');
    };
    const loading = load().then((k) => {
      this.#indexKey = k;
      return k as Buffer;
    });
    this.#indexKeyLoading = loading;
    try {
      return await loading;
    } finally {
      this.#indexKeyLoading = undefined;
    }
  }

  #indexName(indexKey: Buffer, typed: string): string {
    return createHmac('sha256', indexKey).update(typed, 'utf8').digest('hex');
  }

  /**
   * The cached key of a subject, if it may be used right now (no I/O unless the cache entry is
   * older than `cacheMs`, then one `stat`). Undefined: call {@link subjectKey}.
   */
  cachedSubjectKey(typed: string): SubjectKey | undefined {
    const c = this.#bySubject.get(typed);
    if (c === undefined) return undefined;
    const now = Date.now();
    if (now - c.checkedAtMs < this.#cacheMs) return c;
    if (fs.existsSync(this.#file('subjects', `${c.kid}.json`))) {
      c.checkedAtMs = now;
      return c;
    }
    this.#bySubject.delete(typed);
    return undefined;
  }

  /** The subject's key: cached, stored (unwrapped through the provider) or newly made and stored durably. */
  subjectKey(typed: string): Promise<SubjectKey> {
    const cached = this.cachedSubjectKey(typed);
    if (cached) return Promise.resolve(cached);
    let p = this.#creating.get(typed);
    if (p === undefined) {
      p = this.#loadOrCreate(typed).finally(() => this.#creating.delete(typed));
      this.#creating.set(typed, p);
    }
    return p;
  }

  async #loadOrCreate(typed: string): Promise<SubjectKey> {
    const indexKey = (await this.#loadIndexKey(true)) as Buffer;
    const name = this.#indexName(indexKey, typed);
    const indexFile = this.#file('subject-index', name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = readFileIfExists(indexFile);
      if (existing !== undefined) {
        const kid = existing.toString('utf8').trim();
        const key = await this.keyById(kid);
        if (key !== kErased) return this.#remember(typed, kid, key);
        // Erased but the index entry survived a crash mid-erase: finish that erase, then make a new key.
        unlinkDurable(indexFile);
        continue;
      }
      const p = this.#needProvider('a new subject key');
      const kid = randomBytes(16).toString('base64url');
      const dk = await callProvider(p, 'generating a subject key', (signal) =>
        p.provider.generateDataKey(subjectContext(kid), signal),
      );
      ensureDirDurable(this.#file('subjects'));
      ensureDirDurable(this.#file('subject-index'));
      const body: WrappedFile = {
        v: 1,
        kid,
        masterKeyId: dk.masterKeyId,
        wrapped: dk.wrapped.toString('base64'),
        createdAt: new Date().toISOString(),
      };
      // Key file first, then the index entry that points at it: a crash between leaves only an
      // unreferenced wrapped key, never an index entry without its key.
      const keyFile = this.#file('subjects', `${kid}.json`);
      writeFileDurable(keyFile, Buffer.from(`${JSON.stringify(body)}\n`));
      if (writeFileDurable(indexFile, Buffer.from(`${kid}\n`), true)) {
        this.#byKid.set(kid, dk.plaintext);
        return this.#remember(typed, kid, dk.plaintext);
      }
      // Another thread or process keyed this subject first: use theirs, drop ours.
      unlinkDurable(keyFile);
    }
    throw new IronlogError(ErrorCodes.INTERNAL, 'could not settle the key of a subject after 3 attempts');
  }

  #remember(typed: string, kid: string, key: Buffer): SubjectKey {
    if (this.#bySubject.size >= kMaxCached) this.#bySubject.delete(this.#bySubject.keys().next().value as string);
    const entry: CachedSubject = { kid, key, checkedAtMs: Date.now() };
    this.#bySubject.set(typed, entry);
    return entry;
  }

  /** The cached plaintext of a kid or its erasure, without I/O; undefined when not cached. */
  cachedKeyById(kid: string): Buffer | typeof kErased | undefined {
    return this.#byKid.get(kid);
  }

  /**
   * A key by id, for reading: the plaintext, {@link kErased} when it was erased, or
   * `ERR_IRONLOG_KEY_UNAVAILABLE` naming the kid when the store has neither.
   */
  async keyById(kid: string): Promise<Buffer | typeof kErased> {
    const cached = this.#byKid.get(kid);
    if (cached !== undefined) return cached;
    if (!kKidPattern.test(kid)) {
      throw new IronlogError(ErrorCodes.KEY_UNAVAILABLE, `subject key '${kid}' is not a valid key id`);
    }
    let result: Buffer | typeof kErased;
    if (fs.existsSync(this.#file('erased', kid))) {
      result = kErased;
    } else {
      const file = this.#file('subjects', `${kid}.json`);
      const raw = readFileIfExists(file);
      if (raw === undefined) {
        throw new IronlogError(
          ErrorCodes.KEY_UNAVAILABLE,
          `subject key '${kid}' is not in the key store ${this.root} (and was not erased)`,
        );
      }
      result = await this.#unwrapFile(parseWrapped(raw, file), subjectContext(kid), `subject key '${kid}'`);
    }
    if (this.#byKid.size >= kMaxCached) this.#byKid.delete(this.#byKid.keys().next().value as string);
    this.#byKid.set(kid, result);
    return result;
  }

  /**
   * A record data key by id (`keys/data/<kid>.json`), unwrapped, with the node it belongs to;
   * `ERR_IRONLOG_KEY_UNAVAILABLE` naming the kid when it is not in the store.
   */
  async dataKeyById(kid: string): Promise<{ key: Buffer; nodeId: string }> {
    const cached = this.#dataKeys.get(kid);
    if (cached) return cached;
    const file = this.#file('data', `${kid}.json`);
    const raw = kKidPattern.test(kid) ? readFileIfExists(file) : undefined;
    if (raw === undefined) {
      throw new IronlogError(ErrorCodes.KEY_UNAVAILABLE, `data key '${kid}' is not in the key store ${this.root}`);
    }
    const w = parseWrapped(raw, file);
    if (typeof w.nodeId !== 'string') throw new IronlogError(ErrorCodes.KEY_UNAVAILABLE, `${file} names no node`);
    const key = await this.#unwrapFile(w, dataKeyContext(kid, w.nodeId), `data key '${kid}'`);
    const entry = { key, nodeId: w.nodeId };
    if (this.#dataKeys.size >= kMaxCached) this.#dataKeys.delete(this.#dataKeys.keys().next().value as string);
    this.#dataKeys.set(kid, entry);
    return entry;
  }

  /**
   * The kid of a subject's stored key, without creating one or unwrapping it: undefined when the
   * store never keyed this subject (or its key was erased). Needs the provider for the index key.
   */
  async subjectKid(typed: string): Promise<string | undefined> {
    const indexKey = await this.#loadIndexKey(false);
    if (indexKey === undefined) return undefined;
    const existing = readFileIfExists(this.#file('subject-index', this.#indexName(indexKey, typed)));
    return existing === undefined ? undefined : existing.toString('utf8').trim();
  }

  /**
   * A keyed pseudonym of a subject for records about the subject kept outside the key store (the
   * custody entry of an erasure): hex HMAC-SHA-256 under the index key, domain-separated from the
   * index entry names, so it names no file here and, without the index key, no subject. Whoever
   * holds the index key and a subject id can recompute it (to show that the request was handled);
   * it holds no key id, so it links to no record. Undefined when the store has no index key yet.
   */
  async subjectPseudonym(typed: string): Promise<string | undefined> {
    const indexKey = await this.#loadIndexKey(false);
    if (indexKey === undefined) return undefined;
    return createHmac('sha256', indexKey).update(`${kPseudonymDomain}${typed}`, 'utf8').digest('hex');
  }

  /**
   * Crypto-shredding: destroys the subject's key durably. Order (each step durable, the whole
   * idempotent, so a crash midway is finished by running it again): tombstone `erased/<kid>`,
   * remove `subjects/<kid>.json`, remove the index entry. Every in-process store of this
   * directory forgets the key at once; stores in other threads or processes within `cacheMs`.
   */
  async erase(typed: string): Promise<EraseResult> {
    const indexKey = await this.#loadIndexKey(false);
    if (indexKey === undefined) return { erased: false };
    const indexFile = this.#file('subject-index', this.#indexName(indexKey, typed));
    const existing = readFileIfExists(indexFile);
    if (existing === undefined) return { erased: false };
    const kid = existing.toString('utf8').trim();
    ensureDirDurable(this.#file('erased'));
    writeFileDurable(
      this.#file('erased', kid),
      Buffer.from(`${JSON.stringify({ erasedAt: new Date().toISOString() })}\n`),
    );
    unlinkDurable(this.#file('subjects', `${kid}.json`));
    unlinkDurable(indexFile);
    for (const store of kStores.get(this.root) ?? []) store.#forget(typed, kid);
    return { erased: true, kid };
  }

  #forget(typed: string, kid: string): void {
    this.#bySubject.delete(typed);
    this.#byKid.set(kid, kErased);
  }
}

/** The provider context of a record data key. */
export function dataKeyContext(kid: string, nodeId: string): KeyContext {
  return { purpose: 'ironlog-data-key', kid, nodeId };
}

function subjectContext(kid: string): KeyContext {
  return { purpose: 'ironlog-subject-key', kid };
}

function parseWrapped(raw: Buffer, file: string): WrappedFile {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    v = undefined;
  }
  const w = v as Partial<WrappedFile> | undefined;
  if (
    typeof w !== 'object' ||
    w === null ||
    w.v !== 1 ||
    typeof w.masterKeyId !== 'string' ||
    typeof w.wrapped !== 'string'
  ) {
    throw new IronlogError(ErrorCodes.KEY_UNAVAILABLE, `${file} is not a valid wrapped key file`);
  }
  return w as WrappedFile;
}
