/** Helpers shared by the torture scenarios. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readWal, type WalRecord } from '../wal/reader.js';

/**
 * Where scratch directories go: `/dev/shm` when it is a writable tmpfs (crash states are many and
 * small; a RAM file system makes writing them cheap), else the OS temp directory.
 * `IRONLOG_TORTURE_TMP` overrides.
 */
export function scratchRoot(): string {
  const { IRONLOG_TORTURE_TMP: env } = process.env;
  if (env) return env;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** Makes a fresh scratch directory. */
export function makeScratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(scratchRoot(), prefix));
}

/** Removes a directory tree (best effort). */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deletes every entry of `dir` (not the directory itself). */
export function emptyDir(dir: string): void {
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

/** Writes `image` (file name to contents) into `dir`, which must exist. */
export function writeImage(dir: string, image: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, bytes] of image) fs.writeFileSync(path.join(dir, name), bytes);
}

/** Reads every record of the WAL in `dir` (throws what `readWal` throws). */
export async function readAll(dir: string): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir)) out.push(r);
  return out;
}

/** Message of an error, with its code when it has one. */
export function describeError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/** Compact list of seqs, as ranges: `1-4,7,9-10`. */
export function seqRanges(seqs: readonly number[], max = 12): string {
  const sorted = [...seqs].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length && parts.length < max) {
    const start = sorted[i] as number;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) end = sorted[++i] as number;
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  if (i < sorted.length) parts.push(`... (${sorted.length} in all)`);
  return parts.join(',');
}
