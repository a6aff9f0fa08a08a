/**
 * Google Cloud Storage on `@google-cloud/storage` 7.x (8.x needs Node 22).
 *
 * One simple (multipart/related) upload per segment, `resumable: false`, create-only with the
 * precondition `ifGenerationMatch=0`. The SDK's own MD5 validation is off: on a mismatch it deletes
 * the object, and a replica we did not expect must stay as evidence. We compare the `md5Hash`
 * the service computed, the size and our SHA-256 metadata ourselves.
 */
import type * as GcsSdk from '@google-cloud/storage';
import type { Bucket, StorageOptions } from '@google-cloud/storage';
import { requireOptional } from '../core/optional-dependency.js';
import { backendError, backendName, daysFromNow, md5Hex, verifyError, verifyStored } from './common.js';
import {
  type Backend,
  type GcsBackendConfig,
  kDefaultRequestTimeoutMs,
  kMetaKeys,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
} from './types.js';

interface GcsObjectMeta {
  size?: string | number;
  md5Hash?: string;
  metadata?: Record<string, string | number | boolean | null>;
}

function infoOf(key: string, m: GcsObjectMeta): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.metadata ?? {})) if (v !== null) metadata[k] = String(v);
  return {
    key,
    bytes: Number(m.size ?? -1),
    sha256: metadata[kMetaKeys.SHA256],
    md5: m.md5Hash ? Buffer.from(m.md5Hash, 'base64').toString('hex') : undefined,
    metadata,
  };
}

function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** {@link Backend} over a GCS bucket. */
export class GcsBackend implements Backend {
  readonly name: string;
  readonly type = 'gcs' as const;
  /** The SDK bucket handle. */
  readonly bucket: Bucket;
  readonly #config: GcsBackendConfig;

  constructor(config: GcsBackendConfig) {
    this.name = backendName(config);
    this.#config = config;
    const opts: StorageOptions = {
      ...(config.projectId !== undefined ? { projectId: config.projectId } : {}),
      ...(config.apiEndpoint !== undefined ? { apiEndpoint: config.apiEndpoint } : {}),
      ...(config.keyFilename !== undefined ? { keyFilename: config.keyFilename } : {}),
      // Retries are the replicator's job (backoff + breaker); the SDK would hide a partition.
      retryOptions: { autoRetry: false, maxRetries: 0 },
      timeout: config.requestTimeoutMs ?? kDefaultRequestTimeoutMs,
    };
    const sdk = requireOptional<typeof GcsSdk>('@google-cloud/storage', 'the gcs backend');
    this.bucket = new sdk.Storage(opts).bucket(config.bucket);
  }

  async put(key: string, body: Buffer, opts: PutOptions): Promise<PutResult> {
    const c = this.#config;
    const md5 = md5Hex(body);
    const file = this.bucket.file(key);
    try {
      await file.save(body, {
        resumable: false,
        validation: false,
        timeout: this.#config.requestTimeoutMs ?? kDefaultRequestTimeoutMs,
        preconditionOpts: { ifGenerationMatch: 0 },
        metadata: {
          contentType: 'application/octet-stream',
          metadata: { ...opts.metadata, [kMetaKeys.SHA256]: opts.sha256 },
          ...(c.eventBasedHold ? { eventBasedHold: true } : {}),
          ...(c.temporaryHold ? { temporaryHold: true } : {}),
          ...(c.retention
            ? {
                retention: {
                  mode: c.retention.mode,
                  retainUntilTime: daysFromNow(c.retention.retainDays).toISOString(),
                },
              }
            : {}),
        },
      });
    } catch (err) {
      throw backendError(this.name, 'upload', key, err);
    }
    const returned = infoOf(key, file.metadata as GcsObjectMeta);
    if (returned.md5 !== undefined && returned.md5 !== md5) {
      throw verifyError(this.name, key, `md5Hash ${returned.md5}, local ${md5}`);
    }
    return verifyStored(this, key, body.length, opts.sha256, [md5], c.verify === 'read-back');
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [m] = await this.bucket.file(key).getMetadata();
      return infoOf(key, m as GcsObjectMeta);
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw backendError(this.name, 'getMetadata', key, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const [buf] = await this.bucket.file(key).download({ validation: false });
      return buf;
    } catch (err) {
      throw backendError(this.name, 'download', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const [files] = await this.bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((f) => f.name).sort();
    } catch (err) {
      throw backendError(this.name, 'list', prefix, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.bucket.file(key).delete();
    } catch (err) {
      throw backendError(this.name, 'delete', key, err);
    }
  }

  async close(): Promise<void> {}
}
