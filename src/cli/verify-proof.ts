/**
 * `ironlog verify-proof --proof FILE --public-key VKEY`: checks a proof printed by `ironlog prove`
 * (either the C2SP text form or the JSON form) against the log's verifier key, offline.
 * Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { parseVerifierKey } from '../compliance/note.js';
import { verifyProofText } from '../compliance/prove.js';
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { readKeyArg } from './note-key-arg.js';

interface VerifyProofOptions {
  proof: string;
  publicKey: string;
  oldCheckpoint?: string;
  json?: boolean;
}

function readFileArg(file: string, flag: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** `ironlog verify-proof`. */
export function registerVerifyProof(program: Command): void {
  program
    .command('verify-proof')
    .description('check an inclusion or consistency proof (C2SP text or JSON) against the log key')
    .requiredOption('--proof <file>', 'the proof file (- for stdin)')
    .requiredOption('--public-key <key>', "the log's verifier key (name+keyid+base64), or a file holding it")
    .option('--old-checkpoint <file>', 'for a consistency proof: the signed checkpoint of the old size you hold')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Checks the checkpoint's signature, that the leaf data is an intact WAL frame holding the seq,
its leaf hash, and the audit path to the signed root (or the consistency path).
Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.

Example:
  $ ironlog verify-proof --proof record.proof --public-key audit.pub`,
    )
    .action((opts: VerifyProofOptions) => {
      const key = readKeyArg(opts.publicKey, '--public-key');
      try {
        parseVerifierKey(key);
      } catch (err) {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          `--public-key is not a verifier key: ${isIronlogError(err) ? err.message : String(err)}`,
        );
      }
      const text = readFileArg(opts.proof, '--proof');
      const oldCheckpoint =
        opts.oldCheckpoint === undefined ? undefined : readFileArg(opts.oldCheckpoint, '--old-checkpoint');
      try {
        const r = verifyProofText(text, key, oldCheckpoint === undefined ? {} : { oldCheckpoint });
        if (opts.json) process.stdout.write(`${JSON.stringify({ valid: true, ...r }, null, 2)}\n`);
        else if (r.kind === 'inclusion') {
          const what = r.gap ? `gap ${r.seq}-${r.toSeq}` : `record seq ${r.seq}`;
          process.stdout.write(
            `valid: ${what} is entry ${r.index} of ${r.origin} at tree size ${r.treeSize} (root ${r.rootHash})\n`,
          );
        } else {
          process.stdout.write(
            `valid: tree size ${r.fromSize} is a prefix of ${r.origin} at tree size ${r.toSize} (root ${r.rootHash})${r.fromRootSigned ? '' : '; the old root was stated, not signed: compare it with the checkpoint you hold'}\n`,
          );
        }
        process.exitCode = 0;
      } catch (err) {
        if (isIronlogError(err) && (err.code === ErrorCodes.INVALID_ARGUMENT || err.code === ErrorCodes.IO)) throw err;
        const message = isIronlogError(err) ? `${err.code}: ${err.message}` : String(err);
        if (opts.json) process.stdout.write(`${JSON.stringify({ valid: false, error: message }, null, 2)}\n`);
        else process.stdout.write(`INVALID: ${message}\n`);
        process.exitCode = 1;
      }
    });
}
