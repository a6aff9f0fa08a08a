/**
 * The contract between the torture runner and its scenarios. A scenario is a module exporting
 * `run(ctx)` (do the damage) and `verify(ctx)` (check the invariants, report every violation with
 * `ctx.fail`). All randomness comes from `ctx.rng`, seeded from `ctx.seed`, so an iteration
 * replays from its seed.
 */
import type { Prng } from './prng.js';

/** The scenario names, as used on the command line, in the JSON summary and in the report. */
export const kScenarioNames = [
  'kill9-during-write',
  'power-loss',
  'disk-full',
  'random-corruption',
  'clock-jump-backward',
  'network-partition',
  'byzantine',
  'concurrent-corruption',
] as const;

/** One of {@link kScenarioNames}. */
export type ScenarioName = (typeof kScenarioNames)[number];

/**
 * A test-only switch that removes one durability step, to prove the suite catches it:
 * `no-fdatasync` (file syncs make nothing durable), `no-dir-fsync` (directory syncs make nothing
 * durable), `ack-before-sync` (a batch is acknowledged after its write, before its fdatasync).
 */
export type Mutation = 'no-fdatasync' | 'no-dir-fsync' | 'ack-before-sync';

/** Knobs a run passes to every scenario. */
export interface TortureParams {
  /** Short rounds (for `npm test`) instead of full-size ones. */
  readonly quick: boolean;
  /** Durability mutation (power-loss only); undefined for a real run. */
  readonly mutation?: Mutation | undefined;
  /** power-loss: post-crash states checked per crash point (at most). */
  readonly statesPerCrashPoint?: number | undefined;
}

/** A violated invariant. */
export interface TortureFailure {
  /** Short machine-readable kind, e.g. `lost-acked`, `verify-invalid`, `open-failed`. */
  readonly kind: string;
  readonly message: string;
}

/** What a scenario sees. */
export interface TortureContext {
  readonly scenario: ScenarioName;
  /** This iteration's seed: `--seed <seed> --iterations 1` replays it. */
  readonly seed: number;
  readonly iteration: number;
  readonly rng: Prng;
  /** A fresh temporary directory, removed after the iteration. */
  readonly tmpDir: string;
  readonly params: TortureParams;
  /** Counters the scenario reports (e.g. `crashStates`); summed over iterations by the runner. */
  readonly metrics: Record<string, number>;
  /** Records a violated invariant (the iteration fails). */
  fail(kind: string, message: string): void;
  /** Debug output (`NODE_DEBUG=ironlog`). */
  log(message: string): void;
}

/** A scenario module. */
export interface Scenario {
  readonly name: ScenarioName;
  readonly description: string;
  /** A reason to skip the scenario on this build or machine, or undefined to run it. */
  skipReason?(): Promise<string | undefined>;
  run(ctx: TortureContext): Promise<void>;
  verify(ctx: TortureContext): Promise<void>;
}

/** Adds `n` to a metric. */
export function addMetric(ctx: TortureContext, name: string, n = 1): void {
  ctx.metrics[name] = (ctx.metrics[name] ?? 0) + n;
}
