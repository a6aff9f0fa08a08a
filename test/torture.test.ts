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
      if (name === 'byzantine') {
        // An iteration may find no lie to tell (no stale snapshot differed): the round as a whole
        // must have told lies, and every one was detected or was a harmless earlier state.
        const m = s?.metrics ?? {};
        expect(m.detected).toBeGreaterThan(0);
        expect((m.detected ?? 0) + (m.staleHarmless ?? 0)).toBe(m.lies);
      }
    });
  }

  it('network-partition: 1 iteration passes (never skipped: the directory backend is always there)', async () => {
    const summary = await runTorture({ scenarios: ['network-partition'], iterations: 1, seed, quick: true });
    const s = summary.scenarios[0];
    expect(s?.name).toBe('network-partition');
    expect(s?.failures, `seed ${seed}: ${JSON.stringify(s?.failures, null, 2)}`).toEqual([]);
    expect(s?.status).toBe('passed');
    expect(s?.passed).toBe(1);
    // It exercised replication: records were acked and both remote copies were read back.
    expect(s?.metrics.ackedRecords).toBeGreaterThan(0);
    expect(s?.metrics.remoteRecords).toBeGreaterThan(0);
  });
});
