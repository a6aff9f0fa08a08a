/**
 * The durable replication manifest of one WAL directory (`replication-manifest.json`): per sealed
 * segment, per backend, the state and attempts. Written atomically (write temp, fsync, rename,
 * fsync the directory), so after a crash it is either the old or the new version, never a torn one.
 * On open, every segment not `done` on some backend is queued again.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';

/** File name of the manifest inside the WAL directory. */
export const kManifestFile = 'replication-manifest.json';
const kVersion = 1;

/**
 * Per-backend state of one segment: `pending` (queued or retrying), `done` (a verified copy is
 * stored), `tamper` (a different object holds the name: alert, never overwritten), `verify-failed`
 * (our upload was accepted but does not match: alert, not retried automatically).
 */
export type ReplicaState = 'pending' | 'done' | 'tamper' | 'verify-failed';

/** One backend's record for one segment. */
export interface ReplicaRecord {
  state: ReplicaState;
  attempts: number;
  lastError?: { code: string; message: string; atMs: number } | undefined;
  doneAtMs?: number | undefined;
}

/** One sealed segment in the manifest. */
export interface ManifestSegment {
  firstSeq: number;
  lastSeq: number;
  records: number;
  bytes: number;
  /** Local file name (`<20-digit firstSeq>.wal`). */
  file: string;
  sealSha256: string;
  merkleRoot: string;
  /** SHA-256 of the whole segment file, once a worker has hashed it. */
  sha256?: string | undefined;
  sealedAtMs: number;
  /** Set when quorum was first reached. */
  replicatedAtMs?: number | undefined;
  /** Set when the local file was deleted by local retention. */
  localDeletedAtMs?: number | undefined;
  backends: Record<string, ReplicaRecord>;
}

/**
 * Compaction: segments stored on every backend (and, with local retention, deleted locally) are
 * dropped from the list and summarised by a watermark, so the file stays small however long the
 * WAL runs. `backends` is the backend set they were complete for: a backend added later resets it.
 */
export interface ManifestCompaction {
  /** Every segment with lastSeq up to this one is complete (0: none). */
  throughSeq: number;
  /** How many segments were compacted. */
  segments: number;
  backends: string[];
}

/**
 * One backend's copy of the transparency log (`tlog/`, see `tlog-sync.ts`): the checkpoint
 * counter and tiled size it is known to hold. `state` is `pending` while it is behind or in step,
 * `tamper` / `verify-failed` after an alert (not retried automatically, as for segments).
 */
export interface TlogReplicaRecord {
  state: ReplicaState;
  attempts: number;
  counter: number;
  size: number;
  lastError?: { code: string; message: string; atMs: number } | undefined;
  doneAtMs?: number | undefined;
}

/** Replication of the transparency log: the checkpoint to reach, and where each backend is. */
export interface ManifestTlog {
  /** Last checkpoint counter the checkpointer finished (0: none yet, or no signing). */
  throughCounter: number;
  /**
   * Finished checkpoints some backend does not hold yet, ascending, with the last seq each covers.
   * A backend gets a checkpoint only once it holds every segment up to that seq, so a bucket never
   * holds a checkpoint over records it lacks (an auditor can check every checkpoint it finds).
   */
  checkpoints: { counter: number; throughSeq: number }[];
  backends: Record<string, TlogReplicaRecord>;
}

interface ManifestFile {
  version: number;
  nodeId: string;
  compacted?: ManifestCompaction;
  segments: ManifestSegment[];
  tlog?: ManifestTlog;
}

/** The manifest, in memory, with serialized atomic saves. */
export class Manifest {
  readonly file: string;
  readonly segments = new Map<number, ManifestSegment>();
  compacted: ManifestCompaction = { throughSeq: 0, segments: 0, backends: [] };
  tlog: ManifestTlog = { throughCounter: 0, checkpoints: [], backends: {} };
  #saving: Promise<void> = Promise.resolve();
  #dirty = false;

  private constructor(
    readonly dir: string,
    readonly nodeId: string,
  ) {
    this.file = path.join(dir, kManifestFile);
  }

  /**
   * Loads the manifest of `dir` (empty when none exists yet). Synchronous on purpose: the sink
   * builds the manager between the writer's `ready` and attaching its message handler, where an
   * await would let writer messages go unheard. The file stays small (see
   * {@link ManifestCompaction}).
   */
  static loadSync(dir: string, nodeId: string): Manifest {
    const m = new Manifest(dir, nodeId);
    let text: string | undefined;
    try {
      text = fs.readFileSync(m.file, 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') {
        throw new IronlogError(ErrorCodes.IO, `cannot read ${m.file}: ${String(err)}`, { cause: err });
      }
    }
    if (text !== undefined) {
      let parsed: ManifestFile;
      try {
        parsed = JSON.parse(text) as ManifestFile;
      } catch (err) {
        throw new IronlogError(ErrorCodes.WAL_FORMAT, `${m.file} is not valid JSON: ${String(err)}`, { cause: err });
      }
      if (parsed.version !== kVersion || !Array.isArray(parsed.segments)) {
        throw new IronlogError(
          ErrorCodes.WAL_FORMAT,
          `${m.file}: unsupported manifest version ${String(parsed.version)}`,
        );
      }
      for (const s of parsed.segments) m.segments.set(s.firstSeq, s);
      if (parsed.compacted) m.compacted = parsed.compacted;
      if (parsed.tlog) m.tlog = { ...parsed.tlog, checkpoints: parsed.tlog.checkpoints ?? [] };
    }
    // A temp file left by a crash mid-save is garbage: the rename never happened.
    fs.rmSync(`${m.file}.tmp`, { force: true });
    return m;
  }

  /** Segments in seq order. */
  sorted(): ManifestSegment[] {
    return [...this.segments.values()].sort((a, b) => a.firstSeq - b.firstSeq);
  }

  /** Persists the current state (atomically). Concurrent calls coalesce; resolves once durable. */
  save(): Promise<void> {
    this.#dirty = true;
    // A failed save must not poison the chain: the next one tries again with the full state.
    this.#saving = this.#saving
      .catch(() => undefined)
      .then(async () => {
        if (!this.#dirty) return;
        this.#dirty = false;
        const body: ManifestFile = {
          version: kVersion,
          nodeId: this.nodeId,
          compacted: this.compacted,
          segments: this.sorted(),
          ...(this.tlog.throughCounter > 0 ? { tlog: this.tlog } : {}),
        };
        const tmp = `${this.file}.tmp`;
        const fh = await fsp.open(tmp, 'w');
        try {
          await fh.writeFile(JSON.stringify(body));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, this.file);
        fsyncDir(this.dir);
      });
    return this.#saving;
  }

  /** Synchronous check that the manifest file exists (for tests and tools). */
  exists(): boolean {
    return fs.existsSync(this.file);
  }
}
