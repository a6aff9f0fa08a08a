/**
 * The "other process" of the concurrent-corruption scenario: damages one file in place (a bit
 * flip, a zeroed sector or a garbage run, chosen by the seed) and prints the damage as JSON.
 *
 * argv: file seed
 */
import * as fs from 'node:fs';
import { Prng } from '../prng.js';
import { type CorruptionKind, corruptFile } from '../wal-build.js';

const [file = '', seedArg = '1'] = process.argv.slice(2);
const rng = new Prng(Number(seedArg));
const kinds: readonly CorruptionKind[] = ['bit-flip', 'zero-sector', 'garbage'];
let damage: ReturnType<typeof corruptFile>;
for (let tries = 0; damage === undefined && tries < 20; tries++) damage = corruptFile(file, rng.pick(kinds), rng);
fs.writeSync(1, `${JSON.stringify(damage ?? null)}\n`);
