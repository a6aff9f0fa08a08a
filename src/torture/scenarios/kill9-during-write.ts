/**
 * kill9-during-write: a child process with several producer threads (`sink.producer()` +
 * `connectProducer`) emits with many acks in flight into a sink with 64 KiB segments and a 25 ms
 * segment age, so rolls and seals are frequent; the parent SIGKILLs it at a random moment
 * (0-600 ms after the first ack). Each
 * round reopens the WAL (the real `openSink` recovery) and checks that every seq acked so far,
 * in every round, is present exactly once, in order, with its event; `verifyWal` valid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openSink } from '../../main/sink.js';
import { WalWriter } from '../../wal/writer.js';
import { checkAckedWal } from '../checks.js';
import { type AckLine, childScript, sleep, TortureChild } from '../child.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError } from '../util.js';

const kAcked = new WeakMap<TortureContext, Map<number, AckLine>>();

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const dir = path.join(ctx.tmpDir, 'wal');
  const rounds = ctx.params.quick ? 2 : 4;
  const acked = new Map<number, AckLine>();
  kAcked.set(ctx, acked);
  for (let round = 0; round < rounds; round++) {
    const producers = rng.int(2, 4);
    const inFlight = rng.pick([8, 64, 256]);
    const killAfterMs = rng.int(0, ctx.params.quick ? 250 : 600);
    const child = new TortureChild(childScript('kill9-child'), [
      dir,
      String(round),
      String(producers),
      String(inFlight),
    ]);
    try {
      await child.ready;
      if (!child.running) {
        ctx.fail('child-failed', `round ${round}: the child exited before it was killed: ${child.stderr}`);
        return;
      }
      // Kill only once acks flow (a loaded machine may take a while to start the threads), so
      // every round has acknowledged records at stake.
      const deadline = Date.now() + 20_000;
      while (child.acks.length === 0 && child.running && Date.now() < deadline) await sleep(2);
      await sleep(killAfterMs);
      await child.kill();
    } finally {
      await child.kill();
    }
    const reused: number[] = [];
    for (const a of child.acks) {
      if (acked.has(a.seq)) reused.push(a.seq);
      acked.set(a.seq, a);
    }
    if (reused.length > 0)
      ctx.fail(
        'seq-reused',
        `round ${round}: seqs acked in an earlier round were acked again: ${reused.slice(0, 10).join(',')}`,
      );
    addMetric(ctx, 'kills');
    addMetric(ctx, 'ackedRecords', child.acks.length);
    // Open-time recovery, as the writer worker runs it, to see what the kill left behind: a torn
    // tail, a segment whose creation never completed (killed during a roll), an unfinished seal.
    try {
      const w = WalWriter.open({ dir, nodeId: 'node', segmentBytes: 64 * 1024, segmentMaxAgeMs: 25 });
      const r = w.openReport;
      if (r.tornTailSegment !== '') addMetric(ctx, 'tornTailsCut');
      addMetric(ctx, 'incompleteSegmentsRemoved', r.removedSegments.length);
      if (r.finishedSeal) addMetric(ctx, 'sealsFinished');
      w.close();
    } catch (err) {
      ctx.fail('open-failed', `round ${round}: WalWriter.open after SIGKILL: ${describeError(err)}`);
      return;
    }
    addMetric(ctx, 'segments', fs.readdirSync(dir).filter((n) => n.endsWith('.wal')).length);
    // Reopen as a user would: openSink, verify, close.
    try {
      const sink = await openSink({ dir });
      const report = await sink.verify();
      if (!report.valid)
        ctx.fail('verify-invalid', `round ${round}: sink.verify after reopen: ${JSON.stringify(report.problems)}`);
      await sink.close();
    } catch (err) {
      ctx.fail('open-failed', `round ${round}: openSink after SIGKILL: ${describeError(err)}`);
      return;
    }
    await checkAckedWal(
      ctx,
      dir,
      acked.values(),
      `after round ${round} (killed after ${killAfterMs} ms, ${producers} producer threads, ${inFlight} in flight each)`,
    );
  }
}

async function verify(ctx: TortureContext): Promise<void> {
  const acked = kAcked.get(ctx);
  if (!acked) return;
  if (acked.size === 0) ctx.fail('no-acks', 'no emit was acknowledged in any round: the scenario tested nothing');
}

/** The kill9-during-write scenario. */
export const kill9DuringWrite: Scenario = {
  name: 'kill9-during-write',
  description:
    'A child process with several producer threads emits with many acks in flight (64 KiB segments, 25 ms segment age: frequent rolls and seals) and is SIGKILLed at a random moment; every acked seq must survive exactly once, in order.',
  run,
  verify,
};
