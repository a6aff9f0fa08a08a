/** The error for damage found in a segment, shared by every module that reads segments. */
import { ErrorCodes, IronlogError } from '../core/errors.js';

/**
 * `ERR_IRONLOG_WAL_CORRUPT` naming the segment file, the offset and (when known) the seq, with
 * what to do about it.
 */
export function walCorrupt(file: string, offset: number, seq: number | undefined, detail: string): IronlogError {
  const at = seq !== undefined && seq >= 0 ? `offset ${offset} (seq ${seq})` : `offset ${offset}`;
  return new IronlogError(
    ErrorCodes.WAL_CORRUPT,
    `WAL segment ${file} is damaged at ${at}: ${detail}. Run \`ironlog recover\` (recoverWal) to salvage every intact record into a new WAL; \`ironlog verify\` lists all problems.`,
  );
}
