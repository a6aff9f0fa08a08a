/**
 * Signed-note key arguments of the tlog and custody commands (`--public-key`, `--witness-key`): a
 * key in the signed-note format given inline, or the path of a file holding one
 * (`ironlog keygen --out PREFIX` writes `PREFIX.pub`). The master keys of protected WALs
 * (`--key-file`, KMS) are `master-key-options.ts`.
 */
import * as fs from 'node:fs';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** The key text of `value`: the file's trimmed contents when `value` names a file, else `value`. */
export function readKeyArg(value: string, flag: string): string {
  const v = value.trim();
  if (v === '') throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `${flag} must not be empty`);
  // A verifier key is `name+keyid+base64`; a path never needs to look like one to be read.
  if (fs.existsSync(v) && fs.statSync(v).isFile()) {
    try {
      return fs.readFileSync(v, 'utf8').trim();
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `${flag}: cannot read ${v}: ${(err as Error).message}`, { cause: err });
    }
  }
  return v;
}
