/**
 * `ironlog prune --dir D [--through-seq N]`: deletes local sealed segments that are replicated,
 * past their retention end and under no legal hold; refuses (nothing deleted, exit 2) otherwise.
 */
import type { Command } from 'commander';
import { pruneSegments } from '../main/prune.js';
import { seqArg } from './args.js';

/** Registers `prune` (custody: one `delete` entry through the program hooks). */
export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete replicated local segments past their retention end (refused under a legal hold)')
    .requiredOption('--dir <dir>', 'the WAL directory (the sink must be closed)')
    .option('--through-seq <n>', 'only segments whose records all have seq <= N', seqArg)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
All or nothing: when any segment asked for is under a legal hold (ERR_IRONLOG_LEGAL_HOLD), not
past the retention end of the compliance profile or not replicated yet
(ERR_IRONLOG_RETENTION_ACTIVE), nothing is deleted. Exit codes: 0 done, 2 refused or usage error.

Example:
  $ ironlog prune --dir ./audit --through-seq 1000000`,
    )
    .action(async (o: { dir: string; throughSeq?: number; json?: boolean }) => {
      // Custody is recorded by the program hook (action 'delete'); the library call records none of its own.
      const r = await pruneSegments(o.dir, {
        ...(o.throughSeq !== undefined ? { throughSeq: o.throughSeq } : {}),
        custodyRecordedByCaller: true,
        via: 'cli',
      });
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else if (r.deleted.length === 0) process.stdout.write('nothing to prune\n');
      else process.stdout.write(`deleted ${r.deleted.length} segment(s), seq ${r.fromSeq}-${r.toSeq}\n`);
    });
}
