// A short round of every torture scenario (the long runs are `npm run torture`). Real child
// processes, real SIGKILL, real files. The seed is printed with every failure and replays it:
// IRONLOG_TORTURE_SEED=<seed> npx vitest run test/torture.test.ts
import { describe, expect, it } from 'vitest';
import { runTorture } from '../dist/torture/runner.js';
import type { ScenarioName } from '../dist/torture/types.js';

const seed = Number(process.env.IRONLOG_TORTURE_SEED ?? Math.floor(Math.random() * 2 ** 32));

const rounds: ReadonlyArray<[ScenarioName, number]> = [
  ['kill9-during-write', 2],
  ['power-loss', 3],
  ['disk-full', 1],
  ['random-corruption', 25],
  ['clock-jump-backward', 1],
  ['byzantine', 40],
  ['concurrent-corruption', 1],
];

describe(`torture suite, short round (seed ${seed})`, () => {
  for (const [name, iterations] of rounds) {
    it(`${name}: ${iterations} iteration(s) pass`, async () => {
      const summary = await runTorture({ scenarios: [name], iterations, seed, quick: true });
      const s = summary.scenarios[0];
      expect(s?.name).toBe(name);
      expect(s?.failures, `seed ${seed}: ${JSON.stringify(s?.failures, null, 2)}`).toEqual([]);
      expect(s?.status).toBe('passed');
      expect(s?.passed).toBe(iterations);
      if (name === 'power-loss') expect(s?.metrics.crashStates).toBeGreaterThan(20);
      if (name === 'random-corruption') expect(s?.metrics.detected).toBe(iterations);
    });
  }

  it('network-partition: passes, or is skipped with a reason when replication is not available', async () => {
    const summary = await runTorture({ scenarios: ['network-partition'], iterations: 1, seed, quick: true });
    const s = summary.scenarios[0];
    expect(s?.failures, `seed ${seed}: ${JSON.stringify(s?.failures, null, 2)}`).toEqual([]);
    expect(['skipped', 'passed']).toContain(s?.status);
    if (s?.status === 'skipped') expect(s.skipReason).toMatch(/replication/);
  });
});
