/**
 * byzantine: storage that says "done" and lies. (1) A lying file system at the WalFs seam
 * (`createByzantineFs`): one write of the writer stores a flipped bit, nothing, the bytes at the
 * wrong offset, or half of them, and reports success. (2) Stale data: a segment file is served
 * in an older version (rolled back to a snapshot taken earlier in the run). After either, the
 * damage must be detected (`WalWriter.open` refuses, `verifyWal` reports problems, `readWal`
 * fails, or the WAL ends before the last acknowledged seq, the outside anchor a sink's caller
 * holds) and must never be accepted as valid: a WAL that `verifyWal` passes must not return a
 * record that differs from what was written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ByzantineLog, type ByzantineWriteKind, createByzantineFs } from '../../testing/byzantine-fs.js';
import { nodeWalFs } from '../../wal/fs.js';
import { readWal } from '../../wal/reader.js';
import { SEGMENT_HEADER_BYTES } from '../../wal/segment.js';
import { verifyWal } from '../../wal/verify.js';
import { WalWriter } from '../../wal/writer.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError } from '../util.js';
import { buildWal, type ExpectedRecord } from '../wal-build.js';

interface State {
  readonly dir: string;
  readonly expected: Map<number, ExpectedRecord>;
  readonly ackedThrough: number;
  readonly lie: string;
  /** The lie was a lost rewrite of a segment header (the SEALED flag set after the seal is durable). */
  readonly lostHeaderRewrite: boolean;
}
const kState = new WeakMap<TortureContext, State>();
const kKinds: readonly (ByzantineWriteKind | 'stale')[] = ['flip', 'lost', 'misdirect', 'short', 'stale'];

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const dir = path.join(ctx.tmpDir, 'wal');
  const kind = rng.pick(kKinds);
  const batches = ctx.params.quick ? rng.int(10, 40) : rng.int(20, 120);
  const segmentBytes = rng.pick([4096, 16384, 65536]);
  const sealAll = rng.chance(0.5);
  let ackedThrough = 0;
  if (kind === 'stale') {
    const snapshots: Array<{ name: string; bytes: Buffer }> = [];
    const expected = buildWal({
      dir,
      rng,
      batches,
      segmentBytes,
      sealAll,
      onAcked: (seq) => {
        ackedThrough = seq;
        if (rng.chance(0.2)) {
          const names = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
          const name = rng.pick(names);
          snapshots.push({ name, bytes: fs.readFileSync(path.join(dir, name)) });
        }
      },
    });
    // Serve an older version of one file: a snapshot that differs from what the file holds now.
    const stale = snapshots.filter((s) => !fs.readFileSync(path.join(dir, s.name)).equals(s.bytes));
    if (stale.length === 0) {
      kState.set(ctx, {
        dir,
        expected,
        ackedThrough,
        lie: 'none (no stale snapshot differed)',
        lostHeaderRewrite: false,
      });
      return;
    }
    const s = rng.pick(stale);
    fs.writeFileSync(path.join(dir, s.name), s.bytes);
    kState.set(ctx, {
      dir,
      expected,
      ackedThrough,
      lie: `stale ${s.name} (${s.bytes.length} bytes)`,
      lostHeaderRewrite: false,
    });
    addMetric(ctx, 'stale');
    return;
  }
  const log: ByzantineLog = { writes: 0 };
  const wfs = createByzantineFs(
    nodeWalFs,
    { atWrite: rng.int(0, batches), kind, bit: rng.nextU32(), shiftBytes: rng.pick([-512, 8, 512, 4096]) },
    log,
  );
  const expected = buildWal({
    dir,
    rng,
    batches,
    segmentBytes,
    sealAll,
    fs: wfs,
    onAcked: (seq) => (ackedThrough = seq),
  });
  const lie = log.lied ? `${log.lied.kind} write of ${log.lied.length} bytes at ${log.lied.position}` : 'none';
  if (log.lied) addMetric(ctx, log.lied.kind);
  // The writer rewrites a segment's header once its seal is durable, to set the SEALED flag (see
  // docs/wal-format.md §3). Losing that rewrite leaves the state of a crash between the seal's
  // fdatasync and the rewrite: a legal earlier state, sealed without the flag.
  const lostHeaderRewrite =
    log.lied?.kind === 'lost' && log.lied.position === 0 && log.lied.length === SEGMENT_HEADER_BYTES;
  kState.set(ctx, { dir, expected, ackedThrough, lie, lostHeaderRewrite });
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) return;
  if (st.lie.startsWith('none')) {
    addMetric(ctx, 'noLie');
    return;
  }
  addMetric(ctx, 'lies');
  const signals: string[] = [];
  const report = await verifyWal(st.dir);
  if (!report.valid) signals.push(`verifyWal: ${report.problems[0]?.kind} ${report.problems[0]?.message}`);
  let records = 0;
  const wrong: number[] = [];
  let lastSeq = 0;
  try {
    for await (const r of readWal(st.dir)) {
      records++;
      lastSeq = r.seq;
      const want = st.expected.get(r.seq);
      if (!want || want.json !== JSON.stringify(r.event) || want.timeUs !== r.timeUs) wrong.push(r.seq);
    }
  } catch (err) {
    signals.push(`readWal: ${describeError(err)}`);
  }
  if (lastSeq < st.ackedThrough && !signals.some((s) => s.startsWith('readWal'))) {
    signals.push(`anchor: the WAL ends at seq ${lastSeq} but seq ${st.ackedThrough} was acknowledged`);
  }
  try {
    WalWriter.open({
      dir: st.dir,
      nodeId: 'torture',
      segmentBytes: 65536,
      segmentMaxAgeMs: 3_600_000,
      zeroFillAheadBytes: 0,
    }).close();
  } catch (err) {
    signals.push(`open: ${describeError(err)}`);
  }
  if (report.valid && wrong.length > 0) {
    ctx.fail(
      'accepted-wrong-data',
      `${st.lie}: verifyWal reports valid but seqs ${wrong.slice(0, 10).join(',')} differ from what was written`,
    );
  }
  if (
    signals.length === 0 &&
    (st.lie.startsWith('stale') || st.lostHeaderRewrite) &&
    wrong.length === 0 &&
    records === st.expected.size &&
    lastSeq >= st.ackedThrough
  ) {
    // The older version still holds every record, byte for byte (e.g. the last segment as it was
    // just before its seal was written, or a sealed segment whose SEALED-flag header rewrite was
    // lost): a legal earlier state, the same as a crash before the seal or before the rewrite.
    // Nothing acked is lost or changed, so there is nothing to detect.
    addMetric(ctx, 'staleHarmless');
    ctx.log(`${st.lie}: an earlier state with every record intact; nothing lost`);
    return;
  }
  if (signals.length === 0) {
    ctx.fail(
      'undetected',
      `${st.lie}: nothing noticed the lie (verify valid, ${records} records read, all as written, WAL ends at the acked seq ${st.ackedThrough})`,
    );
  } else {
    addMetric(ctx, 'detected');
    ctx.log(`${st.lie}: detected by ${signals.join(' | ')}`);
  }
}

/** The byzantine scenario. */
export const byzantine: Scenario = {
  name: 'byzantine',
  description:
    'Storage that reports success but stores a flipped bit, nothing, the bytes at the wrong offset or half of them, or serves a stale (older) version of a segment: detected by open, verify, read or the acked-seq anchor, and never accepted as valid with wrong data.',
  run,
  verify,
};
