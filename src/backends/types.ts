/**
 * The one interface every replication target implements, and the (structured-cloneable)
 * configuration objects that name them. A configuration crosses into the replicator workers as
 * it is; each worker builds its own SDK client from it.
 */

/** How an upload is checked after the backend acknowledged it. */
export type VerifyMode = 'checksum' | 'read-back';

/** Options every backend type shares. */
export interface BackendConfigBase {
  /**
   * Name of the backend in the manifest, in `replicationStatus()` and in metrics labels. Default
   * `'<type>:<bucket|container|dir>'`. Must be unique among the configured backends and must
   * never change for a WAL directory (the manifest is keyed by it).
   */
  name?: string;
  /** Key prefix inside the bucket/container/directory, without a trailing slash. Default `''`. */
  prefix?: string;
  /**
   * `'checksum'` (default for the object stores): compare the checksum the service computed (S3
   * ETag / Azure Content-MD5 / GCS md5Hash) and the stored size and SHA-256 metadata with the
   * local bytes. `'read-back'`: download the object again and compare its SHA-256 (double the
   * traffic, catches a backend that lies about its checksum). The directory backend always
   * reads back.
   */
  verify?: VerifyMode;
  /**
   * Request deadline in ms. Default 120,000. S3: socket inactivity; Azure and GCS: the whole
   * request (raise it for big segments on slow links). A partition that blackholes packets then
   * fails the upload (and feeds the breaker) instead of hanging it.
   */
  requestTimeoutMs?: number;
}

/** Static credentials for S3. Without them the AWS default provider chain is used. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Amazon S3 or an S3-compatible store. */
export interface S3BackendConfig extends BackendConfigBase {
  type: 's3';
  bucket: string;
  region?: string;
  /** Custom endpoint (MinIO, s3rver, a VPC endpoint). */
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: S3Credentials;
  /** Segments at least this big go up with multipart upload. Default 16 MiB. */
  multipartThresholdBytes?: number;
  /**
   * Size of each multipart part. Default 8 MiB. Amazon S3 rejects parts smaller than 5 MiB (but
   * the last); smaller values are accepted for tests against emulators only.
   */
  multipartPartBytes?: number;
  /**
   * S3 Object Lock retention on every object (the bucket must have Object Lock enabled). Not
   * implemented by s3rver: needs the real service.
   */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; retainDays: number };
  /** S3 Object Lock legal hold `ON` on every object. */
  legalHold?: boolean;
}

/** Azure Blob Storage. */
export interface AzureBackendConfig extends BackendConfigBase {
  type: 'azure';
  connectionString: string;
  container: string;
  /**
   * Version-level immutability policy on every blob (the container or account needs version-level
   * immutability support). Not implemented by azurite: needs the real service.
   */
  immutability?: { mode: 'Unlocked' | 'Locked'; retainDays: number };
  /** Legal hold on every blob (version-level immutability support required). */
  legalHold?: boolean;
}

/** Google Cloud Storage. */
export interface GcsBackendConfig extends BackendConfigBase {
  type: 'gcs';
  bucket: string;
  projectId?: string;
  /** Custom endpoint (a test server). With it the SDK sends no credentials. */
  apiEndpoint?: string;
  /** Service account key file. Without it Application Default Credentials are used. */
  keyFilename?: string;
  /** Object retention (object retention lock must be enabled on the bucket). Needs the real service. */
  retention?: { mode: 'Unlocked' | 'Locked'; retainDays: number };
  /** Event-based hold on every object. */
  eventBasedHold?: boolean;
  /** Temporary hold on every object. */
  temporaryHold?: boolean;
}

/** A local or NFS-mounted directory. */
export interface FsBackendConfig extends BackendConfigBase {
  type: 'fs';
  dir: string;
}

/** One configured backend (the `replication.backends[]` contract of issue 4). */
export type BackendConfig = S3BackendConfig | AzureBackendConfig | GcsBackendConfig | FsBackendConfig;

/** What a backend knows about a stored object. */
export interface ObjectInfo {
  readonly key: string;
  readonly bytes: number;
  /** The `ironlog-sha256` metadata (hex), when present. */
  readonly sha256: string | undefined;
  /** The service's MD5 of the content (hex) when it reports one (S3 ETag of a single PUT, Azure, GCS). */
  readonly md5: string | undefined;
  /** All user metadata, keys in the `ironlog-*` form (`ironlog-sha256`, `ironlog-node`, `ironlog-first-seq`, ...: `kMetaKeys` in `src/backends/types.ts`). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Arguments of {@link Backend.put}. */
export interface PutOptions {
  /** SHA-256 of `body`, hex. Stored as metadata `ironlog-sha256`. */
  readonly sha256: string;
  /** Further metadata, `ironlog-*` keys. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** How a successful {@link Backend.put} was verified. */
export interface PutResult {
  readonly verifiedBy: 'service-checksum' | 'read-back';
}

/**
 * A replication target. Keys are full object keys (prefix included). Every method throws an
 * `IronlogError`: `ERR_IRONLOG_BACKEND` for service or network failures (retryable),
 * `ERR_IRONLOG_REPLICATION_VERIFY` when a finished upload does not match the local bytes.
 */
export interface Backend {
  /** The configured (or default) name. */
  readonly name: string;
  readonly type: BackendConfig['type'];
  /**
   * Stores `body` under `key` only if no object exists there (create-only where the service
   * supports a precondition), then verifies it. Never overwrites on purpose: callers `head` first.
   */
  put(key: string, body: Buffer, opts: PutOptions): Promise<PutResult>;
  /** The object's info, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** The object's bytes. `ERR_IRONLOG_BACKEND` when it does not exist. */
  get(key: string): Promise<Buffer>;
  /** Keys under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deletes an object (fails where immutability forbids it). */
  delete(key: string): Promise<void>;
  /** Releases clients and sockets. */
  close(): Promise<void>;
}

/** Default of {@link BackendConfigBase.requestTimeoutMs}. */
export const kDefaultRequestTimeoutMs = 120_000;

/** Metadata keys written with every segment (lower case, `ironlog-` prefix). */
export const kMetaKeys = Object.freeze({
  SHA256: 'ironlog-sha256',
  NODE: 'ironlog-node',
  FIRST_SEQ: 'ironlog-first-seq',
  LAST_SEQ: 'ironlog-last-seq',
  RECORDS: 'ironlog-records',
  SEAL_SHA256: 'ironlog-seal-sha256',
  MERKLE_ROOT: 'ironlog-merkle-root',
  FORMAT: 'ironlog-format',
});
