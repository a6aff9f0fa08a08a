/**
 * Key providers: where the master keys (key-encryption keys) live. A provider makes new 256-bit
 * data keys and returns them with their wrapped (encrypted) form, and unwraps a wrapped key
 * later. Only wrapped keys are ever stored (in the key store beside the WAL, `keystore.ts`); the
 * master key never leaves the provider (AWS KMS) or this process's memory (static, env, file).
 *
 * Built in: {@link staticKeyProvider}, {@link envKeyProvider}, {@link fileKeyProvider} (all three
 * wrap with AES-256-GCM locally) and {@link awsKmsKeyProvider} (`GenerateDataKey` / `Decrypt` of
 * `@aws-sdk/client-kms`, loaded on first use). Any object implementing {@link KeyProvider} works
 * too (Azure Key Vault, Google Cloud KMS: see docs/compliance/data-protection.md).
 *
 * Every call goes through {@link callProvider}: a timeout (typed
 * `ERR_IRONLOG_KEY_PROVIDER_TIMEOUT`, the provider's request aborted), and any failure turned into
 * `ERR_IRONLOG_KEY_PROVIDER` with the original error as `cause`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { beforeLoading, missingDependency, type OptionalPeer } from '../core/optional-dependency.js';

/** Bytes of every data key and master key (AES-256). */
export const kKeyBytes = 32;
/** Default timeout of one provider call. */
export const kDefaultProviderTimeoutMs = 10_000;

/** Context bound to a wrapped key (AAD locally, EncryptionContext in KMS): what the key is for. */
export type KeyContext = Readonly<Record<string, string>>;

/** A new data key: its plaintext (keep in memory only) and its wrapped form (store this). */
export interface GeneratedDataKey {
  readonly plaintext: Buffer;
  readonly wrapped: Buffer;
  /** Which master key wrapped it (stored beside the wrapped key; handed back to `unwrapDataKey`). */
  readonly masterKeyId: string;
}

/**
 * A source of master keys. Implementations must honour `signal` (abort the request) where they
 * can; ironlog also stops waiting after the timeout either way.
 */
export interface KeyProvider {
  /** For messages: `static`, `file /etc/ironlog/keys.json`, `aws-kms arn:...`. */
  readonly description: string;
  /** Milliseconds one call may take before ironlog gives up on it (typed timeout). Default 10,000. */
  readonly timeoutMs?: number;
  /** A new random 32-byte data key, wrapped under the provider's current master key with `context`. */
  generateDataKey(context: KeyContext, signal: AbortSignal): Promise<GeneratedDataKey>;
  /** The plaintext of a key `generateDataKey` wrapped (same `context`, same `masterKeyId`). */
  unwrapDataKey(wrapped: Buffer, masterKeyId: string, context: KeyContext, signal: AbortSignal): Promise<Buffer>;
}

/** Master keys by id, with the id new data keys are wrapped under. */
export interface StaticKeysOptions {
  /** Master keys: id (1-64 of `[A-Za-z0-9_.:/-]`) to 32 bytes, as bytes or base64 text. Keep old ids to read old data. */
  readonly keys: Readonly<Record<string, Uint8Array | string>>;
  /** The id new data keys are wrapped under. Default: the only key, when there is exactly one. */
  readonly current?: string;
}

/** A provider described as data (it can travel to a worker-thread producer in a descriptor). */
export type KeyProviderSpec =
  | ({ readonly type: 'static' } & StaticKeysOptions & { readonly timeoutMs?: number })
  | { readonly type: 'env'; readonly variable?: string; readonly timeoutMs?: number }
  | { readonly type: 'file'; readonly path: string; readonly timeoutMs?: number }
  | ({ readonly type: 'aws-kms' } & AwsKmsOptions);

/** Options of {@link awsKmsKeyProvider}. */
export interface AwsKmsOptions {
  /** The KMS key (id, ARN or alias) new data keys are generated under. */
  readonly keyId: string;
  /** AWS region. Default: the SDK's (AWS_REGION, profile). */
  readonly region?: string;
  /** Endpoint URL (VPC endpoint, a test server). Default: the SDK's. */
  readonly endpoint?: string;
  /** Static credentials; default the SDK's chain (env, profile, instance role). */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Milliseconds one KMS call may take (the request is aborted after). Default 10,000. */
  readonly timeoutMs?: number;
}

const kIdPattern = /^[A-Za-z0-9_.:/-]{1,64}$/;
const kWrapVersion = 1;
const kNonceBytes = 12;
const kTagBytes = 16;
/** Environment variable of {@link envKeyProvider} by default. */
export const kDefaultKeysVariable = 'IRONLOG_KEYS';

function invalid(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

function keyBytes(value: unknown, where: string): Buffer {
  let b: Buffer;
  if (typeof value === 'string') b = Buffer.from(value, 'base64');
  else if (value instanceof Uint8Array) b = Buffer.from(value);
  else throw invalid(`${where} must be 32 bytes, as bytes or base64 text`);
  if (b.length !== kKeyBytes) {
    throw invalid(
      `${where} must be exactly ${kKeyBytes} bytes (got ${b.length}); make one with: openssl rand -base64 32`,
    );
  }
  return b;
}

/** AAD of a locally wrapped key: the master key id and the context, canonical (sorted keys). */
function wrapAad(masterKeyId: string, context: KeyContext): Buffer {
  const entries = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(['ironlog/wrap/v1', masterKeyId, entries]), 'utf8');
}

/**
 * The local wrapping of {@link staticKeyProvider}: `u8 version | 12-byte nonce | ciphertext(32) |
 * tag(16)`, AES-256-GCM under the master key with the context as AAD. Also available without a
 * Promise, for the writer worker's synchronous loop (`LocalKeyProvider.generateDataKeySync`).
 */
export class LocalKeyProvider implements KeyProvider {
  readonly description: string;
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #current: string;

  constructor(options: StaticKeysOptions, description: string, where: string) {
    if (typeof options !== 'object' || options === null || typeof options.keys !== 'object' || options.keys === null) {
      throw invalid(`${where}.keys must be an object { <keyId>: <32 bytes base64> }`);
    }
    const keys = new Map<string, Buffer>();
    for (const [id, value] of Object.entries(options.keys)) {
      if (!kIdPattern.test(id))
        throw invalid(`${where}.keys: key id '${id}' must be 1-64 characters of [A-Za-z0-9_.:/-]`);
      keys.set(id, keyBytes(value, `${where}.keys['${id}']`));
    }
    if (keys.size === 0) throw invalid(`${where}.keys must hold at least one master key`);
    const current = options.current ?? (keys.size === 1 ? ([...keys.keys()][0] as string) : undefined);
    if (current === undefined) throw invalid(`${where}.current must name the master key new data keys use`);
    if (!keys.has(current)) throw invalid(`${where}.current '${current}' is not one of ${where}.keys`);
    this.#keys = keys;
    this.#current = current;
    this.description = description;
  }

  /** The master key id new data keys are wrapped under. */
  get currentKeyId(): string {
    return this.#current;
  }

  /** A new data key and its wrapped form, synchronously (local master keys need no I/O). */
  generateDataKeySync(context: KeyContext): GeneratedDataKey {
    const plaintext = randomBytes(kKeyBytes);
    const master = this.#keys.get(this.#current) as Buffer;
    const nonce = randomBytes(kNonceBytes);
    const c = createCipheriv('aes-256-gcm', master, nonce);
    c.setAAD(wrapAad(this.#current, context));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    const wrapped = Buffer.concat([Buffer.from([kWrapVersion]), nonce, ct, c.getAuthTag()]);
    return { plaintext, wrapped, masterKeyId: this.#current };
  }

  /** The plaintext of a wrapped data key, synchronously; typed KEY_UNAVAILABLE / DECRYPT errors. */
  unwrapDataKeySync(wrapped: Buffer, masterKeyId: string, context: KeyContext): Buffer {
    const master = this.#keys.get(masterKeyId);
    if (master === undefined) {
      throw new IronlogError(
        ErrorCodes.KEY_UNAVAILABLE,
        `master key '${masterKeyId}' is not held by the ${this.description} key provider`,
      );
    }
    if (wrapped.length !== 1 + kNonceBytes + kKeyBytes + kTagBytes || wrapped[0] !== kWrapVersion) {
      throw new IronlogError(
        ErrorCodes.KEY_UNAVAILABLE,
        `a wrapped key under master key '${masterKeyId}' has an invalid layout`,
      );
    }
    const d = createDecipheriv('aes-256-gcm', master, wrapped.subarray(1, 1 + kNonceBytes));
    d.setAAD(wrapAad(masterKeyId, context));
    d.setAuthTag(wrapped.subarray(wrapped.length - kTagBytes));
    try {
      return Buffer.concat([d.update(wrapped.subarray(1 + kNonceBytes, wrapped.length - kTagBytes)), d.final()]);
    } catch (err) {
      // Not ERR_IRONLOG_DECRYPT: the log is fine, it is the key that cannot be had.
      throw new IronlogError(
        ErrorCodes.KEY_UNAVAILABLE,
        `master key '${masterKeyId}' does not open this wrapped key (a different master key under that id, or the key store was altered)`,
        { cause: err },
      );
    }
  }

  async generateDataKey(context: KeyContext, _signal?: AbortSignal): Promise<GeneratedDataKey> {
    return this.generateDataKeySync(context);
  }

  async unwrapDataKey(
    wrapped: Buffer,
    masterKeyId: string,
    context: KeyContext,
    _signal?: AbortSignal,
  ): Promise<Buffer> {
    return this.unwrapDataKeySync(wrapped, masterKeyId, context);
  }
}

/** Master keys given in code (from a secrets manager the application already reads). */
export function staticKeyProvider(options: StaticKeysOptions): LocalKeyProvider {
  return new LocalKeyProvider(options, 'static', 'keyProvider');
}

/**
 * Parses the text form of master keys used by the env and file providers: JSON
 * `{"current":"k2","keys":{"k1":"<base64>","k2":"<base64>"}}`, or the short form
 * `k2:<base64>,k1:<base64>` (the first one is current).
 */
export function parseKeysText(text: string, where: string): StaticKeysOptions {
  const t = text.trim();
  if (t.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch (err) {
      throw invalid(`${where} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null)
      throw invalid(`${where} must be a JSON object { current, keys }`);
    const p = parsed as { current?: unknown; keys?: unknown };
    if (p.current !== undefined && typeof p.current !== 'string') throw invalid(`${where}: current must be a string`);
    return { keys: p.keys as Record<string, string>, ...(p.current !== undefined ? { current: p.current } : {}) };
  }
  const keys: Record<string, string> = {};
  let current: string | undefined;
  for (const part of t.split(',')) {
    const at = part.indexOf(':');
    if (at <= 0) throw invalid(`${where} must be JSON or 'id:<base64>,id2:<base64>'`);
    const id = part.slice(0, at).trim();
    keys[id] = part.slice(at + 1).trim();
    current ??= id;
  }
  return current === undefined ? { keys } : { keys, current };
}

/** Master keys from an environment variable (default `IRONLOG_KEYS`), read once, now. */
export function envKeyProvider(variable: string = kDefaultKeysVariable): LocalKeyProvider {
  const text = process.env[variable];
  if (text === undefined || text.trim() === '') {
    throw invalid(`keyProvider: the environment variable ${variable} is not set (expected master keys)`);
  }
  return new LocalKeyProvider(parseKeysText(text, `$${variable}`), `env ${variable}`, `$${variable}`);
}

/** Master keys from a file (JSON or the short form; see {@link parseKeysText}), read once, now. */
export function fileKeyProvider(filePath: string): LocalKeyProvider {
  let text: string;
  try {
    text = fs.readFileSync(filePath, 'utf8');
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read the key file ${filePath}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new LocalKeyProvider(parseKeysText(text, filePath), `file ${filePath}`, filePath);
}

/** The output fields of GenerateDataKey / Decrypt this module reads. */
interface KmsOutput {
  readonly Plaintext?: unknown;
  readonly CiphertextBlob?: unknown;
  readonly KeyId?: unknown;
}

/** Minimal shape of the KMS client this module uses (so the SDK stays an optional dependency). */
interface KmsModule {
  KMSClient: new (
    config: Record<string, unknown>,
  ) => {
    send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<KmsOutput>;
    destroy(): void;
  };
  GenerateDataKeyCommand: new (input: Record<string, unknown>) => unknown;
  DecryptCommand: new (input: Record<string, unknown>) => unknown;
}

const kKmsPackage = '@aws-sdk/client-kms';

/**
 * Imports an optional peer on first use; `ERR_IRONLOG_MISSING_DEPENDENCY` naming it (and the
 * feature that needs it) when it is not installed.
 */
export async function loadOptionalModule<T>(name: OptionalPeer, feature: string): Promise<T> {
  beforeLoading(name);
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw missingDependency(name, feature, err);
  }
}

function loadKms(): Promise<KmsModule> {
  return loadOptionalModule<KmsModule>(kKmsPackage, 'the AWS KMS key provider');
}

/**
 * Master keys in AWS KMS: `GenerateDataKey` (KeySpec AES_256) makes each data key, `Decrypt`
 * unwraps it; `context` goes in as the KMS EncryptionContext (so CloudTrail shows what each
 * request was for, and a wrapped key cannot be unwrapped for another purpose). The SDK is loaded
 * on the first call; without it that call fails with `ERR_IRONLOG_MISSING_DEPENDENCY`.
 */
export function awsKmsKeyProvider(options: AwsKmsOptions): KeyProvider {
  if (typeof options !== 'object' || options === null || typeof options.keyId !== 'string' || options.keyId === '') {
    throw invalid('keyProvider.keyId must be a KMS key id, ARN or alias');
  }
  for (const k of ['region', 'endpoint'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'string') throw invalid(`keyProvider.${k} must be a string`);
  }
  let client: Promise<{ mod: KmsModule; kms: InstanceType<KmsModule['KMSClient']> }> | undefined;
  const connect = (): Promise<{ mod: KmsModule; kms: InstanceType<KmsModule['KMSClient']> }> => {
    client ??= loadKms().then((mod) => ({
      mod,
      kms: new mod.KMSClient({
        ...(options.region !== undefined ? { region: options.region } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
        maxAttempts: 2,
      }),
    }));
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
  return {
    description: `aws-kms ${options.keyId}`,
    async generateDataKey(context, signal) {
      const { mod, kms } = await connect();
      const out = await kms.send(
        new mod.GenerateDataKeyCommand({ KeyId: options.keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
        { abortSignal: signal },
      );
      const plaintext = out.Plaintext;
      const blob = out.CiphertextBlob;
      if (!(plaintext instanceof Uint8Array) || plaintext.length !== kKeyBytes || !(blob instanceof Uint8Array)) {
        throw new Error('GenerateDataKey returned no 32-byte Plaintext or no CiphertextBlob');
      }
      return {
        plaintext: Buffer.from(plaintext),
        wrapped: Buffer.from(blob),
        masterKeyId: typeof out.KeyId === 'string' ? out.KeyId : options.keyId,
      };
    },
    async unwrapDataKey(wrapped, masterKeyId, context, signal) {
      const { mod, kms } = await connect();
      const out = await kms.send(
        new mod.DecryptCommand({ CiphertextBlob: wrapped, KeyId: masterKeyId, EncryptionContext: { ...context } }),
        { abortSignal: signal },
      );
      if (!(out.Plaintext instanceof Uint8Array) || out.Plaintext.length !== kKeyBytes) {
        throw new Error('Decrypt returned no 32-byte Plaintext');
      }
      return Buffer.from(out.Plaintext);
    },
  };
}

/** A provider and the timeout its calls get. */
export interface ResolvedKeyProvider {
  readonly provider: KeyProvider;
  readonly timeoutMs: number;
}

/** Validates a provider option (a spec or a {@link KeyProvider} object) and builds the provider. */
export function resolveKeyProvider(
  option: KeyProviderSpec | KeyProvider,
  where = 'options.keyProvider',
): ResolvedKeyProvider {
  if (typeof option !== 'object' || option === null) {
    throw invalid(`${where} must be { type: 'static' | 'env' | 'file' | 'aws-kms', ... } or a KeyProvider object`);
  }
  const timeoutMs = option.timeoutMs ?? kDefaultProviderTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw invalid(`${where}.timeoutMs must be an integer from 1 to 600000, got ${String(timeoutMs)}`);
  }
  if (isKeyProvider(option)) return { provider: option, timeoutMs };
  const spec = option as KeyProviderSpec;
  switch (spec.type) {
    case 'static':
      return { provider: new LocalKeyProvider(spec, 'static', where), timeoutMs };
    case 'env':
      if (spec.variable !== undefined && (typeof spec.variable !== 'string' || spec.variable === '')) {
        throw invalid(`${where}.variable must be an environment variable name`);
      }
      return { provider: envKeyProvider(spec.variable), timeoutMs };
    case 'file':
      if (typeof spec.path !== 'string' || spec.path === '') throw invalid(`${where}.path must be a file path`);
      return { provider: fileKeyProvider(spec.path), timeoutMs };
    case 'aws-kms':
      return { provider: awsKmsKeyProvider(spec), timeoutMs };
    default:
      throw invalid(`${where}.type must be one of 'static', 'env', 'file', 'aws-kms'`);
  }
}

/** True for an object with the two {@link KeyProvider} methods. */
export function isKeyProvider(value: unknown): value is KeyProvider {
  const v = value as Partial<KeyProvider> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.generateDataKey === 'function' &&
    typeof v.unwrapDataKey === 'function'
  );
}

/**
 * Runs one provider call with a deadline: after `timeoutMs` the call's signal is aborted and
 * the returned promise rejects with `ERR_IRONLOG_KEY_PROVIDER_TIMEOUT` (a late answer is ignored).
 * Any other failure becomes `ERR_IRONLOG_KEY_PROVIDER` (IronlogErrors keep their own code).
 */
export async function callProvider<T>(
  p: ResolvedKeyProvider,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(
        new IronlogError(
          ErrorCodes.KEY_PROVIDER_TIMEOUT,
          `the ${p.provider.description} key provider did not answer ${what} within ${p.timeoutMs} ms; nothing was written`,
        ),
      );
    }, p.timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => fn(ac.signal)), timeout]);
  } catch (err) {
    if (isIronlogError(err)) throw err;
    throw new IronlogError(
      ErrorCodes.KEY_PROVIDER,
      `the ${p.provider.description} key provider failed ${what}: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
