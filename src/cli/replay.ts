import { type Command, InvalidArgumentError, Option } from 'commander';
import { readWal } from '../wal/reader.js';

function seqArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function dateArg(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('must be an ISO 8601 date, e.g. 2026-11-22T10:00:00Z');
  return d;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('print the records of a WAL directory in seq order')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .option('--from-seq <n>', 'first seq (inclusive)', seqArg)
    .option('--to-seq <n>', 'last seq (inclusive)', seqArg)
    .option('--from <iso>', 'only records at or after this time', dateArg)
    .option('--to <iso>', 'only records before this time', dateArg)
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'json', 'table']).default('ndjson'))
    .addHelpText(
      'after',
      '\nndjson prints one object per line: {"seq":1,"time":"2026-11-22T10:00:00.000Z","event":{...}}\n\nExample:\n  $ ironlog replay --dir ./audit --from 2026-11-22T00:00:00Z --format table',
    )
    .action(async (opts: { dir: string; fromSeq?: number; toSeq?: number; from?: Date; to?: Date; format: string }) => {
      const out = process.stdout;
      const iter = readWal(opts.dir, { fromSeq: opts.fromSeq, toSeq: opts.toSeq, from: opts.from, to: opts.to });
      let first = true;
      if (opts.format === 'json') out.write('[');
      if (opts.format === 'table') out.write(`${'seq'.padStart(10)}  ${'time'.padEnd(24)}  event\n`);
      for await (const r of iter) {
        const line = { seq: r.seq, time: r.time.toISOString(), event: r.event };
        if (opts.format === 'ndjson') {
          out.write(`${JSON.stringify(line)}\n`);
        } else if (opts.format === 'json') {
          out.write(`${first ? '\n' : ',\n'}  ${JSON.stringify(line)}`);
        } else {
          out.write(`${String(r.seq).padStart(10)}  ${line.time.padEnd(24)}  ${JSON.stringify(r.event)}\n`);
        }
        first = false;
      }
      if (opts.format === 'json') out.write(first ? ']\n' : '\n]\n');
    });
}
