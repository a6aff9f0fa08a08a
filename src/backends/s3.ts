/**
 * Amazon S3 (and S3-compatible stores) on `@aws-sdk/client-s3`.
 *
 * - Small segments: one `PutObject` with `Content-MD5` and `If-None-Match: *` (create-only on
 *   S3; s3rver ignores the header, which is why the replicator always HEADs first).
 * - Large segments: explicit multipart upload, each part with `Content-MD5`; any failure aborts
 *   the upload. Before a new multipart upload, leftovers for the same key (a process killed
 *   mid-upload) are listed and aborted, so no orphan parts stay billed.
 * - Checksums: request/response checksum calculation is `WHEN_REQUIRED` (otherwise the SDK sends
 *   aws-chunked bodies that s3rver 3.7 stores with their framing); we send and check MD5
 *   ourselves and store our SHA-256 as `x-amz-meta-ironlog-sha256`.
 */
import { createHash } from 'node:crypto';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { beforeLoading, requireOptional } from '../core/optional-dependency.js';
import { backendError, backendName, daysFromNow, md5Base64, md5Hex, verifyError, verifyStored } from './common.js';
import {
  type Backend,
  kDefaultRequestTimeoutMs,
  kMetaKeys,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type S3BackendConfig,
  type VersioningState,
} from './types.js';

// Loading this module is where the S3 backend begins: the SDK's Node-line notice is off from here
// on (see beforeLoading), also for clients an application creates itself afterwards.
beforeLoading('@aws-sdk/client-s3');

const kDefaultThreshold = 16 * 1024 * 1024;
const kDefaultPartBytes = 8 * 1024 * 1024;

function stripQuotes(etag: string | undefined): string | undefined {
  return etag?.replace(/"/g, '');
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** Builds the S3 client options of a config (exported for tests that add request middleware). */
export function s3ClientConfig(config: S3BackendConfig): S3ClientConfig {
  return {
    region: config.region ?? 'us-east-1',
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? false,
    ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: 10_000,
      requestTimeout: config.requestTimeoutMs ?? kDefaultRequestTimeoutMs,
      // Without it the handler only logs a warning and the request hangs on.
      throwOnRequestTimeout: true,
    },
  };
}

/** {@link Backend} over S3. */
export class S3Backend implements Backend {
  readonly name: string;
  readonly type = 's3' as const;
  /** The SDK client (public so tests can add middleware that captures requests). */
  readonly client: S3Client;
  readonly #config: S3BackendConfig;
  /** The SDK module, loaded on first use (an optional peer dependency). */
  readonly #sdk: typeof S3Sdk;

  constructor(config: S3BackendConfig, client?: S3Client) {
    this.name = backendName(config);
    this.#config = config;
    this.#sdk = requireOptional<typeof S3Sdk>('@aws-sdk/client-s3', 'the s3 backend');
    this.client = client ?? new this.#sdk.S3Client(s3ClientConfig(config));
  }

  get #readBack(): boolean {
    return this.#config.verify === 'read-back';
  }

  #lockParams(): {
    ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
    ObjectLockRetainUntilDate?: Date;
    ObjectLockLegalHoldStatus?: 'ON';
  } {
    const c = this.#config;
    return {
      ...(c.objectLock
        ? { ObjectLockMode: c.objectLock.mode, ObjectLockRetainUntilDate: daysFromNow(c.objectLock.retainDays) }
        : {}),
      ...(c.legalHold ? { ObjectLockLegalHoldStatus: 'ON' as const } : {}),
    };
  }

  async put(key: string, body: Buffer, opts: PutOptions): Promise<PutResult> {
    const Metadata = { ...opts.metadata, [kMetaKeys.SHA256]: opts.sha256 };
    const threshold = this.#config.multipartThresholdBytes ?? kDefaultThreshold;
    let accept: string[];
    if (body.length >= threshold && !opts.overwrite) {
      accept = await this.#multipart(key, body, Metadata);
    } else {
      const md5 = md5Hex(body);
      let etag: string | undefined;
      try {
        const out = await this.client.send(
          new this.#sdk.PutObjectCommand({
            Bucket: this.#config.bucket,
            Key: key,
            Body: body,
            ContentLength: body.length,
            ContentMD5: md5Base64(body),
            ContentType: 'application/octet-stream',
            ...(opts.overwrite ? {} : { IfNoneMatch: '*', ...this.#lockParams() }),
            Metadata,
          }),
        );
        etag = stripQuotes(out.ETag);
      } catch (err) {
        throw backendError(this.name, 'PutObject', key, err);
      }
      if (etag !== undefined && etag !== md5 && !this.#readBack) {
        throw verifyError(this.name, key, `ETag ${etag}, local MD5 ${md5}`);
      }
      accept = [md5];
    }
    return this.#verify(key, body, opts.sha256, accept);
  }

  async #verify(key: string, body: Buffer, sha256: string, accept: readonly string[]): Promise<PutResult> {
    // With read-back the ETag is not trusted (SSE-KMS ETags are not MD5s): the bytes are the check.
    return verifyStored(this, key, body.length, sha256, this.#readBack ? [] : accept, this.#readBack);
  }

  /** Aborts multipart uploads of `key` left behind by a killed process. Returns how many. */
  async abortStaleUploads(key: string): Promise<number> {
    let n = 0;
    try {
      const out = await this.client.send(
        new this.#sdk.ListMultipartUploadsCommand({ Bucket: this.#config.bucket, Prefix: key }),
      );
      for (const u of out.Uploads ?? []) {
        if (u.Key !== key || u.UploadId === undefined) continue;
        await this.client.send(
          new this.#sdk.AbortMultipartUploadCommand({ Bucket: this.#config.bucket, Key: key, UploadId: u.UploadId }),
        );
        n++;
      }
    } catch (err) {
      // An S3-compatible store without ListMultipartUploads (NotImplemented) cannot tell us;
      // the bucket lifecycle rule AbortIncompleteMultipartUpload is the backstop (docs/deployment/aws.md).
      if (httpStatus(err) === 501) return 0;
      throw backendError(this.name, 'ListMultipartUploads', key, err);
    }
    return n;
  }

  /** Multipart upload; returns the final ETags a correct store may report. */
  async #multipart(key: string, body: Buffer, Metadata: Record<string, string>): Promise<string[]> {
    const Bucket = this.#config.bucket;
    await this.abortStaleUploads(key);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(
        new this.#sdk.CreateMultipartUploadCommand({
          Bucket,
          Key: key,
          ContentType: 'application/octet-stream',
          Metadata,
          ...this.#lockParams(),
        }),
      );
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new Error('no UploadId in the CreateMultipartUpload answer');
      const partBytes = this.#config.multipartPartBytes ?? kDefaultPartBytes;
      const parts: { ETag: string; PartNumber: number }[] = [];
      const md5s: Buffer[] = [];
      for (let off = 0, n = 1; off < body.length; off += partBytes, n++) {
        const part = body.subarray(off, Math.min(body.length, off + partBytes));
        const md5 = createHash('md5').update(part).digest();
        const out = await this.client.send(
          new this.#sdk.UploadPartCommand({
            Bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: n,
            Body: part,
            ContentLength: part.length,
            ContentMD5: md5.toString('base64'),
          }),
        );
        const etag = stripQuotes(out.ETag);
        if (etag !== md5.toString('hex') && !this.#readBack)
          throw verifyError(this.name, key, `part ${n} ETag ${etag}`);
        parts.push({ ETag: `"${etag}"`, PartNumber: n });
        md5s.push(md5);
      }
      const done = await this.client.send(
        new this.#sdk.CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      uploadId = undefined;
      // S3 reports md5(concat(part md5s))-N; some compatible stores (s3rver) the plain MD5.
      const multi = `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}`;
      const accept = [multi, md5Hex(body)];
      const etag = stripQuotes(done.ETag);
      if (etag !== undefined && !accept.includes(etag) && !this.#readBack) {
        throw verifyError(this.name, key, `ETag ${etag}`);
      }
      return accept;
    } catch (err) {
      if (uploadId !== undefined) {
        await this.client
          .send(new this.#sdk.AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw backendError(this.name, 'multipart upload', key, err);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new this.#sdk.HeadObjectCommand({ Bucket: this.#config.bucket, Key: key }));
      const metadata = out.Metadata ?? {};
      const etag = stripQuotes(out.ETag);
      return {
        key,
        bytes: out.ContentLength ?? -1,
        sha256: metadata[kMetaKeys.SHA256],
        md5: etag !== undefined && /^[0-9a-f]{32}(-\d+)?$/.test(etag) ? etag : undefined,
        metadata,
      };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw backendError(this.name, 'HeadObject', key, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const out = await this.client.send(new this.#sdk.GetObjectCommand({ Bucket: this.#config.bucket, Key: key }));
      if (out.Body === undefined) throw new Error('empty body');
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      throw backendError(this.name, 'GetObject', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new this.#sdk.ListObjectsV2Command({ Bucket: this.#config.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of out.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      throw backendError(this.name, 'ListObjectsV2', prefix, err);
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.#config.bucket, Key: key }));
    } catch (err) {
      throw backendError(this.name, 'DeleteObject', key, err);
    }
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    try {
      await this.client.send(
        new this.#sdk.PutObjectLegalHoldCommand({
          Bucket: this.#config.bucket,
          Key: key,
          LegalHold: { Status: on ? 'ON' : 'OFF' },
        }),
      );
    } catch (err) {
      throw backendError(this.name, 'PutObjectLegalHold', key, err);
    }
  }

  async versioning(): Promise<VersioningState> {
    try {
      const out = await this.client.send(new this.#sdk.GetBucketVersioningCommand({ Bucket: this.#config.bucket }));
      return out.Status === 'Enabled' ? 'enabled' : out.Status === 'Suspended' ? 'suspended' : 'off';
    } catch {
      return 'unknown';
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
