/**
 * Durable C2SP tlog-tiles hash tiles (https://c2sp.org/tlog-tiles) of one log, under `tlogDir`:
 *
 *   tile/<L>/<N>          full tile: 256 hashes (8,192 bytes)
 *   tile/<L>/<N>.p/<W>    partial tile: the W (1..255) hashes of the rightmost tile of level L
 *   tiles-state           the tiled size and its root (written last, atomically; see below)
 *   tiles-tmp/            temporary files before their rename (emptied at open)
 *
 * Tile height is 8: hash i of tile N at level L is MTH(D[(N*256 + i) * 256^L : (N*256 + i + 1) * 256^L]),
 * so level-0 tiles hold leaf hashes and a level-(L+1) hash is the root of a full level-L tile.
 * `N` is written in 3-digit path elements, all but the last prefixed with `x` (1234067 ->
 * `x001/x234/067`). A bucket that holds these files (plus a checkpoint) is readable by standard
 * tlog tooling.
 *
 * Durability and crashes. `commit()` writes every new full tile and every changed partial tile
 * (temp file, fsync, rename, fsync of the directory), then replaces `tiles-state` the same way,
 * and only then deletes the partial tiles of tiles that are now full. So whatever point a crash
 * (or power loss) interrupts a commit at, `tiles-state` names a size whose tiles are all present
 * and durable: reopen reads back the last committed size, and the caller appends again from
 * there (re-written tiles get the same bytes, since the leaves are the same).
 *
 * Reading. Tiles are read lazily, kept in a small LRU cache, and every full tile read from disk
 * is checked against its parent hash one level up (the rightmost tiles are kept in memory and
 * checked against the root in `tiles-state` at open), so a damaged, truncated or missing tile
 * is reported as `ERR_IRONLOG_TLOG_CORRUPT` instead of producing a wrong proof. A proof on a
 * 10,000,000-entry log reads O(log n) tiles.
 *
 * One writer per directory (the sink's checkpointer). Readers open with `readOnly: true` and
 * may run beside the writer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { fsyncDir, nodeWalFs, readFully, type WalFs, writeFully } from '../wal/fs.js';
import {
  consistencyProof as consistencyProofFrom,
  inclusionProof as inclusionProofFrom,
  kEmptyRoot,
  kHashBytes,
  nodeHash,
  rootAt,
  type SubtreeHashSource,
} from './merkle.js';

/** Tree levels per tile (C2SP tlog-tiles uses 8). */
export const kTileHeight = 8;
/** Hashes in a full tile (2^8). */
export const kTileWidth = 256;
/** Bytes of a full tile. */
export const kFullTileBytes = kTileWidth * kHashBytes;
/** Highest tile level the spec allows. */
export const kMaxTileLevel = 63;
/** Default number of full tiles {@link TileLog} keeps decoded in memory (about 40 KiB each). */
export const kDefaultCacheTiles = 64;

/** File name of the tiled-size record inside `tlogDir`. */
export const kTilesStateFile = 'tiles-state';
const kTmpDir = 'tiles-tmp';
const kStateHeader = 'ironlog-tiles v1';
/** Attempts a read-only open makes when the writer replaces tiles under it. */
const kReadOnlyOpenAttempts = 5;

function checkCount(n: unknown, what: string): asserts n is number {
  if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `${what} must be a non-negative safe integer, got ${String(n)}`,
    );
  }
}

/** Encodes a tile index as 3-digit path elements, all but the last prefixed with `x`. */
function encodeTileIndex(index: number): string {
  const groups: string[] = [];
  let n = index;
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/**
 * The C2SP path of a hash tile, relative to the log prefix, with `/` separators:
 * `tilePath(0, 1234067)` is `tile/0/x001/x234/067`, `tilePath(1, 234, 7)` is `tile/1/234.p/7`.
 * `partialWidth` (1..255) makes it a partial tile; omit it for a full tile.
 */
export function tilePath(level: number, index: number, partialWidth?: number): string {
  if (!(Number.isInteger(level) && level >= 0 && level <= kMaxTileLevel)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `tile level must be an integer from 0 to 63, got ${level}`);
  }
  checkCount(index, 'tile index');
  const base = `tile/${level}/${encodeTileIndex(index)}`;
  if (partialWidth === undefined) return base;
  if (!(Number.isInteger(partialWidth) && partialWidth >= 1 && partialWidth < kTileWidth)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `partial tile width must be an integer from 1 to 255, got ${partialWidth}`,
    );
  }
  return `${base}.p/${partialWidth}`;
}

/** One tile of a tree of `size` leaves: level, index and width (256 for full; 0 = no partial tile). */
interface TileSpot {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** The rightmost tile of every level for a tree of `size` leaves (width 0: that level has no partial tile). */
function rightEdge(size: number): TileSpot[] {
  const out: TileSpot[] = [];
  for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / kTileWidth)) {
    out.push({ level, index: Math.floor(count / kTileWidth), width: count % kTileWidth });
  }
  return out;
}

/**
 * The hashes of one tile and of the 8 tree levels above them inside the tile. `data` holds the
 * tile's hashes (width * 32 bytes are valid); `upper[r - 1][j]` is the node at height r, index j.
 */
class TileHashes {
  readonly level: number;
  readonly index: number;
  readonly data: Buffer;
  #width = 0;
  readonly #upper: Buffer[][] = Array.from({ length: kTileHeight }, () => []);

  constructor(level: number, index: number, data: Buffer = Buffer.allocUnsafe(kFullTileBytes), width = 0) {
    this.level = level;
    this.index = index;
    this.data = data;
    for (let i = 0; i < width; i++) {
      this.#width++;
      this.#climb(i);
    }
  }

  get width(): number {
    return this.#width;
  }

  /** Appends one hash (the tile must not be full). */
  push(h: Uint8Array): void {
    this.data.set(h, this.#width * kHashBytes);
    this.#width++;
    this.#climb(this.#width - 1);
  }

  /** Hashes every node completed by hash `pos` arriving: a right child completes its parent. */
  #climb(pos: number): void {
    let p = pos;
    for (let r = 0; r < kTileHeight && p % 2 === 1; r++) {
      const parent = nodeHash(this.hashAt(r, p - 1), this.hashAt(r, p));
      (this.#upper[r] as Buffer[]).push(parent);
      p = (p - 1) / 2;
    }
  }

  /** The node at height r (0 = the tile's own hashes), index j within the tile; must be complete. */
  hashAt(r: number, j: number): Buffer {
    if (r === 0) return this.data.subarray(j * kHashBytes, (j + 1) * kHashBytes);
    const h = this.#upper[r - 1]?.[j];
    if (h === undefined) throw new IronlogError(ErrorCodes.INTERNAL, `tile node (${r}, ${j}) is not complete`);
    return h;
  }

  /** The tile's own hashes, exactly `width * 32` bytes. */
  bytes(): Buffer {
    return this.data.subarray(0, this.#width * kHashBytes);
  }
}

/** The `node:fs` subset {@link TileLog} uses: the WAL's seam plus `rmdirSync` (best-effort clean-up). */
export interface TileFs extends WalFs {
  rmdirSync(path: string): void;
}

/** The default {@link TileFs}: plain `node:fs`. */
export const kNodeTileFs: TileFs = Object.freeze({
  ...nodeWalFs,
  rmdirSync: (p: string): void => fs.rmdirSync(p),
});

/** Options of {@link TileLog.open}. */
export interface TileLogOptions {
  /**
   * Open for reading only: nothing is created, written or cleaned up, and `append`/`commit`
   * throw. Use it for offline proofs and verification, also beside a live writer. Default false.
   */
  readOnly?: boolean;
  /** Full tiles kept decoded in memory (LRU), about 40 KiB each. Default {@link kDefaultCacheTiles} (64). */
  cacheTiles?: number;
  /** File-system seam, for fault injection in tests. Default: `node:fs`. */
  fs?: TileFs;
}

interface TilesState {
  readonly size: number;
  readonly root: Buffer;
  /** Size of the commit before (its superseded partial tiles are deleted after this one). */
  readonly previousSize: number;
}

function corrupt(message: string, cause?: unknown): IronlogError {
  return new IronlogError(ErrorCodes.TLOG_CORRUPT, message, cause === undefined ? undefined : { cause });
}

function ioError(message: string, cause: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `${message}: ${(cause as Error).message}`, { cause });
}

function formatState(s: TilesState): string {
  return `${kStateHeader}\n${s.size}\n${s.root.toString('base64')}\n${s.previousSize}\n`;
}

function parseState(text: string, file: string): TilesState {
  const lines = text.split('\n');
  const [header, sizeText, rootText, prevText, end] = lines;
  const isCount = (t: string | undefined): t is string => t !== undefined && /^(0|[1-9][0-9]{0,15})$/.test(t);
  if (
    lines.length !== 5 ||
    header !== kStateHeader ||
    end !== '' ||
    !isCount(sizeText) ||
    !isCount(prevText) ||
    rootText === undefined
  ) {
    throw corrupt(`${file} is not an ironlog tiles state (expected "${kStateHeader}", size, root, previous size)`);
  }
  const size = Number(sizeText);
  const previousSize = Number(prevText);
  const root = Buffer.from(rootText, 'base64');
  if (!Number.isSafeInteger(size) || previousSize > size || root.length !== kHashBytes) {
    throw corrupt(`${file} holds an impossible state: size ${sizeText}, previous ${prevText}, root "${rootText}"`);
  }
  return { size, root, previousSize };
}

/**
 * Durable C2SP hash tiles of one log under `tlogDir`, and a {@link SubtreeHashSource} over them:
 * proofs come from the tiles, never from a rescan of the log.
 *
 * `append` takes leaf hashes (`leafHash(entry)`) in log order and keeps them in memory; `commit`
 * makes them durable. `size` is the durably tiled size, and every read (`subtreeHash`, `root`,
 * proofs) is limited to it: a root is never served for leaves that a crash could lose.
 */
export class TileLog implements SubtreeHashSource {
  readonly #dir: string;
  readonly #fs: TileFs;
  readonly #readOnly: boolean;
  readonly #cacheTiles: number;
  /** Durably tiled size and its root. */
  #state: TilesState;
  /** Leaves appended (committed or not). */
  #appended: number;
  /** Rightmost (open) tile of each level, including appended leaves not yet committed. */
  readonly #edge: TileHashes[] = [];
  /** Full tiles completed by `append`, not yet committed. Key `L/N`. */
  readonly #pendingFull = new Map<string, Buffer>();
  /** LRU of decoded full tiles. Key `L/N`. */
  readonly #cache = new Map<string, TileHashes>();
  /** Directories known to exist (so commit does not mkdir them again). */
  readonly #knownDirs = new Set<string>();
  #tmpCounter = 0;
  #closed = false;

  private constructor(dir: string, options: TileLogOptions, state: TilesState) {
    this.#dir = dir;
    this.#fs = options.fs ?? kNodeTileFs;
    this.#readOnly = options.readOnly ?? false;
    this.#cacheTiles = options.cacheTiles ?? kDefaultCacheTiles;
    this.#state = state;
    this.#appended = state.size;
  }

  /**
   * Opens (creating it unless `readOnly`) the tile store in `tlogDir` and reads the tiled size
   * back. Throws `ERR_IRONLOG_TLOG_CORRUPT` when `tiles-state` is damaged or the rightmost
   * tiles are missing or disagree with its root, `ERR_IRONLOG_IO` on other I/O errors.
   */
  static open(tlogDir: string, options: TileLogOptions = {}): TileLog {
    if (typeof tlogDir !== 'string' || tlogDir === '') {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'TileLog.open(tlogDir): tlogDir must be a non-empty string');
    }
    const { cacheTiles, readOnly } = options;
    if (cacheTiles !== undefined && !(Number.isInteger(cacheTiles) && cacheTiles >= 1)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.cacheTiles must be a positive integer');
    }
    if (readOnly !== undefined && typeof readOnly !== 'boolean') {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.readOnly must be a boolean');
    }
    const dir = path.resolve(tlogDir);
    const wfs = options.fs ?? kNodeTileFs;
    if (!readOnly) TileLog.#prepareDirs(dir, wfs);
    // A reader beside a live writer may read tiles-state just before a commit replaces it, and
    // then meet tiles of the new size: read the state again.
    for (let attempt = 1; ; attempt++) {
      const log = new TileLog(dir, options, TileLog.#readState(dir, wfs));
      try {
        log.#loadEdge();
        if (!readOnly) log.#cleanUp(log.#state.previousSize, log.#state.size);
        return log;
      } catch (err) {
        if (!(readOnly && attempt < kReadOnlyOpenAttempts && (err as IronlogError).code === ErrorCodes.TLOG_CORRUPT)) {
          throw err;
        }
      }
    }
  }

  static #prepareDirs(dir: string, wfs: TileFs): void {
    try {
      const parent = path.dirname(dir);
      let created = false;
      try {
        wfs.mkdirSync(dir);
        created = true;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') {
          wfs.mkdirSync(dir, { recursive: true });
          created = true;
        } else if (code !== 'EEXIST') {
          throw err;
        }
      }
      if (created) fsyncDir(parent, wfs);
      const tmp = path.join(dir, kTmpDir);
      try {
        wfs.mkdirSync(tmp);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      // Left-overs of a commit a crash interrupted: never renamed, so never part of the log.
      for (const name of wfs.readdirSync(tmp)) wfs.unlinkSync(path.join(tmp, name));
    } catch (err) {
      throw ioError(`cannot prepare the tile directory ${dir}`, err);
    }
  }

  static #readState(dir: string, wfs: TileFs): TilesState {
    const file = path.join(dir, kTilesStateFile);
    const bytes = TileLog.#readFile(wfs, file);
    if (bytes === undefined) return { size: 0, root: Buffer.from(kEmptyRoot), previousSize: 0 };
    return parseState(bytes.toString('utf8'), file);
  }

  /** Whole file, or undefined when it does not exist. */
  static #readFile(wfs: TileFs, file: string): Buffer | undefined {
    let fd: number;
    try {
      fd = wfs.openSync(file, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw ioError(`cannot open ${file}`, err);
    }
    try {
      const size = wfs.fstatSync(fd).size;
      const buf = Buffer.allocUnsafe(size);
      const n = readFully(wfs, fd, buf, 0, size, 0);
      return buf.subarray(0, n);
    } catch (err) {
      throw ioError(`cannot read ${file}`, err);
    } finally {
      wfs.closeSync(fd);
    }
  }

  /** Reads the partial tiles of the committed size and checks them against the stored root. */
  #loadEdge(): void {
    const { size } = this.#state;
    for (const spot of rightEdge(size)) {
      const tile = new TileHashes(spot.level, spot.index);
      if (spot.width > 0) {
        const bytes = this.#readTileFile(spot.level, spot.index, spot.width);
        for (let i = 0; i < spot.width; i++) tile.push(bytes.subarray(i * kHashBytes, (i + 1) * kHashBytes));
      }
      this.#edge[spot.level] = tile;
    }
    const root = size === 0 ? Buffer.from(kEmptyRoot) : rootAt(size, this);
    if (!root.equals(this.#state.root)) {
      throw corrupt(
        `the rightmost tiles under ${path.join(this.#dir, 'tile')} give root ${root.toString('base64')} for size ${size}, ` +
          `but ${kTilesStateFile} says ${this.#state.root.toString('base64')}`,
      );
    }
  }

  #abs(rel: string): string {
    return path.join(this.#dir, ...rel.split('/'));
  }

  /** Reads tile (level, index) of `width` hashes (256 = full) and checks its length. */
  #readTileFile(level: number, index: number, width: number): Buffer {
    const rel = tilePath(level, index, width === kTileWidth ? undefined : width);
    const bytes = TileLog.#readFile(this.#fs, this.#abs(rel));
    if (bytes === undefined && width < kTileWidth) {
      // The writer deletes a partial tile once the full tile exists (a reader that read an
      // older tiles-state gets here); the full tile starts with the same hashes, as the spec
      // lets clients assume.
      const full = TileLog.#readFile(this.#fs, this.#abs(tilePath(level, index)));
      if (full !== undefined && full.length === kFullTileBytes) return full.subarray(0, width * kHashBytes);
    }
    if (bytes === undefined) throw corrupt(`hash tile ${rel} is missing under ${this.#dir}`);
    if (bytes.length !== width * kHashBytes) {
      throw corrupt(`hash tile ${rel} under ${this.#dir} is ${bytes.length} bytes, expected ${width * kHashBytes}`);
    }
    return bytes;
  }

  #check(): void {
    if (this.#closed) throw new IronlogError(ErrorCodes.CLOSED, `the TileLog of ${this.#dir} is closed`);
  }

  /** Leaves durably tiled (the size `commit` last made durable). */
  get size(): number {
    return this.#state.size;
  }

  /** Leaves appended, committed or not (= `size` right after a commit). */
  get appendedSize(): number {
    return this.#appended;
  }

  /** Appends leaf hashes (32 bytes each: `leafHash(entry)`) in log order; kept in memory until `commit`. */
  append(leafHashes: readonly Uint8Array[]): void {
    this.#check();
    if (this.#readOnly) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `the TileLog of ${this.#dir} is read-only`);
    if (!Array.isArray(leafHashes)) {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'TileLog.append(leafHashes): leafHashes must be an array');
    }
    leafHashes.forEach((h: unknown, i) => {
      if (!(h instanceof Uint8Array) || h.length !== kHashBytes) {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          `TileLog.append: leafHashes[${i}] must be a ${kHashBytes}-byte hash`,
        );
      }
    });
    if (this.#appended + leafHashes.length > Number.MAX_SAFE_INTEGER) {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'TileLog.append: the log would exceed 2^53 - 1 entries');
    }
    for (const h of leafHashes) {
      this.#addHash(0, h);
      this.#appended++;
    }
  }

  /** Adds one hash to the open tile of `level`; a tile that fills up moves to the pending set and its root goes up. */
  #addHash(level: number, h: Uint8Array): void {
    let tile = this.#edge[level];
    if (tile === undefined) {
      tile = new TileHashes(level, 0);
      this.#edge[level] = tile;
    }
    tile.push(h);
    if (tile.width < kTileWidth) return;
    const key = `${level}/${tile.index}`;
    this.#pendingFull.set(key, tile.data);
    this.#remember(key, tile);
    this.#edge[level] = new TileHashes(level, tile.index + 1);
    this.#addHash(level + 1, tileRoot(tile));
  }

  #remember(key: string, tile: TileHashes): void {
    this.#cache.delete(key);
    this.#cache.set(key, tile);
    while (this.#cache.size > this.#cacheTiles) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  /**
   * Makes every appended leaf durable: writes the new full tiles and the changed partial tiles
   * (each: temp file, fsync, rename, directory fsync), then `tiles-state`, then deletes the
   * partial tiles of tiles that became full. A failure throws `ERR_IRONLOG_IO` and leaves the
   * durable size where it was; `commit` may be called again.
   */
  commit(): void {
    this.#check();
    if (this.#readOnly) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `the TileLog of ${this.#dir} is read-only`);
    const oldSize = this.#state.size;
    const newSize = this.#appended;
    if (newSize === oldSize) return;
    const dirsToSync = new Set<string>();
    const oldPartials = new Set(
      rightEdge(oldSize)
        .filter((s) => s.width > 0)
        .map((s) => tilePath(s.level, s.index, s.width)),
    );
    const keys = [...this.#pendingFull.keys()].sort(compareTileKeys);
    for (const key of keys) {
      const [level, index] = key.split('/').map(Number) as [number, number];
      this.#writeDurable(tilePath(level, index), this.#pendingFull.get(key) as Buffer, dirsToSync);
    }
    for (const spot of rightEdge(newSize)) {
      if (spot.width === 0) continue;
      const rel = tilePath(spot.level, spot.index, spot.width);
      if (oldPartials.has(rel)) continue; // unchanged level
      const tile = this.#edge[spot.level];
      if (tile === undefined || tile.index !== spot.index || tile.width !== spot.width) {
        throw new IronlogError(ErrorCodes.INTERNAL, `tile state out of step at ${rel}`);
      }
      this.#writeDurable(rel, tile.bytes(), dirsToSync);
    }
    const dirs = [...dirsToSync].sort((a, b) => b.length - a.length); // deepest first
    for (const d of dirs) this.#syncDir(d);
    const root = rootAt(newSize, this.#sourceUpTo(newSize));
    const state: TilesState = { size: newSize, root, previousSize: oldSize };
    const stateDirs = new Set<string>();
    this.#writeDurable(kTilesStateFile, Buffer.from(formatState(state), 'utf8'), stateDirs);
    for (const d of stateDirs) this.#syncDir(d);
    this.#state = state;
    this.#pendingFull.clear();
    this.#cleanUp(oldSize, newSize);
  }

  /** A view of this log that serves subtrees up to `limit` leaves (commit computes the new root with it). */
  #sourceUpTo(limit: number): SubtreeHashSource {
    return { subtreeHash: (level, index) => this.#subtreeHash(level, index, limit) };
  }

  #syncDir(dir: string): void {
    try {
      fsyncDir(dir, this.#fs);
    } catch (err) {
      throw ioError(`cannot fsync directory ${dir}`, err);
    }
  }

  /** Writes `rel` atomically and durably, except for the fsync of its directory, which is added to `dirsToSync`. */
  #writeDurable(rel: string, bytes: Uint8Array, dirsToSync: Set<string>): void {
    const target = this.#abs(rel);
    const tmp = path.join(this.#dir, kTmpDir, `${process.pid}-${++this.#tmpCounter}`);
    const wfs = this.#fs;
    try {
      const fd = wfs.openSync(tmp, 'w', 0o644);
      try {
        writeFully(wfs, fd, bytes, 0, bytes.length, 0);
        wfs.fsyncSync(fd);
      } finally {
        wfs.closeSync(fd);
      }
      this.#ensureDir(path.dirname(target), dirsToSync);
      wfs.renameSync(tmp, target);
    } catch (err) {
      if (err instanceof IronlogError) throw err;
      throw ioError(`cannot write ${target}`, err);
    }
    dirsToSync.add(path.dirname(target));
  }

  /** mkdir -p that records, for each directory it creates, its parent as needing an fsync. */
  #ensureDir(dir: string, dirsToSync: Set<string>): void {
    if (this.#knownDirs.has(dir) || dir === this.#dir) return;
    try {
      this.#fs.mkdirSync(dir);
      dirsToSync.add(path.dirname(dir));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        this.#ensureDir(path.dirname(dir), dirsToSync);
        this.#fs.mkdirSync(dir);
        dirsToSync.add(path.dirname(dir));
      } else if (code !== 'EEXIST') {
        throw err;
      }
    }
    this.#knownDirs.add(dir);
  }

  /**
   * Deletes the partial tiles of the tiles that became full between `oldSize` and `newSize`
   * (the spec allows it once the full tile is available; a partial tile of a tile that is still
   * open stays, since a client holding an older checkpoint may fetch it). Only the rightmost
   * tile of each level at `oldSize` can hold partial tiles of committed sizes. Best effort: a
   * tile left behind holds correct hashes (the same leaves), it only wastes space. Also run at
   * open for the last commit, in case a crash came between tiles-state and this clean-up.
   */
  #cleanUp(oldSize: number, newSize: number): void {
    const newEdge = rightEdge(newSize);
    for (const old of rightEdge(oldSize)) {
      const now = newEdge[old.level];
      if (now === undefined || now.index <= old.index) continue; // still the open tile
      const rel = `${tilePath(old.level, old.index)}.p`;
      let names: string[];
      try {
        names = this.#fs.readdirSync(this.#abs(rel));
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          this.#fs.unlinkSync(this.#abs(`${rel}/${name}`));
        } catch {
          // best effort
        }
      }
      try {
        this.#fs.rmdirSync(this.#abs(rel));
      } catch {
        // best effort
      }
    }
  }

  /**
   * MTH of the complete subtree (level, index): leaves [index * 2^level, (index + 1) * 2^level),
   * which must lie inside the durably tiled size. Served from the tiles.
   */
  subtreeHash(level: number, index: number): Buffer {
    this.#check();
    return this.#subtreeHash(level, index, this.#state.size);
  }

  #subtreeHash(level: number, index: number, limit: number): Buffer {
    checkCount(level, 'subtreeHash: level');
    checkCount(index, 'subtreeHash: index');
    if ((index + 1) * 2 ** level > limit) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `subtree (level ${level}, index ${index}) is not complete in the tiled tree of ${limit} leaves`,
      );
    }
    const tileLevel = Math.floor(level / kTileHeight);
    const r = level % kTileHeight;
    const first = index * 2 ** r; // first node at tree level 8 * tileLevel
    const tile = this.#tile(tileLevel, Math.floor(first / kTileWidth));
    return Buffer.from(tile.hashAt(r, (first % kTileWidth) / 2 ** r));
  }

  /** Tile (level, index) with its inner levels: the open edge tile, a cached or pending one, or read from disk and checked. */
  #tile(level: number, index: number): TileHashes {
    const edge = this.#edge[level];
    if (edge !== undefined && edge.index === index) return edge;
    const key = `${level}/${index}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#remember(key, cached);
      return cached;
    }
    const pending = this.#pendingFull.get(key);
    const tile = new TileHashes(level, index, pending ?? this.#readTileFile(level, index, kTileWidth), kTileWidth);
    if (pending === undefined) {
      // Its root is hash `index % 256` of its parent tile: a changed or swapped tile cannot pass.
      const parent = this.#tile(level + 1, Math.floor(index / kTileWidth));
      if (!tileRoot(tile).equals(parent.hashAt(0, index % kTileWidth))) {
        throw corrupt(
          `hash tile ${tilePath(level, index)} under ${this.#dir} does not match its parent ${tilePath(level + 1, Math.floor(index / kTileWidth))}`,
        );
      }
    }
    this.#remember(key, tile);
    return tile;
  }

  /** MTH of the first `treeSize` leaves (default: the tiled size). */
  root(treeSize?: number): Buffer {
    this.#check();
    const n = this.#sizeArg(treeSize, 'root: treeSize');
    return rootAt(n, this);
  }

  /** Inclusion proof of leaf `index` in the tree of `treeSize` leaves (default: the tiled size). */
  inclusionProof(index: number, treeSize?: number): Buffer[] {
    this.#check();
    return inclusionProofFrom(index, this.#sizeArg(treeSize, 'inclusionProof: treeSize'), this);
  }

  /** Consistency proof between the trees of `size1` and `size2` leaves (default: the tiled size). */
  consistencyProof(size1: number, size2?: number): Buffer[] {
    this.#check();
    return consistencyProofFrom(size1, this.#sizeArg(size2, 'consistencyProof: size2'), this);
  }

  #sizeArg(treeSize: number | undefined, what: string): number {
    if (treeSize === undefined) return this.#state.size;
    checkCount(treeSize, what);
    if (treeSize > this.#state.size) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `${what} ${treeSize} is above the tiled size ${this.#state.size}`,
      );
    }
    return treeSize;
  }

  /** Drops the caches. Appended leaves that were not committed are lost (they are not durable). */
  close(): void {
    this.#closed = true;
    this.#cache.clear();
    this.#pendingFull.clear();
    this.#edge.length = 0;
  }
}

/** Root of a full tile: the node at height 8. */
function tileRoot(tile: TileHashes): Buffer {
  return tile.hashAt(kTileHeight, 0);
}

function compareTileKeys(a: string, b: string): number {
  const [la, ia] = a.split('/').map(Number) as [number, number];
  const [lb, ib] = b.split('/').map(Number) as [number, number];
  return la - lb || ia - ib;
}
