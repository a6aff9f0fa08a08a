/**
 * `ironlog prove`: an inclusion proof for one record, or a consistency proof between two tree
 * sizes, of a signed WAL directory, offline (works beside a running sink).
 */
import type { Command } from 'commander';
import { formatConsistencyProof, formatRecordProof, proveConsistency, proveRecord } from '../compliance/prove.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { intArg, seqArg } from './args.js';

interface ProveOptions {
  dir: string;
  seq?: number;
  consistency?: boolean;
  fromSize?: number;
  toSize?: number;
  json?: boolean;
}

/** `ironlog prove`. */
export function registerProve(program: Command): void {
  program
    .command('prove')
    .description('print an inclusion proof of one record, or a consistency proof between two tree sizes')
    .requiredOption('--dir <dir>', 'the WAL directory (opened with the signing option)')
    .option('--seq <n>', 'the record to prove', seqArg)
    .option('--consistency', 'a consistency proof instead (with --from-size)')
    .option('--from-size <n>', 'with --consistency: the older tree size', intArg)
    .option('--to-size <n>', 'with --consistency: the newer tree size (default: the latest checkpoint)', intArg)
    .option('--json', 'print JSON instead of the C2SP text form')
    .addHelpText(
      'after',
      `
Text output: an inclusion proof is a C2SP tlog-proof@v1 file whose "extra" line holds the
record's stored bytes (so the file alone proves the record); a consistency proof is a C2SP
tlog-witness add-checkpoint body (old <size>, proof lines, blank line, checkpoint).
JSON: { seq, index, treeSize, leafData, leafHash, proof, checkpoint } (base64 bytes) or
{ fromSize, toSize, fromRoot, toRoot, proof, checkpoint, fromCheckpoint? }.
Check either with: ironlog verify-proof --proof FILE --public-key KEY

Examples:
  $ ironlog prove --dir ./audit --seq 1234 > record.proof
  $ ironlog prove --dir ./audit --consistency --from-size 1000 --json`,
    )
    .action(async (opts: ProveOptions) => {
      const usage = (m: string): IronlogError => new IronlogError(ErrorCodes.INVALID_ARGUMENT, m);
      if (opts.consistency) {
        if (opts.seq !== undefined) throw usage('--seq and --consistency are mutually exclusive');
        if (opts.fromSize === undefined) throw usage('--consistency needs --from-size <n>');
        const p = await proveConsistency(opts.dir, opts.fromSize, opts.toSize);
        process.stdout.write(opts.json ? `${JSON.stringify(p, null, 2)}\n` : formatConsistencyProof(p));
        return;
      }
      if (opts.fromSize !== undefined || opts.toSize !== undefined) {
        throw usage('--from-size and --to-size go with --consistency');
      }
      if (opts.seq === undefined) throw usage('give --seq <n> (or --consistency --from-size <n>)');
      const p = await proveRecord(opts.dir, opts.seq);
      process.stdout.write(opts.json ? `${JSON.stringify(p, null, 2)}\n` : formatRecordProof(p));
    });
}
