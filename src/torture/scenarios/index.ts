/** The scenario registry: kebab-case name to module. */
import type { Scenario, ScenarioName } from '../types.js';
import { byzantine } from './byzantine.js';
import { clockJumpBackward } from './clock-jump-backward.js';
import { concurrentCorruption } from './concurrent-corruption.js';
import { diskFull } from './disk-full.js';
import { kill9DuringWrite } from './kill9-during-write.js';
import { networkPartition } from './network-partition.js';
import { powerLoss } from './power-loss.js';
import { randomCorruption } from './random-corruption.js';

const kScenarios: ReadonlyMap<ScenarioName, Scenario> = new Map<ScenarioName, Scenario>(
  [
    kill9DuringWrite,
    powerLoss,
    diskFull,
    randomCorruption,
    clockJumpBackward,
    networkPartition,
    byzantine,
    concurrentCorruption,
  ].map((s) => [s.name, s]),
);

/** The scenario called `name` (throws for an unknown name). */
export function getScenario(name: ScenarioName): Scenario {
  const s = kScenarios.get(name);
  if (!s) throw new Error(`unknown torture scenario ${name}`);
  return s;
}
