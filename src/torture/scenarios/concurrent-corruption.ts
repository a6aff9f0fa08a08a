/**
 * concurrent-corruption: a load child (several producer threads, 64 KiB segments) writes while a
 * second process damages an already sealed segment in place. Live writing must be unaffected
 * (acks keep coming, the load child closes its sink cleanly and exits 0), every acked record
 * outside the damaged segment stays readable (`recoverWal` salvages it), and `verifyWal` must
 * report the damage and pinpoint it: its problems name the damaged segment, and nothing outside
 * it and its successor (whose header links to the damaged seal).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recoverWal } from '../../wal/recovery.js';
import { listSegmentFiles } from '../../wal/segment.js';
import { verifyWal } from '../../wal/verify.js';
import { type AckLine, childScript, sleep, TortureChild } from '../child.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError, readAll, seqRanges } from '../util.js';
import type { Damage } from '../wal-build.js';

interface State {
  readonly dir: string;
  readonly acks: AckLine[];
  readonly damage: Damage | undefined;
  readonly segments: string[];
}
const kState = new WeakMap<TortureContext, State>();

function runCorrupter(file: string, seed: number): Promise<Damage | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript('corrupt-child'), file, String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`corrupt-child exited with ${code}`));
      else resolve((JSON.parse(out) as Damage | null) ?? undefined);
    });
  });
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const dir = path.join(ctx.tmpDir, 'wal');
  fs.mkdirSync(dir, { recursive: true });
  const runMs = ctx.params.quick ? 2500 : 5000;
  const child = new TortureChild(childScript('kill9-child'), [
    dir,
    '0',
    String(rng.int(2, 4)),
    String(rng.pick([16, 64, 128])),
    String(runMs),
  ]);
  let damage: Damage | undefined;
  try {
    await child.ready;
    // Wait until at least two sealed segments exist (a segment is sealed once a later one exists).
    let names: string[] = [];
    const deadline = Date.now() + runMs;
    while (Date.now() < deadline) {
      names = listSegmentFiles(dir, fs.readdirSync(dir)).segments.map((s) => path.basename(s.path));
      if (names.length >= 3) break;
      await sleep(5);
    }
    if (names.length < 3) {
      ctx.fail('no-sealed-segment', `the load produced only ${names.length} segments in ${runMs} ms`);
      return;
    }
    const target = rng.pick(names.slice(0, -2));
    const acksBefore = child.acks.length;
    damage = await runCorrupter(path.join(dir, target), rng.nextU32());
    // Live writing goes on, unaffected.
    const exit = await Promise.race([child.exited, sleep(runMs + 30_000).then(() => undefined)]);
    if (exit?.code !== 0 || !child.lines.includes('closed')) {
      ctx.fail(
        'load-failed',
        `the load child did not finish cleanly after the corruption (exit ${JSON.stringify(exit)}): ${child.stderr}`,
      );
    }
    const acksAfter = child.acks.length - acksBefore;
    addMetric(ctx, 'acksAfterCorruption', acksAfter);
    if (acksAfter === 0) ctx.fail('writing-stalled', 'no emit was acknowledged after the corruption');
  } finally {
    await child.kill();
  }
  const segments = listSegmentFiles(dir, fs.readdirSync(dir)).segments.map((s) => path.basename(s.path));
  addMetric(ctx, 'ackedRecords', child.acks.length);
  kState.set(ctx, { dir, acks: child.acks, damage, segments });
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st?.damage) {
    if (st) ctx.fail('no-damage', 'the corrupter changed nothing');
    return;
  }
  const d = st.damage;
  const what = `${d.kind} in ${d.file}@${d.offset}+${d.bytes}`;
  const report = await verifyWal(st.dir);
  const i = st.segments.indexOf(d.file);
  const allowed = new Set([d.file, st.segments[i + 1] ?? d.file]);
  if (report.valid) ctx.fail('undetected', `verifyWal reports valid after ${what}`);
  else if (!report.problems.some((p) => p.segment === d.file)) {
    ctx.fail('not-pinpointed', `verifyWal does not name ${d.file} after ${what}: ${JSON.stringify(report.problems)}`);
  } else {
    const stray = report.problems.filter((p) => !allowed.has(p.segment));
    if (stray.length > 0)
      ctx.fail('stray-problems', `verifyWal blames other segments after ${what}: ${JSON.stringify(stray)}`);
    else addMetric(ctx, 'pinpointed');
  }
  // Every acked record outside the damaged segment is salvaged, with its event.
  const first = Number.parseInt(d.file, 10);
  const next = st.segments[i + 1];
  const end = next ? Number.parseInt(next, 10) : Number.POSITIVE_INFINITY;
  const out = path.join(ctx.tmpDir, 'recovered');
  try {
    await recoverWal(st.dir, out);
  } catch (err) {
    ctx.fail('recover-failed', `recoverWal after ${what}: ${describeError(err)}`);
    return;
  }
  const stored = new Map<number, string>();
  for (const r of await readAll(out)) {
    const e = r.event as { r?: number; p?: number; i?: number };
    stored.set(r.seq, `${e.r}/${e.p}/${e.i}`);
  }
  const lost: number[] = [];
  for (const a of st.acks) {
    const got = stored.get(a.seq);
    if (got !== undefined && got !== `${a.round}/${a.producer}/${a.index}`) lost.push(a.seq);
    else if (got === undefined && (a.seq < first || a.seq >= end)) lost.push(a.seq);
  }
  if (lost.length > 0) ctx.fail('lost-acked', `acked records outside ${d.file} lost or changed: ${seqRanges(lost)}`);
}

/** The concurrent-corruption scenario. */
export const concurrentCorruption: Scenario = {
  name: 'concurrent-corruption',
  description:
    'Multi-producer load in a child process while another process corrupts an already sealed segment: live writing is unaffected (acks continue, clean close), verifyWal pinpoints the damaged segment, every acked record elsewhere is salvaged.',
  run,
  verify,
};
