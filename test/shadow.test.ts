/**
 * Shadow copies (`openSink({ shadowDirs, onShadowFailure })`, issue 14): every batch on the primary
 * and on each shadow, fdatasync'd before the ack; a disk fault on one shadow (fault-fs through the
 * WalFs seam, limited to that shadow's path) rejects exactly the affected acks ('fail') or drops
 * the shadow ('drop'), reported in health, metrics and a typed event; reconcile at open; SIGKILL;
 * `verify --shadow` and `recover --from-shadow`. Real files, real fsync, real worker threads and
 * child processes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, openSink, type ShadowFailureEvent } from '../dist/main/index.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { readWal } from '../dist/wal/reader.js';
import { recoverWal } from '../dist/wal/recovery.js';
import { listSegmentFiles } from '../dist/wal/segment.js';
import { verifyWal } from '../dist/wal/verify.js';
import { killChildren as killCliChildren, runCli } from './helpers/cli.js';
import { killChildren, spawnTracked } from './helpers/kill9.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-shadow-');
});
afterEach(async () => {
  await killChildren();
  await killCliChildren();
  tmp.dispose();
});

const kSmall = { segmentBytes: 64 * 1024, maxBatchBytes: 16 * 1024, maxEventBytes: 4 * 1024 } as const;
const kShadowChild = new URL('./fixtures/shadow-child.mjs', import.meta.url).pathname;

/** Every record of the WAL in `dir`: seq -> event as JSON. */
async function records(dir: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const r of readWal(dir)) out.set(r.seq, JSON.stringify(r.event));
  return out;
}

function segmentsOf(dir: string): { name: string; path: string; firstSeq: number }[] {
  return listSegmentFiles(dir, fs.readdirSync(dir)).segments;
}

function flipByte(file: string, offset: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, offset);
    b[0] = (b[0] ?? 0) ^ 0xff;
    fs.writeSync(fd, b, 0, 1, offset);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Emits `n` events (`tag`, index) concurrently; resolves with the acked seqs. */
async function emitAll(sink: Awaited<ReturnType<typeof openSink>>, tag: string, n: number): Promise<number[]> {
  const acks = await Promise.all(
    Array.from({ length: n }, (_, i) => sink.emit({ tag, i, pad: 'x'.repeat(50 + (i % 200)) })),
  );
  return acks.map((a) => a.seq);
}

describe('options', () => {
  it('validates shadowDirs and onShadowFailure', async () => {
    const dir = tmp.join('wal');
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ shadowDirs: 'x' }, /options\.shadowDirs must be an array/],
      [{ shadowDirs: [''] }, /options\.shadowDirs\[0\] must be a non-empty string/],
      [{ shadowDirs: [dir] }, /options\.shadowDirs\[0\] must be a directory outside options\.dir/],
      [{ shadowDirs: [path.join(dir, 'inner')] }, /outside options\.dir/],
      [{ shadowDirs: [tmp.path] }, /not containing it/],
      [{ shadowDirs: [tmp.join('a'), tmp.join('a')] }, /options\.shadowDirs\[1\] must be distinct/],
      [{ shadowDirs: [tmp.join('a'), tmp.join('a', 'b')] }, /not nested in/],
      [
        { shadowDirs: [tmp.join('a')], onShadowFailure: 'ignore' },
        /options\.onShadowFailure must be one of 'fail', 'drop'/,
      ],
    ];
    for (const [extra, re] of bad) {
      await expect(openSink({ dir, ...extra } as never)).rejects.toMatchObject({
        code: ErrorCodes.INVALID_OPTION,
        message: expect.stringMatching(re),
      });
    }
    // Relative paths are resolved; the resolved options say so.
    const rel = path.relative(process.cwd(), tmp.join('rel-shadow'));
    const sink = await openSink({ dir, shadowDirs: [rel] });
    try {
      expect(sink.options.shadowDirs).toEqual([tmp.join('rel-shadow')]);
      expect(sink.options.onShadowFailure).toBe('fail');
      // The shadow is locked like the primary: another sink cannot take it as its own dir.
      await expect(openSink({ dir: tmp.join('rel-shadow') })).rejects.toMatchObject({ code: ErrorCodes.WAL_LOCKED });
    } finally {
      await sink.close();
    }
    // Released on close.
    const again = await openSink({ dir: tmp.join('rel-shadow') });
    await again.close();
  });
});

describe('writing', () => {
  it('every batch, segment and seal is in each shadow, byte for byte; verify compares them', async () => {
    const dir = tmp.join('wal');
    const shadows = [tmp.join('s1'), tmp.join('s2')];
    const sink = await openSink({ dir, shadowDirs: shadows, ...kSmall });
    const seqs = [...(await emitAll(sink, 'a', 600)), ...(await emitAll(sink, 'b', 600))];
    expect(sink.shadowStatus()?.shadows.map((s) => s.state)).toEqual(['active', 'active']);
    const health = await sink.health();
    expect(health.status).toBe('ok');
    expect(health.shadows?.shadows.length).toBe(2);
    await sink.close();

    expect(segmentsOf(dir).length).toBeGreaterThan(3);
    const report = await verifyWal(dir, { shadowDirs: shadows });
    expect(report.problems).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.shadows?.map((s) => s.identical)).toEqual([true, true]);
    const primary = await records(dir);
    for (const s of shadows) {
      expect((await verifyWal(s)).valid).toBe(true);
      expect(await records(s)).toEqual(primary);
      // Sealed segments are the same files, byte for byte.
      for (const seg of segmentsOf(dir).slice(0, -1)) {
        expect(fs.readFileSync(path.join(s, seg.name)).equals(fs.readFileSync(seg.path)), seg.name).toBe(true);
      }
    }
    for (const seq of seqs) expect(primary.has(seq)).toBe(true);
  });

  it("'fail': a write fault on one shadow rejects exactly the affected acks; nothing acked is lost", async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const faults = new FaultSwitch();
    faults.onlyUnder(shadow);
    const sink = await openSink({
      dir,
      shadowDirs: [shadow],
      metrics: true,
      walFsModule: faultFsModulePath,
      walFsModuleData: faults.sab,
    });
    const events: ShadowFailureEvent[] = [];
    sink.events.on('shadowFailure', (e) => events.push(e));
    const cleared = new Promise<{ gapFromSeq: number; gapToSeq: number }>((resolve) =>
      sink.events.once('faultCleared', resolve),
    );
    const a = await emitAll(sink, 'a', 50);

    faults.failWrites('EIO');
    const b = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sink.emit({ tag: 'b', i })));
    expect(b.every((r) => r.status === 'rejected')).toBe(true);
    const codes = b.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'acked'));
    expect(codes[0]).toBe(ErrorCodes.SHADOW_FAILED);
    expect(new Set(codes).size).toBeLessThanOrEqual(2);
    for (const c of codes) expect([ErrorCodes.SHADOW_FAILED, ErrorCodes.WAL_FAULTED]).toContain(c);
    const first = b[0] as PromiseRejectedResult;
    // The ack's error carries the code (shared memory); the event below names the shadow.
    expect(String(first.reason.message)).toContain(ErrorCodes.SHADOW_FAILED);

    // Reported while failing: event, health, metric.
    await until(() => events.length > 0, 10_000, 'a shadowFailure event');
    expect(events[0]).toMatchObject({ dir: shadow, op: 'write', dropped: false, active: [shadow] });
    expect(events[0]?.error.code).toBe(ErrorCodes.SHADOW_FAILED);
    const health = await sink.health();
    expect(health.status).toBe('degraded');
    expect(health.reasons.some((r) => r.startsWith(`shadow ${shadow}: failing`))).toBe(true);
    const text = (await sink.metrics?.text()) ?? '';
    const failures = new RegExp(`ironlog_shadow_failures_total\\{dir="${shadow}"\\} (\\d+)`).exec(text);
    expect(Number(failures?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/ironlog_shadows_active 1/);

    // The shadow's disk works again: the gap record goes to both, and emits are acked again.
    faults.clear();
    const gap = await cleared;
    expect(gap.gapFromSeq).toBe((a[a.length - 1] ?? 0) + 1);
    const c = await emitAll(sink, 'c', 50);
    expect(sink.shadowStatus()?.shadows[0]?.state).toBe('active');
    expect((await sink.health()).status).toBe('ok');
    await sink.close();

    const report = await verifyWal(dir, { shadowDirs: [shadow] });
    expect(report.problems).toEqual([]);
    const primary = await records(dir);
    expect(await records(shadow)).toEqual(primary);
    expect([...primary.keys()].sort((x, y) => x - y)).toEqual([...a, ...c].sort((x, y) => x - y));
    expect(report.gapSeqs).toBe(gap.gapToSeq - gap.gapFromSeq + 1);
  });

  it("'fail': an fdatasync fault on one shadow rejects the batch and rolls the primary back too", async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const faults = new FaultSwitch();
    faults.onlyUnder(shadow);
    const sink = await openSink({
      dir,
      shadowDirs: [shadow],
      walFsModule: faultFsModulePath,
      walFsModuleData: faults.sab,
    });
    const cleared = new Promise((resolve) => sink.events.once('faultCleared', resolve));
    const a = await emitAll(sink, 'a', 30);
    faults.failSyncs('EIO', 1);
    const b = await sink.emit({ tag: 'b' }).then(
      () => 'acked',
      (e: { code: string }) => e.code,
    );
    expect(b).toBe(ErrorCodes.SHADOW_FAILED);
    await cleared;
    const c = await emitAll(sink, 'c', 30);
    await sink.close();
    expect((await verifyWal(dir, { shadowDirs: [shadow] })).problems).toEqual([]);
    const primary = await records(dir);
    expect(await records(shadow)).toEqual(primary);
    expect([...primary.keys()].sort((x, y) => x - y)).toEqual([...a, ...c].sort((x, y) => x - y));
  });

  it("'drop': every ack resolves, the shadow leaves the set and is reported; reopening reconciles it", async () => {
    const dir = tmp.join('wal');
    const [s1, s2] = [tmp.join('s1'), tmp.join('s2')];
    const faults = new FaultSwitch();
    faults.onlyUnder(s1);
    const sink = await openSink({
      dir,
      shadowDirs: [s1, s2],
      onShadowFailure: 'drop',
      metrics: true,
      walFsModule: faultFsModulePath,
      walFsModuleData: faults.sab,
      ...kSmall,
    });
    const events: ShadowFailureEvent[] = [];
    sink.events.on('shadowFailure', (e) => events.push(e));
    const a = await emitAll(sink, 'a', 100);
    faults.failSyncs('EIO', 1);
    const b = await emitAll(sink, 'b', 600);
    await until(() => events.length > 0, 10_000, 'a shadowFailure event');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ dir: s1, op: 'sync', dropped: true, active: [s2] });
    expect(events[0]?.error.code).toBe(ErrorCodes.SHADOW_FAILED);
    expect(sink.shadowStatus()?.shadows.map((s) => s.state)).toEqual(['dropped', 'active']);
    const health = await sink.health();
    expect(health.status).toBe('degraded');
    expect(health.ready).toBe(true);
    expect(health.reasons.some((r) => r.startsWith(`shadow ${s1}: dropped from the set`))).toBe(true);
    const text = (await sink.metrics?.text()) ?? '';
    expect(text).toContain(`ironlog_shadow_failures_total{dir="${s1}"} 1`);
    expect(text).toContain(`ironlog_shadow_failures_total{dir="${s2}"} 0`);
    expect(text).toMatch(/ironlog_shadows_active 1/);
    await sink.close();

    const primary = await records(dir);
    for (const seq of [...a, ...b]) expect(primary.has(seq)).toBe(true);
    expect((await verifyWal(dir, { shadowDirs: [s2] })).valid).toBe(true);
    const behind = await verifyWal(dir, { shadowDirs: [s1] });
    expect(behind.valid).toBe(false);
    expect(behind.problems.every((p) => p.kind.startsWith('shadow-') && p.shadow === s1)).toBe(true);

    // Reopen without faults: s1 is brought up to the primary before any emit.
    const again = await openSink({ dir, shadowDirs: [s1, s2], onShadowFailure: 'drop', ...kSmall });
    await again.close();
    const report = await verifyWal(dir, { shadowDirs: [s1, s2] });
    expect(report.problems).toEqual([]);
    expect(await records(s1)).toEqual(primary);
  });
});

describe('reconcile at open', () => {
  it('a shadow added later, or damaged, is made equal to the primary before emits are accepted', async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const plain = await openSink({ dir, ...kSmall });
    await emitAll(plain, 'a', 800);
    await plain.close();
    // Added later: every sealed segment is copied, the open one written.
    let sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
    await sink.close();
    expect((await verifyWal(dir, { shadowDirs: [shadow] })).problems).toEqual([]);

    // Damaged: a sealed segment's seal, the open segment's last batch, and an extra torn tail.
    const segs = segmentsOf(shadow);
    const sealed = segs[0];
    const open = segs[segs.length - 1];
    if (!sealed || !open || sealed === open) throw new Error('expected sealed segments');
    flipByte(sealed.path, fs.statSync(sealed.path).size - 20);
    flipByte(open.path, fs.statSync(open.path).size - 10);
    fs.appendFileSync(open.path, Buffer.alloc(64, 7));
    expect((await verifyWal(dir, { shadowDirs: [shadow] })).valid).toBe(false);
    sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
    await emitAll(sink, 'b', 50);
    await sink.close();
    expect((await verifyWal(dir, { shadowDirs: [shadow] })).problems).toEqual([]);
    expect(await records(shadow)).toEqual(await records(dir));
  });

  it('a shadow ahead of the primary is never changed: opening fails (fail) or drops it (drop)', async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
    await emitAll(sink, 'a', 800);
    await sink.close();
    // The primary lost its newest segment (a disk that lost data): the shadow still has it.
    const segs = segmentsOf(dir);
    const newest = segs[segs.length - 1];
    if (!newest) throw new Error('no segment');
    fs.rmSync(newest.path);
    const before = fs.readFileSync(path.join(shadow, newest.name));
    await expect(openSink({ dir, shadowDirs: [shadow], ...kSmall })).rejects.toMatchObject({
      code: ErrorCodes.SHADOW_FAILED,
      message: expect.stringContaining('recover --from-shadow'),
    });
    expect(fs.readFileSync(path.join(shadow, newest.name)).equals(before)).toBe(true);
    // 'drop': the sink opens without it, reports it, and leaves it alone.
    const dropped = await openSink({ dir, shadowDirs: [shadow], onShadowFailure: 'drop', ...kSmall });
    const seen = await new Promise<ShadowFailureEvent>((resolve) => dropped.events.once('shadowFailure', resolve));
    expect(seen).toMatchObject({ dir: shadow, op: 'reconcile', dropped: true, active: [] });
    expect(dropped.shadowStatus()?.shadows[0]?.state).toBe('dropped');
    await dropped.close();
    expect(fs.readFileSync(path.join(shadow, newest.name)).equals(before)).toBe(true);
  });
});

describe('crash', () => {
  it('SIGKILL while writing with a shadow: after reopen both hold every acked seq; verify --shadow is valid', async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const acked = new Map<number, number>();
    for (let round = 0; round < 3; round++) {
      const child = spawnTracked(kShadowChild, [dir, shadow, String(round)]);
      await child.ready;
      const target = 200 + round * 150;
      await until(() => child.acks.length >= target || !child.running, 30_000, 'acks from the child');
      if (!child.running) throw new Error('the child exited on its own');
      await child.kill();
      expect((await child.exited).signal).toBe('SIGKILL');
      for (const a of child.acks) {
        expect(acked.has(a.seq), `seq ${a.seq} acked twice`).toBe(false);
        acked.set(a.seq, a.index);
      }
      // Reopen: the primary cuts its torn tail, the shadow is reconciled to it.
      const sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
      await sink.close();
      const report = await verifyWal(dir, { shadowDirs: [shadow] });
      expect(report.problems, `round ${round}`).toEqual([]);
      for (const d of [dir, shadow]) {
        const stored = new Map<number, number>();
        for await (const r of readWal(d)) stored.set(r.seq, (r.event as { i: number }).i);
        const lost = [...acked].filter(([seq, i]) => stored.get(seq) !== i).map(([seq]) => seq);
        expect(lost, `${d} round ${round}`).toEqual([]);
      }
    }
    const cli = await runCli(['verify', '--dir', dir, '--shadow', shadow, '--no-progress']);
    expect(cli.stdout).toContain(`shadow ${shadow}: identical`);
    expect(cli.code).toBe(0);
  });
});

describe('verify and recover', () => {
  it('verify finds a differing, a missing and an extra shadow segment (exit 1)', async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
    await emitAll(sink, 'a', 800);
    await sink.close();
    const segs = segmentsOf(shadow);
    const [s0, s1] = segs;
    if (!s0 || !s1) throw new Error('expected two segments');
    flipByte(s0.path, 300);
    fs.rmSync(s1.path);
    fs.writeFileSync(path.join(shadow, '00000000000099999999.wal'), Buffer.alloc(128));
    const report = await verifyWal(dir, { shadowDirs: [shadow] });
    expect(report.valid).toBe(false);
    expect(report.shadows?.[0]).toMatchObject({
      dir: shadow,
      identical: false,
      missing: [s1.name],
      extra: ['00000000000099999999.wal'],
      differing: [{ segment: s0.name, offset: 300 }],
    });
    expect(report.problems.map((p) => p.kind).sort()).toEqual(['shadow-differs', 'shadow-extra', 'shadow-missing']);
    const cli = await runCli(['verify', '--dir', dir, '--shadow', shadow, '--no-progress']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('shadow-differs');
    expect(cli.stdout).toContain(`shadow ${shadow}: DIFFERS (1 missing, 1 extra, 1 differing segment(s))`);
    const usage = await runCli(['verify', '--source', 'file:///nowhere', '--shadow', shadow]);
    expect(usage.code).toBe(2);
  });

  it('recover --from-shadow rebuilds a damaged primary record by record: valid, every acked event present', async () => {
    const dir = tmp.join('wal');
    const shadow = tmp.join('s1');
    const sink = await openSink({ dir, shadowDirs: [shadow], ...kSmall });
    const seqs = [...(await emitAll(sink, 'a', 800)), ...(await emitAll(sink, 'b', 200))];
    await sink.close();
    const original = await records(dir);
    // Damage two records in the middle of the first, sealed segment of the primary.
    const first = segmentsOf(dir)[0];
    if (!first) throw new Error('no segment');
    flipByte(first.path, 2000);
    flipByte(first.path, 9000);
    expect((await verifyWal(dir)).valid).toBe(false);

    await expect(recoverWal(dir, shadow, { fromShadows: [shadow] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
    // Without the shadow those records are lost ...
    const alone = await recoverWal(dir, tmp.join('alone'));
    expect(alone.lostSeqs).toBeGreaterThan(0);
    // ... with it, each is taken from the shadow.
    const out = tmp.join('recovered');
    const report = await recoverWal(dir, out, { fromShadows: [shadow] });
    expect(report.lostSeqs).toBe(0);
    expect(report.tailUnknown).toBe(false);
    expect(report.fromShadows?.[0]?.dir).toBe(shadow);
    expect(report.fromShadows?.[0]?.records).toBe(alone.lostSeqs);
    const v = await verifyWal(out);
    expect(v.problems).toEqual([]);
    const recovered = await records(out);
    expect(recovered).toEqual(original);
    for (const seq of seqs) expect(recovered.has(seq)).toBe(true);

    // The CLI, same result.
    const cliOut = tmp.join('recovered-cli');
    const cli = await runCli([
      'recover',
      '--input',
      dir,
      '--from-shadow',
      shadow,
      '--output',
      cliOut,
      '--no-progress',
      '--no-custody',
    ]);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`from shadow ${shadow}: ${alone.lostSeqs} records`);
    expect(cli.stdout).toContain('nothing lost');
    expect(await records(cliOut)).toEqual(original);
  });
});
