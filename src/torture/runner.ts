/**
 * The torture runner: runs N iterations of each chosen scenario (in worker threads when
 * `concurrency > 1`), collects per-scenario pass/fail counts, durations, metrics and the seed of
 * every failure, and returns a JSON-ready {@link TortureSummary}.
 *
 * Seeds: iteration 0 of a run uses the run's seed itself, iteration `i` uses
 * `deriveSeed(seed, i)`. A failure reports its iteration seed, so
 * `ironlog torture --scenarios <name> --seed <iteration seed> --iterations 1` replays it.
 */
import * as os from 'node:os';
import { Piscina } from 'piscina';
import { type IterationResult, type IterationTask, runIteration } from './iteration.js';
import { deriveSeed } from './prng.js';
import { getScenario } from './scenarios/index.js';
import { kScenarioNames, type ScenarioName, type TortureFailure, type TortureParams } from './types.js';

/** Options of {@link runTorture}. */
export interface TortureRunOptions {
  /** Scenarios to run, in this order. Default: all of them. */
  readonly scenarios?: readonly ScenarioName[];
  /** Iterations per scenario. Default 1. */
  readonly iterations?: number;
  /** Iterations run at once (worker threads). Default 1 (inline). */
  readonly concurrency?: number;
  /** Base seed. Default: random. */
  readonly seed?: number;
  /** Short rounds (for `npm test`). Default false. */
  readonly quick?: boolean;
  readonly mutation?: TortureParams['mutation'];
  readonly statesPerCrashPoint?: number;
  /** Stop starting new iterations of a scenario after this many ms (long runs). Default: no limit. */
  readonly timeBudgetMs?: number;
  /** Called after every iteration. */
  readonly onIteration?: (result: IterationResult, done: number, total: number) => void;
}

/** A failure as the summary lists it. */
export interface SummaryFailure extends TortureFailure {
  readonly iteration: number;
  readonly seed: number;
  /** The command that replays the failing iteration. */
  readonly replay: string;
}

/** Per-scenario results. */
export interface ScenarioSummary {
  readonly name: ScenarioName;
  readonly description: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly skipReason?: string;
  readonly iterations: number;
  readonly passed: number;
  readonly failed: number;
  /** Wall time of the scenario's iterations. */
  readonly durationMs: number;
  /** Sum over the iterations of their own durations. */
  readonly iterationMs: number;
  /** Sums of the metrics the iterations reported (e.g. `crashStates`). */
  readonly metrics: Record<string, number>;
  /** `<metric>PerSec` rates over the scenario's wall time. */
  readonly rates: Record<string, number>;
  readonly failures: SummaryFailure[];
}

/** The JSON summary of a run. */
export interface TortureSummary {
  readonly tool: 'ironlog torture';
  readonly ok: boolean;
  readonly seed: number;
  readonly iterations: number;
  readonly concurrency: number;
  readonly quick: boolean;
  readonly mutation?: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly machine: {
    readonly node: string;
    readonly platform: string;
    readonly cpus: number;
    readonly cpuModel: string;
  };
  readonly scenarios: ScenarioSummary[];
}

/** Failures kept per scenario in the summary. */
const kMaxFailuresListed = 50;

/** The seed of iteration `i` of a run seeded with `seed`. */
export function iterationSeed(seed: number, i: number): number {
  return i === 0 ? seed >>> 0 : deriveSeed(seed, i);
}

/** Runs the torture suite. Never throws for a failing invariant: see `summary.ok`. */
export async function runTorture(opts: TortureRunOptions = {}): Promise<TortureSummary> {
  const names = opts.scenarios ?? kScenarioNames;
  const iterations = Math.max(1, Math.floor(opts.iterations ?? 1));
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  const quick = opts.quick ?? false;
  const params: TortureParams = {
    quick,
    mutation: opts.mutation,
    statesPerCrashPoint: opts.statesPerCrashPoint,
  };
  // The flags that change what an iteration does: a replay needs them too.
  const replayFlags = [
    quick ? ' --quick' : '',
    params.statesPerCrashPoint !== undefined ? ` --states-per-crash-point ${params.statesPerCrashPoint}` : '',
    params.mutation ? ` --mutation ${params.mutation}` : '',
  ].join('');
  const startedAt = new Date();
  const t0 = performance.now();
  const pool =
    concurrency > 1
      ? new Piscina<IterationTask, IterationResult>({
          filename: new URL('./iteration.js', import.meta.url).href,
          minThreads: concurrency,
          maxThreads: concurrency,
          idleTimeout: 1_000,
        })
      : undefined;
  const total = names.length * iterations;
  let done = 0;
  const scenarios: ScenarioSummary[] = [];
  try {
    for (const name of names) {
      const scenario = getScenario(name);
      const skipReason = scenario.skipReason ? await scenario.skipReason() : undefined;
      if (skipReason !== undefined) {
        done += iterations;
        scenarios.push({
          name,
          description: scenario.description,
          status: 'skipped',
          skipReason,
          iterations: 0,
          passed: 0,
          failed: 0,
          durationMs: 0,
          iterationMs: 0,
          metrics: {},
          rates: {},
          failures: [],
        });
        continue;
      }
      const s0 = performance.now();
      const results: IterationResult[] = [];
      let nextIteration = 0;
      const lane = async (): Promise<void> => {
        while (nextIteration < iterations) {
          if (opts.timeBudgetMs !== undefined && performance.now() - s0 > opts.timeBudgetMs) {
            done += iterations - nextIteration;
            nextIteration = iterations;
            return;
          }
          const i = nextIteration++;
          const task: IterationTask = { scenario: name, iteration: i, seed: iterationSeed(seed, i), params };
          const r = pool ? await pool.run(task) : await runIteration(task);
          results.push(r);
          done++;
          opts.onIteration?.(r, done, total);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      const durationMs = performance.now() - s0;
      results.sort((a, b) => a.iteration - b.iteration);
      const metrics: Record<string, number> = {};
      const failures: SummaryFailure[] = [];
      let iterationMs = 0;
      for (const r of results) {
        iterationMs += r.durationMs;
        for (const [k, v] of Object.entries(r.metrics)) metrics[k] = (metrics[k] ?? 0) + v;
        for (const f of r.failures) {
          if (failures.length >= kMaxFailuresListed) break;
          failures.push({
            ...f,
            iteration: r.iteration,
            seed: r.seed,
            replay: `ironlog torture --scenarios ${name} --seed ${r.seed} --iterations 1${replayFlags}`,
          });
        }
      }
      const rates: Record<string, number> = {};
      for (const [k, v] of Object.entries(metrics)) {
        if (durationMs > 0) rates[`${k}PerSec`] = Math.round((v / durationMs) * 1000 * 10) / 10;
      }
      const failed = results.filter((r) => !r.ok).length;
      scenarios.push({
        name,
        description: scenario.description,
        status: failed > 0 ? 'failed' : 'passed',
        iterations: results.length,
        passed: results.length - failed,
        failed,
        durationMs,
        iterationMs,
        metrics,
        rates,
        failures,
      });
    }
  } finally {
    await pool?.destroy();
  }
  const cpus = os.cpus();
  return {
    tool: 'ironlog torture',
    ok: scenarios.every((s) => s.status !== 'failed'),
    seed,
    iterations,
    concurrency,
    quick,
    mutation: params.mutation,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: performance.now() - t0,
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
    },
    scenarios,
  };
}
