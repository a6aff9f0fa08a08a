/**
 * Listing a WAL directory for the asynchronous readers (`readWal`, `verifyWal`, `recoverWal`,
 * the tailer, monitoring). The writer lists synchronously through its `WalFs` seam
 * (`writer-open.ts`); the naming rules themselves are in `segment.ts` (`listSegmentFiles`).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { listSegmentFiles, type SegmentFile } from './segment.js';
import { checkSegmentEntry } from './segment-file.js';

/** The file names in a WAL directory; `ERR_IRONLOG_IO` when it cannot be read. */
export async function readWalDirNames(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read WAL directory ${dir}: ${errnoCode(err) ?? String(err)}`, {
      cause: err,
    });
  }
}

/**
 * Lists the segments of `dir` for readers: IO error when unreadable, WAL_FORMAT for foreign
 * `*.wal` files, SEGMENT_NOT_FILE for a segment name that is not a regular file (checked with
 * `lstat` up front, so a reader fails before it returns anything rather than half way).
 */
export async function listWalDir(dir: string): Promise<SegmentFile[]> {
  const { segments, foreign } = listSegmentFiles(dir, await readWalDirNames(dir));
  if (foreign.length > 0) {
    throw new IronlogError(
      ErrorCodes.WAL_FORMAT,
      `${path.join(dir, foreign[0] as string)} is not an ironlog segment name (expected <20-digit first seq>.wal)`,
    );
  }
  for (const seg of segments) await checkSegmentEntry(seg);
  return segments;
}
