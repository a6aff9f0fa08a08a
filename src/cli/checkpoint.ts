/**
 * `ironlog checkpoint --dir D`: prints the latest signed checkpoint note of a signed WAL, byte for
 * byte (C2SP signed-note of a tlog-checkpoint body, with any witness cosignatures).
 */
import type { Command } from 'commander';
import { readLatestCheckpointNote } from '../compliance/tlog-store.js';

/** `ironlog checkpoint`. */
export function registerCheckpoint(program: Command): void {
  program
    .command('checkpoint')
    .description('print the latest signed checkpoint of a signed WAL directory, byte for byte')
    .requiredOption('--dir <dir>', 'the WAL directory (opened with the signing option)')
    .addHelpText(
      'after',
      `
The note is what auditors and witnesses verify: origin, tree size, root hash, then one signature
line per signer ("— <name> <base64>"). Exit codes: 0 printed, 2 no checkpoint or I/O error.

Example:
  $ ironlog checkpoint --dir ./audit > checkpoint.txt`,
    )
    .action((opts: { dir: string }) => {
      process.stdout.write(readLatestCheckpointNote(opts.dir));
    });
}
