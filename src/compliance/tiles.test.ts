import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  consistencyProof,
  inclusionProof,
  kEmptyRoot,
  leafHash,
  MemoryHashSource,
  rootAt,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import { kNodeTileFs, kTilesStateFile, type TileFs, TileLog, tilePath } from './tiles.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-tiles-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const kMaxLeaves = 65_537;
/** Leaf hashes of synthetic entries, shared by every test (same leaves = same tiles). */
const kLeaves: Buffer[] = Array.from({ length: kMaxLeaves }, (_, i) => leafHash(Buffer.from(`entry-${i}`)));
const kTruth = new MemoryHashSource(kLeaves);

/** Every file under `dir`, relative, with `/` separators, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

function dirsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(r);
      walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

function build(dir: string, commitSizes: readonly number[]): TileLog {
  const log = TileLog.open(dir);
  for (const n of commitSizes) {
    log.append(kLeaves.slice(log.appendedSize, n));
    log.commit();
  }
  return log;
}

const corrupt = expect.objectContaining({ code: 'ERR_IRONLOG_TLOG_CORRUPT' });
const invalidArgument = expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });

/** Indexes worth checking in a tree of n leaves: the edges of every tile and level, plus a spread. */
function sampleIndexes(n: number): number[] {
  const set = new Set<number>([0, 1, n - 1, n - 2, Math.floor(n / 2)]);
  for (const b of [255, 256, 257, 511, 512, 65_535, 65_536]) {
    if (b < n) set.add(b);
  }
  for (let i = 0; i < 12; i++) set.add(Math.floor((n * (i + 0.37)) / 12));
  return [...set].filter((i) => i >= 0 && i < n).sort((a, b) => a - b);
}

/** Checks `log` (tiled size n) against the in-memory tree: roots, inclusion and consistency proofs. */
function expectMatchesMemory(log: TileLog, n: number, olderSizes: readonly number[]): void {
  expect(log.size).toBe(n);
  const root = rootAt(n, kTruth);
  expect(log.root()).toEqual(root);
  for (const i of sampleIndexes(n)) {
    const proof = log.inclusionProof(i);
    expect(proof).toEqual(inclusionProof(i, n, kTruth));
    verifyInclusion(kLeaves[i] as Buffer, i, n, proof, root);
  }
  for (const m of olderSizes) {
    if (m > n) continue;
    expect(log.root(m)).toEqual(rootAt(m, kTruth));
    const proof = log.consistencyProof(m);
    expect(proof).toEqual(consistencyProof(m, n, kTruth));
    if (m > 0) verifyConsistency(m, n, proof, rootAt(m, kTruth), root);
    if (m > 0) expect(log.inclusionProof(m - 1, m)).toEqual(inclusionProof(m - 1, m, kTruth));
  }
}

describe('tilePath (C2SP tlog-tiles)', () => {
  it('encodes the index in x-prefixed 3-digit elements, and partial tiles as .p/<W>', () => {
    expect(tilePath(0, 0)).toBe('tile/0/000');
    expect(tilePath(0, 7)).toBe('tile/0/007');
    expect(tilePath(0, 999)).toBe('tile/0/999');
    expect(tilePath(0, 1000)).toBe('tile/0/x001/000');
    expect(tilePath(0, 1_234_067)).toBe('tile/0/x001/x234/067'); // the spec's example
    expect(tilePath(3, 1_000_000)).toBe('tile/3/x001/x000/000');
    expect(tilePath(0, 1234, 7)).toBe('tile/0/x001/234.p/7');
    expect(tilePath(63, 0, 255)).toBe('tile/63/000.p/255');
  });

  it('rejects levels, indexes and widths the spec does not allow', () => {
    for (const [l, n, w] of [
      [64, 0, undefined],
      [-1, 0, undefined],
      [0.5, 0, undefined],
      [0, -1, undefined],
      [0, 2 ** 53, undefined],
      [0, 0, 0],
      [0, 0, 256],
      [0, 0, 1.5],
    ] as [number, number, number | undefined][]) {
      expect(() => tilePath(l, n, w)).toThrow(invalidArgument);
    }
  });
});

describe('TileLog layout on disk', () => {
  it('a tree of 70,000 leaves is the spec example: 273 full + partial 112 at level 0, 1 full + partial 17 at level 1, partial 1 at level 2', () => {
    // kLeaves has 65,537 entries; extend it for this test with more synthetic leaves.
    const dir2 = tmpDir();
    const more = Array.from({ length: 70_000 }, (_, i) => kLeaves[i] ?? leafHash(Buffer.from(`entry-${i}`)));
    const log2 = TileLog.open(dir2);
    log2.append(more);
    log2.commit();
    const files = filesUnder(path.join(dir2, 'tile'));
    const level0 = files.filter((f) => f.startsWith('0/'));
    expect(level0.filter((f) => !f.includes('.p/'))).toHaveLength(273);
    expect(level0.filter((f) => f.includes('.p/'))).toEqual(['0/273.p/112']);
    expect(files.filter((f) => f.startsWith('1/'))).toEqual(['1/000', '1/001.p/17']);
    expect(files.filter((f) => f.startsWith('2/'))).toEqual(['2/000.p/1']);
    expect(files.filter((f) => !/^[012]\//.test(f))).toEqual([]);
    for (const f of level0) {
      const bytes = fs.statSync(path.join(dir2, 'tile', f)).size;
      expect(bytes).toBe(f.includes('.p/') ? 112 * 32 : 8192);
    }
    // Tile contents are the C2SP definition: hash i of tile N at level 1 = MTH of leaves [(256N+i)*256, ...).
    const t1 = fs.readFileSync(path.join(dir2, 'tile', '1', '000'));
    const mem = new MemoryHashSource(more);
    for (const i of [0, 1, 200, 255]) expect(t1.subarray(i * 32, i * 32 + 32)).toEqual(mem.subtreeHash(8, i));
    expect(fs.readFileSync(path.join(dir2, 'tile', '2', '000.p', '1'))).toEqual(mem.subtreeHash(16, 0));
    expect(log2.root()).toEqual(rootAt(70_000, mem));
    // Nothing else in the directory but the state file and the (empty) temp directory.
    expect(fs.readdirSync(dir2).sort()).toEqual(['tile', 'tiles-state', 'tiles-tmp']);
    expect(fs.readdirSync(path.join(dir2, 'tiles-tmp'))).toEqual([]);
    log2.close();
  });

  it('a tree of 256 leaves is a full level-0 tile and a level-1 partial tile of width 1', () => {
    const dir = tmpDir();
    build(dir, [256]).close();
    expect(filesUnder(path.join(dir, 'tile'))).toEqual(['0/000', '1/000.p/1']);
  });

  it('keeps the partial tiles of earlier commits while the tile is open, and deletes them (and .p/) once it is full', () => {
    const dir = tmpDir();
    const log = build(dir, [10, 30]);
    expect(filesUnder(path.join(dir, 'tile'))).toEqual(['0/000.p/10', '0/000.p/30']);
    log.append(kLeaves.slice(30, 300));
    log.commit();
    expect(filesUnder(path.join(dir, 'tile'))).toEqual(['0/000', '0/001.p/44', '1/000.p/1']);
    expect(dirsUnder(path.join(dir, 'tile'))).toEqual(['0', '0/001.p', '1', '1/000.p']);
    log.close();
  });

  it('writes the tiled size and root to tiles-state', () => {
    const dir = tmpDir();
    build(dir, [5, 300]).close();
    const text = fs.readFileSync(path.join(dir, kTilesStateFile), 'utf8');
    expect(text).toBe(`ironlog-tiles v1\n300\n${rootAt(300, kTruth).toString('base64')}\n5\n`);
  });
});

describe('TileLog proofs equal merkle.ts on the same leaves', () => {
  it('across tile and level boundaries, committing in steps, reopening in between, and read-only', () => {
    const dir = tmpDir();
    const steps = [1, 2, 3, 7, 255, 256, 257, 300, 511, 512, 513, 4095, 20_000, 65_535, 65_536, 65_537];
    const done: number[] = [0];
    let log = TileLog.open(dir);
    expectMatchesMemory(log, 0, []);
    expect(log.root()).toEqual(kEmptyRoot);
    for (const [k, n] of steps.entries()) {
      log.append(kLeaves.slice(log.appendedSize, n));
      expect(log.size).toBe(done[done.length - 1]); // not durable before commit
      log.commit();
      expectMatchesMemory(log, n, done);
      if (k % 3 === 2) {
        log.close();
        log = TileLog.open(dir, { cacheTiles: 2 }); // tiny cache: every tile read from disk is checked
        expectMatchesMemory(log, n, done);
      }
      done.push(n);
    }
    const reader = TileLog.open(dir, { readOnly: true });
    expectMatchesMemory(reader, kMaxLeaves, done);
    expect(() => reader.append([kLeaves[0] as Buffer])).toThrow(invalidArgument);
    expect(() => reader.commit()).toThrow(invalidArgument);
    reader.close();
    log.close();
  });

  it('one commit of every size from 1 to 300 (every partial-tile width, both levels) gives the in-memory roots and proofs', () => {
    const dir = tmpDir();
    const log = TileLog.open(dir);
    const done: number[] = [];
    for (let n = 1; n <= 300; n++) {
      log.append([kLeaves[n - 1] as Buffer]);
      log.commit();
      expect(log.root()).toEqual(rootAt(n, kTruth));
      const i = (n * 7919) % n;
      expect(log.inclusionProof(i)).toEqual(inclusionProof(i, n, kTruth));
      if (n % 50 === 0) {
        expectMatchesMemory(log, n, done);
        done.push(n);
      }
    }
    log.close();
    const again = TileLog.open(dir);
    expectMatchesMemory(again, 300, done);
    again.close();
    // Only the partial tiles of still-open tiles remain.
    expect(
      filesUnder(path.join(dir, 'tile'))
        .filter((f) => f.includes('.p/'))
        .every((f) => f.startsWith('0/001.p/') || f.startsWith('1/000.p/')),
    ).toBe(true);
  });

  it('appended but uncommitted leaves are not served and do not survive a reopen', () => {
    const dir = tmpDir();
    const log = build(dir, [100]);
    log.append(kLeaves.slice(100, 400));
    expect(log.size).toBe(100);
    expect(log.appendedSize).toBe(400);
    expect(log.root()).toEqual(rootAt(100, kTruth));
    expect(() => log.inclusionProof(150)).toThrow(invalidArgument);
    expect(() => log.root(101)).toThrow(invalidArgument);
    expect(() => log.subtreeHash(8, 0)).toThrow(invalidArgument);
    expect(log.inclusionProof(99)).toEqual(inclusionProof(99, 100, kTruth));
    log.close();
    const again = TileLog.open(dir);
    expect(again.size).toBe(100);
    expect(again.appendedSize).toBe(100);
    again.append(kLeaves.slice(100, 400));
    again.commit();
    expectMatchesMemory(again, 400, [100]);
    again.close();
  });

  it('rejects bad arguments with typed errors, and calls after close with ERR_IRONLOG_CLOSED', () => {
    const dir = tmpDir();
    const log = build(dir, [10]);
    expect(() => log.append([Buffer.alloc(31)])).toThrow(invalidArgument);
    expect(() => log.append('x' as unknown as Buffer[])).toThrow(invalidArgument);
    expect(() => log.inclusionProof(10)).toThrow(invalidArgument);
    expect(() => log.consistencyProof(11)).toThrow(invalidArgument);
    expect(() => log.subtreeHash(-1, 0)).toThrow(invalidArgument);
    expect(() => TileLog.open(dir, { cacheTiles: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION' }),
    );
    expect(() => TileLog.open('')).toThrow(invalidArgument);
    expect(log.size).toBe(10); // the bad append added nothing
    log.commit(); // nothing to do
    log.close();
    expect(() => log.root()).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_CLOSED' }));
    expect(() => log.append([kLeaves[0] as Buffer])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_CLOSED' }));
  });

  it('a reader holding an older tiles-state reads a superseded partial tile from the full tile', () => {
    const dir = tmpDir();
    const log = build(dir, [250]);
    const oldState = fs.readFileSync(path.join(dir, kTilesStateFile));
    log.append(kLeaves.slice(250, 530));
    log.commit();
    expect(fs.existsSync(path.join(dir, 'tile', '0', '000.p'))).toBe(false);
    // What a reader sees when it read tiles-state just before that commit replaced it.
    fs.writeFileSync(path.join(dir, kTilesStateFile), oldState);
    const reader = TileLog.open(dir, { readOnly: true });
    expectMatchesMemory(reader, 250, [1, 100]);
    reader.close();
    log.close();
  });

  it('open creates a missing directory, parents included', () => {
    const dir = path.join(tmpDir(), 'wal', 'tlog');
    const log = TileLog.open(dir);
    log.append(kLeaves.slice(0, 3));
    log.commit();
    log.close();
    expect(TileLog.open(dir, { readOnly: true }).root()).toEqual(rootAt(3, kTruth));
  });

  it('a read-only open of a missing directory creates nothing and is an empty log', () => {
    const dir = path.join(tmpDir(), 'nope');
    const log = TileLog.open(dir, { readOnly: true });
    expect(log.size).toBe(0);
    expect(log.root()).toEqual(kEmptyRoot);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Crashes: a file system that dies at the k-th mutating call, for every k of a commit.

class CrashFs implements TileFs {
  ops = 0;
  crashAt: number;
  constructor(crashAt = Number.POSITIVE_INFINITY) {
    this.crashAt = crashAt;
  }
  #step(what: string): void {
    this.ops++;
    if (this.ops === this.crashAt) throw Object.assign(new Error(`simulated crash at ${what}`), { code: 'EIO' });
  }
  openSync(p: string, flags: string, mode?: number): number {
    if (flags !== 'r') this.#step(`open ${p}`);
    return kNodeTileFs.openSync(p, flags, mode);
  }
  closeSync(fd: number): void {
    kNodeTileFs.closeSync(fd);
  }
  writeSync(fd: number, b: Uint8Array, o: number, l: number, pos: number): number {
    this.#step('write');
    // A crash in the middle of a write leaves a torn temp file.
    return kNodeTileFs.writeSync(fd, b, o, this.ops + 1 === this.crashAt ? Math.floor(l / 2) : l, pos);
  }
  readSync(fd: number, b: Uint8Array, o: number, l: number, pos: number): number {
    return kNodeTileFs.readSync(fd, b, o, l, pos);
  }
  fdatasyncSync(fd: number): void {
    this.#step('fdatasync');
    kNodeTileFs.fdatasyncSync(fd);
  }
  fsyncSync(fd: number): void {
    this.#step('fsync');
    kNodeTileFs.fsyncSync(fd);
  }
  ftruncateSync(fd: number, l: number): void {
    this.#step('ftruncate');
    kNodeTileFs.ftruncateSync(fd, l);
  }
  fstatSync(fd: number): { readonly size: number } {
    return kNodeTileFs.fstatSync(fd);
  }
  renameSync(a: string, b: string): void {
    this.#step(`rename ${b}`);
    kNodeTileFs.renameSync(a, b);
  }
  unlinkSync(p: string): void {
    this.#step(`unlink ${p}`);
    kNodeTileFs.unlinkSync(p);
  }
  readdirSync(p: string): string[] {
    return kNodeTileFs.readdirSync(p);
  }
  mkdirSync(p: string, options?: { recursive?: boolean }): void {
    this.#step(`mkdir ${p}`);
    kNodeTileFs.mkdirSync(p, options);
  }
  rmdirSync(p: string): void {
    this.#step(`rmdir ${p}`);
    kNodeTileFs.rmdirSync(p);
  }
}

/**
 * Copies a tile store by hard links: safe because TileLog never writes a file in place (every
 * tile and tiles-state is replaced by a rename), and much cheaper than copying the bytes.
 */
function linkCopy(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) linkCopy(a, b);
    else fs.linkSync(a, b);
  }
}

function crashEveryStep(from: number, to: number): { points: number; sawOld: number; sawNew: number } {
  const base = tmpDir();
  build(base, [Math.floor(from / 2), from]).close();
  // Count the mutating calls of one clean commit.
  const probeDir = tmpDir();
  linkCopy(base, probeDir);
  const counter = new CrashFs();
  const probe = TileLog.open(probeDir, { fs: counter });
  const opsAtOpen = counter.ops;
  probe.append(kLeaves.slice(from, to));
  probe.commit();
  probe.close();
  const points = counter.ops - opsAtOpen;
  expect(points).toBeGreaterThan(10);
  let sawOld = 0;
  let sawNew = 0;
  for (let k = 1; k <= points; k++) {
    const dir = tmpDir();
    linkCopy(base, dir);
    const crashing = new CrashFs(opsAtOpen + k);
    const log = TileLog.open(dir, { fs: crashing });
    log.append(kLeaves.slice(from, to));
    let crashed = false;
    try {
      log.commit();
    } catch (err) {
      crashed = true;
      expect(err).toMatchObject({ code: 'ERR_IRONLOG_IO' });
    }
    // The clean-up after tiles-state is best effort: a crash there does not fail the commit.
    if (!crashed) expect(log.size).toBe(to);
    // "Crash": drop the instance, reopen from disk.
    const reopened = TileLog.open(dir);
    const n = reopened.size;
    expect([from, to]).toContain(n);
    if (n === from) sawOld++;
    else sawNew++;
    expect(reopened.root()).toEqual(rootAt(n, kTruth));
    for (const i of [0, from - 1, Math.floor(from / 3)]) {
      expect(reopened.inclusionProof(i)).toEqual(inclusionProof(i, n, kTruth));
    }
    // The caller appends again from the durable size; the log ends up as if nothing happened.
    reopened.append(kLeaves.slice(n, to));
    reopened.commit();
    expectMatchesMemory(reopened, to, [from]);
    reopened.close();
    expect(fs.readdirSync(path.join(dir, 'tiles-tmp'))).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { points, sawOld, sawNew };
}

/** Records every file-system call of interest, with paths (fds resolved to the path they were opened with). */
class RecordingFs extends CrashFs {
  readonly log: { op: string; path: string; to?: string }[] = [];
  readonly #fdPath = new Map<number, string>();
  override openSync(p: string, flags: string, mode?: number): number {
    const fd = super.openSync(p, flags, mode);
    this.#fdPath.set(fd, p);
    this.log.push({ op: `open-${flags}`, path: p });
    return fd;
  }
  override fsyncSync(fd: number): void {
    super.fsyncSync(fd);
    this.log.push({ op: 'fsync', path: this.#fdPath.get(fd) ?? '?' });
  }
  override renameSync(a: string, b: string): void {
    super.renameSync(a, b);
    this.log.push({ op: 'rename', path: a, to: b });
  }
  override mkdirSync(p: string, options?: { recursive?: boolean }): void {
    super.mkdirSync(p, options);
    this.log.push({ op: 'mkdir', path: p });
  }
  override unlinkSync(p: string): void {
    super.unlinkSync(p);
    this.log.push({ op: 'unlink', path: p });
  }
}

describe('TileLog crash safety', () => {
  it('orders a commit for power loss: file fsync before rename, directory fsyncs before tiles-state, deletions last', () => {
    const dir = tmpDir();
    build(dir, [250]).close();
    const rec = new RecordingFs();
    const log = TileLog.open(dir, { fs: rec });
    rec.log.length = 0;
    log.append(kLeaves.slice(250, kMaxLeaves));
    log.commit();
    log.close();
    const ops = rec.log;
    const stateAt = ops.findIndex((o) => o.op === 'rename' && o.to === path.join(dir, kTilesStateFile));
    expect(stateAt).toBeGreaterThan(0);
    let tileRenames = 0;
    ops.forEach((o, i) => {
      if (o.op === 'rename') {
        // the temp file was fsynced after it was opened for writing, before this rename
        const opened = ops.findLastIndex((x, j) => j < i && x.op === 'open-w' && x.path === o.path);
        const synced = ops.findIndex((x, j) => j > opened && j < i && x.op === 'fsync' && x.path === o.path);
        expect(opened).toBeGreaterThanOrEqual(0);
        expect(synced).toBeGreaterThan(opened);
        const target = o.to as string;
        if (i < stateAt) {
          tileRenames++;
          expect(target.startsWith(path.join(dir, 'tile') + path.sep)).toBe(true);
          // its directory is fsynced after the rename and before tiles-state is replaced
          const dirSync = ops.findIndex(
            (x, j) => j > i && j < stateAt && x.op === 'fsync' && x.path === path.dirname(target),
          );
          expect(dirSync).toBeGreaterThan(i);
        }
      }
      if (o.op === 'mkdir') {
        expect(i).toBeLessThan(stateAt);
        const parentSync = ops.findIndex(
          (x, j) => j > i && j < stateAt && x.op === 'fsync' && x.path === path.dirname(o.path),
        );
        expect(parentSync).toBeGreaterThan(i);
      }
      if (o.op === 'unlink') expect(i).toBeGreaterThan(stateAt);
    });
    // full level-0 tiles 0..255, tile/1/000, tile/0/256.p/1 and tile/2/000.p/1
    expect(tileRenames).toBe(256 + 1 + 1 + 1);
    // tiles-state itself: the directory is fsynced after its rename
    expect(ops.findIndex((x, j) => j > stateAt && x.op === 'fsync' && x.path === dir)).toBeGreaterThan(stateAt);
    expect(ops.some((o) => o.op === 'unlink' && o.path.endsWith(path.join('000.p', '250')))).toBe(true);
  });

  it('a crash at any step of a commit (250 -> 530: two tiles fill, a level appears) leaves the old or the new size, consistent', () => {
    const r = crashEveryStep(250, 530);
    expect(r.sawOld).toBeGreaterThan(0);
    expect(r.sawNew).toBeGreaterThan(0);
  });

  it('the same across the level-2 boundary (65,500 -> 65,537)', () => {
    const r = crashEveryStep(65_500, 65_537);
    expect(r.sawOld).toBeGreaterThan(0);
    expect(r.sawNew).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Damage: every damaged, missing or swapped tile is ERR_IRONLOG_TLOG_CORRUPT, never a wrong proof.

describe('TileLog damage', () => {
  let pristine: string | undefined;
  /** A copy of one 65,537-leaf log (built once), damaged by `mutate`. */
  function damaged(mutate: (dir: string) => void): string {
    if (pristine === undefined) {
      pristine = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-tiles-pristine-'));
      build(pristine, [kMaxLeaves]).close();
    }
    const dir = tmpDir();
    fs.cpSync(pristine, dir, { recursive: true }); // real copies: the mutations write in place
    mutate(dir);
    return dir;
  }
  afterAll(() => {
    if (pristine !== undefined) fs.rmSync(pristine, { recursive: true, force: true });
  });
  const tile = (dir: string, rel: string): string => path.join(dir, ...rel.split('/'));

  it('a flipped byte in a full level-0 tile is caught against its parent tile', () => {
    const dir = damaged((d) => {
      const f = tile(d, tilePath(0, 17));
      const b = fs.readFileSync(f);
      b[100] = (b[100] as number) ^ 1;
      fs.writeFileSync(f, b);
    });
    const log = TileLog.open(dir);
    expect(log.inclusionProof(16 * 256)).toEqual(inclusionProof(16 * 256, kMaxLeaves, kTruth)); // other tiles fine
    expect(() => log.inclusionProof(17 * 256 + 5)).toThrow(corrupt);
    expect(() => log.inclusionProof(17 * 256 + 5)).toThrow(/tile\/0\/017 .*does not match its parent tile\/1\/000/);
  });

  it('a flipped byte in the full level-1 tile is caught (its parent is the rightmost level-2 tile)', () => {
    const dir = damaged((d) => {
      const f = tile(d, tilePath(1, 0));
      const b = fs.readFileSync(f);
      b[8000] = (b[8000] as number) ^ 0x80;
      fs.writeFileSync(f, b);
    });
    const log = TileLog.open(dir);
    expect(() => log.inclusionProof(3)).toThrow(corrupt);
    expect(() => log.root(1000)).toThrow(/tile\/1\/000/);
  });

  it('two swapped tiles are caught', () => {
    const dir = damaged((d) => {
      const a = tile(d, tilePath(0, 3));
      const b = tile(d, tilePath(0, 4));
      const ta = fs.readFileSync(a);
      fs.writeFileSync(a, fs.readFileSync(b));
      fs.writeFileSync(b, ta);
    });
    const log = TileLog.open(dir);
    expect(() => log.inclusionProof(3 * 256)).toThrow(corrupt);
    expect(() => log.inclusionProof(4 * 256)).toThrow(corrupt);
  });

  it('a missing or truncated full tile', () => {
    const dir = damaged((d) => {
      fs.rmSync(tile(d, tilePath(0, 9)));
      fs.truncateSync(tile(d, tilePath(0, 10)), 8191);
    });
    const log = TileLog.open(dir);
    expect(() => log.inclusionProof(9 * 256)).toThrow(/tile\/0\/009 is missing/);
    expect(() => log.inclusionProof(10 * 256)).toThrow(/tile\/0\/010 .*is 8191 bytes, expected 8192/);
    expect(() => log.consistencyProof(9 * 256 + 3)).toThrow(corrupt);
  });

  it('a damaged or missing rightmost (partial) tile fails the open', () => {
    const flipped = damaged((d) => {
      const p = tile(d, tilePath(2, 0, 1));
      const b = fs.readFileSync(p);
      b[0] = (b[0] as number) ^ 1;
      fs.writeFileSync(p, b);
    });
    expect(() => TileLog.open(flipped)).toThrow(corrupt);
    expect(() => TileLog.open(flipped, { readOnly: true })).toThrow(/give root .* but tiles-state says/);
    const missing = damaged((d) => {
      fs.rmSync(tile(d, tilePath(0, 256, 1)));
    });
    expect(() => TileLog.open(missing)).toThrow(/tile\/0\/256\.p\/1 is missing/);
  });

  it('a damaged tiles-state fails the open', () => {
    for (const text of [
      '',
      'ironlog-tiles v1\n10\n',
      'ironlog-tiles v1\n10\nAAAA\n0\n',
      'ironlog-tiles v1\n01\nx\n0\n',
    ]) {
      const dir = damaged((d) => fs.writeFileSync(path.join(d, kTilesStateFile), text));
      expect(() => TileLog.open(dir)).toThrow(corrupt);
    }
    // A state that names a bigger size than the tiles hold.
    const dir = damaged((d) => {
      const t = fs.readFileSync(path.join(d, kTilesStateFile), 'utf8').split('\n');
      t[1] = String(kMaxLeaves + 1);
      fs.writeFileSync(path.join(d, kTilesStateFile), t.join('\n'));
    });
    expect(() => TileLog.open(dir)).toThrow(corrupt);
  });
});
