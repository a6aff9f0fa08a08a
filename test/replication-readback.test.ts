import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, s3ClientConfig } from '../dist/backends/index.js';
import { openSink, parseRemoteUrl, type RemoteRecord, readRemoteWal, verifyRemoteWal } from '../dist/main/index.js';
import { type Emulator, startS3rver } from './fixtures/emulators.js';
import { TempDir, until } from './helpers/tmp.js';

const kCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let s3: Emulator;
let tmp: TempDir;

beforeAll(async () => {
  s3 = await startS3rver();
  const client = new S3Client(
    s3ClientConfig({ type: 's3', bucket: 'x', endpoint: s3.endpoint, forcePathStyle: true, credentials: kCreds }),
  );
  await client.send(new CreateBucketCommand({ Bucket: 'history' }));
  client.destroy();
});
afterEach(() => tmp?.dispose());
afterAll(async () => {
  await s3?.stop();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Runs one node: emits `n` events stamped by `clock`, waits until all of them are replicated. */
async function runNode(dir: string, nodeId: string, n: number, clock: () => number, fsDir: string): Promise<void> {
  const sink = await openSink({
    dir,
    nodeId,
    segmentBytes: 64 * 1024,
    maxBatchBytes: 8 * 1024,
    maxEventBytes: 8 * 1024,
    segmentMaxAgeMs: 30,
    clock,
    replication: {
      quorum: 2,
      backends: [
        {
          type: 's3',
          bucket: 'history',
          prefix: 'audit',
          endpoint: s3.endpoint,
          forcePathStyle: true,
          credentials: kCreds,
        },
        { type: 'fs', dir: fsDir, prefix: 'audit' },
      ],
    },
  });
  try {
    let last = 0;
    for (let i = 0; i < n; i += 25) {
      const acks = await sink.emitBatch(
        Array.from({ length: 25 }, (_, k) => ({ nodeId, i: i + k, pad: 'q'.repeat(200) })),
      );
      last = acks[acks.length - 1]?.seq ?? last;
    }
    await until(() => (sink.replicationStatus()?.replicatedThroughSeq ?? 0) >= last, 60_000, `${nodeId} replicated`);
  } finally {
    await sink.close();
  }
}

describe('reading a replicated multi-node history back', () => {
  it('merges nodes by time (tie-break nodeId, then seq), verifies every segment and the chain; detects a missing segment', async () => {
    tmp = new TempDir('ironlog-readback-');
    const fsDir = tmp.join('bucket');
    // node-a's clock ticks 0.5 ms per call, node-b's 1 ms: they drift apart, with exact ties in between.
    const t0 = Date.UTC(2026, 0, 1);
    let ta = t0;
    let tb = t0;
    await runNode(tmp.join('a'), 'node-a', 600, () => (ta += 0.5), fsDir);
    await runNode(tmp.join('b'), 'node-b', 400, () => (tb += 1), fsDir);

    const url = `s3://history/audit?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;
    expect(parseRemoteUrl(url).config).toMatchObject({
      type: 's3',
      bucket: 'history',
      endpoint: s3.endpoint,
      forcePathStyle: true,
    });
    const records: RemoteRecord[] = await collect(readRemoteWal(url, { overrides: { credentials: kCreds } }));
    const a = records.filter((r) => r.nodeId === 'node-a');
    const b = records.filter((r) => r.nodeId === 'node-b');
    expect(a.map((r) => r.seq)).toEqual(Array.from({ length: a.length }, (_, i) => i + 1));
    expect(b.map((r) => r.seq)).toEqual(Array.from({ length: b.length }, (_, i) => i + 1));
    expect(a.length).toBeGreaterThanOrEqual(600);
    expect(b.length).toBeGreaterThanOrEqual(400);
    let ties = 0;
    for (let i = 1; i < records.length; i++) {
      const p = records[i - 1] as RemoteRecord;
      const r = records[i] as RemoteRecord;
      expect(p.timeUs < r.timeUs || (p.timeUs === r.timeUs && p.nodeId <= r.nodeId)).toBe(true);
      if (p.timeUs === r.timeUs && p.nodeId !== r.nodeId) ties++;
    }
    expect(ties).toBeGreaterThan(0);

    const report = await verifyRemoteWal(url, { overrides: { credentials: kCreds } });
    expect(report.valid).toBe(true);
    expect(report.nodes.map((n) => n.nodeId)).toEqual(['node-a', 'node-b']);
    expect(report.nodes[0]?.records).toBe(a.length);

    // The same history from the directory replica; then delete a middle segment there.
    const fsUrl = `file://${fsDir}?prefix=audit`;
    expect((await verifyRemoteWal(fsUrl)).valid).toBe(true);
    const fsb = createBackend({ type: 'fs', dir: fsDir });
    const keys = await fsb.list('audit/node-a/');
    expect(keys.length).toBeGreaterThanOrEqual(3);
    await fsb.delete(keys[1] as string);
    const broken = await verifyRemoteWal(fsUrl);
    expect(broken.valid).toBe(false);
    expect(broken.nodes[0]?.problems.some((p) => p.kind === 'missing-segment')).toBe(true);
    await expect(collect(readRemoteWal(fsUrl))).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });

    // A replica whose bytes no longer match its SHA-256 metadata.
    const victim = path.join(fsDir, keys[2] as string);
    const bytes = fs.readFileSync(victim);
    bytes[300] = (bytes[300] as number) ^ 0xff;
    fs.writeFileSync(victim, bytes);
    await expect(collect(readRemoteWal(fsUrl, { nodes: ['node-a'] }))).rejects.toMatchObject({
      code: 'ERR_IRONLOG_REPLICATION_TAMPER',
    });
    await fsb.close();
  });
});
