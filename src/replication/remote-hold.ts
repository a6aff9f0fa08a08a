/**
 * Legal holds on the replicated copies: sets or releases the object-level hold (S3 Object Lock
 * legal hold, Azure blob legal hold, GCS event-based hold) of every segment object whose seqs a
 * hold covers, and reads the bucket's versioning so an operator learns when it is off (an
 * overwrite or delete would then leave no old version behind).
 */
import type { Backend, VersioningState } from '../backends/types.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { parseSegmentObjectKey } from './naming.js';
import { parseRemoteUrl } from './readback.js';

/** What {@link applyRemoteHold} did. */
export interface RemoteHoldResult {
  readonly backend: string;
  /** Object keys whose hold was set (or released). */
  readonly objects: readonly string[];
  readonly versioning: VersioningState;
}

/**
 * Sets (`on`) or releases the legal hold of every segment object under `source` overlapping
 * `[fromSeq, toSeq]` (open bounds: all). `source` is a URL (`s3://bucket/prefix`, ...) or a
 * backend (prefix `''`). Throws `ERR_IRONLOG_INVALID_ARGUMENT` for a backend without holds and
 * `ERR_IRONLOG_BACKEND` when the service refuses (no Object Lock on the bucket, permissions).
 */
export async function applyRemoteHold(
  source: string | Backend,
  range: { readonly fromSeq?: number | undefined; readonly toSeq?: number | undefined },
  on: boolean,
): Promise<RemoteHoldResult> {
  let backend: Backend;
  let prefix = '';
  let owned = false;
  if (typeof source === 'string') {
    const { createBackend } = await import('../backends/index.js');
    const s = parseRemoteUrl(source);
    backend = createBackend(s.config);
    prefix = s.prefix;
    owned = true;
  } else backend = source;
  try {
    if (backend.setLegalHold === undefined) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `backend ${backend.name} (${backend.type}) has no object legal hold: use S3 (Object Lock), Azure (version-level immutability) or GCS`,
      );
    }
    const from = range.fromSeq ?? 1;
    const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
    const keys = (await backend.list(prefix === '' ? '' : `${prefix}/`)).filter((k) => {
      const p = parseSegmentObjectKey(k);
      return p !== undefined && p.firstSeq <= to && p.lastSeq >= from;
    });
    for (const k of keys) await backend.setLegalHold(k, on);
    const versioning = backend.versioning ? await backend.versioning() : 'unknown';
    return { backend: backend.name, objects: keys, versioning };
  } finally {
    if (owned) await backend.close();
  }
}
