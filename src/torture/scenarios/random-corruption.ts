/**
 * random-corruption: a WAL of sealed segments gets random bit flips, zeroed sectors and runs of
 * garbage. `verifyWal` must detect every case (100%), name a damaged segment, and `recoverWal`
 * must salvage every record whose own bytes were not touched, byte for byte (same seq, time and
 * event), invent nothing, and account for every record it could not keep.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recoverWal } from '../../wal/recovery.js';
import { verifyWal } from '../../wal/verify.js';
import type { Prng } from '../prng.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError, readAll, seqRanges } from '../util.js';
import {
  buildWal,
  type CorruptionKind,
  corruptFile,
  type Damage,
  type ExpectedRecord,
  mapRecords,
  type RecordPlace,
  touched,
} from '../wal-build.js';

interface State {
  readonly dir: string;
  readonly expected: Map<number, ExpectedRecord>;
  readonly places: RecordPlace[];
  readonly damage: Damage[];
}
const kState = new WeakMap<TortureContext, State>();
const kKinds: readonly CorruptionKind[] = ['bit-flip', 'zero-sector', 'garbage'];

/** Corrupts 1-4 places in random segments of `dir`; returns what changed. */
export function corruptSegments(dir: string, rng: Prng, count: number, files?: readonly string[]): Damage[] {
  const names = files ?? fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
  const damage: Damage[] = [];
  for (let tries = 0; damage.length < count && tries < count * 10; tries++) {
    const d = corruptFile(path.join(dir, rng.pick(names)), rng.pick(kKinds), rng);
    if (d) damage.push(d);
  }
  return damage;
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const dir = path.join(ctx.tmpDir, 'wal');
  const expected = buildWal({
    dir,
    rng,
    batches: ctx.params.quick ? rng.int(20, 60) : rng.int(40, 200),
    segmentBytes: rng.pick([4096, 16384, 65536]),
  });
  const places = mapRecords(dir);
  const damage = corruptSegments(dir, rng, rng.int(1, 4));
  for (const d of damage) addMetric(ctx, d.kind);
  kState.set(ctx, { dir, expected, places, damage });
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) return;
  const what = st.damage.map((d) => `${d.kind} ${d.file}@${d.offset}+${d.bytes}`).join(', ');
  const report = await verifyWal(st.dir);
  addMetric(ctx, 'corruptions', st.damage.length);
  if (report.valid) {
    ctx.fail('undetected', `verifyWal reports valid after: ${what}`);
  } else {
    addMetric(ctx, 'detected');
    const damaged = new Set(st.damage.map((d) => d.file));
    if (!report.problems.some((p) => damaged.has(p.segment))) {
      ctx.fail(
        'not-pinpointed',
        `verifyWal names none of the damaged segments (${what}): ${JSON.stringify(report.problems)}`,
      );
    }
  }
  const out = path.join(ctx.tmpDir, 'recovered');
  let rec: Awaited<ReturnType<typeof recoverWal>>;
  try {
    rec = await recoverWal(st.dir, out);
  } catch (err) {
    ctx.fail('recover-failed', `recoverWal after ${what}: ${describeError(err)}`);
    return;
  }
  const outReport = await verifyWal(out);
  if (!outReport.valid)
    ctx.fail('recovered-invalid', `recovered WAL fails verify: ${JSON.stringify(outReport.problems)}`);
  const got = new Map<number, { json: string; timeUs: number }>();
  for (const r of await readAll(out)) got.set(r.seq, { json: JSON.stringify(r.event), timeUs: r.timeUs });
  const missed: number[] = [];
  const invented: number[] = [];
  const unaccounted: number[] = [];
  const lostSeqs = new Set<number>();
  for (const l of rec.lost) for (let s = l.fromSeq; s <= l.toSeq; s++) lostSeqs.add(s);
  for (const place of st.places) {
    const want = st.expected.get(place.seq) as ExpectedRecord;
    const have = got.get(place.seq);
    if (have === undefined) {
      if (!touched(place, st.damage)) missed.push(place.seq);
      else if (!lostSeqs.has(place.seq) && !rec.tailUnknown) unaccounted.push(place.seq);
      continue;
    }
    if (have.json !== want.json || have.timeUs !== want.timeUs) invented.push(place.seq);
  }
  for (const seq of got.keys()) if (!st.expected.has(seq)) invented.push(seq);
  addMetric(ctx, 'recordsSalvaged', got.size);
  addMetric(ctx, 'recordsLost', st.places.length - got.size);
  if (missed.length > 0) ctx.fail('not-salvaged', `intact records not recovered after ${what}: ${seqRanges(missed)}`);
  if (invented.length > 0)
    ctx.fail('wrong-content', `recovered records differ from what was written: ${seqRanges(invented)}`);
  if (unaccounted.length > 0)
    ctx.fail('loss-unreported', `records lost but not in report.lost: ${seqRanges(unaccounted)}`);
}

/** The random-corruption scenario. */
export const randomCorruption: Scenario = {
  name: 'random-corruption',
  description:
    'Bit flips, zeroed 512-byte sectors and garbage runs in sealed segments: verifyWal detects 100% and names the segment; recoverWal salvages every record whose bytes were not touched, byte for byte, and reports what it lost.',
  run,
  verify,
};
