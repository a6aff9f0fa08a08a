/**
 * Retention and legal hold on the local disk: a prune before the retention end or under a hold is
 * refused with a typed error and deletes nothing; after the end (and once the hold is cleared) it
 * proceeds; local retention of a running sink skips held segments; hold set/clear leave custody
 * entries. Real sinks, real replication to a directory, the real CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearHold, listHolds, setHold } from '../dist/compliance/holds.js';
import { generateSignerKey } from '../dist/compliance/note.js';
import { ErrorCodes, openSink } from '../dist/main/index.js';
import { pruneSegments } from '../dist/main/prune.js';
import { Manifest } from '../dist/replication/manifest.js';
import { deleteRetainedSegments } from '../dist/replication/retention.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDirs, until } from './helpers/tmp.js';

const dirs = new TempDirs();
afterEach(async () => {
  await killChildren();
  dirs.disposeAll();
});

const kKey = generateSignerKey('example.com/audit');
const kDayMs = 86_400_000;

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** A SOX log (7-year retention) with several sealed segments, all replicated to a directory. */
async function soxLog(): Promise<{ dir: string; replica: string }> {
  const root = dirs.make('ironlog-retention-');
  const dir = path.join(root, 'wal');
  const replica = path.join(root, 'replica');
  const sink = await openSink({
    dir,
    segmentBytes: 64 * 1024,
    maxBatchBytes: 4096,
    maxEventBytes: 4096,
    signing: { key: kKey.signerKey },
    // Local retention keeps the segments in the manifest until they are deleted locally.
    replication: {
      backends: [{ type: 'fs', dir: replica, name: 'fs:replica' }],
      closeTimeoutMs: 60_000,
      localRetention: { deleteAfterMs: kDayMs },
    },
    compliance: { profile: 'SOX' },
  });
  const pad = 'x'.repeat(200);
  for (let i = 0; i < 1200; i++) await sink.emit({ i, user: 'u', action: 'trade', pad });
  await until(() => sink.replicationStatus()?.segmentsBelowQuorum === 0, 60_000, 'replication of the sealed segments');
  await sink.close();
  expect(segments(dir).length).toBeGreaterThanOrEqual(4);
  const m = Manifest.loadSync(dir, 'node');
  const sealed = m.sorted();
  expect(sealed.length).toBe(segments(dir).length - 1);
  for (const s of sealed) expect(s.replicatedAtMs).toBeGreaterThan(0);
  return { dir, replica };
}

describe('prune: retention end and legal holds', () => {
  it('refuses before the retention end (nothing deleted), proceeds after it', async () => {
    const { dir } = await soxLog();
    const before = segments(dir);
    const err = await pruneSegments(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: ErrorCodes.RETENTION_ACTIVE,
      message: expect.stringContaining('retention (2557 days, SOX) ends'),
    });
    expect(segments(dir)).toEqual(before);
    const after = await pruneSegments(dir, { nowMs: Date.now() + 2558 * kDayMs });
    expect(after.deleted).toEqual(before.slice(0, -1));
    expect(segments(dir)).toEqual(before.slice(-1));
    const m = Manifest.loadSync(dir, 'node');
    for (const s of m.sorted()) if (after.deleted.includes(s.file)) expect(s.localDeletedAtMs).toBeGreaterThan(0);
  });

  it('refuses under a legal hold even after the retention end; clearing the hold lets it proceed', async () => {
    const { dir } = await soxLog();
    const before = segments(dir);
    const hold = await setHold(dir, { reason: 'SEC inquiry 2026-17', fromSeq: 5, toSeq: 6 });
    expect(hold.range).toEqual({ fromSeq: 5, toSeq: 6 });
    const later = Date.now() + 2558 * kDayMs;
    await expect(pruneSegments(dir, { nowMs: later })).rejects.toMatchObject({
      code: ErrorCodes.LEGAL_HOLD,
      message: expect.stringContaining(`legal hold ${hold.id} (SEC inquiry 2026-17)`),
    });
    expect(segments(dir)).toEqual(before);
    // The hold covers seqs of the first segment, so the whole prune is refused (all or nothing).
    await clearHold(dir, hold.id, { reason: 'inquiry closed' });
    expect(listHolds(dir)[0]).toMatchObject({ id: hold.id, clearReason: 'inquiry closed' });
    const r = await pruneSegments(dir, { nowMs: later });
    expect(r.deleted.length).toBe(before.length - 1);
  });

  it('a hold on later records still lets earlier segments go (throughSeq)', async () => {
    const { dir } = await soxLog();
    const before = segments(dir);
    const secondFirst = Number((before[1] as string).replace('.wal', ''));
    await setHold(dir, { reason: 'matter 9', fromSeq: secondFirst });
    const later = Date.now() + 2558 * kDayMs;
    await expect(pruneSegments(dir, { nowMs: later })).rejects.toMatchObject({ code: ErrorCodes.LEGAL_HOLD });
    const r = await pruneSegments(dir, { nowMs: later, throughSeq: secondFirst - 1 });
    expect(r.deleted).toEqual([before[0]]);
  });

  it('refuses segments that are not replicated', async () => {
    const dir = path.join(dirs.make('ironlog-retention-'), 'wal');
    const sink = await openSink({ dir, segmentBytes: 64 * 1024, maxBatchBytes: 4096, maxEventBytes: 4096 });
    for (let i = 0; i < 600; i++) await sink.emit({ i, pad: 'y'.repeat(200) });
    await sink.close();
    const before = segments(dir);
    expect(before.length).toBeGreaterThan(1);
    await expect(pruneSegments(dir)).rejects.toMatchObject({
      code: ErrorCodes.RETENTION_ACTIVE,
      message: expect.stringContaining('not replicated to a quorum yet'),
    });
    expect(segments(dir)).toEqual(before);
  });

  it('local retention (the running sink path) skips a held segment and deletes it once cleared', async () => {
    const { dir } = await soxLog();
    const before = segments(dir);
    const later = Date.now() + 2558 * kDayMs;
    const hold = await setHold(dir, { reason: 'hold all' });
    const m = Manifest.loadSync(dir, 'node');
    expect(await deleteRetainedSegments(dir, m, { deleteAfterMs: 0, legalHold: false }, later)).toBe(false);
    expect(segments(dir)).toEqual(before);
    // The compliance retention end also holds it back.
    await clearHold(dir, hold.id, { reason: 'released' });
    expect(await deleteRetainedSegments(dir, m, { deleteAfterMs: 0, legalHold: false }, Date.now())).toBe(false);
    expect(segments(dir)).toEqual(before);
    expect(await deleteRetainedSegments(dir, m, { deleteAfterMs: 0, legalHold: false }, later)).toBe(true);
    expect(segments(dir)).toEqual(before.slice(-1));
  });
});

describe('ironlog hold and prune', () => {
  it('hold set/clear/list leave custody entries; prune under the hold exits 2 with ERR_IRONLOG_LEGAL_HOLD', async () => {
    const { dir } = await soxLog();
    const set = await runCli([
      'hold',
      'set',
      '--dir',
      dir,
      '--reason',
      'litigation 117',
      '--from-seq',
      '1',
      '--to-seq',
      '10',
      '--actor',
      'counsel',
      '--json',
    ]);
    expect(set.code).toBe(0);
    const hold = JSON.parse(set.stdout) as { id: string; actor: string };
    expect(hold.actor).toBe('counsel');
    const list = await runCli(['hold', 'list', '--dir', dir]);
    expect(list.stdout).toContain(`${hold.id}  active  seq 1-10`);
    const before = segments(dir);
    const prune = await runCli(['prune', '--dir', dir]);
    expect(prune.code).toBe(2);
    expect(prune.stderr).toContain('ERR_IRONLOG_');
    expect(segments(dir)).toEqual(before);
    const clear = await runCli(['hold', 'clear', '--dir', dir, '--id', hold.id, '--reason', 'settled']);
    expect(clear.code).toBe(0);
    expect(clear.stdout).toContain('cleared');
    const again = await runCli(['hold', 'clear', '--dir', dir, '--id', hold.id, '--reason', 'twice']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already cleared');
    const custody = await runCli(['custody', 'list', '--dir', dir, '--json']);
    const entries = JSON.parse(custody.stdout) as {
      action: string;
      actor: string;
      details?: Record<string, unknown>;
      result: { status: string };
    }[];
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['hold', 'release-hold', 'delete']));
    expect(entries.find((e) => e.action === 'hold')).toMatchObject({ actor: 'counsel', details: { hold: hold.id } });
    expect(entries.find((e) => e.action === 'delete')?.result.status).toBe('error');
    // The failed second clear changed nothing and recorded nothing.
    expect(actions.filter((a) => a === 'release-hold')).toHaveLength(1);
    const verify = await runCli(['custody', 'verify', '--dir', dir]);
    expect(verify.code).toBe(0);
  });

  it('a time range becomes the seq range of the records in it', async () => {
    const dir = path.join(dirs.make('ironlog-retention-'), 'wal');
    let t = Date.UTC(2026, 9, 1);
    const sink = await openSink({ dir, clock: () => t });
    for (let i = 0; i < 10; i++) {
      t = Date.UTC(2026, 9, 1 + i, 12);
      await sink.emit({ i });
    }
    await sink.close();
    const h = await setHold(dir, {
      reason: 'october 3-5',
      from: new Date(Date.UTC(2026, 9, 3)),
      to: new Date(Date.UTC(2026, 9, 6)),
    });
    expect(h.range).toMatchObject({
      fromSeq: 3,
      toSeq: 5,
      from: '2026-10-03T00:00:00.000Z',
      to: '2026-10-06T00:00:00.000Z',
    });
    await expect(setHold(dir, { reason: '' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(setHold(dir, { reason: 'x', fromSeq: 5, toSeq: 2 })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
    expect(listHolds(dir)).toHaveLength(1);
  });
});
