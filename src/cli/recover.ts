import type { Command } from 'commander';
import { type RecoveryReport, recoverWal } from '../wal/recovery.js';
import { collectArg } from './args.js';
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
    .option(
      '--from-shadow <dir>',
      'a shadow copy of the input (openSink shadowDirs), only read: seqs the input has no intact frame for are taken from it (repeatable; the first shadow given wins)',
      collectArg,
    )
    .option('--json', 'print the recovery report as JSON')
    .option('--no-progress', 'no progress bar (it is only drawn when stderr is a terminal anyway)')
    .addHelpText(
      'after',
      `
Exit codes: 0 nothing was lost (every seq is in the output), 1 records were lost (each lost range
is on stderr and in the output as a gap record), or the input ends in damage so later records may
have existed (tail unknown); 2 usage or I/O error.

With --from-shadow, each record the input holds no intact copy of is taken, byte for byte, from
the first shadow whose copy checks (its CRC, and a segment header equal to the input's); the
report says how many records and which seq ranges came from each shadow.

Examples:
  $ ironlog recover --input ./audit --output ./audit-recovered && ironlog verify --dir ./audit-recovered
  $ ironlog recover --input /data/audit --from-shadow /backup/audit --output /data/audit-recovered`,
    )
    .action(
      async (opts: { input: string; output: string; fromShadow?: string[]; json?: boolean; progress?: boolean }) => {
        const bar = segmentProgress('recover', opts.progress);
        let report: RecoveryReport;
        try {
          report = await recoverWal(opts.input, opts.output, {
            ...(bar ? { onProgress: bar.onProgress } : {}),
            ...(opts.fromShadow ? { fromShadows: opts.fromShadow } : {}),
          });
        } finally {
          bar?.stop();
        }
        const lostSomething = report.lostSeqs > 0 || report.tailUnknown;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          process.stdout.write(`recovered ${report.recordsRecovered} records into ${opts.output}\n`);
          for (const c of report.fromShadows ?? []) {
            const ranges = c.ranges.map((r) => (r.fromSeq === r.toSeq ? `${r.fromSeq}` : `${r.fromSeq}-${r.toSeq}`));
            process.stdout.write(
              `  from shadow ${c.dir}: ${c.records} records, ${c.gaps} gaps${ranges.length > 0 ? ` (seqs ${ranges.join(', ')})` : ''}\n`,
            );
          }
          if (!lostSomething) process.stdout.write('  nothing lost\n');
        }
        // The loss goes to stderr in every format: a script that keeps only the exit code and
        // stderr still sees what is missing.
        for (const l of report.lost) process.stderr.write(`ironlog: lost seqs ${l.fromSeq}-${l.toSeq}\n`);
        if (report.tailUnknown) {
          process.stderr.write(
            `ironlog: the input ends in damage: records after seq ${report.lastSeq} may have existed and cannot be counted\n`,
          );
        }
        if (lostSomething) {
          process.stderr.write(
            `ironlog: ${report.lostSeqs} seq(s) lost in ${report.lost.length} range(s)${report.tailUnknown ? ', tail unknown' : ''}\n`,
          );
        }
        process.exitCode = lostSomething ? 1 : 0;
      },
    );
}
