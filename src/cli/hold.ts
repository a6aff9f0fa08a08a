/**
 * `ironlog hold set|clear|list --dir D`: legal holds on the records of a WAL directory. While a
 * hold is active, no local deletion (`ironlog prune`, `replication.localRetention`) touches the
 * segments it covers, and `ironlog erase` refuses a subject with a record in its range. Every set and clear leaves a custody entry (`hold` / `release-hold`).
 */
import type { Command } from 'commander';
import { activeHolds, clearHold, type LegalHold, listHolds, setHold } from '../compliance/holds.js';
import { applyRemoteHold } from '../replication/remote-hold.js';
import { dateArg, seqArg } from './args.js';
import { custodyOptionFromCli } from './custody.js';

interface CustodyCliOptions {
  custody?: string | false;
  actor?: string;
  key?: string;
}

function rangeText(h: LegalHold): string {
  const r = h.range;
  const seqs = `seq ${r.fromSeq ?? 1}-${r.toSeq ?? 'open'}`;
  return r.from !== undefined || r.to !== undefined ? `${seqs} (time ${r.from ?? '-'} .. ${r.to ?? '-'})` : seqs;
}

/** Applies (or releases) `h` on the replicated objects under `url` and says what it did. */
async function remote(url: string, h: LegalHold, on: boolean, dir: string): Promise<void> {
  const r = await applyRemoteHold(url, h.range, on);
  if (!on) {
    // Objects another active hold covers keep their hold.
    for (const other of activeHolds(dir)) await applyRemoteHold(url, other.range, true);
  }
  process.stdout.write(`${r.backend}: legal hold ${on ? 'set on' : 'released from'} ${r.objects.length} object(s)\n`);
  if (r.versioning !== 'enabled') {
    process.stderr.write(
      `ironlog: warning: bucket versioning is ${r.versioning} on ${r.backend}: an overwrite or delete would leave no old version\n`,
    );
  }
}

function printHold(h: LegalHold): void {
  const state = h.clearedAt ? `cleared ${h.clearedAt} by ${h.clearedBy}: ${h.clearReason}` : 'active';
  process.stdout.write(`${h.id}  ${state}  ${rangeText(h)}  set ${h.createdAt} by ${h.actor}: ${h.reason}\n`);
}

/** Registers `hold set|clear|list`. */
export function registerHold(program: Command): void {
  const hold = program
    .command('hold')
    .description('legal holds: records under a hold are never deleted locally nor erased (set, clear, list)')
    .option('--custody <dir>', 'keep the custody log in DIR (default <dir>/custody; env IRONLOG_CUSTODY_DIR)')
    .option('--no-custody', 'record no custody entry (noted in the custody log where possible)')
    .option('--actor <name>', 'who acts, recorded in the custody entry (default: the OS user)')
    .option('--key <file>', 'sign the custody entry with this log signer key file (env IRONLOG_SIGNING_KEY_FILE)');
  hold
    .command('set')
    .description('set a legal hold on a seq or time range (default: every record, also future ones)')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .requiredOption('--reason <text>', 'why: the matter, the request, the legal ground (e.g. GDPR Art. 17(3)(e))')
    .option('--from-seq <n>', 'first seq held', seqArg)
    .option('--to-seq <n>', 'last seq held', seqArg)
    .option('--from <time>', 'records stamped at or after this time (ISO 8601)', dateArg)
    .option('--to <time>', 'records stamped before this time (ISO 8601)', dateArg)
    .option('--source <url>', 'also set the legal hold on the replicated objects (s3://, azure://, gs://)')
    .option('--json', 'print the hold as JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<
        CustodyCliOptions & {
          dir: string;
          reason: string;
          fromSeq?: number;
          toSeq?: number;
          from?: Date;
          to?: Date;
          source?: string;
          json?: boolean;
        }
      >();
      const h = await setHold(o.dir, {
        reason: o.reason,
        ...(o.fromSeq !== undefined ? { fromSeq: o.fromSeq } : {}),
        ...(o.toSeq !== undefined ? { toSeq: o.toSeq } : {}),
        ...(o.from !== undefined ? { from: o.from } : {}),
        ...(o.to !== undefined ? { to: o.to } : {}),
        custody: custodyOptionFromCli(o),
        via: 'cli',
      });
      if (o.json) process.stdout.write(`${JSON.stringify(h)}\n`);
      else printHold(h);
      if (o.source !== undefined) await remote(o.source, h, true, o.dir);
    });
  hold
    .command('clear')
    .description('clear a legal hold (it stays listed as cleared)')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .requiredOption('--id <id>', 'the hold id (ironlog hold list)')
    .requiredOption('--reason <text>', 'why the hold ends')
    .option('--source <url>', 'also release the hold on the replicated objects (others keep theirs)')
    .option('--json', 'print the cleared hold as JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<
        CustodyCliOptions & { dir: string; id: string; reason: string; source?: string; json?: boolean }
      >();
      const h = await clearHold(o.dir, o.id, { reason: o.reason, custody: custodyOptionFromCli(o), via: 'cli' });
      if (o.json) process.stdout.write(`${JSON.stringify(h)}\n`);
      else printHold(h);
      if (o.source !== undefined) await remote(o.source, h, false, o.dir);
    });
  hold
    .command('list')
    .description('list the legal holds (active and cleared)')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .option('--active', 'only the active holds')
    .option('--json', 'print a JSON array')
    .action((_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ dir: string; active?: boolean; json?: boolean }>();
      const holds = listHolds(o.dir).filter((h) => !o.active || h.clearedAt === undefined);
      if (o.json) process.stdout.write(`${JSON.stringify(holds)}\n`);
      else if (holds.length === 0) process.stdout.write('no legal holds\n');
      else for (const h of holds) printHold(h);
    });
  hold.addHelpText(
    'after',
    `
Exit codes: 0 done, 2 usage or I/O error (nothing changed).

Examples:
  $ ironlog hold set --dir ./audit --reason "litigation 2026-117" --from 2026-10-01 --to 2026-11-01
  $ ironlog hold list --dir ./audit
  $ ironlog hold clear --dir ./audit --id hold-3f2a9c01b2d4 --reason "case closed"`,
  );
}
