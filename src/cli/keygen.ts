/**
 * `ironlog keygen --name <origin> [--json] [--out PREFIX] [--cosigner]`: a new Ed25519 key pair in
 * the C2SP signed-note formats (the formats of Go's `golang.org/x/mod/sumdb/note`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { generateCosignerKey } from '../compliance/cosignature.js';
import { generateSignerKey, isValidKeyName, type NoteKeyPair } from '../compliance/note.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';

interface KeygenOptions {
  name: string;
  json?: boolean;
  out?: string;
  cosigner?: boolean;
}

/** Creates `file` with `text` (never overwrites), fsyncs it. */
function writeNewFile(file: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST'
        ? 'it already exists (never overwritten: remove it or pick another --out)'
        : (err as Error).message;
    throw new IronlogError(ErrorCodes.IO, `cannot create ${file}: ${why}`, { cause: err });
  }
  try {
    fs.fchmodSync(fd, mode);
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw new IronlogError(ErrorCodes.IO, `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  fs.closeSync(fd);
}

/** Writes `PREFIX.key` (mode 0600) and `PREFIX.pub` (0644), refusing to overwrite either. */
export function writeKeyFiles(prefix: string, pair: NoteKeyPair): { keyFile: string; pubFile: string } {
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  for (const f of [keyFile, pubFile]) {
    if (fs.existsSync(f)) {
      throw new IronlogError(ErrorCodes.IO, `${f} already exists (never overwritten: remove it or pick another --out)`);
    }
  }
  writeNewFile(keyFile, `${pair.signerKey}\n`, 0o600);
  try {
    writeNewFile(pubFile, `${pair.verifierKey}\n`, 0o644);
  } catch (err) {
    fs.rmSync(keyFile, { force: true });
    throw err;
  }
  try {
    fsyncDir(path.dirname(path.resolve(keyFile)));
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot fsync the directory of ${keyFile}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { keyFile, pubFile };
}

/** `ironlog keygen`. */
export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an Ed25519 key pair in the C2SP signed-note formats (log signing key or witness cosigner key)')
    .requiredOption('--name <origin>', 'key name: the log origin (e.g. example.com/audit/node-1) or the witness name')
    .option('--json', 'print {"signerKey": "...", "verifierKey": "..."}')
    .option(
      '--out <prefix>',
      'write PREFIX.key (signer key, mode 0600) and PREFIX.pub (verifier key); never overwrites',
    )
    .option('--cosigner', 'a witness cosigner key (C2SP tlog-cosignature/v1, type 0x04) instead of a log key (0x01)')
    .addHelpText(
      'after',
      `
Without --out, both keys are printed: the signer key (PRIVATE+KEY+<name>+<keyid>+<base64>, secret)
on the first line, the verifier key (<name>+<keyid>+<base64>, public) on the second. With --out,
the signer key goes only to PREFIX.key and the verifier key is printed (with --json:
{"verifierKey", "signerKeyFile", "verifierKeyFile"}).

Examples:
  $ ironlog keygen --name example.com/audit --out ./audit-log
  $ ironlog keygen --name witness.example.com/w1 --cosigner --out ./witness
  $ ironlog keygen --name example.com/audit --json`,
    )
    .action((opts: KeygenOptions) => {
      if (!isValidKeyName(opts.name)) {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          '--name must be non-empty, without spaces, \'+\' or control characters (e.g. "example.com/audit")',
        );
      }
      const pair = opts.cosigner ? generateCosignerKey(opts.name) : generateSignerKey(opts.name);
      if (opts.out !== undefined) {
        const files = writeKeyFiles(opts.out, pair);
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ verifierKey: pair.verifierKey, signerKeyFile: files.keyFile, verifierKeyFile: files.pubFile })}\n`,
          );
        } else {
          process.stdout.write(`${pair.verifierKey}\n`);
          process.stderr.write(`ironlog keygen: wrote ${files.keyFile} (secret, mode 0600) and ${files.pubFile}\n`);
        }
        return;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ signerKey: pair.signerKey, verifierKey: pair.verifierKey })}\n`);
      } else {
        process.stdout.write(`${pair.signerKey}\n${pair.verifierKey}\n`);
      }
    });
}
