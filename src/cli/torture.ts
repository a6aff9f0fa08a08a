/**
 * `ironlog torture`: runs the torture suite (SIGKILL, power loss on a crash-consistency disk
 * model, disk full, corruption, clock jumps, byzantine storage, concurrent corruption) and prints
 * per-scenario pass/fail counts, durations, rates and the seed of every failure; optionally
 * writes a self-contained HTML report and prints a JSON summary. Exit code 0 when every scenario
 * passed (or was skipped), 1 when an invariant was violated, 2 for usage errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { renderHtmlReport } from '../torture/report.js';
import { runTorture, type TortureSummary } from '../torture/runner.js';
import { kScenarioNames, type Mutation, type ScenarioName } from '../torture/types.js';
import { positiveDurationMs } from './args.js';

interface TortureCliOptions {
  scenarios?: ScenarioName[];
  iterations: number;
  concurrency: number;
  seed?: number;
  report?: string;
  json?: boolean;
  quick?: boolean;
  mutation?: Mutation;
  statesPerCrashPoint?: number;
  /** ms */
  timeBudget?: number;
}

function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`--${name} must be a positive integer`);
    return n;
  };
}

function parseScenarios(v: string): ScenarioName[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const n of names) {
    if (!(kScenarioNames as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`unknown scenario ${n} (one of ${kScenarioNames.join(', ')})`);
    }
  }
  return names as ScenarioName[];
}

function parseSeed(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidArgumentError('--seed must be an integer from 0 to 4294967295');
  return n;
}

function parseMutation(v: string): Mutation {
  const all: readonly Mutation[] = ['no-fdatasync', 'no-dir-fsync', 'ack-before-sync'];
  if (!(all as readonly string[]).includes(v))
    throw new InvalidArgumentError(`--mutation must be one of ${all.join(', ')}`);
  return v as Mutation;
}

function printSummary(s: TortureSummary): void {
  const out = process.stdout;
  out.write(
    `\nironlog torture: ${s.ok ? 'PASSED' : 'FAILED'} (seed ${s.seed}, ${Math.round(s.durationMs / 100) / 10} s)\n`,
  );
  for (const sc of s.scenarios) {
    if (sc.status === 'skipped') {
      out.write(`  ${sc.name.padEnd(22)} skipped: ${sc.skipReason}\n`);
      continue;
    }
    const rates = Object.entries(sc.rates)
      .filter(([k]) => k === 'crashStatesPerSec')
      .map(([k, v]) => ` ${k.replace('PerSec', '')} ${sc.metrics[k.replace('PerSec', '')]} (${v}/s)`)
      .join('');
    out.write(
      `  ${sc.name.padEnd(22)} ${sc.status.padEnd(6)} ${sc.passed}/${sc.iterations} passed, ${sc.failed} failed, ${Math.round(sc.durationMs)} ms${rates}\n`,
    );
    for (const f of sc.failures.slice(0, 10)) {
      out.write(
        `    seed ${f.seed} (iteration ${f.iteration}) ${f.kind}: ${f.message.split('\n')[0]}\n      replay: ${f.replay}\n`,
      );
    }
  }
}

/** Registers `ironlog torture`. */
export function registerTorture(program: Command): void {
  program
    .command('torture')
    .description(
      'attack the durability promise: SIGKILL, power loss, disk full, corruption, clock jumps, byzantine storage',
    )
    .option(
      '--scenarios <list>',
      `comma-separated scenarios (default: all): ${kScenarioNames.join(', ')}`,
      parseScenarios,
    )
    .option('--iterations <n>', 'iterations per scenario', positiveInt('iterations'), 1)
    .option('--concurrency <n>', 'iterations run at once (worker threads)', positiveInt('concurrency'), 1)
    .option('--seed <n>', 'base seed (default: random); a failure prints the seed that replays it', parseSeed)
    .option('--report <file>', 'write a self-contained HTML report')
    .option('--json', 'print the JSON summary on stdout instead of text')
    .option('--quick', 'short rounds (as in npm test)')
    .option(
      '--states-per-crash-point <n>',
      'power-loss: post-crash states checked per crash point',
      positiveInt('states-per-crash-point'),
    )
    .option(
      '--time-budget <duration>',
      'stop starting new iterations of a scenario after this long, with a unit: 90s, 15m, 1h',
      positiveDurationMs,
    )
    .option(
      '--mutation <name>',
      'test-only: remove a durability step (no-fdatasync, no-dir-fsync, ack-before-sync) to prove the suite fails',
      parseMutation,
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 every scenario passed or was skipped, 1 an invariant was violated, 2 usage error.

Examples:
  $ ironlog torture --scenarios power-loss,kill9-during-write --iterations 20 --report torture.html
  $ ironlog torture --scenarios power-loss --iterations 5000 --concurrency 2 --seed 42 --json > summary.json
  $ ironlog torture --scenarios power-loss --seed 3735928559 --iterations 1      # replay one failure`,
    )
    .action(async (opts: TortureCliOptions) => {
      if (opts.report !== undefined) {
        // Found out now, not after an hour of torture.
        try {
          fs.accessSync(path.dirname(path.resolve(opts.report)), fs.constants.W_OK);
        } catch (err) {
          throw new IronlogError(
            ErrorCodes.IO,
            `--report ${opts.report}: cannot write into ${path.dirname(path.resolve(opts.report))} (${errnoCode(err)})`,
            { cause: err },
          );
        }
      }
      const names = opts.scenarios ?? [...kScenarioNames];
      const total = names.length * opts.iterations;
      const tty = process.stderr.isTTY === true && !opts.json;
      const bar = tty
        ? new SingleBar({
            format: 'torture [{bar}] {value}/{total} iterations | {scenario} | failed {failed} | {duration_formatted}',
            stream: process.stderr,
            hideCursor: true,
          })
        : undefined;
      let failed = 0;
      bar?.start(total, 0, { scenario: names[0], failed });
      const summary = await runTorture({
        scenarios: names,
        iterations: opts.iterations,
        concurrency: opts.concurrency,
        seed: opts.seed,
        quick: opts.quick ?? false,
        mutation: opts.mutation,
        statesPerCrashPoint: opts.statesPerCrashPoint,
        timeBudgetMs: opts.timeBudget,
        onIteration: (r, done) => {
          if (!r.ok) failed++;
          bar?.update(done, { scenario: r.scenario, failed });
        },
      });
      bar?.update(total, { failed });
      bar?.stop();
      if (opts.report) fs.writeFileSync(opts.report, renderHtmlReport(summary));
      if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        printSummary(summary);
        if (opts.report) process.stdout.write(`report: ${opts.report}\n`);
      }
      process.exitCode = summary.ok ? 0 : 1;
    });
}
