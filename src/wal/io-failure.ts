import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';

/**
 * Maps a failed write or fsync to its typed error: ENOSPC/EDQUOT become `DISK_FULL`, anything
 * else keeps the operation's own code. The original error is kept as `cause`.
 */
export function ioFailure(op: 'write' | 'fsync', err: unknown, what: string): IronlogError {
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
