/**
 * Local retention and manifest compaction: which sealed segments may leave the local disk
 * (replicated to a quorum, old enough, no backend still retrying, no legal hold, not the newest
 * file) and which may leave the manifest (stored on every backend and, when retention deletes
 * them, deleted already). Changes when the retention rules change, not when scheduling does.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { fsyncDir } from '../wal/fs.js';
import { listSegmentFiles } from '../wal/segment.js';
import type { Manifest, ManifestSegment } from './manifest.js';
import type { ResolvedReplicationOptions } from './options.js';

const debug = debuglog('ironlog');

/** The resolved retention rule, or undefined when nothing is ever deleted locally. */
export type LocalRetention = ResolvedReplicationOptions['localRetention'];

/** True when local retention deletes segments at all (configured and no legal hold). */
export function retentionDeletes(lr: LocalRetention): lr is NonNullable<LocalRetention> {
  return lr !== undefined && !lr.legalHold;
}

/** How often the retention timer runs for `lr`: between 1 s and 60 s, never slower than the rule. */
export function retentionIntervalMs(lr: NonNullable<LocalRetention>): number {
  return Math.max(1000, Math.min(lr.deleteAfterMs, 60_000));
}

function pendingAnywhere(s: ManifestSegment): boolean {
  return Object.values(s.backends).some((r) => r.state === 'pending');
}

/**
 * Drops the leading run of complete segments from the manifest (see `ManifestCompaction`):
 * stored on every backend in `backendNames` and, when local retention will delete them, deleted
 * already. Mutates `manifest` only in memory; the caller saves it.
 */
export function compactManifest(manifest: Manifest, backendNames: readonly string[], lr: LocalRetention): void {
  const waitForRetention = retentionDeletes(lr);
  const c = manifest.compacted;
  for (const s of manifest.sorted()) {
    const complete = backendNames.every((name) => s.backends[name]?.state === 'done');
    if (!complete || (waitForRetention && s.localDeletedAtMs === undefined)) break;
    if (s.firstSeq > c.throughSeq + 1 && c.throughSeq > 0) break;
    manifest.segments.delete(s.firstSeq);
    c.throughSeq = s.lastSeq;
    c.segments++;
    c.backends = [...backendNames].sort();
  }
}

/**
 * Deletes the local sealed segments of `dir` that retention allows at `nowMs`, marks them in the
 * manifest (`localDeletedAtMs`) and fsyncs the directory. Never throws: a failure is logged and
 * retried on the next run. Returns whether anything was deleted (the manifest then needs
 * compacting and saving).
 */
export async function deleteRetainedSegments(
  dir: string,
  manifest: Manifest,
  lr: NonNullable<LocalRetention>,
  nowMs: number,
): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    debug('local retention cannot list %s: %s', dir, String(err));
    return false;
  }
  const { segments } = listSegmentFiles(dir, names);
  const newest = segments[segments.length - 1]?.firstSeq;
  let changed = false;
  for (const s of manifest.sorted()) {
    if (s.localDeletedAtMs !== undefined || s.replicatedAtMs === undefined || s.firstSeq === newest) continue;
    if (pendingAnywhere(s) || nowMs - s.sealedAtMs < lr.deleteAfterMs) continue;
    try {
      await fsp.rm(path.join(dir, s.file), { force: true });
      s.localDeletedAtMs = nowMs;
      changed = true;
    } catch (err) {
      debug('local retention could not delete %s: %s', s.file, String(err));
    }
  }
  if (changed) {
    try {
      fsyncDir(dir);
    } catch (err) {
      debug('local retention: fsync of %s failed: %s', dir, String(err));
    }
  }
  return changed;
}
