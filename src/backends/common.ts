/** Helpers every backend shares: hashing, key joining, typed errors, config validation. */
import { createHash } from 'node:crypto';
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import { assertOptionalDependency, type OptionalPeer } from '../core/optional-dependency.js';
import type { Backend, BackendConfig, ObjectInfo, PutResult } from './types.js';

/** SHA-256 of `buf`, hex. */
export function sha256Hex(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** MD5 of `buf`, hex (what object stores report as their content checksum). */
export function md5Hex(buf: Uint8Array): string {
  return createHash('md5').update(buf).digest('hex');
}

/** MD5 of `buf`, base64 (the `Content-MD5` header form). */
export function md5Base64(buf: Uint8Array): string {
  return createHash('md5').update(buf).digest('base64');
}

/** Joins a prefix and a relative key with exactly one `/`. */
export function joinKey(prefix: string | undefined, key: string): string {
  const p = (prefix ?? '').replace(/\/+$/, '');
  return p.length === 0 ? key : `${p}/${key}`;
}

/** The default name of a backend: `'<type>:<bucket|container|dir>'`. */
export function defaultBackendName(config: BackendConfig): string {
  switch (config.type) {
    case 's3':
    case 'gcs':
      return `${config.type}:${config.bucket}`;
    case 'azure':
      return `azure:${config.container}`;
    case 'fs':
      return `fs:${config.dir}`;
  }
}

/** The name a backend goes by (configured or default). */
export function backendName(config: BackendConfig): string {
  return config.name ?? defaultBackendName(config);
}

/** A failed backend request, with the SDK error as `cause`. */
export function backendError(name: string, op: string, key: string, err: unknown): IronlogError {
  if (err instanceof IronlogError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new IronlogError(ErrorCodes.BACKEND, `backend ${name}: ${op} ${key} failed: ${detail}`, { cause: err });
}

/** The error for an upload the backend accepted whose stored bytes do not match the local ones. */
export function verifyError(name: string, key: string, detail: string): IronlogError {
  return new IronlogError(
    ErrorCodes.REPLICATION_VERIFY,
    `backend ${name}: the stored ${key} does not match the local segment: ${detail}`,
  );
}

/**
 * Checks what `head` reports after an upload against the local bytes: size, SHA-256 metadata,
 * and the service's MD5 when it gave one (`acceptMd5` lists the values it may rightly have).
 */
export function checkStored(
  name: string,
  key: string,
  info: ObjectInfo | undefined,
  bytes: number,
  sha256: string,
  acceptMd5: readonly string[],
): void {
  if (info === undefined) throw verifyError(name, key, 'the object is missing right after its upload');
  if (info.bytes !== bytes) throw verifyError(name, key, `stored ${info.bytes} bytes, sent ${bytes}`);
  if (info.sha256 !== sha256) throw verifyError(name, key, `sha256 metadata ${info.sha256 ?? '(none)'}`);
  if (info.md5 !== undefined && acceptMd5.length > 0 && !acceptMd5.includes(info.md5)) {
    throw verifyError(name, key, `service MD5 ${info.md5}, expected ${acceptMd5.join(' or ')}`);
  }
}

/**
 * The check after every upload: HEAD the object and compare size, SHA-256 metadata and service MD5
 * ({@link checkStored}); with `readBack`, download it and compare the bytes' SHA-256 as well.
 */
export async function verifyStored(
  backend: Pick<Backend, 'name' | 'head' | 'get'>,
  key: string,
  bytes: number,
  sha256: string,
  acceptMd5: readonly string[],
  readBack: boolean,
): Promise<PutResult> {
  checkStored(backend.name, key, await backend.head(key), bytes, sha256, acceptMd5);
  if (!readBack) return { verifiedBy: 'service-checksum' };
  if (sha256Hex(await backend.get(key)) !== sha256) throw verifyError(backend.name, key, 'read-back SHA-256 differs');
  return { verifiedBy: 'read-back' };
}

const kTypes = new Set(['s3', 'azure', 'gcs', 'fs']);

/** Every field a backend config may have, as unknown: what validation looks at. */
interface UncheckedBackendConfig {
  type?: unknown;
  name?: unknown;
  prefix?: unknown;
  verify?: unknown;
  requestTimeoutMs?: unknown;
  bucket?: unknown;
  region?: unknown;
  endpoint?: unknown;
  forcePathStyle?: unknown;
  legalHold?: unknown;
  multipartThresholdBytes?: unknown;
  multipartPartBytes?: unknown;
  objectLock?: unknown;
  credentials?: unknown;
  connectionString?: unknown;
  container?: unknown;
  immutability?: unknown;
  projectId?: unknown;
  apiEndpoint?: unknown;
  keyFilename?: unknown;
  eventBasedHold?: unknown;
  temporaryHold?: unknown;
  retention?: unknown;
  dir?: unknown;
}

function str(where: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (typeof v !== 'string' || v.length === 0) throw invalidOption(`${where} must be a non-empty string`);
}

function posInt(where: string, v: unknown, min: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw invalidOption(`${where} must be an integer of at least ${min}, got ${String(v)}`);
  }
}

function bool(where: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') throw invalidOption(`${where} must be a boolean`);
}

function retention(where: string, v: unknown, modes: readonly string[]): void {
  if (v === undefined) return;
  const r = v as { mode?: unknown; retainDays?: unknown };
  if (typeof v !== 'object' || v === null || typeof r.mode !== 'string' || !modes.includes(r.mode)) {
    throw invalidOption(`${where}.mode must be one of ${modes.map((m) => `'${m}'`).join(', ')}`);
  }
  posInt(`${where}.retainDays`, r.retainDays, 1);
  if (r.retainDays === undefined) throw invalidOption(`${where}.retainDays must be an integer of at least 1`);
}

/**
 * Validates one `replication.backends[i]` entry (throws `ERR_IRONLOG_INVALID_OPTION`) and returns
 * it typed. `where` is the option path for messages.
 */
export function validateBackendConfig(where: string, input: unknown): BackendConfig {
  if (typeof input !== 'object' || input === null) throw invalidOption(`${where} must be an object`);
  const c = input as UncheckedBackendConfig;
  const type = c.type;
  if (typeof type !== 'string' || !kTypes.has(type)) {
    throw invalidOption(`${where}.type must be one of 's3', 'azure', 'gcs', 'fs', got ${String(type)}`);
  }
  str(`${where}.name`, c.name, false);
  if (c.prefix !== undefined && typeof c.prefix !== 'string') throw invalidOption(`${where}.prefix must be a string`);
  posInt(`${where}.requestTimeoutMs`, c.requestTimeoutMs, 1);
  if (c.verify !== undefined && c.verify !== 'checksum' && c.verify !== 'read-back') {
    throw invalidOption(`${where}.verify must be one of 'checksum', 'read-back'`);
  }
  switch (type) {
    case 's3':
      str(`${where}.bucket`, c.bucket, true);
      str(`${where}.region`, c.region, false);
      str(`${where}.endpoint`, c.endpoint, false);
      bool(`${where}.forcePathStyle`, c.forcePathStyle);
      bool(`${where}.legalHold`, c.legalHold);
      posInt(`${where}.multipartThresholdBytes`, c.multipartThresholdBytes, 64 * 1024);
      posInt(`${where}.multipartPartBytes`, c.multipartPartBytes, 64 * 1024);
      retention(`${where}.objectLock`, c.objectLock, ['GOVERNANCE', 'COMPLIANCE']);
      if (c.credentials !== undefined) {
        const cr = c.credentials as { accessKeyId?: unknown; secretAccessKey?: unknown } | null;
        if (typeof cr !== 'object' || cr === null) throw invalidOption(`${where}.credentials must be an object`);
        str(`${where}.credentials.accessKeyId`, cr.accessKeyId, true);
        str(`${where}.credentials.secretAccessKey`, cr.secretAccessKey, true);
      }
      break;
    case 'azure':
      str(`${where}.connectionString`, c.connectionString, true);
      str(`${where}.container`, c.container, true);
      bool(`${where}.legalHold`, c.legalHold);
      retention(`${where}.immutability`, c.immutability, ['Unlocked', 'Locked']);
      break;
    case 'gcs':
      str(`${where}.bucket`, c.bucket, true);
      str(`${where}.projectId`, c.projectId, false);
      str(`${where}.apiEndpoint`, c.apiEndpoint, false);
      str(`${where}.keyFilename`, c.keyFilename, false);
      bool(`${where}.eventBasedHold`, c.eventBasedHold);
      bool(`${where}.temporaryHold`, c.temporaryHold);
      retention(`${where}.retention`, c.retention, ['Unlocked', 'Locked']);
      break;
    case 'fs':
      str(`${where}.dir`, c.dir, true);
      break;
  }
  // After the shape checks: a config error is reported before a missing SDK.
  assertBackendDependency(type as BackendConfig['type']);
  return input as BackendConfig;
}

/**
 * Throws `ERR_IRONLOG_MISSING_DEPENDENCY` when the SDK a backend type runs on is not installed
 * (the SDKs are optional peer dependencies: a local-only install does not have them).
 */
export function assertBackendDependency(type: BackendConfig['type']): void {
  const pkg = kBackendSdk[type];
  if (pkg !== undefined) assertOptionalDependency(pkg, `the ${type} backend`);
}

const kBackendSdk: Readonly<Record<BackendConfig['type'], OptionalPeer | undefined>> = {
  s3: '@aws-sdk/client-s3',
  azure: '@azure/storage-blob',
  gcs: '@google-cloud/storage',
  fs: undefined,
};

/** Date `days` days from now. */
export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}
