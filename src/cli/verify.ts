import type { Command } from 'commander';
import { verifyWal } from '../wal/verify.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every checksum, the hash chain, seals and seq continuity of a WAL directory')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 1 corruption found, 2 usage or I/O error.\n\nExample:\n  $ ironlog verify --dir ./audit --json',
    )
    .action(async (opts: { dir: string; json?: boolean }) => {
      const report = await verifyWal(opts.dir);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(
          `${report.valid ? 'valid' : 'CORRUPT'}: ${report.records} records, seqs ${report.firstSeq}-${report.lastSeq}, ${report.segments} segments\n`,
        );
        for (const p of report.problems) {
          const seqs = p.seqFrom !== undefined ? ` seqs ${p.seqFrom}-${p.seqTo ?? p.seqFrom}` : '';
          process.stdout.write(`  ${p.kind} in ${p.segment} at offset ${p.offset}${seqs}: ${p.message}\n`);
        }
      }
      process.exitCode = report.valid ? 0 : 1;
    });
}
