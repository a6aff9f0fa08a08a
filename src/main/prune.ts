/**
 * Explicit local deletion ("pruning after replication"): `pruneSegments(dir, { throughSeq })` and
 * `ironlog prune`. All or nothing: every segment asked for is checked first (replicated to a
 * quorum, past its retention end, under no legal hold) and a single refusal deletes nothing and
 * throws `ERR_IRONLOG_LEGAL_HOLD` or `ERR_IRONLOG_RETENTION_ACTIVE`. The sink must be closed (the
 * directory lock is taken); a running sink deletes through `replication.localRetention`, which
 * honours the same holds and retention.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CustodyOption, withCustody } from '../compliance/custody-session.js';
import { loadDeletionGuard } from '../compliance/deletion-guard.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { kManifestFile, Manifest } from '../replication/manifest.js';
import { acquireDirLock } from '../wal/dir-lock.js';
import { fsyncDir } from '../wal/fs.js';
import { listSegmentFiles } from '../wal/segment.js';

/** The node id the manifest was written with (kept when it is saved again). */
function manifestNodeId(dir: string): string {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dir, kManifestFile), 'utf8')) as { nodeId?: unknown };
    return typeof parsed.nodeId === 'string' ? parsed.nodeId : 'node';
  } catch {
    return 'node';
  }
}

/** Options of {@link pruneSegments}. */
export interface PruneOptions {
  /** Delete the sealed segments whose records all have seq <= this. Default: every sealed segment but the newest file. */
  throughSeq?: number;
  /** Clock (ms since the epoch), for tests. Default `Date.now()`. */
  nowMs?: number;
  /** Custody options (actor, key, directory) or `false`. */
  custody?: CustodyOption;
  via?: 'cli' | 'library';
  /** The caller writes the custody entry itself (the CLI's program hook): record none here. */
  custodyRecordedByCaller?: boolean;
}

/** What {@link pruneSegments} deleted. */
export interface PruneResult {
  /** Deleted segment file names. */
  readonly deleted: readonly string[];
  /** Seq range of the deleted segments (0, 0 when none). */
  readonly fromSeq: number;
  readonly toSeq: number;
}

/** Why one segment may not be deleted. */
interface Refusal {
  readonly file: string;
  readonly kind: 'hold' | 'retention' | 'replication';
  readonly why: string;
}

/** The seal time of a segment: from the manifest, else (a compacted entry) the file's mtime. */
function sealedAtMs(file: string, fromManifest: number | undefined): number {
  return fromManifest ?? fs.statSync(file).mtimeMs;
}

/**
 * Deletes local sealed segments of the WAL in `dir` once replicated, past the retention end of
 * the compliance profile (`compliance.json`: `localRetentionDays` from the seal) and under no
 * legal hold. Refuses all of them when one is not allowed (nothing is deleted). Writes one
 * custody entry (`delete`), also for a refusal.
 */
export async function pruneSegments(dir: string, opts: PruneOptions = {}): Promise<PruneResult> {
  const abs = path.resolve(dir);
  if (opts.throughSeq !== undefined && !(Number.isSafeInteger(opts.throughSeq) && opts.throughSeq >= 1)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `throughSeq must be a positive integer, got ${String(opts.throughSeq)}`,
    );
  }
  if (!fs.existsSync(abs)) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `no WAL directory at ${abs}`);
  if (opts.custodyRecordedByCaller === true) return prune(abs, opts);
  return withCustody(
    {
      action: 'delete',
      target: abs,
      walDir: abs,
      ...(opts.throughSeq !== undefined ? { range: { toSeq: opts.throughSeq } } : {}),
      via: opts.via ?? 'library',
      option: opts.custody,
    },
    () => prune(abs, opts),
    (r) => ({ status: 'ok', records: r.toSeq === 0 ? 0 : r.toSeq - r.fromSeq + 1 }),
  );
}

async function prune(dir: string, opts: PruneOptions): Promise<PruneResult> {
  const lock = acquireDirLock(dir);
  try {
    const nowMs = opts.nowMs ?? Date.now();
    const { segments } = listSegmentFiles(dir, fs.readdirSync(dir));
    const manifest = Manifest.loadSync(dir, manifestNodeId(dir));
    const guard = loadDeletionGuard(dir);
    const through = opts.throughSeq ?? Number.MAX_SAFE_INTEGER;
    const candidates: { file: string; name: string; firstSeq: number; lastSeq: number }[] = [];
    for (let i = 0; i + 1 < segments.length; i++) {
      const s = segments[i];
      const next = segments[i + 1];
      if (s === undefined || next === undefined) continue;
      const lastSeq = next.firstSeq - 1;
      if (lastSeq > through) break;
      candidates.push({ file: s.path, name: s.name, firstSeq: s.firstSeq, lastSeq });
    }
    const refusals: Refusal[] = [];
    for (const c of candidates) {
      const m = manifest.segments.get(c.firstSeq);
      const replicated = m?.replicatedAtMs !== undefined || c.lastSeq <= manifest.compacted.throughSeq;
      if (!replicated) {
        refusals.push({ file: c.name, kind: 'replication', why: 'not replicated to a quorum yet' });
      }
      const seg = { firstSeq: c.firstSeq, lastSeq: c.lastSeq, sealedAtMs: sealedAtMs(c.file, m?.sealedAtMs) };
      for (const b of guard(seg, nowMs)) refusals.push({ file: c.name, kind: b.kind, why: b.why });
    }
    if (refusals.length > 0) {
      const code = refusals.some((r) => r.kind === 'hold') ? ErrorCodes.LEGAL_HOLD : ErrorCodes.RETENTION_ACTIVE;
      const shown = refusals.slice(0, 5).map((r) => `${r.file}: ${r.why}`);
      const more = refusals.length > 5 ? `; and ${refusals.length - 5} more` : '';
      throw new IronlogError(code, `prune refused, nothing was deleted: ${shown.join('; ')}${more}`);
    }
    for (const c of candidates) {
      fs.rmSync(c.file, { force: true });
      const m = manifest.segments.get(c.firstSeq);
      if (m !== undefined) m.localDeletedAtMs = nowMs;
    }
    if (candidates.length > 0) {
      fsyncDir(dir);
      if (manifest.exists()) await manifest.save();
    }
    return {
      deleted: candidates.map((c) => c.name),
      fromSeq: candidates[0]?.firstSeq ?? 0,
      toSeq: candidates[candidates.length - 1]?.lastSeq ?? 0,
    };
  } finally {
    lock.release();
  }
}
