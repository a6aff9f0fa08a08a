/**
 * A crash-consistency model of a file system behind the {@link WalFs} seam, in the spirit of
 * ALICE, CrashMonkey and LazyFS: it keeps, for every file, the bytes that are durable (made so by
 * `fdatasync`/`fsync`) apart from the operations that are not yet (writes and truncates since the
 * last sync), and for the directory the entries that are durable (after a directory `fsync`)
 * apart from the creates, renames and unlinks since. At any moment it can produce the legal disk
 * states a power loss could leave:
 *
 * - every unsynced write is split at 512-byte sector boundaries, and each piece is independently
 *   kept or dropped (so writes are dropped, reordered and torn at sector boundaries);
 * - an unsynced `ftruncate` is kept or dropped like a write piece (applied in program order with
 *   the pieces that are kept);
 * - unsynced directory operations (a new file, a rename, an unlink) survive as a prefix, in
 *   program order (a journaling file system commits metadata in order); with no directory fsync
 *   after them, all of them may be lost, and a file whose name is lost is lost with its data.
 *
 * It models one directory (the WAL directory) in memory; nothing touches the real disk. Mutation
 * switches (`dropFdatasync`, `dropDirFsync`) make the model ignore a kind of sync, which is how
 * the torture suite proves that it catches a writer that forgot one.
 */
import * as path from 'node:path';
import type { WalFs } from '../wal/fs.js';

/** Sector size: the unit a disk writes atomically (or not at all) in this model. */
export const kSectorBytes = 512;

/** Kinds of operations the model records (and offers as crash points). */
export type CrashFsOp = 'create' | 'write' | 'truncate' | 'fdatasync' | 'fsync' | 'dirsync' | 'rename' | 'unlink';

interface WriteOp {
  readonly kind: 'write';
  readonly pos: number;
  readonly bytes: Buffer;
}
interface TruncateOp {
  readonly kind: 'truncate';
  readonly size: number;
}
type DataOp = WriteOp | TruncateOp;

type DirOp =
  | { readonly kind: 'link'; readonly name: string; readonly ino: number }
  | { readonly kind: 'unlink'; readonly name: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string };

class Inode {
  /** What reads see now (the page cache). */
  cur: Buffer = Buffer.alloc(0);
  /** What survives a power loss for sure. */
  durable: Buffer = Buffer.alloc(0);
  /** Data operations since the last sync of this file, in program order. */
  pending: DataOp[] = [];
  constructor(readonly ino: number) {}
}

interface OpenFile {
  readonly ino: number; // -1 for the directory
}

/** One post-crash disk state: file name to contents. */
export type CrashImage = Map<string, Buffer>;

/** Options of {@link CrashFs}. */
export interface CrashFsOptions {
  /** Mutation switch: `fdatasyncSync`/`fsyncSync` of a file make nothing durable. */
  dropFdatasync?: boolean;
  /** Mutation switch: `fsyncSync` of the directory makes nothing durable. */
  dropDirFsync?: boolean;
}

/** The error a failed sync throws (see {@link CrashFs.failNextSync}). */
function syncFailed(): NodeJS.ErrnoException {
  const err = errno('EIO', 'i/o error (injected), fdatasync');
  err.syscall = 'fdatasync';
  return err;
}

/** One unit of choice in a crash state: a sector piece of a write, or a truncate. */
interface Unit {
  readonly ino: number;
  readonly op: number; // index in the inode's pending list
  /** For writes: the piece [from, to) of the op's bytes. */
  readonly from: number;
  readonly to: number;
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  err.code = code;
  return err;
}

function resize(buf: Buffer, size: number): Buffer {
  if (size === buf.length) return buf;
  if (size < buf.length) return buf.subarray(0, size);
  const out = Buffer.alloc(size);
  buf.copy(out, 0);
  return out;
}

/**
 * An in-memory {@link WalFs} for one directory (`dir`) that records what is durable and what is
 * not, and produces post-crash states with {@link crashStates}.
 */
export class CrashFs implements WalFs {
  readonly dir: string;
  /** Called before every mutating operation, with its running index: the crash points. */
  onOp: ((index: number, op: CrashFsOp) => void) | undefined;
  /** Mutating operations so far. */
  opCount = 0;
  /**
   * Set to make the next `fdatasyncSync`/`fsyncSync` of a file fail with `EIO`. Like Linux after
   * "fsyncgate", a failed sync makes nothing durable and leaves the state of the unsynced writes
   * unknown: they stay pending, so a later crash may keep or drop any of them.
   */
  failNextSync = false;
  readonly #opts: CrashFsOptions;
  readonly #inodes = new Map<number, Inode>();
  #entries = new Map<string, number>();
  #durableEntries = new Map<string, number>();
  #dirOps: DirOp[] = [];
  readonly #fds = new Map<number, OpenFile>();
  #nextIno = 1;
  #nextFd = 100;

  constructor(dir: string, opts: CrashFsOptions = {}, image?: CrashImage) {
    this.dir = path.resolve(dir);
    this.#opts = opts;
    if (image) {
      for (const [name, bytes] of image) {
        const ino = this.#newInode();
        // Two copies: writes change `cur` in place, and `durable` must not move with it.
        ino.cur = Buffer.from(bytes);
        ino.durable = Buffer.from(bytes);
        this.#entries.set(name, ino.ino);
      }
      this.#durableEntries = new Map(this.#entries);
    }
  }

  #newInode(): Inode {
    const ino = new Inode(this.#nextIno++);
    this.#inodes.set(ino.ino, ino);
    return ino;
  }

  #failSync(): boolean {
    if (!this.failNextSync) return false;
    this.failNextSync = false;
    return true;
  }

  #op(op: CrashFsOp): void {
    const i = this.opCount++;
    this.onOp?.(i, op);
  }

  #name(p: string): string {
    const abs = path.resolve(p);
    if (path.dirname(abs) !== this.dir) throw errno('ENOENT', `${p} is outside the modelled directory ${this.dir}`);
    return path.basename(abs);
  }

  #file(fd: number): Inode {
    const f = this.#fds.get(fd);
    if (!f) throw errno('EBADF', `bad file descriptor ${fd}`);
    if (f.ino < 0) throw errno('EISDIR', 'the directory is not a file');
    return this.#inodes.get(f.ino) as Inode;
  }

  // --- WalFs ---------------------------------------------------------------------------------

  openSync(p: string, flags: string): number {
    const fd = this.#nextFd++;
    if (path.resolve(p) === this.dir) {
      this.#fds.set(fd, { ino: -1 });
      return fd;
    }
    const name = this.#name(p);
    let inoNo = this.#entries.get(name);
    if (inoNo === undefined) {
      if (!flags.startsWith('w')) throw errno('ENOENT', `no such file ${p}`);
      this.#op('create');
      const ino = this.#newInode();
      inoNo = ino.ino;
      this.#entries.set(name, inoNo);
      this.#dirOps.push({ kind: 'link', name, ino: inoNo });
    } else if (flags.startsWith('w')) {
      this.#truncate(this.#inodes.get(inoNo) as Inode, 0);
    }
    this.#fds.set(fd, { ino: inoNo });
    return fd;
  }

  closeSync(fd: number): void {
    if (!this.#fds.delete(fd)) throw errno('EBADF', `bad file descriptor ${fd}`);
  }

  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const ino = this.#file(fd);
    this.#op('write');
    const bytes = Buffer.from(buffer.subarray(offset, offset + length));
    const end = position + length;
    if (end > ino.cur.length) ino.cur = resize(ino.cur, end);
    bytes.copy(ino.cur, position);
    ino.pending.push({ kind: 'write', pos: position, bytes });
    return length;
  }

  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const ino = this.#file(fd);
    if (position >= ino.cur.length) return 0;
    const n = Math.min(length, ino.cur.length - position);
    buffer.set(ino.cur.subarray(position, position + n), offset);
    return n;
  }

  fdatasyncSync(fd: number): void {
    const ino = this.#file(fd);
    this.#op('fdatasync');
    if (this.#failSync()) throw syncFailed();
    if (this.#opts.dropFdatasync) return;
    ino.durable = Buffer.from(ino.cur);
    ino.pending = [];
  }

  fsyncSync(fd: number): void {
    const f = this.#fds.get(fd);
    if (!f) throw errno('EBADF', `bad file descriptor ${fd}`);
    if (f.ino >= 0) {
      this.#op('fsync');
      if (this.#failSync()) throw syncFailed();
      if (this.#opts.dropFdatasync) return;
      const ino = this.#file(fd);
      ino.durable = Buffer.from(ino.cur);
      ino.pending = [];
      return;
    }
    this.#op('dirsync');
    if (this.#opts.dropDirFsync) return;
    this.#durableEntries = new Map(this.#entries);
    this.#dirOps = [];
  }

  #truncate(ino: Inode, size: number): void {
    this.#op('truncate');
    ino.cur = Buffer.from(resize(ino.cur, size));
    ino.pending.push({ kind: 'truncate', size });
  }

  ftruncateSync(fd: number, length: number): void {
    this.#truncate(this.#file(fd), length);
  }

  fstatSync(fd: number): { readonly size: number } {
    return { size: this.#file(fd).cur.length };
  }

  renameSync(oldPath: string, newPath: string): void {
    const from = this.#name(oldPath);
    const to = this.#name(newPath);
    const ino = this.#entries.get(from);
    if (ino === undefined) throw errno('ENOENT', `no such file ${oldPath}`);
    this.#op('rename');
    this.#entries.delete(from);
    this.#entries.set(to, ino);
    this.#dirOps.push({ kind: 'rename', from, to });
  }

  unlinkSync(p: string): void {
    const name = this.#name(p);
    if (!this.#entries.has(name)) throw errno('ENOENT', `no such file ${p}`);
    this.#op('unlink');
    this.#entries.delete(name);
    this.#dirOps.push({ kind: 'unlink', name });
  }

  readdirSync(p: string): string[] {
    if (path.resolve(p) !== this.dir) throw errno('ENOENT', `no such directory ${p}`);
    return [...this.#entries.keys()].sort();
  }

  mkdirSync(p: string): void {
    if (path.resolve(p) !== this.dir) throw errno('EACCES', `the model holds only ${this.dir}`);
  }

  // --- crash states --------------------------------------------------------------------------

  /** The state as it is now, as if everything had been synced (what a process crash leaves). */
  currentImage(): CrashImage {
    const out: CrashImage = new Map();
    for (const [name, ino] of this.#entries) out.set(name, Buffer.from((this.#inodes.get(ino) as Inode).cur));
    return out;
  }

  /** Number of unsynced operations (data ops of every file plus directory ops). */
  get pendingOps(): number {
    let n = this.#dirOps.length;
    for (const ino of this.#inodes.values()) n += ino.pending.length;
    return n;
  }

  /**
   * Legal post-crash states of the disk as it is now. Enumerates all of them when there are at
   * most `maxStates`; otherwise returns `maxStates` of them: nothing unsynced kept, everything
   * kept, program-order prefixes, then random choices from `random` (a `[0,1)` source).
   */
  crashStates(maxStates: number, random: () => number): CrashImage[] {
    const dirChoices = this.#dirOps.length + 1;
    const units: Unit[] = [];
    for (const ino of this.#inodes.values()) {
      ino.pending.forEach((op, i) => {
        if (op.kind === 'truncate') {
          units.push({ ino: ino.ino, op: i, from: 0, to: 0 });
          return;
        }
        let from = 0;
        while (from < op.bytes.length) {
          const sectorEnd = (Math.floor((op.pos + from) / kSectorBytes) + 1) * kSectorBytes;
          const to = Math.min(op.bytes.length, sectorEnd - op.pos);
          units.push({ ino: ino.ino, op: i, from, to });
          from = to;
        }
      });
    }
    const u = units.length;
    const choices: Array<{ dirPrefix: number; keep: (i: number) => boolean }> = [];
    const total = u <= 20 ? dirChoices * 2 ** u : Number.POSITIVE_INFINITY;
    if (total <= maxStates) {
      for (let d = 0; d < dirChoices; d++) {
        for (let m = 0; m < 2 ** u; m++) choices.push({ dirPrefix: d, keep: (i) => ((m >>> i) & 1) === 1 });
      }
    } else {
      const all = this.#dirOps.length;
      choices.push({ dirPrefix: 0, keep: () => false });
      choices.push({ dirPrefix: all, keep: () => true });
      // Program-order prefixes: what a disk that writes in order would leave.
      const prefixes = Math.min(Math.floor(maxStates / 4), u);
      for (let k = 0; k < prefixes && choices.length < maxStates; k++) {
        const cut = Math.floor(random() * (u + 1));
        choices.push({ dirPrefix: Math.floor(random() * dirChoices), keep: (i) => i < cut });
      }
      while (choices.length < maxStates) {
        const bits = Array.from({ length: u }, () => random() < 0.5);
        choices.push({ dirPrefix: Math.floor(random() * dirChoices), keep: (i) => bits[i] === true });
      }
    }
    return choices.map((c) => this.#materialize(units, c.dirPrefix, c.keep));
  }

  #materialize(units: readonly Unit[], dirPrefix: number, keep: (i: number) => boolean): CrashImage {
    const entries = new Map(this.#durableEntries);
    for (let i = 0; i < dirPrefix; i++) {
      const op = this.#dirOps[i] as DirOp;
      if (op.kind === 'link') entries.set(op.name, op.ino);
      else if (op.kind === 'unlink') entries.delete(op.name);
      else {
        const ino = entries.get(op.from);
        entries.delete(op.from);
        if (ino !== undefined) entries.set(op.to, ino);
      }
    }
    const kept = new Map<number, Unit[]>();
    units.forEach((unit, i) => {
      if (!keep(i)) return;
      let list = kept.get(unit.ino);
      if (!list) {
        list = [];
        kept.set(unit.ino, list);
      }
      list.push(unit);
    });
    const contents = new Map<number, Buffer>();
    const image: CrashImage = new Map();
    for (const [name, inoNo] of entries) {
      let data = contents.get(inoNo);
      if (!data) {
        const ino = this.#inodes.get(inoNo) as Inode;
        data = Buffer.from(ino.durable);
        for (const unit of kept.get(inoNo) ?? []) {
          const op = ino.pending[unit.op] as DataOp;
          if (op.kind === 'truncate') {
            data = Buffer.from(resize(data, op.size));
            continue;
          }
          const at = op.pos + unit.from;
          const end = op.pos + unit.to;
          if (end > data.length) data = resize(data, end);
          op.bytes.copy(data, at, unit.from, unit.to);
        }
        contents.set(inoNo, data);
      }
      image.set(name, data);
    }
    return image;
  }
}
