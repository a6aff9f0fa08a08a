/**
 * Small state files written so that a crash leaves either the old or the new file, never a torn
 * one: temp file, write, fsync, rename (or link, for create-only), fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';

function ioError(what: string, p: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `cannot ${what} ${p}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/** fsyncs a directory (so a rename, link or unlink in it is durable). */
export function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    throw ioError('fsync the directory', dir, err);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** Creates `dir` (and parents) if missing; fsyncs each parent whose listing changed. */
export function ensureDirDurable(dir: string): void {
  const abs = path.resolve(dir);
  if (fs.existsSync(abs)) return;
  ensureDirDurable(path.dirname(abs));
  try {
    fs.mkdirSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('create', abs, err);
  }
  fsyncDir(path.dirname(abs));
}

/**
 * Writes `bytes` to `file` durably. `exclusive`: create only; returns false (and leaves the
 * existing file alone) when `file` already exists, so two writers racing for one name agree on
 * the first. Otherwise replaces atomically and returns true.
 */
export function writeFileDurable(file: string, bytes: Uint8Array, exclusive = false): boolean {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', 0o600);
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    fd = -1;
    fs.rmSync(tmp, { force: true });
    throw ioError('write', tmp, err);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  let created = true;
  try {
    if (exclusive) {
      try {
        fs.linkSync(tmp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        created = false;
      }
      fs.unlinkSync(tmp);
    } else {
      fs.renameSync(tmp, file);
    }
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw ioError('install', file, err);
  }
  fsyncDir(dir);
  return created;
}

/** Removes `file` durably (no error when it is already gone). Returns true when it existed. */
export function unlinkDurable(file: string): boolean {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError('remove', file, err);
  }
  fsyncDir(path.dirname(file));
  return true;
}

/** Reads a file, or undefined when it does not exist. */
export function readFileIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read', file, err);
  }
}
