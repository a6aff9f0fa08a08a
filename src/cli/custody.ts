/**
 * Chain of custody on the CLI: `ironlog custody list|verify`, and the hooks that give every
 * command acting on a WAL (verify, replay, export, recover, prove, checkpoint, ...) exactly one
 * custody entry, with `--custody DIR`, `--no-custody`, `--actor NAME` and `--key FILE`.
 *
 * The hooks are commander `preAction`/`postAction` hooks on the program, driven by one table
 * ({@link kCustodyCommands}), so a command file needs no custody code of its own: before the
 * action runs, the custody log is checked writable (a read-only target fails with
 * `ERR_IRONLOG_CUSTODY_READ_ONLY` and nothing runs); after it, the entry is appended with the
 * result (exit code 0 `ok`, 1 `problems`); an action that throws is recorded by
 * {@link finishCustodyOnError}, called from `main`.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import {
  type CustodyAction,
  type CustodyDetails,
  type CustodyEntry,
  type CustodyRange,
  type CustodyResult,
  errorResult,
  kCustodyDirName,
  listCustodyEntries,
  parseCustodyHead,
  verifyCustodyLog,
} from '../compliance/custody.js';
import {
  beginCustody,
  type CustodyOption,
  type CustodySession,
  custodyTarget,
  userCustodyDir,
} from '../compliance/custody-session.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { isSourceUrl } from './args.js';
import { readKeyArg } from './note-key-arg.js';
import { beforeBrokenPipeExit } from './record-output.js';

/** The options of a hooked command that custody reads (commander's parsed values). */
interface Opts {
  readonly dir?: unknown;
  readonly source?: unknown;
  readonly from?: unknown;
  readonly to?: unknown;
  readonly fromSeq?: unknown;
  readonly toSeq?: unknown;
  readonly seq?: unknown;
  readonly fromSize?: unknown;
  readonly toSize?: unknown;
  readonly consistency?: unknown;
  readonly follow?: unknown;
  readonly filter?: unknown;
  readonly format?: unknown;
  readonly output?: unknown;
  readonly input?: unknown;
  readonly publicKey?: unknown;
  readonly custody?: unknown;
  readonly actor?: unknown;
  readonly key?: unknown;
}

/** How a command maps to a custody entry. */
interface CustodyCommandSpec {
  readonly action: CustodyAction;
  /** The WAL directory or source URL the command works on; undefined: none given (a usage error follows). */
  target(o: Opts): { readonly target: string; readonly url: boolean } | undefined;
  range?(o: Opts): CustodyRange;
  details?(o: Opts): CustodyDetails;
  /**
   * The command's library call writes the entry itself (it learns facts on the way, such as an
   * erasure's subject pseudonym): the hooks only add the options; the command passes
   * {@link custodyOptionFromCli} of them on.
   */
  readonly recordedByCommand?: boolean;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function iso(v: unknown): string | undefined {
  return v instanceof Date ? v.toISOString() : undefined;
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The defined fields of `o`, as entry details. */
function detailsOf(o: Readonly<Record<string, string | number | boolean | undefined>>): CustodyDetails {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as CustodyDetails;
}

const dirTarget = (o: Opts): ReturnType<CustodyCommandSpec['target']> => {
  const dir = str(o.dir);
  return dir === undefined ? undefined : { target: dir, url: false };
};

/** `--dir`, or a source (`--source <url>`, or a URL given as `--from`), as `resolveReadTarget` reads them. */
const dirOrSource = (o: Opts): ReturnType<CustodyCommandSpec['target']> => {
  const from = str(o.from);
  const url = str(o.source) ?? (from !== undefined && isSourceUrl(from) ? from : undefined);
  const dir = str(o.dir);
  if ((dir === undefined) === (url === undefined)) return undefined; // none or both: the command's usage error
  return dir !== undefined ? { target: dir, url: false } : { target: url as string, url: true };
};

const seqTimeRange = (o: Opts): CustodyRange =>
  compact({ fromSeq: num(o.fromSeq), toSeq: num(o.toSeq), from: iso(o.from), to: iso(o.to) });

/**
 * The commands that get a custody entry, by name. `erase`, `hold` and `prune` belong to later
 * issues: they are hooked as soon as they are registered with a `--dir` option.
 */
export const kCustodyCommands: Readonly<Record<string, CustodyCommandSpec>> = {
  verify: {
    action: 'verify',
    target: dirOrSource,
    details: (o) => detailsOf({ publicKey: o.publicKey !== undefined ? true : undefined }),
  },
  replay: {
    action: 'replay',
    target: dirOrSource,
    range: seqTimeRange,
    details: (o) => detailsOf({ follow: o.follow === true ? true : undefined, filter: str(o.filter) }),
  },
  export: {
    action: 'export',
    target: dirTarget,
    range: seqTimeRange,
    details: (o) =>
      detailsOf({
        output: str(o.output) === '-' ? '-' : str(o.output) && path.resolve(o.output as string),
        format: str(o.format),
        filter: str(o.filter),
      }),
  },
  recover: {
    action: 'recover',
    target: (o) => {
      const input = str(o.input);
      return input === undefined ? undefined : { target: input, url: false };
    },
    details: (o) => detailsOf({ output: str(o.output) && path.resolve(o.output as string) }),
  },
  prove: {
    action: 'prove',
    target: dirTarget,
    range: (o) =>
      compact({
        seq: num(o.seq),
        fromSize: num(o.fromSize),
        toSize: num(o.toSize),
      }),
    details: (o) => detailsOf({ consistency: o.consistency === true ? true : undefined }),
  },
  checkpoint: { action: 'checkpoint', target: dirTarget },
  erase: { action: 'erase', target: dirTarget, recordedByCommand: true },
  hold: { action: 'hold', target: dirTarget },
  prune: { action: 'delete', target: dirTarget },
};

interface Current {
  readonly session: CustodySession;
}

/** The custody session of the command running in this process (the CLI runs one command). */
let current: Current | undefined;

function resultOfExitCode(code: number): CustodyResult {
  if (code === 0) return { status: 'ok', exitCode: 0 };
  if (code === 1) return { status: 'problems', exitCode: 1 };
  return { status: 'error', exitCode: code };
}

async function finish(result: CustodyResult): Promise<void> {
  const c = current;
  if (c === undefined) return;
  current = undefined;
  await c.session.finish(result);
}

/** Records the error of a command that threw (called by `main`); does nothing when no custody is running. */
export async function finishCustodyOnError(err: unknown): Promise<void> {
  try {
    await finish({ ...errorResult(err), exitCode: 2 });
  } catch (custodyErr) {
    process.stderr.write(
      `ironlog: the custody entry of the failed command could not be written: ${String((custodyErr as Error)?.message ?? custodyErr)}\n`,
    );
  }
}

function hasOption(cmd: Command, flag: string): boolean {
  return cmd.options.some((o) => o.long === flag);
}

/**
 * The library's `custody` option from a command's `--custody DIR` / `--no-custody`, `--actor` and
 * `--key FILE` (environment `IRONLOG_CUSTODY_DIR`, `IRONLOG_SIGNING_KEY_FILE`).
 */
export function custodyOptionFromCli(o: {
  readonly custody?: unknown;
  readonly actor?: unknown;
  readonly key?: unknown;
}): CustodyOption {
  if (o.custody === false) return false;
  const dir = str(o.custody) ?? str(process.env['IRONLOG_CUSTODY_DIR']);
  const keyFile = str(o.key) ?? str(process.env['IRONLOG_SIGNING_KEY_FILE']);
  return compact({ dir, actor: str(o.actor), key: keyFile === undefined ? undefined : { file: keyFile } });
}

/** Adds the custody options to every command of {@link kCustodyCommands} and hooks them. Call after registering them. */
export function installCustodyHooks(program: Command): void {
  for (const cmd of program.commands) {
    if (kCustodyCommands[cmd.name()] === undefined) continue;
    if (!hasOption(cmd, '--custody')) {
      cmd.option(
        '--custody <dir>',
        'chain of custody: keep the custody log in DIR (default <dir>/custody; env IRONLOG_CUSTODY_DIR)',
      );
      cmd.option('--no-custody', 'run without a custody entry (noted in the custody log where possible)');
    }
    if (!hasOption(cmd, '--actor'))
      cmd.option('--actor <name>', 'who acts, recorded in the custody entry (default: the OS user)');
    if (!hasOption(cmd, '--key')) {
      cmd.option('--key <file>', 'sign the custody entry with this log signer key file (env IRONLOG_SIGNING_KEY_FILE)');
    }
  }
  program.hook('preAction', async (_program, actionCommand) => {
    if (actionCommand.parent !== program) return;
    const spec = kCustodyCommands[actionCommand.name()];
    if (spec === undefined) return;
    if (spec.recordedByCommand === true) return;
    const o = actionCommand.opts<Opts>();
    const t = spec.target(o);
    if (t === undefined) return;
    const range = spec.range?.(o);
    const details = spec.details?.(o);
    const session = await beginCustody({
      action: spec.action,
      target: custodyTarget(t.target, t.url),
      ...(t.url ? {} : { walDir: t.target }),
      ...(range && Object.keys(range).length > 0 ? { range } : {}),
      ...(details && Object.keys(details).length > 0 ? { details } : {}),
      via: 'cli',
      option: custodyOptionFromCli(o),
      onNoteFailed: (err) =>
        process.stderr.write(
          `ironlog: custody off for ${spec.action}; the note could not be written: ${String((err as Error)?.message ?? err)}\n`,
        ),
    });
    if (!session.enabled) return;
    current = { session };
    // `replay ... | head` ends the process from the pipe's error handler: record it first.
    beforeBrokenPipeExit(() => finish({ status: 'ok', exitCode: 0, message: 'stdout closed early' }));
  });
  program.hook('postAction', async () => {
    await finish(resultOfExitCode(typeof process.exitCode === 'number' ? process.exitCode : 0));
  });
}

/** The custody directory `custody list|verify` read: `--custody`, else `<dir>/custody`. */
function custodyDirOf(o: { dir?: string; custody?: string }): string {
  if (o.custody !== undefined) return path.resolve(o.custody);
  if (o.dir !== undefined) return path.join(path.resolve(o.dir), kCustodyDirName);
  throw new IronlogError(
    ErrorCodes.INVALID_ARGUMENT,
    `give --dir <walDir> (custody log in <walDir>/custody) or --custody <dir> (for sources: ${userCustodyDir()})`,
  );
}

function resultText(r: CustodyResult): string {
  if (r.status === 'error') return `error ${r.code ?? `exit ${r.exitCode ?? '?'}`}`;
  return r.status;
}

function rangeText(r: CustodyRange | undefined): string {
  if (r === undefined) return '';
  return Object.entries(r)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

function printEntry(e: CustodyEntry): void {
  const of = e.action === 'custody-off' ? ` (for ${String(e.details?.['of'] ?? '?')})` : '';
  const range = rangeText(e.range);
  process.stdout.write(
    `${String(e.seq).padStart(6)}  ${e.time}  ${e.actor.padEnd(12)}  ${(e.action + of).padEnd(12)}  ${resultText(e.result).padEnd(10)}  ${e.sig ? 'signed  ' : 'unsigned'}  ${e.target}${range ? `  [${range}]` : ''}\n`,
  );
}

/** `ironlog custody list|verify`. */
export function registerCustody(program: Command): void {
  const custody = program
    .command('custody')
    .description(
      'the chain-of-custody log of a WAL: who verified, replayed, exported, recovered or proved what, and when',
    );
  custody
    .command('list')
    .description('print the custody entries, oldest first')
    .option('--dir <dir>', 'the WAL directory (its custody log is <dir>/custody/custody.log)')
    .option('--custody <dir>', 'the custody directory, when it is kept elsewhere (--custody of the commands)')
    .option('--json', 'print the entries as a JSON array, as stored')
    .addHelpText(
      'after',
      `
Listing does not check the chain: run ironlog custody verify for that. Lines that are not
entries are reported on stderr. Exit codes: 0 listed, 2 usage or I/O error.

Example:
  $ ironlog custody list --dir ./audit`,
    )
    .action((o: { dir?: string; custody?: string; json?: boolean }) => {
      const dir = custodyDirOf(o);
      const { entries, unreadableLines } = listCustodyEntries(dir);
      if (o.json) process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      else {
        process.stdout.write(
          `${'seq'.padStart(6)}  ${'time'.padEnd(24)}  ${'actor'.padEnd(12)}  ${'action'.padEnd(12)}  ${'result'.padEnd(10)}  signature target [range]\n`,
        );
        for (const e of entries) printEntry(e);
      }
      if (unreadableLines.length > 0) {
        process.stderr.write(
          `ironlog: ${unreadableLines.length} line(s) of ${path.join(dir, 'custody.log')} are not entries (lines ${unreadableLines.slice(0, 10).join(', ')}): run ironlog custody verify\n`,
        );
      }
    });
  custody
    .command('verify')
    .description(
      'check the custody log: every entry intact, in order, chained to the one before, and signed (with --public-key)',
    )
    .option('--dir <dir>', 'the WAL directory (its custody log is <dir>/custody/custody.log)')
    .option('--custody <dir>', 'the custody directory, when it is kept elsewhere')
    .option(
      '--public-key <key>',
      'also require a valid signature on every entry by this verifier key (or a file holding it)',
    )
    .option(
      '--expect-head <seq:sha256>',
      'the head an earlier custody verify printed: fail if that entry is gone or changed',
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Exit codes: 0 intact, 1 broken chain, bad or missing signature, edited, deleted, reordered or
inserted entry (each named by seq and line), or no custody log; 2 usage or I/O error.
A torn last line (an append interrupted by a crash) is reported but is not a failure.
Keep the head it prints: cutting entries off the end is only detectable against a head you kept
(--expect-head <seq>:<sha256>).

Example:
  $ ironlog custody verify --dir ./audit --public-key audit.pub`,
    )
    .action(async (o: { dir?: string; custody?: string; publicKey?: string; expectHead?: string; json?: boolean }) => {
      const dir = custodyDirOf(o);
      const publicKey = o.publicKey === undefined ? undefined : readKeyArg(o.publicKey, '--public-key');
      const expectHead = o.expectHead === undefined ? undefined : parseCustodyHead(o.expectHead);
      const report = await verifyCustodyLog(dir, {
        ...(publicKey !== undefined ? { publicKey } : {}),
        ...(expectHead ? { expectHead } : {}),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const w = (line: string): boolean => process.stdout.write(`${line}\n`);
        const sigs =
          publicKey === undefined
            ? `${report.signed} signed (not checked: no --public-key)`
            : `${report.signaturesChecked} signatures verified`;
        w(`${report.valid ? 'intact' : 'BROKEN'}: ${report.entries} entries in ${report.file}, ${sigs}`);
        if (report.head) w(`  head: ${report.head.seq}:${report.head.sha256} (keep it: --expect-head)`);
        if (report.tornTail) {
          w(
            `  torn last line: ${report.tornTail.bytes} bytes after entry ${report.tornTail.afterSeq ?? 'none'} (an append interrupted by a crash, not tampering; the next append cuts it and records it)`,
          );
        }
        for (const p of report.problems)
          w(`  ${p.kind}${p.seq !== undefined ? ` (entry ${p.seq})` : ''}: ${p.message}`);
      }
      process.exitCode = report.valid ? 0 : 1;
    });
}
