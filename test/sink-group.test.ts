/**
 * Multi-tenant sink groups (issue 14, item 4): one writer worker thread for every tenant, one WAL,
 * chain, key set and signing origin per tenant under `<root>/tenants/<id>/`, tenant-scoped object
 * names, `--tenant` on replay/export/verify, and no way for one tenant to read another's records.
 * Real writer worker, real files + fdatasync, real CLI child processes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../dist/compliance/note.js';
import { ErrorCodes, openSinkGroup, readWal, type SinkGroup, verifyWal, type WalRecord } from '../dist/main/index.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { collect, killChildren, spawnCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
let group: SinkGroup | undefined;
beforeEach(() => {
  tmp = new TempDir('ironlog-sink-group-');
});
afterEach(async () => {
  await group?.close().catch(() => undefined);
  group = undefined;
  await killChildren();
  tmp.dispose();
});

const kTenants = ['acme', 'globex', 'initech'] as const;

async function records(dir: string): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir)) out.push(r);
  return out;
}

async function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return collect(spawnCli(args));
}

describe('openSinkGroup', () => {
  it('concurrent emits to 3 tenants through one writer thread: each WAL verifies and holds exactly its events', async () => {
    const root = tmp.join('root');
    const g = await openSinkGroup({ root, tenants: [...kTenants] });
    group = g;
    expect(g.tenantIds).toEqual([...kTenants]);

    // Interleaved, unawaited: the three rings fill at once and the one writer serves them all.
    const perTenant = 300;
    const pending: Promise<{ tenant: string; i: number; seq: number }>[] = [];
    for (let i = 0; i < perTenant; i++) {
      for (const t of kTenants) {
        pending.push(
          g
            .tenant(t)
            .emit({ tenant: t, i })
            .then((a) => ({ tenant: t, i, seq: a.seq })),
        );
      }
    }
    const batch = await g.tenant('globex').emitBatch([
      { tenant: 'globex', batch: 1 },
      { tenant: 'globex', batch: 2 },
    ]);
    const acks = await Promise.all(pending);

    // Each tenant has its own gap-free seq space, starting at 1.
    for (const t of kTenants) {
      const seqs = acks.filter((a) => a.tenant === t).map((a) => a.seq);
      const expected = t === 'globex' ? perTenant + 2 : perTenant;
      expect(new Set(seqs).size).toBe(perTenant);
      expect(Math.max(...seqs, ...(t === 'globex' ? batch.map((b) => b.seq) : []))).toBe(expected);
    }

    // Exactly one writer thread serves them: every tenant's ready came from the same threadId.
    const stats = g.stats();
    expect(stats.writerThreads).toBe(1);
    expect(stats.writerThreadId).toBeGreaterThan(0);
    for (const t of kTenants) {
      expect(stats.tenants[t]?.writerThreadId).toBe(stats.writerThreadId);
      expect(stats.tenants[t]?.records).toBe(t === 'globex' ? perTenant + 2 : perTenant);
      expect(stats.tenants[t]?.fsyncs).toBeGreaterThan(0);
    }

    // Replay through a tenant handle returns that tenant's records only.
    for (const t of kTenants) {
      const seen: WalRecord[] = [];
      for await (const r of g.tenant(t).replay()) seen.push(r);
      expect(seen.every((r) => (r.event as { tenant: string }).tenant === t)).toBe(true);
      expect(seen).toHaveLength(t === 'globex' ? perTenant + 2 : perTenant);
      const live = await g.tenant(t).verify();
      expect(live.valid).toBe(true);
    }
    const health = await g.health();
    expect(health).toMatchObject({ live: true, ready: true });
    expect(Object.keys(health.tenants)).toEqual([...kTenants]);

    await g.close();
    expect(g.stats().tenants.acme?.closed).toBe(true);

    // Offline: each tenant directory is a complete WAL of its own, holding exactly its events.
    for (const t of kTenants) {
      const dir = path.join(root, 'tenants', t);
      const report = await verifyWal(dir);
      expect(report.valid).toBe(true);
      const recs = await records(dir);
      expect(recs.map((r) => r.seq)).toEqual(recs.map((_, i) => i + 1));
      const events = recs.map((r) => r.event as { tenant: string; i?: number });
      expect(events.every((e) => e.tenant === t)).toBe(true);
      const is = events.filter((e) => e.i !== undefined).map((e) => e.i);
      expect(new Set(is)).toEqual(new Set(Array.from({ length: perTenant }, (_, i) => i)));
    }

    // Reopening continues every tenant's own seq and chain.
    const again = await openSinkGroup({ root, tenants: { acme: {}, initech: {} } });
    group = again;
    expect((await again.tenant('acme').emit({ tenant: 'acme', reopened: true })).seq).toBe(perTenant + 1);
    await again.close();
    expect((await verifyWal(path.join(root, 'tenants', 'acme'))).records).toBe(perTenant + 1);
  });

  it('a disk fault in one tenant rejects only that tenant’s acks; the others are acked meanwhile', async () => {
    const faults = new FaultSwitch();
    const g = await openSinkGroup({
      root: tmp.join('root'),
      tenants: [{ id: 'sick', walFsModule: faultFsModulePath, walFsModuleData: faults.sab }, 'well'],
    });
    group = g;
    const sick = g.tenant('sick');
    const well = g.tenant('well');
    await Promise.all([sick.emit({ n: 0 }), well.emit({ n: 0 })]);
    const faultSeen = new Promise((resolve) => sick.events.once('fault', resolve));
    const cleared = new Promise((resolve) => sick.events.once('faultCleared', resolve));
    let wellFaults = 0;
    well.events.on('fault', () => wellFaults++);

    faults.failSyncs('EIO');
    const sickDuring = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => sick.emit({ n: i + 1 })));
    await faultSeen;
    // While `sick` is faulted, `well` goes on being acked (durable) by the same writer thread.
    const wellDuring = await Promise.all(Array.from({ length: 50 }, (_, i) => well.emit({ n: i + 1 })));
    expect(wellDuring.map((a) => a.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    expect(sickDuring.every((r) => r.status === 'rejected')).toBe(true);
    expect((sickDuring[0] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.WAL_FSYNC });
    expect(wellFaults).toBe(0);
    expect((await g.health()).tenants.well?.ready).toBe(true);

    faults.clear();
    await cleared;
    await g.close();
    const wellRecs = await records(path.join(g.root, 'tenants', 'well'));
    expect(wellRecs).toHaveLength(51);
    expect((await verifyWal(path.join(g.root, 'tenants', 'sick'))).valid).toBe(true);
    expect((await verifyWal(path.join(g.root, 'tenants', 'well'))).valid).toBe(true);
  });

  it('a group’s shadowDirs are roots: each tenant’s shadow is <shadow>/tenants/<id>, byte for byte, checked by verify', async () => {
    const root = tmp.join('root');
    const shadow = tmp.join('shadow');
    const g = await openSinkGroup({ root, tenants: ['acme', 'globex'], shadowDirs: [shadow], segmentBytes: 64 * 1024 });
    group = g;
    const pad = 'x'.repeat(200);
    for (let i = 0; i < 400; i += 50) {
      await Promise.all(
        ['acme', 'globex'].map((t) =>
          g.tenant(t).emitBatch(Array.from({ length: 50 }, (_, k) => ({ tenant: t, i: i + k, pad }))),
        ),
      );
    }
    expect(g.tenant('acme').shadowStatus()?.shadows).toEqual([
      { dir: path.join(shadow, 'tenants', 'acme'), state: 'active', failures: 0 },
    ]);
    await g.close();
    group = undefined;
    for (const t of ['acme', 'globex']) {
      const primary = path.join(root, 'tenants', t);
      const copy = path.join(shadow, 'tenants', t);
      const segments = fs.readdirSync(primary).filter((n) => n.endsWith('.wal'));
      expect(segments.length).toBeGreaterThan(1);
      for (const n of segments)
        expect(fs.readFileSync(path.join(copy, n)).equals(fs.readFileSync(path.join(primary, n)))).toBe(true);
      const report = await verifyWal(primary, { shadowDirs: [copy] });
      expect(report.problems).toEqual([]);
      expect(report.records).toBe(400);
      expect((await records(copy)).every((r) => (r.event as { tenant: string }).tenant === t)).toBe(true);
    }
  });

  it('signing origins and replication object names carry the tenant id', async () => {
    const key = generateSignerKey('example.com/audit');
    const backup = tmp.join('backup');
    const g = await openSinkGroup({
      root: tmp.join('root'),
      segmentMaxAgeMs: 100,
      signing: { key: key.signerKey },
      replication: { quorum: 1, backends: [{ type: 'fs', dir: backup, prefix: 'audit' }] },
      tenants: { a: {}, b: { signing: { key: key.signerKey, origin: 'b.example/log' } } },
    });
    group = g;
    expect(g.tenant('a').options.signing?.origin).toBe('example.com/audit/tenants/a');
    expect(g.tenant('b').options.signing?.origin).toBe('b.example/log');
    const replicated = Promise.all(
      ['a', 'b'].map((t) => new Promise((resolve) => g.tenant(t).replicationEvents?.once('replicated', resolve))),
    );
    await Promise.all([g.tenant('a').emit({ t: 'a' }), g.tenant('b').emit({ t: 'b' })]);
    await replicated;
    await g.close();
    for (const t of ['a', 'b']) {
      const objects = fs.readdirSync(path.join(backup, 'audit', 'tenants', t, 'node'));
      expect(objects.some((o) => /^\d{20}-\d{20}\.wal$/.test(o))).toBe(true);
    }
    // Nothing outside the tenants' prefixes.
    expect(fs.readdirSync(path.join(backup, 'audit'))).toEqual(['tenants']);
  });

  it('refuses bad, repeated and path-like tenant ids, and unknown tenants, with typed errors', async () => {
    const root = tmp.join('root');
    for (const id of ['../b', 'a/../b', '/etc', 'A', '', '.', '..', '-x', 'a b', 'x'.repeat(64), 'a\0b']) {
      await expect(openSinkGroup({ root, tenants: [id] }), JSON.stringify(id)).rejects.toMatchObject({
        code: ErrorCodes.INVALID_OPTION,
      });
      await expect(openSinkGroup({ root, tenants: { [id]: {} } }), JSON.stringify(id)).rejects.toMatchObject({
        code: ErrorCodes.INVALID_OPTION,
      });
    }
    await expect(openSinkGroup({ root, tenants: ['a', 'a'] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('a appears twice'),
    });
    await expect(openSinkGroup({ root, tenants: [] })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    await expect(
      openSinkGroup({ root, tenants: [{ id: 'a', dir: tmp.join('elsewhere') } as never] }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    // A bad option of one tenant fails the group before anything is created.
    await expect(openSinkGroup({ root, tenants: [{ id: 'a', ringBytes: 3 }] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    expect(fs.existsSync(root)).toBe(false);

    const g = await openSinkGroup({ root, tenants: ['a', 'b'] });
    group = g;
    await g.tenant('b').emit({ secret: 'of b' });
    for (const id of ['../b', 'a/../b', '/b', path.join(root, 'tenants', 'b'), 'B']) {
      expect(() => g.tenant(id), id).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    }
    expect(() => g.tenant('c')).toThrow(expect.objectContaining({ code: ErrorCodes.TENANT_NOT_FOUND }));
    const seen: WalRecord[] = [];
    for await (const r of g.tenant('a').replay()) seen.push(r);
    expect(seen).toEqual([]);
  });

  it('refuses a tenant directory that is a symbolic link to another tenant (API and CLI)', async () => {
    const root = tmp.join('root');
    const g = await openSinkGroup({ root, tenants: ['b'] });
    await g.tenant('b').emit({ secret: 'of b' });
    await g.close();
    fs.symlinkSync(path.join(root, 'tenants', 'b'), path.join(root, 'tenants', 'a'));
    await expect(openSinkGroup({ root, tenants: ['a'] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('symbolic link'),
    });
    // A file in place of a tenant directory is refused too.
    fs.writeFileSync(path.join(root, 'tenants', 'c'), 'not a dir');
    await expect(openSinkGroup({ root, tenants: ['c'] })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });

    for (const cmd of [
      ['replay', '--dir', root, '--tenant', 'a'],
      ['verify', '--dir', root, '--tenant', 'a'],
      ['export', '--dir', root, '--tenant', 'a', '--output', '-'],
    ]) {
      const r = await cli(cmd);
      expect(r.code, cmd.join(' ')).toBe(2);
      expect(r.stderr).toContain(ErrorCodes.TENANT_NOT_FOUND);
      expect(r.stdout).not.toContain('of b');
    }
  });
});

describe('ironlog replay/export/verify --tenant', () => {
  it('reads one tenant of a group root; refuses bad ids and unknown tenants with exit 2', async () => {
    const root = tmp.join('root');
    const g = await openSinkGroup({ root, tenants: ['acme', 'globex'] });
    group = g;
    await g.tenant('acme').emitBatch([
      { who: 'acme', n: 1 },
      { who: 'acme', n: 2 },
    ]);
    await g.tenant('globex').emitBatch([{ who: 'globex', n: 1 }]);
    await g.close();

    const replay = await cli(['replay', '--dir', root, '--tenant', 'acme']);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    const lines = replay.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; event: unknown });
    expect(lines.map((l) => [l.seq, l.event])).toEqual([
      [1, { who: 'acme', n: 1 }],
      [2, { who: 'acme', n: 2 }],
    ]);

    const verify = await cli(['verify', '--dir', root, '--tenant', 'globex', '--json']);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ valid: true, records: 1, lastSeq: 1 });

    const out = tmp.join('globex.ndjson');
    const exp = await cli(['export', '--dir', root, '--tenant', 'globex', '--output', out, '--no-progress']);
    expect(exp.code).toBe(0);
    const exported = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: unknown }).event);
    expect(exported).toEqual([{ who: 'globex', n: 1 }]);

    for (const bad of ['../globex', 'acme/../globex', '/tmp', 'ACME', '']) {
      const r = await cli(['replay', '--dir', root, '--tenant', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT|ERR_IRONLOG_USAGE/);
      expect(r.stdout).toBe('');
    }
    const unknown = await cli(['verify', '--dir', root, '--tenant', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(ErrorCodes.TENANT_NOT_FOUND);
    expect(unknown.stderr).toContain('acme, globex');
    const withSource = await cli(['verify', '--source', 'file:///nowhere', '--tenant', 'acme']);
    expect(withSource.code).toBe(2);
    expect(withSource.stderr).toContain('--tenant goes with --dir');
  });
});
