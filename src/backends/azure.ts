/**
 * Azure Blob Storage on `@azure/storage-blob` (12.32, the last line for Node 20).
 *
 * One Put Blob per segment (`upload`, single shot, up to 5000 MiB) with `If-None-Match: *`
 * (create-only; azurite honours it). We send no Content-MD5: the service then computes the MD5
 * of what it received and stores it as the blob's Content-MD5, which we compare with the local
 * one. (Had we sent `x-ms-blob-content-md5`, a corrupted body would be stored next to our own
 * correct MD5 and the check would prove nothing.)
 *
 * Azure metadata names must be C# identifiers, so `ironlog-sha256` is stored as `ironlog_sha256`.
 */
import type * as AzureSdk from '@azure/storage-blob';
import type { ContainerClient } from '@azure/storage-blob';
import { requireOptional } from '../core/optional-dependency.js';
import { backendError, backendName, daysFromNow, md5Hex, verifyError, verifyStored } from './common.js';
import {
  type AzureBackendConfig,
  type Backend,
  kDefaultRequestTimeoutMs,
  kMetaKeys,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
} from './types.js';

function toAzure(meta: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) out[k.replace(/-/g, '_')] = v;
  return out;
}

function fromAzure(meta: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta ?? {})) out[k.toLowerCase().replace(/_/g, '-')] = v;
  return out;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

/** {@link Backend} over an Azure Blob container. */
export class AzureBackend implements Backend {
  readonly name: string;
  readonly type = 'azure' as const;
  /** The SDK container client (public so tests can inspect the pipeline). */
  readonly container: ContainerClient;
  readonly #config: AzureBackendConfig;

  constructor(config: AzureBackendConfig) {
    this.name = backendName(config);
    this.#config = config;
    const sdk = requireOptional<typeof AzureSdk>('@azure/storage-blob', 'the azure backend');
    this.container = sdk.BlobServiceClient.fromConnectionString(config.connectionString, {
      retryOptions: { maxTries: 1, tryTimeoutInMs: config.requestTimeoutMs ?? kDefaultRequestTimeoutMs },
    }).getContainerClient(config.container);
  }

  /** A per-request deadline: the SDK's own try timeout does not fire with retries off. */
  #signal(): AbortSignal {
    return AbortSignal.timeout(this.#config.requestTimeoutMs ?? kDefaultRequestTimeoutMs);
  }

  async put(key: string, body: Buffer, opts: PutOptions): Promise<PutResult> {
    const c = this.#config;
    const md5 = md5Hex(body);
    try {
      const out = await this.container.getBlockBlobClient(key).upload(body, body.length, {
        abortSignal: this.#signal(),
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
        metadata: toAzure({ ...opts.metadata, [kMetaKeys.SHA256]: opts.sha256 }),
        conditions: { ifNoneMatch: '*' },
        ...(c.immutability
          ? {
              immutabilityPolicy: {
                expiriesOn: daysFromNow(c.immutability.retainDays),
                policyMode: c.immutability.mode,
              },
            }
          : {}),
        ...(c.legalHold ? { legalHold: true } : {}),
      });
      const got = out.contentMD5 ? Buffer.from(out.contentMD5).toString('hex') : undefined;
      if (got !== undefined && got !== md5) throw verifyError(this.name, key, `Content-MD5 ${got}, local ${md5}`);
    } catch (err) {
      throw backendError(this.name, 'upload', key, err);
    }
    return verifyStored(this, key, body.length, opts.sha256, [md5], c.verify === 'read-back');
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const p = await this.container.getBlockBlobClient(key).getProperties({ abortSignal: this.#signal() });
      const metadata = fromAzure(p.metadata);
      return {
        key,
        bytes: p.contentLength ?? -1,
        sha256: metadata[kMetaKeys.SHA256],
        md5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('hex') : undefined,
        metadata,
      };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw backendError(this.name, 'getProperties', key, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await this.container
        .getBlockBlobClient(key)
        .downloadToBuffer(0, undefined, { abortSignal: this.#signal() });
    } catch (err) {
      throw backendError(this.name, 'download', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    try {
      for await (const b of this.container.listBlobsFlat({ prefix, abortSignal: this.#signal() })) keys.push(b.name);
    } catch (err) {
      throw backendError(this.name, 'listBlobs', prefix, err);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    try {
      await this.container.deleteBlob(key, { abortSignal: this.#signal() });
    } catch (err) {
      throw backendError(this.name, 'deleteBlob', key, err);
    }
  }

  async close(): Promise<void> {}
}
