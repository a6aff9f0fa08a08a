/**
 * power-loss: the WAL writer runs on {@link CrashFs}, a model of the disk that knows what was
 * synced. Before every file-system operation (a crash point) the model produces legal post-crash
 * disk states (unsynced writes dropped, reordered, torn at 512-byte sectors; directory entries
 * without a directory fsync lost). Each state is written to a scratch directory, opened with
 * `WalWriter.open` (the open-time recovery every sink runs), continued with one more batch, then
 * checked: every acknowledged record present, exactly once, in order, with its bytes; nothing
 * that was never written; `verifyWal` valid.
 *
 * The writer is driven in-process with the group-commit rule of the commit loop: a batch is
 * acknowledged only after `sync()` returned.
 */
import { createHash } from 'node:crypto';
import { pack } from 'msgpackr';
import { CrashFs, type CrashFsOp, type CrashImage } from '../../testing/crash-fs.js';
import { GapReason } from '../../wal/frame-layout.js';
import { nodeWalFs } from '../../wal/fs.js';
import { verifyWal } from '../../wal/verify.js';
import { WalWriter } from '../../wal/writer.js';
import { Prng } from '../prng.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError, emptyDir, makeScratchDir, readAll, removeDir, seqRanges, writeImage } from '../util.js';

const kNodeId = 'torture';
const kBaseUs = 1_767_225_600_000_000; // 2026-01-01

interface CrashPoint {
  /** Index of the file-system operation the crash came before (-1: after the last one). */
  readonly opIndex: number;
  readonly op: CrashFsOp | 'end';
  /** Highest seq acknowledged before the crash. */
  readonly ackedThrough: number;
  /** Highest seq handed to the writer before the crash (may be in the WAL, need not be). */
  readonly writtenThrough: number;
  readonly states: CrashImage[];
  /**
   * Per state: 0, or the seed of a second crash during the recovery of that state (the recovery
   * itself runs on a CrashFs and every state it can leave is checked too).
   */
  readonly secondCrash: number[];
}

interface State {
  readonly segmentBytes: number;
  readonly zeroFillAheadBytes: number;
  /** Expected event (as JSON) of every seq handed to the writer and not rejected. */
  readonly expected: Map<number, string>;
  /**
   * Events whose batch failed its fdatasync (acks rejected; a WRITE_REJECTED gap took their seqs
   * later). A power loss before that gap is durable may still bring such a record back, whole:
   * its outcome was "not durable", not "not stored". Allowed, counted as `rejectedResurfaced`.
   */
  readonly rejected: Map<number, string>;
  readonly points: CrashPoint[];
  readonly opsTotal: number;
}

const kState = new WeakMap<TortureContext, State>();

function event(seq: number, rng: Prng): Record<string, unknown> {
  return { s: seq, k: rng.nextU32(), p: 'x'.repeat(rng.int(0, rng.chance(0.1) ? 1500 : 300)) };
}

/** Hash of an image, to skip a state already checked in this iteration. */
function imageKey(image: CrashImage): string {
  const h = createHash('sha1');
  for (const [name, bytes] of [...image].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    h.update(name);
    h.update(String(bytes.length));
    h.update(bytes);
  }
  return h.digest('base64');
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const sampler = rng.fork();
  const quick = ctx.params.quick;
  const mutation = ctx.params.mutation;
  const segmentBytes = rng.pick([1024, 4096, 8192, 16384, 16384]);
  const zeroFillAheadBytes = rng.pick([0, 0, 1024, 4096]);
  const perPoint = ctx.params.statesPerCrashPoint ?? (quick ? 3 : 6);
  const batches = quick ? rng.int(8, 20) : rng.int(10, 30);
  const dir = `${ctx.tmpDir}/wal`;
  const model = new CrashFs(dir, {
    dropFdatasync: mutation === 'no-fdatasync',
    dropDirFsync: mutation === 'no-dir-fsync',
  });
  let clockUs = kBaseUs;
  const nowUs = (): number => clockUs;
  const expected = new Map<number, string>();
  const rejected = new Map<number, string>();
  const points: CrashPoint[] = [];
  let ackedThrough = 0;
  let writtenThrough = 0;
  /** Seqs up to here were rejected by a failed sync and still need their gap record. */
  let rejectedTo = 0;
  const failSyncRate = rng.pick([0, 0, 0.05, 0.15]);
  const seen = new Set<string>();

  const capture = (opIndex: number, op: CrashFsOp | 'end'): void => {
    const states: CrashImage[] = [];
    const secondCrash: number[] = [];
    for (const image of model.crashStates(perPoint, () => sampler.next())) {
      addMetric(ctx, 'statesGenerated');
      // The same disk image is a different test when more had been acknowledged by then.
      const key = `${ackedThrough}/${writtenThrough}/${imageKey(image)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      states.push(image);
      secondCrash.push(sampler.chance(kSecondCrashRate) ? sampler.nextU32() || 1 : 0);
    }
    points.push({ opIndex, op, ackedThrough, writtenThrough, states, secondCrash });
  };
  model.onOp = capture;

  const open = (): WalWriter =>
    WalWriter.open({ dir, nodeId: kNodeId, segmentBytes, segmentMaxAgeMs: 50, fs: model, nowUs, zeroFillAheadBytes });
  let writer = open();
  for (let b = 0; b < batches; b++) {
    clockUs += rng.int(1, 20_000);
    const action = rng.next();
    if (action < 0.05) {
      writer.seal();
      continue;
    }
    if (action < 0.1) {
      writer.maintain(1);
      continue;
    }
    if (action < 0.14) {
      // A clean restart (process exit, no power loss): reopen on the same disk.
      writer.close();
      writer = open();
      continue;
    }
    if (action < 0.18) {
      writer.sealIfOlderThan(clockUs / 1000);
      continue;
    }
    const count = rng.int(1, rng.chance(0.2) ? 12 : 4);
    let first = writer.lastSeq + 1;
    if (rejectedTo >= first) {
      // As the commit loop does after a failed sync: a WRITE_REJECTED gap accounts for the seqs
      // whose acks were rejected, and the log goes on after them.
      writer.batch.addGap(first, rejectedTo, GapReason.WRITE_REJECTED, { code: 'ERR_IRONLOG_WAL_FSYNC' });
      for (let s = first; s <= rejectedTo; s++) {
        const json = expected.get(s);
        if (json !== undefined) rejected.set(s, json);
        expected.delete(s);
      }
      first = rejectedTo + 1;
    }
    for (let i = 0; i < count; i++) {
      const seq = first + i;
      const ev = event(seq, rng);
      const payload = pack(ev);
      expected.set(seq, JSON.stringify(ev));
      writer.batch.addRecord(seq, clockUs + i, 0, payload, 0, payload.length);
    }
    writtenThrough = first + count - 1;
    // Now and then an fdatasync fails (EIO): the writer must roll back to its last synced batch.
    model.failNextSync = rng.chance(failSyncRate);
    try {
      writer.appendBatch();
      if (mutation === 'ack-before-sync') ackedThrough = writer.lastSeq;
      writer.sync();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_IRONLOG_WAL_FSYNC') throw err;
      addMetric(ctx, 'failedSyncs');
      // Rejected: every seq above what the WAL still holds.
      rejectedTo = writtenThrough;
    }
    model.failNextSync = false;
    // Group commit: a batch is acknowledged only now, after its fdatasync returned.
    ackedThrough = Math.max(ackedThrough, writer.syncedSeq);
  }
  writer.close();
  model.onOp = undefined;
  capture(-1, 'end');
  addMetric(ctx, 'crashPoints', points.length);
  addMetric(ctx, 'fsOps', model.opCount);
  addMetric(ctx, 'ackedRecords', ackedThrough);
  kState.set(ctx, { segmentBytes, zeroFillAheadBytes, expected, rejected, points, opsTotal: model.opCount });
}

async function checkState(
  ctx: TortureContext,
  st: State,
  point: CrashPoint,
  image: CrashImage,
  work: string,
  where: string,
): Promise<boolean> {
  emptyDir(work);
  writeImage(work, image);
  let failed = false;
  const fail = (kind: string, message: string): void => {
    failed = true;
    ctx.fail(kind, `${where}: ${message}`);
  };
  let probeSeq = 0;
  try {
    const w = WalWriter.open({
      dir: work,
      nodeId: kNodeId,
      segmentBytes: st.segmentBytes,
      segmentMaxAgeMs: 50,
      fs: nodeWalFs,
      zeroFillAheadBytes: st.zeroFillAheadBytes,
    });
    if (w.lastSeq < point.ackedThrough) {
      fail(
        'lost-acked',
        `after recovery the WAL ends at seq ${w.lastSeq}, but seqs up to ${point.ackedThrough} were acked`,
      );
    }
    probeSeq = w.lastSeq + 1;
    const probe = pack({ probe: probeSeq });
    w.batch.addRecord(probeSeq, kBaseUs, 0, probe, 0, probe.length);
    w.appendBatch();
    w.sync();
    w.close();
  } catch (err) {
    fail('open-failed', `recovery failed: ${describeError(err)}`);
    return false;
  }
  // A power loss before the first segment was durable leaves an empty WAL: valid, nothing was acked.
  const report = await verifyWal(work, { allowEmpty: true });
  if (!report.valid) {
    fail(
      'verify-invalid',
      `verifyWal after recovery: ${report.problems.map((p) => `${p.kind} ${p.message}`).join('; ')}`,
    );
  }
  let records: Awaited<ReturnType<typeof readAll>>;
  try {
    records = await readAll(work);
  } catch (err) {
    fail('read-failed', `readWal after recovery: ${describeError(err)}`);
    return false;
  }
  // readWal skips gap frames; verifyWal (above) checks that records and gaps together are dense.
  const present = new Set<number>();
  let prev = 0;
  let sawProbe = false;
  const wrong: number[] = [];
  for (const r of records) {
    if (r.seq <= prev) {
      fail('order', `seq ${r.seq} follows seq ${prev} (expected increasing seqs)`);
      break;
    }
    prev = r.seq;
    const json = JSON.stringify(r.event);
    // A probe: the record a writer appended after a recovery (this one's, or, after a crash during
    // recovery, the earlier one's), at a seq past everything acknowledged.
    if (r.seq > point.ackedThrough && json === JSON.stringify({ probe: r.seq })) {
      if (r.seq === probeSeq) sawProbe = true;
    } else if (r.seq <= point.writtenThrough && json === st.expected.get(r.seq)) {
      present.add(r.seq);
    } else if (json === st.rejected.get(r.seq)) {
      addMetric(ctx, 'rejectedResurfaced');
    } else {
      wrong.push(r.seq);
    }
  }
  if (wrong.length > 0) fail('wrong-content', `records with bytes never written at seqs ${seqRanges(wrong)}`);
  if (!sawProbe) fail('probe-lost', `the record appended and synced after recovery (seq ${probeSeq}) is missing`);
  const lost: number[] = [];
  for (let s = 1; s <= point.ackedThrough; s++) if (st.expected.has(s) && !present.has(s)) lost.push(s);
  if (lost.length > 0) {
    addMetric(ctx, 'lostAckedRecords', lost.length);
    fail('lost-acked', `acked seqs missing after recovery: ${seqRanges(lost)}`);
  }
  return !failed;
}

/** Share of crash states whose recovery is crashed again (every state that recovery can leave is checked). */
const kSecondCrashRate = 0.05;

/**
 * A power loss during recovery: runs the open-time recovery of `image` (and the first append
 * after it) on a CrashFs, and returns the states a crash at each of its operations can leave.
 */
function secondCrashStates(st: State, image: CrashImage, work: string, seed: number): CrashImage[] {
  const rng = new Prng(seed);
  const model = new CrashFs(work, {}, image);
  const out: CrashImage[] = [];
  model.onOp = () => {
    out.push(...model.crashStates(2, () => rng.next()));
  };
  try {
    const w = WalWriter.open({
      dir: work,
      nodeId: kNodeId,
      segmentBytes: st.segmentBytes,
      segmentMaxAgeMs: 50,
      fs: model,
      zeroFillAheadBytes: st.zeroFillAheadBytes,
    });
    const probe = pack({ probe: w.lastSeq + 1 });
    w.batch.addRecord(w.lastSeq + 1, kBaseUs, 0, probe, 0, probe.length);
    w.appendBatch();
    w.sync();
    w.close();
  } catch {
    // The first-level check of this image reports a recovery that fails.
  }
  return out;
}

/** Crash states checked at once: verifyWal and readWal wait on the thread pool, so overlap them. */
const kParallelStates = 8;

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) throw new Error('power-loss: verify before run');
  const jobs: Array<{ point: CrashPoint; image: CrashImage; secondCrash: number; where: string }> = [];
  for (const point of st.points) {
    point.states.forEach((image, i) => {
      const at = point.opIndex < 0 ? 'end' : String(point.opIndex);
      jobs.push({
        point,
        image,
        secondCrash: point.secondCrash[i] ?? 0,
        where: `crash before op ${at}/${st.opsTotal} (${point.op}), state ${i}, acked through seq ${point.ackedThrough}`,
      });
    });
  }
  let next = 0;
  let failures = 0;
  const lane = async (): Promise<void> => {
    const work = makeScratchDir('ironlog-pl-');
    try {
      // Stop after a few failing states: enough to replay from, and a broken build's report stays short.
      while (next < jobs.length && failures < 5) {
        const job = jobs[next++] as (typeof jobs)[number];
        const ok = await checkState(ctx, st, job.point, job.image, work, job.where);
        addMetric(ctx, 'crashStates');
        if (!ok) failures++;
        if (!ok || job.secondCrash === 0) continue;
        const again = secondCrashStates(st, job.image, work, job.secondCrash);
        for (let j = 0; j < again.length && failures < 5; j++) {
          const where = `${job.where}, then a crash during its recovery (state ${j})`;
          const ok2 = await checkState(ctx, st, job.point, again[j] as CrashImage, work, where);
          addMetric(ctx, 'crashStates');
          addMetric(ctx, 'recoveryCrashStates');
          if (!ok2) failures++;
        }
      }
    } finally {
      removeDir(work);
    }
  };
  await Promise.all(Array.from({ length: kParallelStates }, lane));
}

/** The power-loss scenario. */
export const powerLoss: Scenario = {
  name: 'power-loss',
  description:
    'WAL writer on a crash-consistency disk model; every crash point yields legal post-crash states (unsynced writes dropped, reordered, torn at 512-byte sectors, directory entries without a directory fsync lost); recovery must keep every acked record.',
  run,
  verify,
};
