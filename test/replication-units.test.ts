import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openSink, readRemoteWal } from '../dist/main/index.js';
import { CircuitBreaker } from '../dist/replication/breaker.js';
import { listSealedSegments } from '../dist/replication/local-segments.js';
import { parseSegmentObjectKey, segmentObjectKey } from '../dist/replication/naming.js';
import { resolveReplicationOptions } from '../dist/replication/options.js';
import { fullJitterDelayMs } from '../dist/replication/retry.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir | undefined;
afterEach(() => {
  tmp?.dispose();
  tmp = undefined;
});

describe('replication building blocks', () => {
  it('object names are deterministic and zero-padded to 20 digits', () => {
    const key = segmentObjectKey('p/q', 'node-a', 1, 1234);
    expect(key).toBe('p/q/node-a/00000000000000000001-00000000000000001234.wal');
    expect(segmentObjectKey('', 'n', 5, 9)).toBe('n/00000000000000000005-00000000000000000009.wal');
    expect(parseSegmentObjectKey(key)).toEqual({ nodeId: 'node-a', firstSeq: 1, lastSeq: 1234 });
    expect(parseSegmentObjectKey('p/node-a/1-2.wal')).toBeUndefined();
  });

  it('full-jitter backoff stays within [0, min(cap, base * 2^n))', () => {
    expect(fullJitterDelayMs(0, 100, 1000, () => 0.999)).toBe(99);
    expect(fullJitterDelayMs(3, 100, 1000, () => 0.5)).toBe(400);
    expect(fullJitterDelayMs(10, 100, 1000, () => 0.999)).toBe(999);
    expect(fullJitterDelayMs(5, 100, 1000, () => 0)).toBe(0);
  });

  it('circuit breaker: opens after the threshold, half-opens after the cooldown, one trial', () => {
    const b = new CircuitBreaker(3, 1000);
    expect(b.allow(0)).toBe(true);
    b.failure(0);
    b.failure(1);
    expect(b.state(2)).toBe('closed');
    b.failure(2);
    expect(b.state(3)).toBe('open');
    expect(b.allow(500)).toBe(false);
    expect(b.state(1002)).toBe('half-open');
    expect(b.allow(1002)).toBe(true);
    expect(b.allow(1003)).toBe(false);
    b.failure(1003);
    expect(b.state(1004)).toBe('open');
    expect(b.timesOpened).toBe(2);
    expect(b.allow(2003)).toBe(true);
    b.success();
    expect(b.state(2004)).toBe('closed');
    expect(b.failures).toBe(0);
  });

  it('validates the replication option', () => {
    const fsb = { type: 'fs' as const, dir: '/tmp/x' };
    expect(resolveReplicationOptions({ backends: [fsb] }).quorum).toBe(1);
    expect(() => resolveReplicationOptions({ backends: [] })).toThrow(/non-empty/);
    expect(() => resolveReplicationOptions({ backends: [fsb], quorum: 0 })).toThrow(/quorum/);
    expect(() => resolveReplicationOptions({ backends: [fsb], bogus: 1 })).toThrow(/bogus/);
    expect(() => resolveReplicationOptions({ backends: [{ type: 'gcs' }] })).toThrow(/bucket/);
    expect(() => resolveReplicationOptions({ backends: [{ ...fsb, verify: 'maybe' }] })).toThrow(/verify/);
    expect(() =>
      resolveReplicationOptions({
        backends: [{ type: 's3', bucket: 'b', objectLock: { mode: 'NOPE', retainDays: 1 } }],
      }),
    ).toThrow(/objectLock.mode/);
    expect(() => resolveReplicationOptions({ backends: [fsb], localRetention: {} })).toThrow(/deleteAfterMs/);
  });

  it('a backend added later receives every sealed segment, also those already compacted out of the manifest', async () => {
    tmp = new TempDir('ironlog-addbackend-');
    const small = { segmentBytes: 64 * 1024, maxBatchBytes: 8 * 1024, maxEventBytes: 8 * 1024, segmentMaxAgeMs: 30 };
    const dir = tmp.join('wal');
    const first = { type: 'fs' as const, dir: tmp.join('one') };
    const second = { type: 'fs' as const, dir: tmp.join('two') };
    const sink = await openSink({ dir, nodeId: 'n', ...small, replication: { backends: [first] } });
    for (let i = 0; i < 10; i++) await sink.emitBatch(Array.from({ length: 50 }, () => ({ pad: 'a'.repeat(300) })));
    await until(() => (sink.replicationStatus()?.backends[0]?.replicatedSegments ?? 0) >= 3, 60_000, 'first backend');
    await until(() => sink.replicationStatus()?.backends[0]?.lagSegments === 0, 60_000, 'first drained');
    await sink.close();
    const before = JSON.parse(fs.readFileSync(`${dir}/replication-manifest.json`, 'utf8')) as {
      compacted: { segments: number };
    };
    expect(before.compacted.segments).toBeGreaterThanOrEqual(3);
    const sealed = await listSealedSegments(dir);
    const again = await openSink({ dir, nodeId: 'n', ...small, replication: { backends: [first, second] } });
    await until(
      () =>
        again
          .replicationStatus()
          ?.backends.every((b) => b.lagSegments === 0 && b.replicatedSegments >= sealed.length) ?? false,
      60_000,
      'both drained',
    );
    await again.close();
    const fromSecond = [];
    for await (const r of readRemoteWal(`file://${second.dir}`)) fromSecond.push(r.seq);
    // Every segment sealed before the reopen (the compacted ones included) reached the new backend,
    // seq 1 on, with no hole. The reopened sink may also have sealed the continued tail segment by
    // age (segmentMaxAgeMs 30) before it closed, and shipped it: then the bucket holds all 500.
    const sealedRecords = sealed.reduce((n, s) => n + s.records, 0);
    expect(fromSecond.length).toBeGreaterThanOrEqual(sealedRecords);
    expect(fromSecond.length).toBeLessThanOrEqual(500);
    expect(fromSecond).toEqual(Array.from({ length: fromSecond.length }, (_, i) => i + 1));
  });

  it('local retention deletes replicated segments (never the newest), never under legal hold; the sink reopens and the history stays readable from the backend', async () => {
    tmp = new TempDir('ironlog-retention-');
    const small = { segmentBytes: 64 * 1024, maxBatchBytes: 8 * 1024, maxEventBytes: 8 * 1024, segmentMaxAgeMs: 30 };
    const held = tmp.join('held');
    const heldSink = await openSink({
      dir: held,
      ...small,
      replication: {
        backends: [{ type: 'fs', dir: tmp.join('bucket-held') }],
        localRetention: { deleteAfterMs: 0, legalHold: true },
      },
    });
    for (let i = 0; i < 10; i++) await heldSink.emitBatch(Array.from({ length: 50 }, () => ({ pad: 'h'.repeat(300) })));
    await until(
      () => (heldSink.replicationStatus()?.backends[0]?.replicatedSegments ?? 0) >= 3,
      60_000,
      'held replicated',
    );
    const heldLocal = (await listSealedSegments(held)).length;
    await heldSink.close();
    expect(heldLocal).toBeGreaterThanOrEqual(3);
    expect((await listSealedSegments(held)).length).toBe(heldLocal);

    const dir = tmp.join('wal');
    const bucket = tmp.join('bucket');
    const opts = {
      dir,
      nodeId: 'ret',
      ...small,
      replication: { backends: [{ type: 'fs' as const, dir: bucket }], localRetention: { deleteAfterMs: 0 } },
    };
    const sink = await openSink(opts);
    for (let i = 0; i < 10; i++)
      await sink.emitBatch(Array.from({ length: 50 }, (_, k) => ({ i: i * 50 + k, pad: 'r'.repeat(300) })));
    await until(() => (sink.replicationStatus()?.backends[0]?.replicatedSegments ?? 0) >= 3, 60_000, 'replicated');
    await until(
      () => fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).length <= 2,
      60_000,
      'local segments deleted',
    );
    await sink.close();
    const manifest = JSON.parse(fs.readFileSync(`${dir}/replication-manifest.json`, 'utf8')) as {
      compacted: { segments: number };
      segments: { localDeletedAtMs?: number }[];
    };
    // Deleted segments are compacted out of the manifest once deleted (never before).
    expect(manifest.compacted.segments).toBeGreaterThan(0);
    expect(manifest.segments.every((s) => s.localDeletedAtMs === undefined)).toBe(true);
    const again = await openSink(opts);
    const ack = await again.emit({ after: 'reopen' });
    expect(ack.seq).toBe(501);
    await again.close();
    const records = [];
    for await (const r of readRemoteWal(`file://${bucket}`)) records.push(r);
    expect(records.length).toBeGreaterThan(0);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
  });
});
