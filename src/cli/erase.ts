/**
 * `ironlog erase --subject ID --dir D`: GDPR Art. 17 erasure by crypto-shredding. Destroys the
 * subject's key in the WAL's key store; the WAL itself is not touched (verify and proofs stay
 * valid), the subject's sealed fields read `[ERASED]` from then on. Refused (exit 2,
 * `ERR_IRONLOG_LEGAL_HOLD`) while a legal hold covers a record of the subject. The library call
 * writes the one custody entry (subject pseudonym, outcome); the program hooks only add the
 * custody options.
 */
import type { Command } from 'commander';
import { eraseSubject } from '../compliance/erasure.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { custodyOptionFromCli } from './custody.js';
import { addKeyOptions, type KeyCliOptions, keyProviderFromCli } from './master-key-options.js';

interface EraseOptions extends KeyCliOptions {
  dir: string;
  subject: string;
  subjectType: 'string' | 'number';
  json?: boolean;
  /** Added by the custody hooks (`installCustodyHooks`). */
  custody?: string | false;
  actor?: string;
  key?: string;
}

/** Registers `erase`. */
export function registerErase(program: Command): void {
  const cmd = program
    .command('erase')
    .description(
      "erase a data subject (GDPR Art. 17) by destroying its key: the subject's encrypted fields become unreadable for good",
    )
    .requiredOption('--dir <dir>', 'the WAL directory (its key store is <dir>/keys)')
    .requiredOption('--subject <id>', 'the subject id, as events carry it at subjectEncryption.subjectPath')
    .option('--subject-type <type>', "how events carry the id: 'string' or 'number'", 'string')
    .option('--json', 'print the result as JSON');
  addKeyOptions(cmd, false);
  cmd
    .addHelpText(
      'after',
      `
The master keys are needed to find the subject (the key store names subjects by a keyed hash).
Exit code 0 when a key was erased or the subject never had one (the message says which), 2 on
usage or I/O errors, and 2 with ERR_IRONLOG_LEGAL_HOLD (nothing erased) while an active legal
hold (ironlog hold list) covers a record of the subject: GDPR Art. 17(3)(e). Records are never
rewritten: erasure is the destruction of the key file (durably: tombstone, unlink, directory
fsync). One custody entry records the attempt with a keyed pseudonym of the subject, never the
id itself. See docs/compliance/data-protection.md.

Examples:
  $ ironlog erase --dir ./audit --subject patient-0042 --key-file /etc/ironlog/keys.json
  $ IRONLOG_KEYS=... ironlog erase --dir ./audit --subject 42 --subject-type number --json`,
    )
    .action(async (opts: EraseOptions) => {
      const keyProvider = keyProviderFromCli(opts);
      if (keyProvider === undefined) {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          'erase needs the master keys: --key-file, --kms-key-id or $IRONLOG_KEYS',
        );
      }
      let subject: string | number = opts.subject;
      if (opts.subjectType === 'number') {
        subject = Number(opts.subject);
        if (!Number.isFinite(subject) || opts.subject.trim() === '') {
          throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `--subject '${opts.subject}' is not a number`);
        }
      } else if (opts.subjectType !== 'string') {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, "--subject-type must be 'string' or 'number'");
      }
      const result = await eraseSubject(opts.dir, subject, {
        keyProvider,
        custody: custodyOptionFromCli(opts),
        via: 'cli',
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ subjectErased: result.erased, kid: result.kid ?? null })}\n`);
      } else if (result.erased) {
        process.stdout.write(`erased: subject key ${result.kid} destroyed; its fields now read [ERASED]\n`);
      } else {
        process.stdout.write('nothing to erase: the key store has no key for this subject\n');
      }
    });
}
