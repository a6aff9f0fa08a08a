import * as fsp from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { readWal, type WalRecord } from '../wal/reader.js';
import { listWalDir } from '../wal/wal-dir.js';
import { WalTailer } from '../wal/wal-tailer.js';
import {
  dateArg,
  dateOrSourceArg,
  listenForStop,
  nodeListArg,
  positiveDurationMs,
  resolveReadTarget,
  seqArg,
  sleepUnlessStopped,
} from './args.js';
import { compileFilter, type RecordFilter } from './filter.js';
import { addKeyOptions, type KeyCliOptions, recordOpenerFor } from './master-key-options.js';
import { beforeBrokenPipeExit, ChunkWriter, exitOnBrokenPipe, recordJson, toJson } from './record-output.js';
import { addTenantOption, applyTenant } from './tenant-arg.js';

interface ReplayOptions extends KeyCliOptions {
  dir?: string;
  /** With --dir <root>: one tenant of a sink group. */
  tenant?: string;
  /** A replicated history (backend URL). */
  source?: string;
  nodes?: string[];
  allowPrunedStart?: boolean;
  allowEmpty?: boolean;
  fromSeq?: number;
  toSeq?: number;
  /** A start time, or (a string) a backend URL: see `dateOrSourceArg`. */
  from?: Date | string;
  to?: Date;
  format: 'ndjson' | 'json' | 'table';
  filter?: string;
  follow?: boolean;
  pollInterval: number;
}

/** A cheap fingerprint of the WAL directory: segment names and the last one's size and mtime. */
async function walFingerprint(dir: string): Promise<string> {
  const segs = await listWalDir(dir);
  const last = segs[segs.length - 1];
  if (!last) return '';
  // Size alone is not enough: the writer pre-zeroes segments and writes inside that space.
  let stamp = '';
  try {
    const st = await fsp.stat(last.path, { bigint: true });
    stamp = `${st.size}:${st.mtimeNs}`;
  } catch {
    // Renamed or deleted between the listing and the stat: the next poll sees the new state.
  }
  return `${segs.length}:${last.name}:${stamp}`;
}

/** `ironlog replay`: records in seq order, optionally following a live WAL. */
export function registerReplay(program: Command): void {
  const replay = program
    .command('replay')
    .description(
      'print the records of a WAL directory in seq order (optionally following new ones, like tail -f), or of a replicated multi-node history merged by time',
    )
    .option('--dir <dir>', 'the WAL directory')
    .option(
      '--source <url>',
      'a replicated history instead of --dir: s3://bucket/prefix, azure://container/prefix, gs://bucket/prefix, file:///dir',
    )
    .option('--nodes <ids>', 'with a source: only these nodes (comma-separated)', nodeListArg)
    .option('--allow-pruned-start', 'with a source: accept node histories whose oldest objects expired')
    .option(
      '--allow-empty',
      'print nothing (exit 0) for a directory without segments or a source without nodes; without it that is an error (exit 2), unless --follow',
    )
    .option('--from-seq <n>', 'first seq (inclusive; per node with a source)', seqArg)
    .option('--to-seq <n>', 'last seq (inclusive; per node with a source)', seqArg)
    .option(
      '--from <iso|url>',
      'only records at or after this time, ISO 8601 with an offset (2026-11-22T10:00:00Z; a time without Z or +hh:mm is refused); a URL (s3://...) here is the source, same as --source',
      dateOrSourceArg,
    )
    .option('--to <iso>', 'only records before this time (ISO 8601 with an offset)', dateArg)
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'json', 'table']).default('ndjson'))
    .option('--filter <expr>', "only records matching this expression, e.g. 'level >= 40' (see docs/cli.md)")
    .option('-f, --follow', 'keep running and print new records as they become durable (stop with Ctrl-C)')
    .addOption(
      new Option('--poll-interval <duration>', 'how often --follow looks for new records (100ms, 1s)')
        .argParser(positiveDurationMs)
        .default(250, '250ms'),
    );
  addTenantOption(replay);
  addKeyOptions(replay, true)
    .addHelpText(
      'after',
      `
ndjson prints one object per line: {"seq":1,"time":"2026-11-22T10:00:00.000Z","event":{...}}
Binary payloads print as {"$base64":"..."}. With --follow, --format json is not allowed.

From a source (--source <url>, or --from <url>), every node's records are checked, each node's
kept in seq order, all merged by time (ties: nodeId, then seq), and each line carries its node:
{"nodeId":"node-a","seq":1,"time":"...","event":{...}}. --source is the unambiguous form: with it,
--from/--to keep their time meaning. Credentials: the SDKs' usual ones (AWS default chain, Google
ADC, AZURE_STORAGE_CONNECTION_STRING); S3 endpoint/region/forcePathStyle go in the query string.

Examples:
  $ ironlog replay --dir ./audit --from 2026-11-22T00:00:00Z --to 2026-11-23T00:00:00Z --format table
  $ ironlog replay --dir ./audit --from-seq 1000 --follow | jq .event
  $ ironlog replay --dir ./group-root --tenant acme --format table
  $ ironlog replay --source 's3://audit-prod/audit?region=eu-west-1' --from 2026-11-22T00:00:00Z
  $ ironlog replay --from 'file:///mnt/nfs/audit?prefix=audit' --nodes node-a --format table`,
    )
    .action(async (opts: ReplayOptions) => {
      applyTenant(opts);
      const fromUrl = typeof opts.from === 'string' ? opts.from : undefined;
      const from = opts.from instanceof Date ? opts.from : undefined;
      const target = resolveReadTarget({ dir: opts.dir, source: opts.source, fromUrl });
      if (target.kind === 'remote') {
        await replayRemote(target.url, { ...opts, from });
        return;
      }
      if (opts.nodes !== undefined || opts.allowPrunedStart) {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          '--nodes and --allow-pruned-start apply to a source (--source <url>), not to --dir',
        );
      }
      const dir = target.dir;
      if (opts.follow && opts.format === 'json') {
        throw new IronlogError(
          ErrorCodes.INVALID_ARGUMENT,
          '--follow prints an endless stream: use --format ndjson or table, not json',
        );
      }
      // A directory without any segment is most likely the wrong one: say so instead of printing
      // nothing (--follow waits for a writer to start; --allow-empty expects an empty log).
      if (!opts.follow && opts.allowEmpty !== true && (await listWalDir(dir)).length === 0) {
        throw new IronlogError(
          ErrorCodes.WAL_EMPTY,
          `no WAL segments in ${dir} (expected <20-digit first seq>.wal files): nothing to replay; --allow-empty prints nothing instead`,
        );
      }
      exitOnBrokenPipe();
      const filter: RecordFilter | undefined = opts.filter !== undefined ? compileFilter(opts.filter) : undefined;
      const printer = new RecordPrinter(new ChunkWriter(process.stdout), opts.format, filter, false);
      const out = printer.out;
      await printer.begin();
      // Sealed fields decrypted with the keys (--key-file, $IRONLOG_KEYS, KMS), or marked (--no-decrypt).
      const open = recordOpenerFor(dir, opts);
      const print = async (r: WalRecord): Promise<void> => printer.print(await open(r));
      const toSeq = opts.toSeq ?? Number.MAX_SAFE_INTEGER;
      let nextSeq = opts.fromSeq ?? 1;
      const stop = opts.follow ? listenForStop() : undefined;
      try {
        // Taken before reading: anything appended while we read changes it, so nothing is missed.
        let seen = stop ? await walFingerprint(dir) : '';
        // What exists now: readWal skips sealed segments by their seals and seeks with their index.
        const iter = readWal(dir, {
          fromSeq: nextSeq,
          toSeq: opts.toSeq,
          from,
          to: opts.to,
          live: stop !== undefined,
        });
        for await (const r of iter) {
          nextSeq = r.seq + 1;
          await print(r);
        }
        if (stop && nextSeq <= toSeq) {
          // Then follow: the tailer parses only what is appended from here on.
          const tailer = new WalTailer(dir, nextSeq);
          const fromUs = from ? from.getTime() * 1000 : Number.NEGATIVE_INFINITY;
          const toUs = opts.to ? opts.to.getTime() * 1000 : Number.POSITIVE_INFINITY;
          let done = false;
          while (!done && !stop.stopped) {
            await out.flush();
            while (!stop.stopped && (await walFingerprint(dir)) === seen) {
              await sleepUnlessStopped(opts.pollInterval, stop);
            }
            if (stop.stopped) break;
            seen = await walFingerprint(dir);
            for await (const r of tailer.poll()) {
              if (r.seq > toSeq) {
                done = true;
                break;
              }
              if (r.timeUs >= fromUs && r.timeUs < toUs) await print(r);
            }
            if (tailer.nextSeq > toSeq) done = true;
          }
        }
      } finally {
        // Records read before an error (damage further on) are still printed.
        await out.flush();
      }
      stop?.dispose();
      await printer.end();
    });
}

/** Prints records as ndjson, one JSON array or a table; `withNode` adds each record's node. */
class RecordPrinter {
  #first = true;

  constructor(
    readonly out: ChunkWriter,
    private readonly format: ReplayOptions['format'],
    private readonly filter: RecordFilter | undefined,
    private readonly withNode: boolean,
  ) {}

  async begin(): Promise<void> {
    if (this.format === 'json') await this.out.write('[');
    if (this.format === 'table') {
      const node = this.withNode ? `${'node'.padEnd(12)}  ` : '';
      await this.out.write(`${node}${'seq'.padStart(10)}  ${'time'.padEnd(24)}  event\n`);
    }
  }

  async print(r: WalRecord, nodeId?: string): Promise<void> {
    const rec = this.withNode ? { nodeId, ...recordJson(r) } : recordJson(r);
    if (this.filter && !this.filter(rec)) return;
    if (this.format === 'ndjson') {
      await this.out.write(`${toJson(rec)}\n`);
    } else if (this.format === 'json') {
      await this.out.write(`${this.#first ? '\n' : ',\n'}  ${toJson(rec)}`);
    } else {
      const node = this.withNode ? `${(nodeId ?? '').padEnd(12)}  ` : '';
      await this.out.write(`${node}${String(r.seq).padStart(10)}  ${rec.time.padEnd(24)}  ${toJson(r.event)}\n`);
    }
    this.#first = false;
  }

  /** Closes a JSON array and flushes. */
  async end(): Promise<void> {
    if (this.format === 'json') await this.out.write(this.#first ? ']\n' : '\n]\n');
    await this.out.flush();
  }
}

/**
 * `replay` of a replicated history: `readRemoteWal` checks every object and each node's chain,
 * keeps each node in seq order and merges the nodes by time; every printed record names its node.
 * `--from-seq`/`--to-seq` apply to each node's own seqs.
 */
async function replayRemote(
  url: string,
  opts: Omit<ReplayOptions, 'from'> & { from: Date | undefined },
): Promise<void> {
  if (opts.follow) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      '--follow tails a local WAL (--dir); a replicated history is read once',
    );
  }
  // Loaded only here: the storage SDKs stay out of a local replay.
  const { readRemoteWal } = await import('../replication/readback.js');
  const records = readRemoteWal(url, {
    ...(opts.nodes ? { nodes: opts.nodes } : {}),
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
    allowPrunedStart: opts.allowPrunedStart === true,
    allowEmpty: opts.allowEmpty === true,
  });
  // `| head` closes stdout: end the reader first (its finally removes the downloaded copy), then exit.
  beforeBrokenPipeExit(() => records.return(undefined));
  const filter: RecordFilter | undefined = opts.filter !== undefined ? compileFilter(opts.filter) : undefined;
  const fromSeq = opts.fromSeq ?? 1;
  const toSeq = opts.toSeq ?? Number.MAX_SAFE_INTEGER;
  const printer = new RecordPrinter(new ChunkWriter(process.stdout), opts.format, filter, true);
  await printer.begin();
  try {
    for await (const r of records) {
      if (r.seq >= fromSeq && r.seq <= toSeq) await printer.print(r, r.nodeId);
    }
  } finally {
    // Records read before an error (damage further on) are still printed.
    await printer.out.flush();
  }
  await printer.end();
}
