/**
 * Replicating a node's transparency log (`<walDir>/tlog/`, see docs/wal-format.md §13) to one
 * backend, run inside a replicator worker like a segment upload. The objects land under
 * `{prefix}/{nodeId}/tlog/`, laid out so that this prefix is a static C2SP tlog-tiles log:
 *
 *   {prefix}/{nodeId}/tlog/checkpoint                  latest signed checkpoint   (replaced)
 *   {prefix}/{nodeId}/tlog/tile/<L>/<N>[.p/<W>]        hash tiles                 (create-only)
 *   {prefix}/{nodeId}/tlog/checkpoints/<counter>.note  every signed checkpoint    (create-only)
 *   {prefix}/{nodeId}/tlog/checkpoints/<counter>.time  its signed time note       (create-only)
 *   {prefix}/{nodeId}/tlog/tiles-state                 tiled size and root        (replaced)
 *   {prefix}/{nodeId}/tlog/index                       entry index <-> seq runs   (replaced)
 *
 * Immutable objects are HEADed first: an identical one counts as present, a different one is a
 * tamper alert (never overwritten, as for segments); absent ones are uploaded create-only. The
 * three mutable objects are replaced (`PutOptions.overwrite`), and in an order that keeps the
 * bucket consistent for a reader at any moment: every tile and numbered checkpoint first, then
 * `index` and `tiles-state`, and `checkpoint` last, so whatever `checkpoint` a reader fetches,
 * the tiles of its size are already there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinKey, md5Hex, sha256Hex } from '../backends/common.js';
import type { Backend, BackendConfig } from '../backends/types.js';
import { parseCheckpoint } from '../compliance/checkpoint.js';
import { parseNote } from '../compliance/note.js';
import { kTilesStateFile, kTileWidth, tilePath } from '../compliance/tiles.js';
import {
  checkpointFiles,
  kCheckpointsDirName,
  kLatestCheckpointName,
  kSeqIndexName,
  kTlogDirName,
  tlogDirOf,
} from '../compliance/tlog-store.js';
import { ErrorCodes, errnoCode, IronlogError, type WireError } from '../core/errors.js';

/** Uploads one sync keeps in flight at once. */
const kSyncConcurrency = 8;

/** Object names under `{prefix}/{nodeId}/tlog/` that are replaced on every sync (all others are create-only). */
export const kMutableTlogObjects: readonly string[] = Object.freeze([
  kLatestCheckpointName,
  kTilesStateFile,
  kSeqIndexName,
]);

/** `{prefix}/{nodeId}/tlog`: the prefix of a node's replicated transparency log (a static tlog-tiles log). */
export function tlogObjectPrefix(prefix: string | undefined, nodeId: string): string {
  return joinKey(prefix, `${nodeId}/${kTlogDirName}`);
}

/** Bring one backend's copy of the transparency log up to the checkpoint `throughCounter`. */
export interface TlogSyncTask {
  readonly kind: 'tlog';
  readonly backend: BackendConfig;
  /** The WAL directory (its `tlog/` is read). */
  readonly dir: string;
  readonly nodeId: string;
  /** Tiled size the backend is known to hold (0 the first time: every object is then HEADed). */
  readonly fromSize: number;
  /** Last checkpoint counter the backend is known to hold (0 the first time). */
  readonly fromCounter: number;
  /** Sync the checkpoints up to this counter: the last one the checkpointer finished (cosignatures included). */
  readonly throughCounter: number;
}

/** Result of a {@link TlogSyncTask}. */
export type TlogSyncResult =
  | {
      readonly ok: true;
      /** Tiled size now held by the backend. */
      readonly size: number;
      /** Last checkpoint counter now held by the backend. */
      readonly counter: number;
      /** Objects written by this sync. */
      readonly uploaded: number;
      /** Immutable objects found already there, identical. */
      readonly present: number;
    }
  | { readonly ok: false; readonly error: WireError };

function tamper(backend: Backend, key: string, detail: string): IronlogError {
  return new IronlogError(
    ErrorCodes.REPLICATION_TAMPER,
    `backend ${backend.name}: ${key} exists and differs from the local transparency log (${detail}); it is not overwritten`,
  );
}

function readLocal(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read ${file}: ${errnoCode(err) ?? String(err)}`, { cause: err });
  }
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new IronlogError(ErrorCodes.IO, `cannot read ${file}: ${errnoCode(err) ?? String(err)}`, { cause: err });
  }
}

/** The tiled size named by a `tiles-state` file. */
function tiledSizeOf(state: Buffer, file: string): number {
  const line = state.toString('utf8').split('\n')[1];
  const n = Number(line);
  if (line === undefined || !/^(0|[1-9][0-9]*)$/.test(line) || !Number.isSafeInteger(n)) {
    throw new IronlogError(ErrorCodes.TLOG_CORRUPT, `${file} is not an ironlog tiles state`);
  }
  return n;
}

/**
 * The bytes of tile (level, index) of `width` hashes from the local tile store. A partial tile the
 * checkpointer already replaced by its full tile (or by a wider partial one) is cut from that one:
 * tile hashes depend only on their position, so the first W hashes of any wider version of the
 * tile are the partial tile of width W (the C2SP spec relies on the same property).
 */
function localTile(tlogDir: string, level: number, index: number, width: number): Buffer {
  const abs = (rel: string): string => path.join(tlogDir, ...rel.split('/'));
  const want = width * 32;
  if (width === kTileWidth) return readLocal(abs(tilePath(level, index)));
  const exact = readIfExists(abs(tilePath(level, index, width)));
  if (exact !== undefined && exact.length === want) return exact;
  const full = readIfExists(abs(tilePath(level, index)));
  if (full !== undefined && full.length === kTileWidth * 32) return full.subarray(0, want);
  const pDir = abs(`${tilePath(level, index)}.p`);
  let names: string[] = [];
  try {
    names = fs.readdirSync(pDir);
  } catch {
    // no partial tiles at all
  }
  for (const name of names) {
    const w = Number(name);
    if (!(Number.isInteger(w) && w > width && w < kTileWidth)) continue;
    const wider = readIfExists(path.join(pDir, name));
    if (wider !== undefined && wider.length === w * 32) return wider.subarray(0, want);
  }
  throw new IronlogError(
    ErrorCodes.TLOG_CORRUPT,
    `hash tile ${tilePath(level, index, width)} is missing under ${tlogDir} (and no wider version of it exists)`,
  );
}

/** The tiles a tree of `size` leaves has beyond a tree of `fromSize`: new full tiles, and its partial tiles. */
function tilesBetween(fromSize: number, size: number): { level: number; index: number; width: number }[] {
  const out: { level: number; index: number; width: number }[] = [];
  for (let level = 0, count = size, oldCount = fromSize; count > 0; level++) {
    for (let i = Math.floor(oldCount / kTileWidth); i < Math.floor(count / kTileWidth); i++) {
      out.push({ level, index: i, width: kTileWidth });
    }
    if (count % kTileWidth > 0) out.push({ level, index: Math.floor(count / kTileWidth), width: count % kTileWidth });
    count = Math.floor(count / kTileWidth);
    oldCount = Math.floor(oldCount / kTileWidth);
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure wins (the rest are not started). */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}

/** Runs one {@link TlogSyncTask} against `backend`. Never throws: failures come back as `{ ok: false }`. */
export async function syncTlog(backend: Backend, task: TlogSyncTask): Promise<TlogSyncResult> {
  try {
    const tlogDir = tlogDirOf(task.dir);
    const base = tlogObjectPrefix(task.backend.prefix, task.nodeId);
    const meta = (kind: string): Record<string, string> => ({
      'ironlog-format': '1',
      'ironlog-node': task.nodeId,
      'ironlog-tlog': kind,
    });
    let uploaded = 0;
    let present = 0;

    // What to send: read everything first (a tiles-state read later could name tiles not listed here).
    const stateFile = path.join(tlogDir, kTilesStateFile);
    const state = readIfExists(stateFile);
    const size = state === undefined ? 0 : tiledSizeOf(state, stateFile);
    const checkpoints: { counter: number; note: Buffer; time: Buffer; size: number }[] = [];
    for (let c = task.fromCounter + 1; c <= task.throughCounter; c++) {
      const files = checkpointFiles(tlogDir, c);
      const note = readLocal(files.note);
      const time = readLocal(files.time);
      let cpSize: number;
      try {
        cpSize = parseCheckpoint(parseNote(note.toString('utf8')).text).size;
      } catch (err) {
        throw new IronlogError(ErrorCodes.TLOG_CORRUPT, `${files.note}: ${(err as Error).message}`, { cause: err });
      }
      if (cpSize > size) {
        throw new IronlogError(
          ErrorCodes.TLOG_STATE,
          `${files.note} covers ${cpSize} entries, but ${stateFile} says only ${size} are tiled`,
        );
      }
      checkpoints.push({ counter: c, note, time, size: cpSize });
    }
    const fromSize = Math.min(task.fromSize, size);
    const tiles = new Map<string, { level: number; index: number; width: number }>();
    const relOf = (t: { level: number; index: number; width: number }): string =>
      tilePath(t.level, t.index, t.width < kTileWidth ? t.width : undefined);
    for (const t of tilesBetween(fromSize, size)) tiles.set(relOf(t), t);
    // The partial tiles of every checkpoint's size too, so a C2SP client holding any of these
    // checkpoints finds the exact tiles it asks for.
    for (const cp of checkpoints) {
      for (const t of tilesBetween(cp.size, cp.size)) tiles.set(relOf(t), t);
    }
    const immutable: { key: string; body: Buffer; kind: string }[] = [];
    for (const [rel, t] of tiles) {
      immutable.push({ key: `${base}/${rel}`, body: localTile(tlogDir, t.level, t.index, t.width), kind: 'tile' });
    }

    const putImmutable = async (o: { key: string; body: Buffer; kind: string }): Promise<void> => {
      const sha256 = sha256Hex(o.body);
      const info = await backend.head(o.key);
      if (info !== undefined) {
        if (info.sha256 !== sha256 || info.bytes !== o.body.length) {
          throw tamper(
            backend,
            o.key,
            `stored sha256 ${info.sha256 ?? '(none)'} / ${info.bytes} bytes, local ${sha256} / ${o.body.length} bytes`,
          );
        }
        // Its bytes too, as for a segment found present: the service's MD5, else a read-back.
        const plainMd5 = info.md5 !== undefined && !info.md5.includes('-');
        if (task.backend.verify === 'read-back' || !plainMd5 || backend.type === 'fs') {
          if (sha256Hex(await backend.get(o.key)) !== sha256) {
            throw tamper(backend, o.key, 'its bytes do not match its SHA-256 metadata');
          }
        } else if (info.md5 !== md5Hex(o.body)) {
          throw tamper(backend, o.key, `service MD5 ${info.md5} does not match the bytes`);
        }
        present++;
        return;
      }
      await backend.put(o.key, o.body, { sha256, metadata: meta(o.kind) });
      uploaded++;
    };
    const putMutable = async (name: string, body: Buffer, kind: string): Promise<void> => {
      const key = `${base}/${name}`;
      const sha256 = sha256Hex(body);
      const info = await backend.head(key);
      if (info?.sha256 === sha256 && info.bytes === body.length) return;
      await backend.put(key, body, { sha256, metadata: meta(kind), overwrite: true });
      uploaded++;
    };

    // 1. Tiles, then the numbered checkpoints in counter order (the history is append-only).
    await forEachLimited(immutable, kSyncConcurrency, putImmutable);
    for (const cp of checkpoints) {
      const name = `${base}/${kCheckpointsDirName}/${path.basename(checkpointFiles(tlogDir, cp.counter).note, '.note')}`;
      await forEachLimited(
        [
          { key: `${name}.note`, body: cp.note, kind: 'checkpoint-note' },
          { key: `${name}.time`, body: cp.time, kind: 'time-note' },
        ],
        2,
        putImmutable,
      );
    }
    // 2. The mutable objects, `checkpoint` last.
    const index = readIfExists(path.join(tlogDir, kSeqIndexName));
    if (index !== undefined) await putMutable(kSeqIndexName, index, 'index');
    if (state !== undefined) await putMutable(kTilesStateFile, state, 'tiles-state');
    const latest = checkpoints[checkpoints.length - 1];
    if (latest !== undefined) await putMutable(kLatestCheckpointName, latest.note, 'checkpoint');
    return { ok: true, size, counter: Math.max(task.fromCounter, task.throughCounter), uploaded, present };
  } catch (err) {
    const e =
      err instanceof IronlogError
        ? err
        : new IronlogError(ErrorCodes.BACKEND, `backend ${backend.name}: ${String(err)}`, { cause: err });
    return { ok: false, error: e.toWire() };
  }
}
