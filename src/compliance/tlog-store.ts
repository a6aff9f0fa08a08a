/**
 * The files of a node's transparency log under `<walDir>/tlog/` (layout in `docs/wal-format.md`,
 * "Transparency log"): hash tiles (`tile/`, written by `tiles.ts`), the entry-index <-> seq map
 * (`index`, see `seq-index.ts`), the latest signed checkpoint (`checkpoint`) and every checkpoint
 * ever signed with its time note (`checkpoints/<counter>.note`, `.time`).
 *
 * Every file is replaced atomically and durably: temp file, fsync, rename, fsync of the directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';

/** Name of the transparency-log directory inside a WAL directory. */
export const kTlogDirName = 'tlog';
/** The latest signed checkpoint note. */
export const kLatestCheckpointName = 'checkpoint';
/** Directory of every checkpoint note and time note, by counter. */
export const kCheckpointsDirName = 'checkpoints';
/** The entry-index <-> seq map. */
export const kSeqIndexName = 'index';

const kCounterFile = /^(\d{20})\.(note|time)$/;

/** `<walDir>/tlog`. */
export function tlogDirOf(walDir: string): string {
  return path.join(walDir, kTlogDirName);
}

/** A checkpoint counter as a file name stem: 20 digits, zero padded (so names sort). */
export function counterName(counter: number): string {
  return String(counter).padStart(20, '0');
}

/** Paths of checkpoint `counter`'s note and time note. */
export function checkpointFiles(tlogDir: string, counter: number): { note: string; time: string } {
  const base = path.join(tlogDir, kCheckpointsDirName, counterName(counter));
  return { note: `${base}.note`, time: `${base}.time` };
}

function ioError(what: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `${what}: ${errnoCode(err) ?? String(err)}`, { cause: err });
}

/**
 * Writes `files` (name -> contents) into `dir` atomically and durably: each to a temp file that is
 * fsync'd, then renamed over its name, then one fsync of the directory for all the renames.
 */
export function writeFilesDurably(dir: string, files: ReadonlyArray<readonly [string, string | Uint8Array]>): void {
  const temps: Array<[string, string]> = [];
  try {
    for (const [name, data] of files) {
      const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
      const fd = fs.openSync(tmp, 'w', 0o644);
      try {
        fs.writeFileSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      temps.push([tmp, path.join(dir, name)]);
    }
    for (const [tmp, final] of temps) fs.renameSync(tmp, final);
    fsyncDir(dir);
  } catch (err) {
    for (const [tmp] of temps) fs.rmSync(tmp, { force: true });
    throw ioError(`cannot write ${files.map(([n]) => n).join(', ')} in ${dir}`, err);
  }
}

/** Creates `dir` (and parents) and makes its entry durable. */
export function ensureDirDurably(dir: string): void {
  try {
    if (fs.existsSync(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    fsyncDir(path.dirname(dir));
  } catch (err) {
    throw ioError(`cannot create ${dir}`, err);
  }
}

/** One counter found in `tlog/checkpoints/`. */
export interface StoredCheckpointFiles {
  readonly counter: number;
  /** Path of the `.note`, when present. */
  readonly note: string | undefined;
  /** Path of the `.time`, when present. */
  readonly time: string | undefined;
}

/** Every counter in `tlog/checkpoints/` (ascending), with which of its two files exist. */
export function listCheckpointFiles(tlogDir: string): StoredCheckpointFiles[] {
  const dir = path.join(tlogDir, kCheckpointsDirName);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw ioError(`cannot read ${dir}`, err);
  }
  const byCounter = new Map<number, { note: string | undefined; time: string | undefined }>();
  for (const name of names) {
    const m = kCounterFile.exec(name);
    if (!m) continue;
    const counter = Number(m[1]);
    const entry = byCounter.get(counter) ?? { note: undefined, time: undefined };
    if (m[2] === 'note') entry.note = path.join(dir, name);
    else entry.time = path.join(dir, name);
    byCounter.set(counter, entry);
  }
  return [...byCounter.entries()].sort((a, b) => a[0] - b[0]).map(([counter, f]) => ({ counter, ...f }));
}

/** Reads a UTF-8 file of the tlog; undefined when it does not exist. */
export function readTlogFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw ioError(`cannot read ${file}`, err);
  }
}

/** The latest signed checkpoint note of the WAL in `walDir` (`ERR_IRONLOG_NOT_CHECKPOINTED` when none). */
export function readLatestCheckpointNote(walDir: string): string {
  const note = readTlogFile(path.join(tlogDirOf(walDir), kLatestCheckpointName));
  if (note === undefined) {
    throw new IronlogError(
      ErrorCodes.NOT_CHECKPOINTED,
      `${walDir} has no signed checkpoint (${path.join(kTlogDirName, kLatestCheckpointName)} is missing): open the sink with the signing option first`,
    );
  }
  return note;
}
