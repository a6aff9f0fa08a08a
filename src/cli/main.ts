/**
 * `ironlog` command-line entry: one file per command, wired here with commander.
 * Exit codes: 0 success, 1 corruption found (verify), 2 usage or I/O error. Every failure prints
 * one line, `ironlog: ERR_IRONLOG_<CODE>: message`, never a stack trace.
 */

import { debuglog } from 'node:util';
import { Command, CommanderError } from 'commander';
import { ErrorCodes, errnoCode, isIronlogError } from '../core/errors.js';
import { registerBench } from './bench.js';
import { registerCheckpoint } from './checkpoint.js';
import { finishCustodyOnError, installCustodyHooks, registerCustody } from './custody.js';
import { registerErase } from './erase.js';
import { registerExport } from './export.js';
import { registerKeygen } from './keygen.js';
import { registerMonitor } from './monitor.js';
import { registerProve } from './prove.js';
import { exitOnBrokenPipe } from './record-output.js';
import { registerRecover } from './recover.js';
import { registerReplay } from './replay.js';
import { registerServe } from './serve.js';
import { registerStats } from './stats.js';
import { registerTorture } from './torture.js';
import { registerVerify } from './verify.js';
import { registerVerifyProof } from './verify-proof.js';
import { packageVersion, registerVersion } from './version.js';
import { registerWitness } from './witness.js';

const debug = debuglog('ironlog');

/** Exit codes shared by every command. */
export const ExitCode = { OK: 0, CORRUPT: 1, USAGE: 2 } as const;

/** Builds the program (exported for tests and for embedding). */
export function buildProgram(): Command {
  const program = new Command('ironlog')
    .description(
      'Durable, tamper-evident audit log: ingest over HTTP, verify, replay, export, recover and monitor ironlog WAL directories.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added: each one inherits it.
    .configureOutput({ outputError: (text, write) => write(usageLine(text)) })
    .exitOverride();
  registerVerify(program);
  registerReplay(program);
  registerExport(program);
  registerRecover(program);
  registerErase(program);
  registerStats(program);
  registerServe(program);
  registerMonitor(program);
  registerBench(program);
  registerTorture(program);
  registerCheckpoint(program);
  registerProve(program);
  registerVerifyProof(program);
  registerKeygen(program);
  registerWitness(program);
  registerCustody(program);
  registerVersion(program);
  // After every command is registered: one custody entry per verify/replay/export/recover/prove/...
  installCustodyHooks(program);
  program.addHelpText(
    'after',
    `
Examples:
  $ ironlog verify --dir ./audit
  $ ironlog replay --dir ./audit --from-seq 100 --format ndjson
  $ ironlog recover --input ./damaged --output ./recovered
  $ ironlog serve --dir ./audit --port 8080
  $ ironlog monitor --url http://127.0.0.1:8080
  $ ironlog keygen --name example.com/audit --out ./audit-log
  $ ironlog <command> --help`,
  );
  return program;
}

/**
 * The one line a failure prints: `ERR_IRONLOG_<CODE>: message`. An ironlog error keeps its code;
 * a system error (errno code such as EADDRINUSE, EISDIR) is an I/O error; anything else is a bug
 * (`ERR_IRONLOG_INTERNAL`). The stack goes to `NODE_DEBUG=ironlog` output only.
 */
export function describeFailure(err: unknown): string {
  debug('%s', (err as Error)?.stack ?? String(err));
  if (isIronlogError(err)) return `${err.code}: ${err.message}`;
  const message = (err as Error)?.message ?? String(err);
  const errno = errnoCode(err);
  if (errno !== undefined && /^E[A-Z0-9]+$/.test(errno)) return `${ErrorCodes.IO}: ${message}`;
  return `${ErrorCodes.INTERNAL}: ${message} (a bug: please report it; NODE_DEBUG=ironlog prints the stack)`;
}

function fail(err: unknown): void {
  process.stderr.write(`ironlog: ${describeFailure(err)}\n`);
}

let lastResortInstalled = false;

/**
 * An error nothing catches (an 'error' event without a listener, a callback that throws) must
 * still end as one `ironlog: ERR_...` line and exit code 2, not a Node stack trace.
 */
function installLastResort(): void {
  if (lastResortInstalled) return;
  lastResortInstalled = true;
  const onFatal = (err: unknown): void => {
    fail(err);
    process.exit(ExitCode.USAGE);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // `ironlog --help | head`, `ironlog replay ... | head`: a closed pipe ends the command quietly.
  exitOnBrokenPipe();
  installLastResort();
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK;
  } catch (err) {
    await finishCustodyOnError(err);
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0 through the same path; the message of a usage
      // error was printed by `outputError` (below) as `ironlog: ERR_IRONLOG_USAGE: ...`.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    fail(err);
    return ExitCode.USAGE;
  }
}

/** Commander's `error: unknown option '--x'` as `ironlog: ERR_IRONLOG_USAGE: unknown option '--x'`. */
function usageLine(text: string): string {
  return `ironlog: ${ErrorCodes.USAGE}: ${text.replace(/^error: /, '')}`;
}
