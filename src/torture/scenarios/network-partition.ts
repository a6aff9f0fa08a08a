/**
 * network-partition: a sink replicates to two directory backends with quorum 2; one backend
 * disappears at a random moment (segments seal every 50 ms, so an upload is usually in flight)
 * and comes back after a while. Its directory is moved away and a plain file put in its place, so
 * every operation on it fails, as with an unreachable server. Checks:
 *
 * - live writing is unaffected: every emit during the partition is acknowledged (durable);
 * - the partition is seen (errors on that backend, segments below quorum), no tamper or verify
 *   alert is raised by the interruption;
 * - after it heals, every sealed segment reaches quorum; each backend's copy passes
 *   `verifyRemoteWal` and holds every acked record of the sealed segments, with its event;
 * - the local WAL keeps every acked record and verifies.
 *
 * Never skipped: the directory backend ships with every build, so a sink that cannot open with
 * it is a failure (`open-failed`), not a missing feature.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openSink, type Sink } from '../../main/sink.js';
import { readRemoteWal, verifyRemoteWal } from '../../replication/readback.js';
import { checkAckedWal } from '../checks.js';
import { type AckLine, sleep } from '../child.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError } from '../util.js';

interface State {
  readonly dir: string;
  readonly remotes: readonly string[];
  readonly acked: AckLine[];
  replicatedThroughSeq: number;
  alerts: string[];
}
const kState = new WeakMap<TortureContext, State>();

/** Emits from `lanes` lanes until `stop()` is true; every emit must be acknowledged. */
async function load(
  ctx: TortureContext,
  sink: Sink,
  phase: number,
  lanes: number,
  stop: () => boolean,
  st: State,
): Promise<void> {
  const lane = async (p: number): Promise<void> => {
    for (let i = 0; !stop(); i++) {
      try {
        const ack = await sink.emit({ r: phase, p, i, pad: 'n'.repeat(i % 600) });
        st.acked.push({ seq: ack.seq, round: phase, producer: p, index: i });
      } catch (err) {
        ctx.fail('emit-failed', `phase ${phase}: an emit failed while a backend was away: ${describeError(err)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, p) => lane(p)));
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const dir = path.join(ctx.tmpDir, 'wal');
  const remotes = [path.join(ctx.tmpDir, 'remote-a'), path.join(ctx.tmpDir, 'remote-b')];
  const st: State = { dir, remotes, acked: [], replicatedThroughSeq: 0, alerts: [] };
  for (const r of remotes) fs.mkdirSync(r, { recursive: true });
  let sink: Sink;
  try {
    sink = await openSink({
      dir,
      segmentBytes: 64 * 1024,
      maxBatchBytes: 16 * 1024,
      maxEventBytes: 4 * 1024,
      segmentMaxAgeMs: 50,
      replication: {
        quorum: 2,
        backends: remotes.map((d, i) => ({ type: 'fs' as const, dir: d, name: `dir-${i}` })),
        retry: { baseMs: 20, capMs: 200 },
        breaker: { failureThreshold: 3, cooldownMs: 200 },
      },
    });
  } catch (err) {
    ctx.fail('open-failed', `cannot open a sink replicating to two directory backends: ${describeError(err)}`);
    return;
  }
  kState.set(ctx, st);
  sink.replicationEvents?.on('alert', (e, backend) => st.alerts.push(`${backend}: ${e.code} ${e.message}`));
  let backendErrors = 0;
  sink.replicationEvents?.on('backendError', () => {
    backendErrors++;
  });
  const victim = rng.int(0, 1);
  const away = `${remotes[victim]}.away`;
  const lanes = rng.int(2, 16);
  try {
    // Load until replication runs (both backends hold a segment), plus a random while.
    const t0 = Date.now();
    const before = rng.int(0, 300);
    let replicating = 0;
    await load(
      ctx,
      sink,
      0,
      lanes,
      () => {
        const b = sink.replicationStatus()?.backends ?? [];
        if (replicating === 0 && b.length > 0 && b.every((x) => x.replicatedSegments > 0)) replicating = Date.now();
        return (replicating > 0 && Date.now() - replicating > before) || Date.now() - t0 > 30_000;
      },
      st,
    );
    if (replicating === 0) {
      ctx.fail('no-replication', 'no segment reached both backends within 30 s');
      return;
    }
    // Partition: the backend's directory vanishes and its path no longer works.
    fs.renameSync(remotes[victim] as string, away);
    fs.writeFileSync(remotes[victim] as string, 'unreachable');
    // Keep it away until the sink has noticed (a failed upload), plus a random while.
    const t1 = Date.now();
    const during = ctx.params.quick ? rng.int(100, 600) : rng.int(300, 3000);
    let noticed = 0;
    await load(
      ctx,
      sink,
      1,
      lanes,
      () => {
        const b = sink.replicationStatus()?.backends[victim];
        if (noticed === 0 && (backendErrors > 0 || (b?.consecutiveFailures ?? 0) > 0)) noticed = Date.now();
        return (noticed > 0 && Date.now() - noticed > during) || Date.now() - t1 > 30_000;
      },
      st,
    );
    ctx.log(`during the partition: ${JSON.stringify(sink.replicationStatus())}`);
    if (noticed === 0) ctx.fail('partition-unseen', 'no upload to the vanished backend failed within 30 s');
    // Heal.
    fs.rmSync(remotes[victim] as string);
    fs.renameSync(away, remotes[victim] as string);
    const t2 = Date.now();
    await load(ctx, sink, 2, lanes, () => Date.now() - t2 > 200, st);
    await sink.flush();
    // Every sealed segment reaches quorum again (the open one is sealed by age within 50 ms).
    const deadline = Date.now() + 60_000;
    const lastAcked = Math.max(0, ...st.acked.map((a) => a.seq));
    for (;;) {
      const s = sink.replicationStatus();
      st.replicatedThroughSeq = s?.replicatedThroughSeq ?? 0;
      if (s && s.segmentsBelowQuorum === 0 && st.replicatedThroughSeq >= lastAcked) break;
      if (Date.now() > deadline) {
        ctx.fail('no-catch-up', `60 s after the partition healed: ${JSON.stringify(s)}`);
        break;
      }
      await sleep(20);
    }
    addMetric(ctx, 'backendErrors', backendErrors);
    addMetric(ctx, 'partitionMs', Date.now() - t1);
  } finally {
    await sink.close();
    if (fs.existsSync(away)) {
      fs.rmSync(remotes[victim] as string, { force: true });
      fs.renameSync(away, remotes[victim] as string);
    }
  }
  addMetric(ctx, 'ackedRecords', st.acked.length);
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) {
    // run() recorded why (open-failed); nothing was written that could be checked.
    ctx.fail('not-run', 'the sink never opened, so nothing was checked');
    return;
  }
  if (st.alerts.length > 0) ctx.fail('alert', `alerts raised by a partition: ${st.alerts.slice(0, 5).join(' | ')}`);
  await checkAckedWal(ctx, st.dir, st.acked, 'local WAL');
  for (const remote of st.remotes) {
    const url = `file://${remote}`;
    const report = await verifyRemoteWal(url);
    if (!report.valid) ctx.fail('remote-invalid', `${remote}: ${JSON.stringify(report.nodes.map((n) => n.problems))}`);
    const stored = new Map<number, string>();
    try {
      for await (const r of readRemoteWal(url)) {
        const e = r.event as { r?: number; p?: number; i?: number };
        stored.set(r.seq, `${e.r}/${e.p}/${e.i}`);
      }
    } catch (err) {
      ctx.fail('remote-read-failed', `${remote}: ${describeError(err)}`);
      continue;
    }
    const missing = st.acked.filter(
      (a) => a.seq <= st.replicatedThroughSeq && stored.get(a.seq) !== `${a.round}/${a.producer}/${a.index}`,
    );
    if (missing.length > 0) {
      ctx.fail(
        'remote-missing',
        `${remote}: ${missing.length} acked records of replicated segments missing or changed (first seq ${missing[0]?.seq})`,
      );
    }
    addMetric(ctx, 'remoteRecords', stored.size);
  }
}

/** The network-partition scenario. */
export const networkPartition: Scenario = {
  name: 'network-partition',
  description:
    'A replication backend (one of two directory backends, quorum 2) disappears at a random moment under load and comes back: writing is unaffected, no alert is raised, every sealed segment reaches quorum after the partition heals, and both copies verify and hold every acked record.',
  run,
  verify,
};
