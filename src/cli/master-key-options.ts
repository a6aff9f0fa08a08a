/**
 * Key options shared by the commands that read protected WALs (`replay`, `export`) and by
 * `erase`: where the master keys are (`--key-file`, `$IRONLOG_KEYS`, or AWS KMS), and
 * `--no-decrypt`. See docs/compliance/data-protection.md. (Signed-note keys such as
 * `--public-key` are `note-key-arg.ts`.)
 */
import type { Command } from 'commander';
import type { KeyProviderSpec } from '../compliance/keys.js';
import { kDefaultKeysVariable } from '../compliance/keys.js';
import { SubjectKeyStore } from '../compliance/keystore.js';
import { RecordOpener } from '../compliance/protected-read.js';
import type { WalRecord } from '../wal/reader.js';

/** The parsed key options. */
export interface KeyCliOptions {
  keyFile?: string;
  kmsKeyId?: string;
  kmsRegion?: string;
  kmsEndpoint?: string;
  /** commander's `--no-decrypt`: false when given. */
  decrypt?: boolean;
}

/** Adds the key options to `cmd`; `withNoDecrypt` also adds `--no-decrypt`. */
export function addKeyOptions(cmd: Command, withNoDecrypt: boolean): Command {
  cmd
    .option(
      '--key-file <path>',
      `master keys (JSON {"current","keys"} or id:base64,...); default $${kDefaultKeysVariable} when set`,
    )
    .option('--kms-key-id <id>', 'master keys in AWS KMS instead: the key id, ARN or alias')
    .option('--kms-region <region>', 'with --kms-key-id: the AWS region')
    .option('--kms-endpoint <url>', 'with --kms-key-id: a KMS endpoint URL (VPC endpoint)');
  if (withNoDecrypt)
    cmd.option('--no-decrypt', 'print encrypted fields as {"$sealed":"<key id>"} instead of decrypting');
  return cmd;
}

/** The key provider the options name, or undefined. */
export function keyProviderFromCli(opts: KeyCliOptions): KeyProviderSpec | undefined {
  if (opts.keyFile !== undefined) return { type: 'file', path: opts.keyFile };
  if (opts.kmsKeyId !== undefined) {
    return {
      type: 'aws-kms',
      keyId: opts.kmsKeyId,
      ...(opts.kmsRegion !== undefined ? { region: opts.kmsRegion } : {}),
      ...(opts.kmsEndpoint !== undefined ? { endpoint: opts.kmsEndpoint } : {}),
    };
  }
  if ((process.env[kDefaultKeysVariable] ?? '').trim() !== '') return { type: 'env' };
  return undefined;
}

/**
 * How a reading command opens records: identity when the WAL has no key store and no keys are
 * given, or with `--no-decrypt`; otherwise a {@link RecordOpener} (typed
 * `ERR_IRONLOG_KEY_UNAVAILABLE` naming the key id when a needed key is missing).
 */
export function recordOpenerFor(dir: string, opts: KeyCliOptions): (r: WalRecord) => Promise<WalRecord> | WalRecord {
  const keyProvider = opts.decrypt === false ? undefined : keyProviderFromCli(opts);
  if (keyProvider === undefined && !SubjectKeyStore.exists(dir)) return (r) => r;
  const opener = new RecordOpener(dir, {
    ...(keyProvider === undefined ? {} : { keyProvider }),
    decrypt: opts.decrypt !== false,
  });
  return (r) => opener.open(r);
}
