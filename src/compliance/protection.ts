/**
 * Data protection on the producer side (issue 11): masking and pseudonymization (`mask.ts`),
 * then sealing of a subject's personal fields under the subject's key (`subject-seal.ts`), all
 * before the event is encoded into the ring, so none of that plaintext reaches the WAL.
 *
 * {@link resolveProtectionOptions} validates the sink options once (typed
 * `ERR_IRONLOG_INVALID_OPTION`); the result is plain data that travels in the producer
 * descriptor to worker-thread producers, where {@link EventProtector} is built again from it.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { compileFieldPath, type FieldPath } from './field-path.js';
import {
  isKeyProvider,
  type KeyProvider,
  type KeyProviderSpec,
  type ResolvedKeyProvider,
  resolveKeyProvider,
} from './keys.js';
import { SubjectKeyStore, typedSubject } from './keystore.js';
import { compileMasking, type Masker, type MaskingOptions } from './mask.js';
import { Pseudonymizer, type PseudonymKey } from './pseudonymize.js';
import { SubjectSealer } from './subject-seal.js';

/** Options of crypto-shredding (`openSink({ subjectEncryption })`). */
export interface SubjectEncryptionOptions {
  /** Where the subject's id is: a path of plain keys, e.g. `'patient.id'`. Every event must have a string or number there. */
  readonly subjectPath: string;
  /**
   * The subject's personal fields (field paths as in masking: `'patient.name'`, `'notes[*].text'`,
   * `'**.email'`), sealed under the subject's key. The subject path itself is always sealed too.
   */
  readonly fields: readonly string[];
  /**
   * How long a producer uses a cached subject key before it checks (one `stat`) that the key was
   * not erased by another thread or process. Events of that subject emitted in this window after
   * an erasure are sealed under the erased key, so they read as erased as well. Default 1,000 ms.
   */
  readonly keyCacheMs?: number;
}

/** The protection options of a sink, validated; plain data (but a custom `keyProvider` object). */
export interface ProtectionConfig {
  readonly masking: MaskingOptions | undefined;
  readonly pseudonymization: PseudonymKey | undefined;
  readonly subjectEncryption: Required<SubjectEncryptionOptions> | undefined;
  /** A provider spec (data), a custom provider object (main thread only), or undefined. */
  readonly keyProvider: KeyProviderSpec | KeyProvider | undefined;
  /** Record payload encryption in the writer; undefined when off. */
  readonly encryption: { readonly recordsPerDataKey: number } | undefined;
}

/** Options of record payload encryption (`openSink({ encryption })`). */
export interface EncryptionOptions {
  /**
   * Rotate to a new data key after this many records (besides every writer start and every new
   * segment). Default 1,000,000. Range 1 - 2^32.
   */
  readonly recordsPerDataKey?: number;
}

/** The options {@link resolveProtectionOptions} reads (a subset of the sink options). */
export interface ProtectionOptions {
  masking?: MaskingOptions;
  pseudonymization?: PseudonymKey;
  subjectEncryption?: SubjectEncryptionOptions;
  keyProvider?: KeyProviderSpec | KeyProvider;
  encryption?: boolean | EncryptionOptions;
}

function invalid(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

function compileSubjectPath(source: unknown): FieldPath {
  const p = compileFieldPath(source, 'options.subjectEncryption.subjectPath');
  if (p.segments.some((s) => s.kind !== 'key')) {
    throw invalid(
      `options.subjectEncryption.subjectPath must be a path of plain keys like 'patient.id' (no *, ** or [*]), got '${p.source}'`,
    );
  }
  return p;
}

/** Validates the protection options; undefined when none is set. Throws `ERR_IRONLOG_INVALID_OPTION`. */
export function resolveProtectionOptions(input: ProtectionOptions): ProtectionConfig | undefined {
  const { masking, pseudonymization, subjectEncryption, keyProvider } = input;
  const enc = input.encryption;
  if (
    masking === undefined &&
    pseudonymization === undefined &&
    subjectEncryption === undefined &&
    keyProvider === undefined &&
    (enc === undefined || enc === false)
  ) {
    return undefined;
  }
  let encryption: { recordsPerDataKey: number } | undefined;
  if (enc !== undefined && enc !== false) {
    if (enc !== true && (typeof enc !== 'object' || enc === null)) {
      throw invalid('options.encryption must be true, false or { recordsPerDataKey }');
    }
    const n = enc === true ? undefined : enc.recordsPerDataKey;
    const recordsPerDataKey = n ?? 1_000_000;
    if (!Number.isInteger(recordsPerDataKey) || recordsPerDataKey < 1 || recordsPerDataKey > 2 ** 32) {
      throw invalid(`options.encryption.recordsPerDataKey must be an integer from 1 to 2^32, got ${String(n)}`);
    }
    if (keyProvider === undefined)
      throw invalid("options.encryption needs options.keyProvider (e.g. { type: 'file', path })");
    encryption = { recordsPerDataKey };
  }
  if (pseudonymization !== undefined) new Pseudonymizer(pseudonymization);
  compileMasking(masking, pseudonymization);
  let subjects: Required<SubjectEncryptionOptions> | undefined;
  if (subjectEncryption !== undefined) {
    if (typeof subjectEncryption !== 'object' || subjectEncryption === null) {
      throw invalid('options.subjectEncryption must be an object { subjectPath, fields }');
    }
    compileSubjectPath(subjectEncryption.subjectPath);
    if (!Array.isArray(subjectEncryption.fields)) {
      throw invalid("options.subjectEncryption.fields must be an array of field paths, e.g. ['patient.name']");
    }
    for (const [i, f] of subjectEncryption.fields.entries()) {
      compileFieldPath(f, `options.subjectEncryption.fields[${i}]`);
    }
    const keyCacheMs = subjectEncryption.keyCacheMs ?? 1_000;
    if (!Number.isInteger(keyCacheMs) || keyCacheMs < 0 || keyCacheMs > 3_600_000) {
      throw invalid(
        `options.subjectEncryption.keyCacheMs must be an integer from 0 to 3600000, got ${String(keyCacheMs)}`,
      );
    }
    if (keyProvider === undefined) {
      throw invalid("options.subjectEncryption needs options.keyProvider (e.g. { type: 'file', path })");
    }
    subjects = {
      subjectPath: subjectEncryption.subjectPath,
      fields: Object.freeze([...subjectEncryption.fields]),
      keyCacheMs,
    };
  }
  // Built once here so a bad spec (missing env variable, unreadable key file) fails at openSink.
  if (keyProvider !== undefined) resolveKeyProvider(keyProvider);
  return Object.freeze({
    masking,
    pseudonymization,
    subjectEncryption: subjects,
    keyProvider,
    encryption,
  });
}

/**
 * The descriptor form of a config: a custom provider object cannot be cloned to another thread,
 * so it becomes `'custom'` and the receiving thread must pass its own (`connectProducer(d, { keyProvider })`).
 */
export type ProtectionDescriptor = Omit<ProtectionConfig, 'keyProvider'> & {
  readonly keyProvider: KeyProviderSpec | 'custom' | undefined;
};

/** The cloneable form of `config` for a producer descriptor. */
export function protectionDescriptor(config: ProtectionConfig): ProtectionDescriptor {
  const kp = config.keyProvider;
  return { ...config, keyProvider: kp !== undefined && isKeyProvider(kp) ? 'custom' : kp };
}

/** Returned by {@link EventProtector.tryProtect} when a subject key must be fetched first. */
export const kNeedsKey: unique symbol = Symbol('ironlog.needsKey');

/** Applies a sink's protection to events, in one thread. */
export class EventProtector {
  readonly #masker: Masker;
  readonly #sealer: SubjectSealer | undefined;
  readonly #store: SubjectKeyStore | undefined;

  /** `keyProvider` overrides the config's (needed in a worker thread when the config's is `'custom'`). */
  constructor(config: ProtectionConfig | ProtectionDescriptor, dir: string, keyProvider?: KeyProvider) {
    this.#masker = compileMasking(config.masking, config.pseudonymization);
    const se = config.subjectEncryption;
    if (se === undefined) return;
    const kp = keyProvider ?? config.keyProvider;
    if (kp === undefined || kp === 'custom') {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        'this sink uses a custom key provider object, which cannot cross threads: pass it to connectProducer(descriptor, { keyProvider })',
      );
    }
    const provider: ResolvedKeyProvider = resolveKeyProvider(kp);
    this.#sealer = new SubjectSealer(
      compileSubjectPath(se.subjectPath),
      se.fields.map((f, i) => compileFieldPath(f, `options.subjectEncryption.fields[${i}]`)),
    );
    this.#store = new SubjectKeyStore(dir, provider, se.keyCacheMs);
  }

  #subject(event: unknown): string {
    const sealer = this.#sealer as SubjectSealer;
    const raw = sealer.subjectOf(event);
    const typed = typedSubject(raw);
    if (typed === undefined) {
      throw new IronlogError(
        ErrorCodes.SUBJECT,
        `the event has no subject id at '${sealer.subjectSource}' (a non-empty string, a finite number or a bigint is needed, got ${raw === null ? 'null' : typeof raw}); nothing was written`,
      );
    }
    return typed;
  }

  /** The protected event, or {@link kNeedsKey} when the subject's key is not in memory (use {@link protect}). */
  tryProtect(event: unknown): unknown {
    if (this.#sealer === undefined) return this.#masker.apply(event);
    const typed = this.#subject(event);
    const key = (this.#store as SubjectKeyStore).cachedSubjectKey(typed);
    if (key === undefined) return kNeedsKey;
    return this.#sealer.seal(this.#masker.apply(event), key.kid, key.key);
  }

  /** The protected event, fetching or creating (durably) the subject's key first when needed. */
  async protect(event: unknown): Promise<unknown> {
    if (this.#sealer === undefined) return this.#masker.apply(event);
    const typed = this.#subject(event);
    const key = await (this.#store as SubjectKeyStore).subjectKey(typed);
    return this.#sealer.seal(this.#masker.apply(event), key.kid, key.key);
  }

  dispose(): void {
    this.#store?.dispose();
  }
}
