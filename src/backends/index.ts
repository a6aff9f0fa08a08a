/**
 * Replication backends: one {@link Backend} interface, four implementations on the official SDKs.
 * {@link createBackend} builds one from its (structured-cloneable) configuration.
 */
import { AzureBackend } from './azure.js';
import { FsBackend } from './fs.js';
import { GcsBackend } from './gcs.js';
import { S3Backend } from './s3.js';
import type { Backend, BackendConfig } from './types.js';

export { AzureBackend } from './azure.js';
export {
  backendName,
  defaultBackendName,
  joinKey,
  md5Hex,
  sha256Hex,
  validateBackendConfig,
} from './common.js';
export { FsBackend } from './fs.js';
export { GcsBackend } from './gcs.js';
export { countStored, quorumReached } from './quorum.js';
export { S3Backend, s3ClientConfig } from './s3.js';
export * from './types.js';

/** A backend for `config` (SDK client included). */
export function createBackend(config: BackendConfig): Backend {
  switch (config.type) {
    case 's3':
      return new S3Backend(config);
    case 'azure':
      return new AzureBackend(config);
    case 'gcs':
      return new GcsBackend(config);
    case 'fs':
      return new FsBackend(config);
  }
}
