/**
 * One iteration of one scenario: a fresh temporary directory, `run`, `verify`, clean-up. Runs
 * inline or as a piscina task in a worker thread (the default export), so iterations of
 * CPU-bound scenarios use every core.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { Prng } from './prng.js';
import { getScenario } from './scenarios/index.js';
import type { ScenarioName, TortureContext, TortureFailure, TortureParams } from './types.js';
import { describeError } from './util.js';

const debug = debuglog('ironlog');

/** What the runner hands to one iteration (structured-cloneable). */
export interface IterationTask {
  readonly scenario: ScenarioName;
  readonly iteration: number;
  readonly seed: number;
  readonly params: TortureParams;
}

/** The outcome of one iteration (structured-cloneable). */
export interface IterationResult {
  readonly scenario: ScenarioName;
  readonly iteration: number;
  readonly seed: number;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly failures: TortureFailure[];
  readonly metrics: Record<string, number>;
}

/** At most this many failures are kept per iteration (the count is in `metrics.failures`). */
const kMaxFailuresKept = 20;

/** Runs one iteration; never throws (an exception is a failure of kind `error`). */
export async function runIteration(task: IterationTask): Promise<IterationResult> {
  const scenario = getScenario(task.scenario);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), `ironlog-torture-${task.scenario}-`));
  const failures: TortureFailure[] = [];
  const metrics: Record<string, number> = {};
  let failureCount = 0;
  const ctx: TortureContext = {
    scenario: task.scenario,
    seed: task.seed,
    iteration: task.iteration,
    rng: new Prng(task.seed),
    tmpDir,
    params: task.params,
    metrics,
    fail(kind, message) {
      failureCount++;
      if (failures.length < kMaxFailuresKept) failures.push({ kind, message });
    },
    log(message) {
      debug('torture %s #%d (seed %d): %s', task.scenario, task.iteration, task.seed, message);
    },
  };
  const t0 = performance.now();
  try {
    await scenario.run(ctx);
    await scenario.verify(ctx);
  } catch (err) {
    failureCount++;
    failures.push({ kind: 'error', message: `${describeError(err)}${err instanceof Error ? `\n${err.stack}` : ''}` });
  } finally {
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch (err) {
      failureCount++;
      failures.push({ kind: 'cleanup', message: `cannot remove ${tmpDir}: ${describeError(err)}` });
    }
  }
  if (failureCount > 0) Object.assign(metrics, { failures: failureCount });
  return {
    scenario: task.scenario,
    iteration: task.iteration,
    seed: task.seed,
    ok: failureCount === 0,
    durationMs: performance.now() - t0,
    failures,
    metrics,
  };
}

/** piscina entry point. */
export default function task(t: IterationTask): Promise<IterationResult> {
  return runIteration(t);
}
