/**
 * Legal holds on the replicated copies, through the real SDKs: the requests carry the hold (S3
 * PutObjectLegalHold, Azure x-ms-legal-hold, GCS eventBasedHold) for exactly the segment objects
 * a hold covers, and versioning is read. s3rver, azurite and the GCS fixture do not enforce holds,
 * so (as test/backends.test.ts does for upload headers) the requests are what is checked; the
 * upload-time lock and hold headers are covered there.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, type BackendConfig, createBackend, s3ClientConfig, sha256Hex } from '../dist/backends/index.js';
import { applyRemoteHold } from '../dist/replication/remote-hold.js';
import { azuriteConnectionString, type Emulator, startAzurite, startS3rver } from './fixtures/emulators.js';
import { type HttpProxy, startHttpProxy } from './fixtures/fault-proxy.js';
import { type GcsServer, startGcsServer } from './fixtures/gcs-server.js';

let s3: Emulator;
let azure: Emulator;
let gcs: GcsServer;
const proxies: HttpProxy[] = [];
const backends: Backend[] = [];
const kCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const kKeys = [
  'p/n1/00000000000000000001-00000000000000000100.wal',
  'p/n1/00000000000000000101-00000000000000000200.wal',
  'p/n1/00000000000000000201-00000000000000000300.wal',
];

beforeAll(async () => {
  [s3, azure, gcs] = await Promise.all([startS3rver(), startAzurite(), startGcsServer()]);
  const client = new S3Client(
    s3ClientConfig({ type: 's3', bucket: 'x', endpoint: s3.endpoint, forcePathStyle: true, credentials: kCreds }),
  );
  await client.send(new CreateBucketCommand({ Bucket: 'holds' }));
  client.destroy();
  await BlobServiceClient.fromConnectionString(azuriteConnectionString(azure.endpoint))
    .getContainerClient('holds')
    .create();
  await new Storage({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket('holds');
});

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await Promise.all([s3?.stop(), azure?.stop(), gcs?.stop()]);
});

async function seeded(c: BackendConfig): Promise<Backend> {
  const b = createBackend(c);
  backends.push(b);
  for (const k of kKeys) {
    const body = randomBytes(300);
    await b.put(k, body, { sha256: sha256Hex(body), metadata: {} });
  }
  return b;
}

describe('legal hold on replicated objects', () => {
  it('S3: PutObjectLegalHold ON for the covered objects only, OFF on release; versioning read', async () => {
    const px = await startHttpProxy(s3.port);
    proxies.push(px);
    const b = await seeded({
      type: 's3',
      bucket: 'holds',
      endpoint: px.endpoint,
      forcePathStyle: true,
      credentials: kCreds,
    });
    px.requests.length = 0;
    // s3rver has no Object Lock (it answers 405): the proxy answers these calls as S3 does (200),
    // so the test sees every request the SDK sends for the hold, with its XML body.
    const bodies: string[] = [];
    px.intercept = (req, body) => {
      if (req.method !== 'PUT' || !req.url.includes('legal-hold')) return undefined;
      bodies.push(body.toString('utf8'));
      return { status: 200 };
    };
    const r = await applyRemoteHold(b, { fromSeq: 150, toSeq: 250 }, true);
    expect(r.objects).toEqual([kKeys[1], kKeys[2]]);
    const holds = px.requests.filter((q) => q.method === 'PUT' && q.url.includes('legal-hold'));
    expect(holds.map((q) => q.url.split('?')[0])).toEqual([`/holds/${kKeys[1]}`, `/holds/${kKeys[2]}`]);
    expect(bodies.every((x) => x.includes('<Status>ON</Status>'))).toBe(true);
    bodies.length = 0;
    await applyRemoteHold(b, { fromSeq: 1, toSeq: 1 }, false);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toContain('<Status>OFF</Status>');
    px.intercept = undefined;
    // The versioning check is a GET ?versioning on the bucket.
    const v = await (b.versioning as () => Promise<string>)();
    expect(['off', 'suspended', 'enabled', 'unknown']).toContain(v);
    expect(px.requests.some((r) => r.method === 'GET' && r.url.includes('versioning'))).toBe(true);
  });

  it('Azure: x-ms-legal-hold true / false on the covered blobs', async () => {
    const px = await startHttpProxy(azure.port);
    proxies.push(px);
    const b = await seeded({
      type: 'azure',
      connectionString: azuriteConnectionString(px.endpoint),
      container: 'holds',
    });
    px.requests.length = 0;
    await applyRemoteHold(b, { fromSeq: 1, toSeq: 100 }, true).catch(() => undefined);
    const on = px.requests.filter((r) => r.url.includes('comp=legalhold'));
    expect(on).toHaveLength(1);
    expect(on[0]?.url).toContain('00000000000000000001-00000000000000000100.wal');
    expect(on[0]?.headers['x-ms-legal-hold']).toBe('true');
    px.requests.length = 0;
    await applyRemoteHold(b, { fromSeq: 1, toSeq: 100 }, false).catch(() => undefined);
    expect(px.requests.find((r) => r.url.includes('comp=legalhold'))?.headers['x-ms-legal-hold']).toBe('false');
  });

  it('GCS: eventBasedHold patched on the covered objects; an fs backend has no hold (typed error)', async () => {
    const b = await seeded({ type: 'gcs', bucket: 'holds', apiEndpoint: gcs.endpoint, projectId: 'test' });
    gcs.requests.length = 0;
    const r = await applyRemoteHold(b, { fromSeq: 201 }, true);
    expect(r.objects).toEqual([kKeys[2]]);
    const patches = gcs.requests.filter((q) => q.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(decodeURIComponent(patches[0]?.url ?? '')).toContain(kKeys[2]);
    expect(patches[0]?.patchMetadata).toEqual({ eventBasedHold: true });
    expect(r.versioning).toBe('off');
    const fsb = createBackend({ type: 'fs', dir: '/tmp/ironlog-nohold-never-created' });
    backends.push(fsb);
    await expect(applyRemoteHold(fsb, {}, true)).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
  });
});
