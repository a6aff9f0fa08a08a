import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';

/**
 * Maps a failed write or fsync to its typed error: ENOSPC/EDQUOT become `DISK_FULL`, anything
 * else keeps the operation's own code; a shadow's `SHADOW_FAILED` passes through unchanged. The original error is kept as `cause`.
 */
export function ioFailure(op: 'write' | 'fsync', err: unknown, what: string): IronlogError {
  // A shadow's failure (shadow.ts) keeps its own code: it names the shadow directory.
  if (err instanceof IronlogError && err.code === ErrorCodes.SHADOW_FAILED) return err;
  const errno = errnoCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new IronlogError(ErrorCodes.DISK_FULL, `disk full while trying to ${op} ${what}: ${detail}`, {
      cause: err,
    });
  }
  const code = op === 'write' ? ErrorCodes.WAL_WRITE : ErrorCodes.WAL_FSYNC;
  return new IronlogError(code, `${op} of ${what} failed: ${detail}`, { cause: err });
}
