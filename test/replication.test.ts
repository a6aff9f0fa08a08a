import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, type BackendConfig, createBackend, s3ClientConfig } from '../dist/backends/index.js';
import { openSink, type Sink } from '../dist/main/index.js';
import { listSealedSegments } from '../dist/replication/local-segments.js';
import { segmentObjectKey } from '../dist/replication/naming.js';
import {
  azuriteConnectionString,
  type Emulator,
  s3rverUploadDirs,
  startAzurite,
  startS3rver,
} from './fixtures/emulators.js';
import { type HttpProxy, startHttpProxy, startTcpProxy, type TcpProxy } from './fixtures/fault-proxy.js';
import { type GcsServer, startGcsServer } from './fixtures/gcs-server.js';
import { s3rverMultipartInterceptor } from './fixtures/s3rver-multipart.js';
import { spawnTracked } from './helpers/kill9.js';
import { TempDir, until } from './helpers/tmp.js';

const kCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const kChild = fileURLToPath(new URL('./fixtures/replication-crash-child.mjs', import.meta.url));

let s3: Emulator;
let azure: Emulator;
let gcs: GcsServer;
let tmp: TempDir;
let bucketNo = 0;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  [s3, azure, gcs] = await Promise.all([startS3rver(), startAzurite(), startGcsServer()]);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  tmp?.dispose();
});
afterAll(async () => {
  await Promise.all([s3?.stop(), azure?.stop(), gcs?.stop()]);
});

/** Fresh bucket/container names on every server, and configs for them (endpoints overridable). */
async function buckets(ends: Partial<{ s3: string; azure: string; gcs: string }> = {}): Promise<{
  s3: BackendConfig;
  azure: BackendConfig;
  gcs: BackendConfig;
  fs: BackendConfig;
}> {
  const name = `repl-${++bucketNo}`;
  const client = new S3Client(
    s3ClientConfig({ type: 's3', bucket: name, endpoint: s3.endpoint, forcePathStyle: true, credentials: kCreds }),
  );
  await client.send(new CreateBucketCommand({ Bucket: name }));
  client.destroy();
  await BlobServiceClient.fromConnectionString(azuriteConnectionString(azure.endpoint))
    .getContainerClient(name)
    .create();
  await new Storage({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(name);
  return {
    s3: {
      type: 's3',
      bucket: name,
      endpoint: ends.s3 ?? s3.endpoint,
      forcePathStyle: true,
      credentials: kCreds,
      prefix: 'audit',
    },
    azure: {
      type: 'azure',
      connectionString: azuriteConnectionString(ends.azure ?? azure.endpoint),
      container: name,
      prefix: 'audit',
    },
    gcs: { type: 'gcs', bucket: name, apiEndpoint: ends.gcs ?? gcs.endpoint, projectId: 'test', prefix: 'audit' },
    fs: { type: 'fs', dir: tmp.join(`fs-${name}`), prefix: 'audit' },
  };
}

function backend(config: BackendConfig): Backend {
  const b = createBackend(config);
  cleanups.push(() => b.close());
  return b;
}

const kSmall = {
  segmentBytes: 64 * 1024,
  maxBatchBytes: 8 * 1024,
  maxEventBytes: 8 * 1024,
  segmentMaxAgeMs: 50,
};
const kFast = { retry: { baseMs: 5, capMs: 40 }, breaker: { failureThreshold: 2, cooldownMs: 50 } };

async function open(opts: Parameters<typeof openSink>[0]): Promise<Sink> {
  const sink = await openSink(opts);
  cleanups.push(() => sink.close());
  return sink;
}

async function emitMany(sink: Sink, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await sink.emitBatch(Array.from({ length: 50 }, (_, k) => ({ tag, i: i + k, pad: 'p'.repeat(300) })));
  }
}

function drained(sink: Sink, names?: string[]): boolean {
  const st = sink.replicationStatus();
  if (!st) return false;
  return st.backends
    .filter((b) => !names || names.includes(b.name))
    .every((b) => b.lagSegments === 0 && b.replicatedSegments > 0);
}

/** Every sealed local segment is in `b` under its deterministic key, byte for byte, and nothing else is. */
async function expectReplicaEqualsLocal(dir: string, config: BackendConfig, nodeId: string): Promise<number> {
  const b = backend(config);
  const sealed = await listSealedSegments(dir);
  expect(sealed.length).toBeGreaterThan(0);
  const keys = sealed.map((s) => segmentObjectKey(config.prefix, nodeId, s.firstSeq, s.lastSeq));
  for (const [i, s] of sealed.entries()) {
    const remote = await b.get(keys[i] as string);
    expect(remote.equals(fs.readFileSync(s.path)), `${config.type} ${keys[i]}`).toBe(true);
  }
  expect(await b.list(`${config.prefix}/${nodeId}/`)).toEqual([...keys].sort());
  return sealed.length;
}

describe('replication of sealed segments', () => {
  it('round trip to S3, Azure, GCS and a directory: the bytes in every bucket equal the local sealed segments', async () => {
    tmp = new TempDir('ironlog-repl-');
    const c = await buckets();
    const dir = tmp.join('wal');
    const sink = await open({
      dir,
      nodeId: 'node-a',
      ...kSmall,
      replication: { quorum: 4, backends: [c.s3, c.azure, c.gcs, c.fs] },
    });
    await emitMany(sink, 1500, 'rt');
    await until(() => (sink.replicationStatus()?.backends[0]?.replicatedSegments ?? 0) >= 3, 60_000, 'segments sealed');
    await until(() => drained(sink), 60_000, 'replication drained');
    const st = sink.replicationStatus();
    expect(st?.healthy).toBe(true);
    expect(st?.backends.map((b) => b.name)).toEqual([
      `s3:repl-${bucketNo}`,
      `azure:repl-${bucketNo}`,
      `gcs:repl-${bucketNo}`,
      `fs:${tmp.join(`fs-repl-${bucketNo}`)}`,
    ]);
    await sink.close();
    const counts = [];
    for (const cfg of [c.s3, c.azure, c.gcs, c.fs]) counts.push(await expectReplicaEqualsLocal(dir, cfg, 'node-a'));
    expect(new Set(counts).size).toBe(1);
    // Complete segments are compacted into a watermark, so the manifest stays small.
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'replication-manifest.json'), 'utf8'));
    const sealed = await listSealedSegments(dir);
    expect(manifest.compacted.segments + manifest.segments.length).toBe(counts[0]);
    expect(manifest.compacted.throughSeq).toBe(sealed[sealed.length - 1]?.lastSeq);
    expect(manifest.segments).toEqual([]);
  });

  it("ack: 'replicated' resolves only once the event's segment is stored on the quorum", async () => {
    tmp = new TempDir('ironlog-repl-');
    const c = await buckets();
    const dir = tmp.join('wal');
    const sink = await open({
      dir,
      nodeId: 'node-q',
      ...kSmall,
      ack: 'replicated',
      replication: { quorum: 2, backends: [c.fs, c.gcs] },
    });
    const acks = await Promise.all([sink.emit({ a: 1 }), sink.emit({ a: 2 })]);
    const st = sink.replicationStatus();
    expect(st?.replicatedThroughSeq).toBeGreaterThanOrEqual(acks[1]?.seq ?? Infinity);
    const [batch] = [await sink.emitBatch([{ b: 1 }, { b: 2 }, { b: 3 }])];
    expect(sink.replicationStatus()?.replicatedThroughSeq).toBeGreaterThanOrEqual(batch[2]?.seq ?? Infinity);
    await sink.close();
    await expectReplicaEqualsLocal(dir, c.gcs, 'node-q');
  });

  it('network partition: emits keep succeeding, the breaker opens, lag grows; after healing the backlog drains', async () => {
    tmp = new TempDir('ironlog-repl-');
    const proxy: TcpProxy = await startTcpProxy(s3.port);
    cleanups.push(() => proxy.stop());
    const c = await buckets({ s3: proxy.endpoint });
    const dir = tmp.join('wal');
    proxy.setMode('drop');
    const sink = await open({
      dir,
      nodeId: 'node-p',
      ...kSmall,
      replication: { quorum: 1, backends: [c.s3, c.fs], ...kFast },
    });
    const s3Name = `s3:repl-${bucketNo}`;
    await emitMany(sink, 1500, 'partition');
    await until(
      () => {
        const b = sink.replicationStatus()?.backends.find((x) => x.name === s3Name);
        return (b?.breakerOpened ?? 0) >= 1 && (b?.lagSegments ?? 0) >= 3;
      },
      60_000,
      'breaker open and lag >= 3',
    );
    const during = sink.replicationStatus();
    const s3During = during?.backends.find((x) => x.name === s3Name);
    expect(s3During?.replicatedSegments).toBe(0);
    expect(s3During?.lastError?.code).toBe('ERR_IRONLOG_BACKEND');
    expect(during?.healthy).toBe(false);
    // The other backend was not blocked.
    await until(
      () => drained(sink, [`fs:${tmp.join(`fs-repl-${bucketNo}`)}`]),
      60_000,
      'fs drained during the partition',
    );
    // Emits still succeed during the partition.
    const ack = await sink.emit({ still: 'ok' });
    expect(ack.seq).toBeGreaterThan(1500);
    proxy.setMode('pass');
    await until(() => drained(sink), 60_000, 'backlog drained after healing');
    expect(sink.replicationStatus()?.backends.find((x) => x.name === s3Name)?.breaker).toBe('closed');
    await sink.close();
    await expectReplicaEqualsLocal(dir, c.s3, 'node-p');
  });

  it('Byzantine backend (200 but corrupted bytes) is caught and reported; a different object under the name is a tamper alert, never overwritten', async () => {
    tmp = new TempDir('ironlog-repl-');
    const byz: HttpProxy = await startHttpProxy(azure.port);
    cleanups.push(() => byz.stop());
    byz.corrupt = true;
    const c = await buckets({ azure: byz.endpoint });
    const dir = tmp.join('wal');
    // Plant a foreign object where the first segment will go on the directory backend.
    const fsb = backend(c.fs);
    const alerts: { code: string; backend: string }[] = [];
    const sink = await open({
      dir,
      nodeId: 'node-b',
      ...kSmall,
      replication: { quorum: 1, backends: [c.azure, c.fs, c.gcs] },
    });
    sink.replicationEvents?.on('alert', (err, name) => alerts.push({ code: err.code, backend: name }));
    // Find the first segment's key once it is sealed, but plant before the fs backend gets it: we
    // cannot race the replicator, so plant for a seq range we know the next sealed segment covers.
    await emitMany(sink, 100, 'byz');
    await until(
      () => (sink.replicationStatus()?.segmentsBelowQuorum ?? 1) === 0 && drained(sink, [`gcs:repl-${bucketNo}`]),
      60_000,
      'first segments',
    );
    const azName = `azure:repl-${bucketNo}`;
    await until(
      () => (sink.replicationStatus()?.backends.find((b) => b.name === azName)?.alerts ?? 0) > 0,
      60_000,
      'azure alert',
    );
    const az = sink.replicationStatus()?.backends.find((b) => b.name === azName);
    expect(az?.lastError?.code).toBe('ERR_IRONLOG_REPLICATION_VERIFY');
    expect(sink.replicationStatus()?.healthy).toBe(false);
    expect(alerts.some((a) => a.backend === azName && a.code === 'ERR_IRONLOG_REPLICATION_VERIFY')).toBe(true);
    expect(byz.corrupted).toBeGreaterThan(0);
    await sink.close();

    // Tamper: replace the fs replica of the first segment with other bytes, then re-run the upload from a fresh manifest.
    const sealed = await listSealedSegments(dir);
    const first = sealed[0];
    if (!first) throw new Error('no sealed segment');
    const key = segmentObjectKey('audit', 'node-b', first.firstSeq, first.lastSeq);
    const file = path.join(tmp.join(`fs-repl-${bucketNo}`), key);
    const forged = Buffer.from(fs.readFileSync(file));
    forged[200] = (forged[200] as number) ^ 1;
    fs.rmSync(file);
    fs.rmSync(`${file}.meta.json`);
    await fsb.put(key, forged, { sha256: (await import('../dist/backends/index.js')).sha256Hex(forged), metadata: {} });
    fs.rmSync(path.join(dir, 'replication-manifest.json'));
    const again = await open({ dir, nodeId: 'node-b', ...kSmall, replication: { quorum: 1, backends: [c.fs] } });
    const fsName = `fs:${tmp.join(`fs-repl-${bucketNo}`)}`;
    await until(
      () =>
        (again.replicationStatus()?.backends[0]?.alerts ?? 0) === 1 &&
        again.replicationStatus()?.backends[0]?.lagSegments === 1,
      60_000,
      'tamper alert',
    );
    const st = again.replicationStatus()?.backends[0];
    expect(st?.name).toBe(fsName);
    expect(st?.lastError?.code).toBe('ERR_IRONLOG_REPLICATION_TAMPER');
    expect(fs.readFileSync(file).equals(forged)).toBe(true);
    await again.close();
  });

  it("quorum 2 of 3 with one backend down still resolves ack: 'replicated'; with two down it waits and the status says why", async () => {
    tmp = new TempDir('ironlog-repl-');
    const pGcs = await startTcpProxy(gcs.port);
    const pS3 = await startTcpProxy(s3.port);
    cleanups.push(
      () => pGcs.stop(),
      () => pS3.stop(),
    );
    const c = await buckets({ gcs: pGcs.endpoint, s3: pS3.endpoint });
    pGcs.setMode('drop');
    const sink = await open({
      dir: tmp.join('wal'),
      nodeId: 'node-k',
      ...kSmall,
      ack: 'replicated',
      replication: { quorum: 2, backends: [c.s3, c.fs, c.gcs], ...kFast },
    });
    const ack = await sink.emit({ k: 1 });
    expect(ack.seq).toBe(1);
    pS3.setMode('drop');
    let resolved = false;
    const pending = sink.emit({ k: 2 }).then((a) => {
      resolved = true;
      return a;
    });
    await until(
      () => (sink.replicationStatus()?.reasons ?? []).some((r) => r.startsWith('quorum 2 cannot be met')),
      60_000,
      'quorum reason',
    );
    // The segment with seq 2 is sealed and on the fs backend only: not acknowledged.
    await until(
      () => sink.replicationStatus()?.backends.find((b) => b.type === 'fs')?.replicatedSegments === 2,
      60_000,
      'fs has seq 2',
    );
    expect(resolved).toBe(false);
    pS3.setMode('pass');
    expect((await pending).seq).toBe(2);
  });

  it('crash during a multipart upload (SIGKILL), restart: nothing missing, nothing duplicated, no orphan multipart upload', async () => {
    tmp = new TempDir('ironlog-repl-');
    const px = await startHttpProxy(s3.port);
    cleanups.push(() => px.stop());
    const multipart = s3rverMultipartInterceptor(s3.dataDir);
    let holding: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    px.intercept = (req) => {
      if (req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url)) {
        holding();
        return 'hold';
      }
      return multipart(req);
    };
    const c = await buckets({ s3: px.endpoint });
    const s3cfg = { ...c.s3, multipartThresholdBytes: 64 * 1024, multipartPartBytes: 64 * 1024 } as BackendConfig;
    const dir = tmp.join('wal');
    const replication = { quorum: 1, backends: [s3cfg], ...kFast };
    const child = spawnTracked(kChild, [dir, JSON.stringify(replication)]);
    cleanups.push(() => child.kill());
    await Promise.race([held, child.exited.then(() => Promise.reject(new Error(`child exited: ${child.stderr}`)))]);
    await child.kill();
    // The kill landed mid-multipart: an upload with one part is left on the server.
    expect(s3rverUploadDirs(s3.dataDir, `repl-${bucketNo}`).length).toBe(1);
    px.intercept = multipart;
    const sink = await open({
      dir,
      nodeId: 'crash-node',
      segmentBytes: 256 * 1024,
      maxBatchBytes: 16 * 1024,
      maxEventBytes: 16 * 1024,
      replication,
    });
    await until(() => drained(sink), 60_000, 'resumed uploads drained');
    await sink.close();
    const n = await expectReplicaEqualsLocal(dir, s3cfg, 'crash-node');
    expect(n).toBeGreaterThanOrEqual(2);
    expect(s3rverUploadDirs(s3.dataDir, `repl-${bucketNo}`)).toEqual([]);
    expect(px.requests.some((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toBe(true);
  });

  it('rejects invalid replication options with typed errors', async () => {
    tmp = new TempDir('ironlog-repl-');
    const dir = tmp.join('wal');
    await expect(openSink({ dir, ack: 'replicated' })).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_OPTION' });
    await expect(
      openSink({ dir, replication: { quorum: 3, backends: [{ type: 'fs', dir: tmp.join('x') }] } }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_OPTION', message: expect.stringContaining('quorum') });
    await expect(
      openSink({ dir, replication: { backends: [{ type: 's3' } as unknown as BackendConfig] } }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_OPTION', message: expect.stringContaining('bucket') });
    await expect(
      openSink({
        dir,
        replication: {
          backends: [
            { type: 'fs', dir: 'a' },
            { type: 'fs', dir: 'a' },
          ],
        },
      }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_OPTION', message: expect.stringContaining('unique') });
  });
});
