import type { Command } from 'commander';
import { type RecoveryReport, recoverWal } from '../wal/recovery.js';
import { segmentProgress } from './progress.js';

export function registerRecover(program: Command): void {
  program
    .command('recover')
    .description(
      'copy every intact record of a damaged WAL into a new directory, with a gap record for each lost range',
    )
    .requiredOption('--input <dir>', 'the damaged WAL directory (only read)')
    .requiredOption(
      '--output <dir>',
      'a new or empty directory for the recovered WAL (created; refused when not empty or held by a sink)',
    )
    .option('--json', 'print the recovery report as JSON')
    .option('--no-progress', 'no progress bar (it is only drawn when stderr is a terminal anyway)')
    .addHelpText(
      'after',
      '\nExample:\n  $ ironlog recover --input ./audit --output ./audit-recovered && ironlog verify --dir ./audit-recovered',
    )
    .action(async (opts: { input: string; output: string; json?: boolean; progress?: boolean }) => {
      const bar = segmentProgress('recover', opts.progress);
      let report: RecoveryReport;
      try {
        report = await recoverWal(opts.input, opts.output, bar ? { onProgress: bar.onProgress } : {});
      } finally {
        bar?.stop();
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(`recovered ${report.recordsRecovered} records into ${opts.output}\n`);
      for (const l of report.lost) process.stdout.write(`  lost seqs ${l.fromSeq}-${l.toSeq}\n`);
      if (report.lost.length === 0) process.stdout.write('  nothing lost\n');
    });
}
