import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { summarizeWal } from '../monitoring/wal-summary.js';
import { readWal } from '../wal/reader.js';
import { dateArg, seqArg } from './args.js';
import { compileFilter, type FilterRecord, type RecordFilter } from './filter.js';
import { addKeyOptions, type KeyCliOptions, recordOpenerFor } from './master-key-options.js';
import { parseColumnSpecs } from './parquet-columns.js';
import { exportParquet, kDefaultRowGroupRows } from './parquet-writer.js';
import { ChunkWriter, exitOnBrokenPipe, recordJson, toJson } from './record-output.js';
import { addTenantOption, applyTenant } from './tenant-arg.js';

interface ExportOptions extends KeyCliOptions {
  dir: string;
  /** With --dir <root>: one tenant of a sink group. */
  tenant?: string;
  format: 'ndjson' | 'csv' | 'json' | 'parquet';
  output: string;
  filter?: string;
  fromSeq?: number;
  toSeq?: number;
  from?: Date;
  to?: Date;
  columns?: string;
  rowGroupRows?: number;
  progress?: boolean;
}

/** The value of a dotted path (`user.id`, `tags.0`) in an event, for CSV columns. */
function pick(event: unknown, path: string): unknown {
  let v: unknown = event;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function csvCell(v: unknown): string | number | boolean {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return toJson(v);
}

/**
 * Opens `<output>.partial` for writing, before anything is read: an output that is a directory,
 * or in a directory that does not exist, is a clean error (exit 2), not an 'error' event later.
 */
function openPartial(output: string, partial: string): number {
  let isDir = false;
  try {
    isDir = fs.statSync(output).isDirectory();
  } catch {
    // Does not exist yet: the usual case.
  }
  if (isDir) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `--output ${output} is a directory: give a file name`);
  }
  try {
    return fs.openSync(partial, 'w', 0o644);
  } catch (err) {
    const why =
      errnoCode(err) === 'ENOENT' ? `the directory ${path.dirname(path.resolve(output))} does not exist` : String(err);
    throw new IronlogError(ErrorCodes.IO, `cannot write --output ${output}: ${why}`, { cause: err });
  }
}

/** `ironlog export`: records to a file as NDJSON, CSV, JSON or Parquet. */
export function registerExport(program: Command): void {
  const exportCmd = program
    .command('export')
    .description('write the records of a WAL (optionally filtered) to a file as NDJSON, CSV, JSON or Parquet')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .addOption(
      new Option('--format <format>', 'output format').choices(['ndjson', 'csv', 'json', 'parquet']).default('ndjson'),
    )
    .requiredOption('--output <file>', "output file ('-' for stdout); written as <file>.partial, renamed when complete")
    .option('--filter <expr>', 'only records matching this expression, e.g. \'level >= 40 && event.user == "u1"\'')
    .option('--from-seq <n>', 'first seq (inclusive)', seqArg)
    .option('--to-seq <n>', 'last seq (inclusive)', seqArg)
    .option(
      '--from <iso>',
      'only records at or after this time, ISO 8601 with an offset (2026-11-22T10:00:00Z)',
      dateArg,
    )
    .option('--to <iso>', 'only records before this time (ISO 8601 with an offset)', dateArg)
    .option(
      '--columns <paths>',
      'CSV: event fields as columns (comma-separated dotted paths; default one JSON column). Parquet: extra typed columns, [name=]path[:string|int64|double|boolean|timestamp|json], type inferred when omitted',
    )
    .option(
      '--row-group-rows <n>',
      `Parquet: rows per row group (memory is bounded by one row group); default ${kDefaultRowGroupRows}`,
      seqArg,
    )
    .option('--no-progress', 'no progress bar (it is only shown when stderr is a terminal anyway)');
  addTenantOption(exportCmd);
  addKeyOptions(exportCmd, true)
    .addHelpText(
      'after',
      `
Filter language (full grammar in docs/cli.md):
  level >= 40                      event.level at least 40 (bare names are event fields)
  event.user == "u1" && action ~ "^log"   equality, regular expression
  seq >= 100 and not (tags contains "test")   seq, time (ISO string) and event are the roots
  user in ["u1", "u2"]             membership

Examples:
  $ ironlog export --dir ./audit --format csv --columns user,action --filter 'level >= 40' --output errors.csv
  $ ironlog export --dir ./audit --format ndjson --from 2026-11-01T00:00:00Z --output - | gzip > nov.ndjson.gz
  $ ironlog export --dir ./audit --format parquet --columns user.id,amount:double --output audit.parquet
  $ ironlog export --dir ./group-root --tenant acme --format ndjson --output acme.ndjson`,
    )
    .action(async (opts: ExportOptions) => {
      applyTenant(opts);
      const filter: RecordFilter | undefined = opts.filter !== undefined ? compileFilter(opts.filter) : undefined;
      if (opts.rowGroupRows !== undefined && opts.format !== 'parquet') {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--row-group-rows applies to --format parquet only');
      }
      // Parsed before anything is shown or written: a bad --columns is a usage error.
      const parquetColumns =
        opts.format === 'parquet' && opts.columns !== undefined ? parseColumnSpecs(opts.columns) : [];
      const columns = opts.columns
        ?.split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      const toStdout = opts.output === '-';
      if (toStdout) exitOnBrokenPipe();

      let bar: cliProgress.SingleBar | undefined;
      let firstSeq = opts.fromSeq ?? 1;
      if (opts.progress !== false && process.stderr.isTTY) {
        const summary = await summarizeWal(opts.dir);
        firstSeq = Math.max(firstSeq, summary.firstSeq);
        const lastSeq = Math.min(opts.toSeq ?? summary.lastSeq, summary.lastSeq);
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'export [{bar}] {percentage}% | seq {value}/{total} | {eta_formatted} left',
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(0, lastSeq - firstSeq + 1), 0);
      }
      const partial = `${opts.output}.partial`;
      if (opts.format === 'parquet') {
        let n = 0;
        try {
          const { rows } = await exportParquet({
            dir: opts.dir,
            output: opts.output,
            openOutput: () => openPartial(opts.output, partial),
            range: { fromSeq: opts.fromSeq, toSeq: opts.toSeq, from: opts.from, to: opts.to },
            filter,
            columns: parquetColumns,
            rowGroupRows: opts.rowGroupRows,
            // Sealed fields decrypted or marked, as in the other formats.
            open: recordOpenerFor(opts.dir, opts),
            onRecord: (seq) => {
              if (bar && (++n & 1023) === 0) bar.update(seq - firstSeq + 1);
            },
          });
          bar?.update(bar.getTotal());
          bar?.stop();
          process.stderr.write(`exported ${rows} records to ${toStdout ? 'stdout' : opts.output}\n`);
        } catch (err) {
          bar?.stop();
          throw err;
        }
        return;
      }
      let stream: Writable;
      try {
        stream = toStdout ? process.stdout : fs.createWriteStream(partial, { fd: openPartial(opts.output, partial) });
      } catch (err) {
        bar?.stop();
        throw err;
      }
      const out = new ChunkWriter(stream);

      let written = 0;
      let csvRows: Array<Array<string | number | boolean>> = [];
      const flushCsv = async (): Promise<void> => {
        if (csvRows.length > 0) await out.write(stringify(csvRows));
        csvRows = [];
      };
      try {
        if (opts.format === 'json') await out.write('[');
        if (opts.format === 'csv') await out.write(stringify([['seq', 'time', ...(columns ?? ['event'])]]));
        let n = 0;
        // Sealed fields decrypted with the keys (--key-file, $IRONLOG_KEYS, KMS), or marked (--no-decrypt).
        const open = recordOpenerFor(opts.dir, opts);
        for await (const raw of readWal(opts.dir, {
          fromSeq: opts.fromSeq,
          toSeq: opts.toSeq,
          from: opts.from,
          to: opts.to,
        })) {
          const r = await open(raw);
          if (bar && (++n & 1023) === 0) bar.update(r.seq - firstSeq + 1);
          const rec: FilterRecord = recordJson(r);
          if (filter && !filter(rec)) continue;
          if (opts.format === 'ndjson') {
            await out.write(`${toJson(rec)}\n`);
          } else if (opts.format === 'json') {
            await out.write(`${written === 0 ? '\n' : ',\n'}  ${toJson(rec)}`);
          } else {
            const cells = columns ? columns.map((c) => csvCell(pick(r.event, c))) : [csvCell(r.event)];
            csvRows.push([r.seq, rec.time, ...cells]);
            if (csvRows.length >= 1000) await flushCsv();
          }
          written++;
        }
        await flushCsv();
        if (opts.format === 'json') await out.write(written === 0 ? ']\n' : '\n]\n');
        await out.flush();
        bar?.update(bar.getTotal());
        bar?.stop();
        if (!toStdout) {
          stream.end();
          await finished(stream);
          fs.renameSync(partial, opts.output);
        }
      } catch (err) {
        bar?.stop();
        if (!toStdout) {
          stream.destroy();
          fs.rmSync(partial, { force: true });
        }
        throw err;
      }
      process.stderr.write(`exported ${written} records to ${toStdout ? 'stdout' : opts.output}\n`);
    });
}
