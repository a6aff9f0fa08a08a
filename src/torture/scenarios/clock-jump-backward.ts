/**
 * clock-jump-backward: a sink whose injected `clock` jumps back hours, forward again, and back,
 * while events are emitted. Seqs must stay dense and ordered, every acked event must be there,
 * and replay by time (`readWal({ from, to })`, which seeks with each seal's time index and skips
 * segments by their time range) must return exactly the records whose stamped time lies in the
 * window, in seq order, compared with a brute-force filter over all records. The same is checked
 * on a WAL written directly with `WalWriter` (larger segments, so seals carry several time index
 * entries).
 */
import * as path from 'node:path';
import { openSink } from '../../main/sink.js';
import { readWal, type WalRecord } from '../../wal/reader.js';
import { verifyWal } from '../../wal/verify.js';
import { checkAckedWal } from '../checks.js';
import type { AckLine } from '../child.js';
import type { Prng } from '../prng.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { readAll } from '../util.js';
import { buildWal } from '../wal-build.js';

const kHourMs = 3_600_000;
const kBaseMs = Date.UTC(2026, 0, 1);

interface State {
  readonly sinkDir: string;
  readonly directDir: string;
  readonly acked: AckLine[];
}
const kState = new WeakMap<TortureContext, State>();

/** A clock that advances 1 ms per reading and jumps by `jumps[k]` hours every `every` readings. */
function jumpingClock(rng: Prng, every: number): () => number {
  let t = kBaseMs;
  let n = 0;
  const jumps = [-rng.int(1, 6), rng.int(2, 9), -rng.int(1, 12), rng.int(1, 3)];
  return () => {
    n++;
    if (n % every === 0) t += (jumps[(n / every) % jumps.length] as number) * kHourMs;
    t += rng.chance(0.5) ? 1 : 0.25;
    return t;
  };
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const st: State = { sinkDir: path.join(ctx.tmpDir, 'sink'), directDir: path.join(ctx.tmpDir, 'direct'), acked: [] };
  kState.set(ctx, st);
  const total = ctx.params.quick ? 2_000 : 10_000;
  const clock = jumpingClock(rng, Math.max(50, Math.floor(total / 10)));
  const sink = await openSink({
    dir: st.sinkDir,
    clock,
    segmentBytes: 64 * 1024,
    maxEventBytes: 4096,
    maxBatchBytes: 16384,
  });
  try {
    let next = 0;
    const lane = async (p: number): Promise<void> => {
      while (next < total) {
        const i = next++;
        const ack = await sink.emit({ r: 0, p, i, pad: 'c'.repeat(i % 300) });
        st.acked.push({ seq: ack.seq, round: 0, producer: p, index: i });
      }
    };
    await Promise.all(Array.from({ length: rng.int(1, 16) }, (_, p) => lane(p)));
  } finally {
    await sink.close();
  }
  const directClock = jumpingClock(rng, 500);
  buildWal({
    dir: st.directDir,
    rng,
    batches: ctx.params.quick ? 400 : 2000,
    segmentBytes: 1024 * 1024,
    sealAll: rng.chance(0.5),
    timeUs: () => directClock() * 1000,
  });
  addMetric(ctx, 'ackedRecords', st.acked.length);
}

/** Compares `readWal(dir, {from, to})` with a brute-force filter of `all` for random windows. */
async function checkWindows(ctx: TortureContext, dir: string, all: readonly WalRecord[], label: string): Promise<void> {
  const rng = ctx.rng;
  const times = all.map((r) => r.timeUs);
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const windows = ctx.params.quick ? 12 : 40;
  for (let k = 0; k < windows; k++) {
    // Windows from whole-range to narrow, anchored on real record times so they are not empty.
    const a = rng.chance(0.7) ? (rng.pick(all) as WalRecord).timeUs : rng.int(lo - 1000, hi + 1000);
    const width = rng.pick([1000, 60_000_000, kHourMs * 1000, 6 * kHourMs * 1000, hi - lo + 2000]);
    const fromUs = Math.floor(a / 1000) * 1000 - rng.int(0, 3) * 1000;
    const toUs = fromUs + Math.ceil(width / 1000) * 1000;
    const from = new Date(fromUs / 1000);
    const to = new Date(toUs / 1000);
    const fromSeq = rng.chance(0.3) ? rng.int(1, all.length) : undefined;
    const want = all
      .filter((r) => r.timeUs >= fromUs && r.timeUs < toUs && (fromSeq === undefined || r.seq >= fromSeq))
      .map((r) => r.seq);
    const got: number[] = [];
    for await (const r of readWal(dir, { from, to, ...(fromSeq !== undefined ? { fromSeq } : {}) })) got.push(r.seq);
    addMetric(ctx, 'timeWindows');
    if (want.length !== got.length || want.some((s, i) => got[i] !== s)) {
      ctx.fail(
        'replay-by-time',
        `${label}: readWal({from: ${from.toISOString()}, to: ${to.toISOString()}${fromSeq !== undefined ? `, fromSeq: ${fromSeq}` : ''}}) returned ${got.length} records, expected ${want.length} (first difference at index ${want.findIndex((s, i) => got[i] !== s)})`,
      );
    }
  }
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) return;
  await checkAckedWal(ctx, st.sinkDir, st.acked, 'sink with a jumping clock');
  for (const [dir, label] of [
    [st.sinkDir, 'sink'],
    [st.directDir, 'WalWriter'],
  ] as const) {
    const report = await verifyWal(dir);
    if (!report.valid) ctx.fail('verify-invalid', `${label}: ${JSON.stringify(report.problems)}`);
    const all = await readAll(dir);
    let back = 0;
    for (let i = 1; i < all.length; i++) {
      if ((all[i] as WalRecord).seq !== (all[i - 1] as WalRecord).seq + 1) {
        ctx.fail('order', `${label}: seq ${(all[i] as WalRecord).seq} follows ${(all[i - 1] as WalRecord).seq}`);
        break;
      }
      if ((all[i] as WalRecord).timeUs < (all[i - 1] as WalRecord).timeUs) back++;
    }
    addMetric(ctx, 'backwardSteps', back);
    if (back === 0) ctx.fail('no-jump', `${label}: no record time ever went backwards: the scenario tested nothing`);
    await checkWindows(ctx, dir, all, label);
  }
}

/** The clock-jump-backward scenario. */
export const clockJumpBackward: Scenario = {
  name: 'clock-jump-backward',
  description:
    'The injected clock jumps back hours, forward, and back again during emits: seqs stay dense and ordered, nothing acked is lost, and replay by time returns exactly the records in each window (checked against a brute-force filter), through the sink and a WalWriter with multi-entry time indexes.',
  run,
  verify,
};
