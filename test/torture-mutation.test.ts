// The suite must be able to fail: with a durability step removed (test-only switches of the
// crash-consistency disk model and of the power-loss driver), power-loss must report lost
// acknowledged records; with nothing removed, the same seed passes.
import { describe, expect, it } from 'vitest';
import { runTorture } from '../dist/torture/runner.js';
import type { Mutation } from '../dist/torture/types.js';

const seed = Number(process.env.IRONLOG_TORTURE_SEED ?? 20_261_201);
const mutations: readonly Mutation[] = ['no-fdatasync', 'no-dir-fsync', 'ack-before-sync'];

describe(`power-loss mutation check (seed ${seed})`, () => {
  for (const mutation of mutations) {
    it(`with ${mutation}, power-loss reports lost acked records`, async () => {
      const summary = await runTorture({ scenarios: ['power-loss'], iterations: 2, seed, quick: true, mutation });
      const s = summary.scenarios[0];
      expect(summary.ok).toBe(false);
      expect(s?.status).toBe('failed');
      expect(s?.failed).toBeGreaterThan(0);
      expect(s?.failures.some((f) => f.kind === 'lost-acked')).toBe(true);
      expect(s?.metrics.lostAckedRecords ?? 0).toBeGreaterThan(0);
      // Every failure carries the seed that replays it.
      for (const f of s?.failures ?? []) expect(f.replay).toContain(`--seed ${f.seed}`);
    });
  }

  it('without a mutation, the same seeds pass', async () => {
    const summary = await runTorture({ scenarios: ['power-loss'], iterations: 2, seed, quick: true });
    expect(summary.scenarios[0]?.failures).toEqual([]);
    expect(summary.ok).toBe(true);
  });
});
