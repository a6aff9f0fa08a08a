/**
 * The signed transparency log replicated with the segments: a real sink (writer, checkpointer and
 * replicator workers) replicating to s3rver and a directory, then the real `ironlog` CLI verifying
 * and proving from the buckets (`verify --source --public-key`, `prove --source`), and attacks on
 * the replicated copy. `npm run build` first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, s3ClientConfig } from '../dist/backends/index.js';
import { readLogEntries } from '../dist/compliance/entries.js';
import { generateSignerKey } from '../dist/compliance/note.js';
import { TileLog } from '../dist/compliance/tiles.js';
import { type CheckpointInfo, openSink } from '../dist/main/index.js';
import { segmentObjectKey } from '../dist/replication/naming.js';
import { syncTlog } from '../dist/replication/tlog-sync.js';
import { readU64 } from '../dist/wal/bytes.js';
import { WalWriter } from '../dist/wal/writer.js';
import { type Emulator, startS3rver } from './fixtures/emulators.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

const kCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const kAwsEnv = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' };
const kBucket = 'tlog-history';
const keys = generateSignerKey('example.com/replicated');
const kEvents = 600;

let s3: Emulator;
let client: S3Client;
let base: TempDir;
/** The bucket directory of the fs backend (as the sink left it). */
let fsBucket: string;
/** The sink's WAL directory (as it left it). */
let walDir: string;
const temps: TempDir[] = [];

function tempDir(): TempDir {
  const t = new TempDir('ironlog-tlog-repl-');
  temps.push(t);
  return t;
}

const s3Url = (): string => `s3://${kBucket}/audit?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;

function walFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** Files under `dir`, relative with `/`, sorted (no metadata sidecars). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (!e.name.endsWith('.meta.json')) out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

interface LogJson {
  valid: boolean;
  nodes: Array<{
    nodeId: string;
    valid: boolean;
    entries: number;
    checkpoints: number;
    tlogObjects: number;
    problems: Array<{ kind: string; message: string; counter?: number }>;
  }>;
}

async function verifySource(url: string): Promise<{ code: number | null; json: LogJson; stdout: string }> {
  const r = await runCli(['verify', '--source', url, '--public-key', keys.verifierKey, '--json'], kAwsEnv);
  expect(r.stderr).toBe('');
  return { code: r.code, json: JSON.parse(r.stdout) as LogJson, stdout: r.stdout };
}

/** Runs a signing, replicating sink until its last checkpoint over every record is in both buckets. */
async function runSignedNode(
  dir: string,
  bucketDir: string,
  extra: Record<string, unknown> = {},
  nodeId = 'node-a',
): Promise<{ last: number }> {
  const sink = await openSink({
    dir,
    nodeId,
    segmentBytes: 64 * 1024,
    segmentMaxAgeMs: 200,
    signing: { key: keys.signerKey, checkpointIntervalMs: 1000 },
    replication: {
      quorum: 2,
      backends: [
        {
          type: 's3',
          bucket: kBucket,
          prefix: 'audit',
          endpoint: s3.endpoint,
          forcePathStyle: true,
          credentials: kCreds,
        },
        { type: 'fs', dir: bucketDir, prefix: 'audit' },
      ],
      ...extra,
    },
  });
  const checkpoints: CheckpointInfo[] = [];
  sink.events.on('checkpoint', (c) => checkpoints.push(c));
  let last = 0;
  try {
    for (let i = 0; i < kEvents; i += 20) {
      const acks = await sink.emitBatch(Array.from({ length: 20 }, (_, k) => ({ i: i + k, pad: 'r'.repeat(300) })));
      last = acks[acks.length - 1]?.seq ?? last;
    }
    // The open segment seals by age; its seal checkpoint covers every record.
    await until(() => checkpoints.some((c) => c.throughSeq >= last), 30_000, 'a checkpoint over every record');
    const cover = checkpoints.find((c) => c.throughSeq >= last) as CheckpointInfo;
    await until(
      () => {
        const st = sink.replicationStatus();
        return (
          (st?.replicatedThroughSeq ?? 0) >= last &&
          (st?.backends ?? []).every((b) => b.tlogReplicatedThroughCounter >= cover.counter)
        );
      },
      60_000,
      'segments and tlog replicated',
    );
  } finally {
    await sink.close();
  }
  return { last };
}

beforeAll(async () => {
  s3 = await startS3rver();
  client = new S3Client(
    s3ClientConfig({ type: 's3', bucket: kBucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: kCreds }),
  );
  await client.send(new CreateBucketCommand({ Bucket: kBucket }));
  base = new TempDir('ironlog-tlog-repl-base-');
  walDir = base.join('wal');
  fsBucket = base.join('bucket');
  await runSignedNode(walDir, fsBucket);
}, 180_000);

afterEach(async () => {
  await killChildren();
});

afterAll(async () => {
  for (const t of temps) t.dispose();
  base?.dispose();
  client?.destroy();
  await s3?.stop();
});

/** A copy of the fs bucket to attack. */
function copyOfBucket(): string {
  const d = tempDir().join('bucket');
  fs.cpSync(fsBucket, d, { recursive: true });
  return d;
}

describe('tlog replication: layout', () => {
  it('the bucket holds a static C2SP tlog-tiles log under {prefix}/{nodeId}/tlog/, beside the segments', () => {
    const files = filesUnder(path.join(fsBucket, 'audit', 'node-a'));
    const tlog = files.filter((f) => f.startsWith('tlog/')).map((f) => f.slice(5));
    expect(tlog).toContain('checkpoint');
    expect(tlog).toContain('tiles-state');
    expect(tlog).toContain('index');
    expect(tlog.some((f) => /^tile\/0\/\d{3}(\.p\/\d+)?$/.test(f))).toBe(true);
    expect(tlog).toContain('checkpoints/00000000000000000001.note');
    expect(tlog).toContain('checkpoints/00000000000000000001.time');
    // `checkpoint` is the last numbered checkpoint the bucket holds, byte for byte.
    const notes = tlog.filter((f) => f.endsWith('.note')).sort();
    const latest = fs.readFileSync(path.join(fsBucket, 'audit', 'node-a', 'tlog', 'checkpoint'), 'utf8');
    expect(latest).toBe(
      fs.readFileSync(path.join(fsBucket, 'audit', 'node-a', 'tlog', notes[notes.length - 1] as string), 'utf8'),
    );
    // Every full tile in the bucket is the local one, byte for byte.
    for (const f of tlog.filter((t) => t.startsWith('tile/'))) {
      const local = path.join(walDir, 'tlog', ...f.split('/'));
      if (fs.existsSync(local)) {
        expect(fs.readFileSync(path.join(fsBucket, 'audit', 'node-a', 'tlog', ...f.split('/')))).toEqual(
          fs.readFileSync(local),
        );
      }
    }
    expect(files.filter((f) => f.endsWith('.wal')).length).toBeGreaterThanOrEqual(2);
  });
});

describe('tlog replication: the sync step', () => {
  const localCounters = (): number =>
    fs.readdirSync(path.join(walDir, 'tlog', 'checkpoints')).filter((f) => f.endsWith('.note')).length;
  const task = (bucket: string) =>
    ({
      kind: 'tlog',
      backend: { type: 'fs', dir: bucket, prefix: 'audit' },
      dir: walDir,
      nodeId: 'node-a',
      fromSize: 0,
      fromCounter: 0,
      throughCounter: localCounters(),
    }) as const;

  it('is idempotent from scratch (identical objects count as present), and never overwrites a changed tile', async () => {
    const bucket = copyOfBucket();
    const backend = createBackend({ type: 'fs', dir: bucket, prefix: 'audit' });
    const again = await syncTlog(backend, task(bucket));
    expect(again).toMatchObject({ ok: true, counter: localCounters() });
    expect(again.ok && again.present).toBeGreaterThan(3);
    const tile = path.join(bucket, 'audit', 'node-a', 'tlog', 'tile', '0', '000');
    const changed = fs.readFileSync(tile);
    changed[5] = (changed[5] as number) ^ 1;
    fs.writeFileSync(tile, changed);
    const res = await syncTlog(backend, task(bucket));
    expect(res.ok).toBe(false);
    expect(!res.ok && res.error.code).toBe('ERR_IRONLOG_REPLICATION_TAMPER');
    expect(fs.readFileSync(tile)).toEqual(changed); // the evidence stays
    await backend.close();
  });
});

describe('tlog replication: verify --source and prove --source', () => {
  it('a replicated history verifies with the public key, from the directory backend and from s3rver', async () => {
    for (const url of [`file://${fsBucket}?prefix=audit`, s3Url()]) {
      const r = await verifySource(url);
      expect(r.json.nodes.map((n) => n.problems)).toEqual([[]]);
      expect(r.code, url).toBe(0);
      expect(r.json.valid).toBe(true);
      expect(r.json.nodes[0]?.entries).toBe(kEvents);
      expect(r.json.nodes[0]?.tlogObjects).toBeGreaterThan(5);
    }
    const text = await runCli(['verify', '--source', s3Url(), '--public-key', keys.verifierKey], kAwsEnv);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^valid: 1 node\(s\)/);
  });

  it('prove --source gives a proof that verify-proof accepts', async () => {
    const t = tempDir();
    const r = await runCli(['prove', '--source', s3Url(), '--seq', '123'], kAwsEnv);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = t.join('record.proof');
    fs.writeFileSync(file, r.stdout);
    const v = await runCli(['verify-proof', '--proof', file, '--public-key', keys.verifierKey]);
    expect(v.code).toBe(0);
    const j = await runCli([
      'prove',
      '--source',
      `file://${fsBucket}?prefix=audit`,
      '--node',
      'node-a',
      '--seq',
      '7',
      '--json',
    ]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ seq: 7, index: 6 });
  });
});

describe('tlog replication: attacks on the replicated copy', () => {
  it('a forged segment in the bucket (every CRC, chain hash, seal and SHA-256 metadata recomputed) is caught', async () => {
    const bucket = copyOfBucket();
    const nodeDir = path.join(bucket, 'audit', 'node-a');
    // The attacker rewrites record 100 (same length) and rebuilds every segment with the WAL
    // writer itself, then replaces the segment objects and their metadata.
    const forged = tempDir().join('forged');
    const w = WalWriter.open({
      dir: forged,
      nodeId: 'node-a',
      segmentBytes: 64 * 1024,
      segmentMaxAgeMs: 3_600_000,
      zeroFillAheadBytes: 0,
    });
    let n = 0;
    for await (const batch of readLogEntries(walDir)) {
      for (const e of batch) {
        const frame = Buffer.from(e.bytes);
        const payload = frame.subarray(32);
        if (e.seq === 100) payload[payload.indexOf(Buffer.from('rrrr'))] = 's'.charCodeAt(0);
        w.batch.addRecord(e.seq, readU64(frame, 24), frame[9] as number, payload, 0, payload.length);
        if (++n % 20 === 0) {
          w.appendBatch();
          w.sync();
        }
      }
    }
    w.seal();
    w.close();
    for (const f of fs.readdirSync(nodeDir)) if (f.includes('.wal')) fs.rmSync(path.join(nodeDir, f));
    const { createHash } = await import('node:crypto');
    for (const f of walFiles(forged)) {
      const body = fs.readFileSync(path.join(forged, f));
      const seqs: number[] = [];
      for await (const batch of readLogEntries(forged)) for (const e of batch) seqs.push(e.seq);
      const first = Number(f.slice(0, 20));
      const inFile = seqs.filter((s) => s >= first);
      const next = walFiles(forged).find((g) => Number(g.slice(0, 20)) > first);
      const lastSeq = next === undefined ? (inFile[inFile.length - 1] as number) : Number(next.slice(0, 20)) - 1;
      const key = segmentObjectKey('audit', 'node-a', first, lastSeq);
      fs.writeFileSync(path.join(bucket, key), body);
      fs.writeFileSync(
        path.join(bucket, `${key}.meta.json`),
        JSON.stringify({ 'ironlog-sha256': createHash('sha256').update(body).digest('hex') }),
      );
    }
    const plain = await runCli(['verify', '--source', `file://${bucket}?prefix=audit`]);
    expect(plain.code).toBe(0); // without the key the forgery passes...
    const r = await verifySource(`file://${bucket}?prefix=audit`);
    expect(r.code).toBe(1); // ...with it, the checkpoints disagree with the records
    const problems = r.json.nodes[0]?.problems ?? [];
    expect(problems.map((p) => p.kind)).toContain('root-mismatch');
    expect(problems.find((p) => p.kind === 'root-mismatch')?.message).toMatch(
      /the WAL differs from what the key signed/,
    );
  });

  it('a deleted latest checkpoint (tlog/checkpoint) in the directory backend is caught', async () => {
    const bucket = copyOfBucket();
    fs.rmSync(path.join(bucket, 'audit', 'node-a', 'tlog', 'checkpoint'));
    const r = await verifySource(`file://${bucket}?prefix=audit`);
    expect(r.code).toBe(1);
    expect(r.json.nodes[0]?.problems).toContainEqual(expect.objectContaining({ kind: 'latest-checkpoint' }));
  });

  it('a deleted numbered checkpoint in s3rver is caught (this test changes the shared bucket: it runs last)', async () => {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: kBucket, Prefix: 'audit/node-a/tlog/checkpoints/' }),
    );
    const notes = (listed.Contents ?? []).map((o) => o.Key as string).filter((k) => k.endsWith('.note'));
    expect(notes.length).toBeGreaterThanOrEqual(2);
    await client.send(new DeleteObjectCommand({ Bucket: kBucket, Key: notes.sort()[0] as string }));
    const r = await verifySource(s3Url());
    expect(r.code).toBe(1);
    expect(r.json.nodes[0]?.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint-sequence' }));
  });
});

describe('verify --public-key on a WAL pruned by local retention', () => {
  it('says the prefix is pruned (exit 1), checks what is left through the tiles with --allow-pruned-start, and the full history from the source', async () => {
    const t = tempDir();
    const dir = t.join('wal');
    const bucket = t.join('bucket');
    await runSignedNode(dir, bucket, { localRetention: { deleteAfterMs: 0 } }, 'node-p');
    // Reopen without retention and add records, so the local WAL keeps some beside the pruned ones.
    const sink = await openSink({ dir, nodeId: 'node-p', signing: { key: keys.signerKey } });
    for (let i = 0; i < 5; i++) await sink.emitBatch(Array.from({ length: 10 }, (_, k) => ({ more: i * 10 + k })));
    await sink.close();
    const first = Number((walFiles(dir)[0] as string).slice(0, 20));
    expect(first).toBeGreaterThan(1); // retention really deleted the oldest segments

    const strict = await runCli(['verify', '--dir', dir, '--public-key', keys.verifierKey, '--json']);
    expect(strict.stderr).toBe('');
    expect(strict.code).toBe(1);
    const sj = JSON.parse(strict.stdout) as { valid: boolean; problems: { kind: string; message: string }[] };
    // The tlog check names the pruned prefix.
    // verifyWal reports the missing start twice: as a missing link and as the seqs it loses.
    expect(sj.problems.map((p) => p.kind)).toEqual(['pruned-start', 'wal', 'wal']);
    expect(sj.problems[1]?.message).toMatch(/^missing-segment /);
    expect(sj.problems[2]?.message).toContain(`seqs 1..${first - 1} (${first - 1}) are lost`);
    expect(sj.problems[0]?.message).toMatch(new RegExp(`seqs 1-${first - 1} .*not checked.*--source`));

    const partial = await runCli(['verify', '--dir', dir, '--public-key', keys.verifierKey, '--allow-pruned-start']);
    expect(partial.code, partial.stdout).toBe(0);
    expect(partial.stdout).toMatch(new RegExp(`^valid \\(pruned start\\): ${kEvents + 50 - (first - 1)} entries`));
    expect(partial.stdout).toContain(`pruned: seqs 1-${first - 1}`);

    // The bucket holds the whole history: the full check passes there.
    const full = await verifySource(`file://${bucket}?prefix=audit`);
    expect(full.code, JSON.stringify(full.json.nodes[0]?.problems)).toBe(0);

    // An attacker who rewrites the tiles consistently (one pruned leaf changed, every parent and
    // tiles-state recomputed) is caught: the tiles no longer give the signed roots.
    const old = TileLog.open(path.join(dir, 'tlog'), { readOnly: true });
    const leaves = Array.from({ length: old.size }, (_, i) => old.subtreeHash(0, i));
    old.close();
    (leaves[3] as Buffer)[0] ^= 1;
    const rebuilt = t.join('rebuilt');
    const forged = TileLog.open(rebuilt);
    forged.append(leaves);
    forged.commit();
    forged.close();
    fs.rmSync(path.join(dir, 'tlog', 'tile'), { recursive: true });
    fs.cpSync(path.join(rebuilt, 'tile'), path.join(dir, 'tlog', 'tile'), { recursive: true });
    fs.copyFileSync(path.join(rebuilt, 'tiles-state'), path.join(dir, 'tlog', 'tiles-state'));
    const caught = await runCli([
      'verify',
      '--dir',
      dir,
      '--public-key',
      keys.verifierKey,
      '--allow-pruned-start',
      '--json',
    ]);
    expect(caught.code).toBe(1);
    const cj = JSON.parse(caught.stdout) as { problems: { kind: string; message: string }[] };
    expect(cj.problems.map((p) => p.kind)).toContain('root-mismatch');
    expect(cj.problems.find((p) => p.kind === 'root-mismatch')?.message).toMatch(/the stored tiles give/);
  });
});
