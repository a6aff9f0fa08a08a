/**
 * `ironlog replay` and `ironlog verify` reading a replicated multi-node history from a backend:
 * two sinks (two nodeIds) replicate to s3rver and a directory, then the real binary reads it back.
 */
import * as fs from 'node:fs';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, s3ClientConfig } from '../dist/backends/index.js';
import { openSink } from '../dist/main/index.js';
import { type Emulator, startS3rver } from './fixtures/emulators.js';
import { killChildren, runCli, spawnCli } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

const kCreds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** How the child finds its S3 credentials: the AWS SDK's default chain reads these. */
const kAwsEnv = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_EC2_METADATA_DISABLED: 'true',
};
const kBucket = 'cli-history';
const kT0 = Date.UTC(2026, 0, 1);

let s3: Emulator;
let client: S3Client;
let tmp: TempDir | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
  client = new S3Client(
    s3ClientConfig({ type: 's3', bucket: kBucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: kCreds }),
  );
  await client.send(new CreateBucketCommand({ Bucket: kBucket }));
});
afterEach(async () => {
  await killChildren();
  tmp?.dispose();
  tmp = undefined;
});
afterAll(async () => {
  client?.destroy();
  await s3?.stop();
});

interface Emitted {
  readonly nodeId: string;
  readonly seq: number;
  readonly event: { nodeId: string; i: number; pad: string };
}

interface PrintedRecord {
  readonly nodeId: string;
  readonly seq: number;
  readonly time: string;
  readonly event: unknown;
}

/**
 * Runs one node: `n` events stamped by a fake clock advancing `stepMs` per call, small segments
 * sealed by size and age, replicated to S3 and a directory; returns once everything is replicated.
 */
async function runNode(dir: string, nodeId: string, n: number, stepMs: number, fsDir: string): Promise<Emitted[]> {
  let now = kT0;
  const sink = await openSink({
    dir,
    nodeId,
    segmentBytes: 64 * 1024,
    maxBatchBytes: 8 * 1024,
    maxEventBytes: 8 * 1024,
    segmentMaxAgeMs: 30,
    clock: () => (now += stepMs),
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
        { type: 'fs', dir: fsDir, prefix: 'audit' },
      ],
    },
  });
  const out: Emitted[] = [];
  try {
    for (let i = 0; i < n; i += 20) {
      const events = Array.from({ length: Math.min(20, n - i) }, (_, k) => ({
        nodeId,
        i: i + k,
        pad: 'r'.repeat(500),
      }));
      const acks = await sink.emitBatch(events);
      for (const [k, a] of acks.entries()) out.push({ nodeId, seq: a.seq, event: events[k] as Emitted['event'] });
    }
    const last = out[out.length - 1]?.seq ?? 0;
    await until(() => (sink.replicationStatus()?.replicatedThroughSeq ?? 0) >= last, 60_000, `${nodeId} replicated`);
  } finally {
    await sink.close();
  }
  return out;
}

function parseNdjson(stdout: string): PrintedRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PrintedRecord);
}

/** Checks `printed` against what the nodes emitted: each node complete, in seq order, merged by time. */
function expectHistory(printed: readonly PrintedRecord[], emitted: readonly Emitted[]): void {
  for (const nodeId of ['node-a', 'node-b']) {
    const mine = printed.filter((r) => r.nodeId === nodeId);
    const want = emitted.filter((e) => e.nodeId === nodeId);
    expect(
      mine.map((r) => ({ seq: r.seq, event: r.event })),
      nodeId,
    ).toEqual(want.map((e) => ({ seq: e.seq, event: e.event })));
  }
  expect(printed.length).toBe(emitted.length);
  let ties = 0;
  for (let i = 1; i < printed.length; i++) {
    const p = printed[i - 1] as PrintedRecord;
    const r = printed[i] as PrintedRecord;
    const pt = Date.parse(p.time);
    const rt = Date.parse(r.time);
    // Merged by time, then nodeId (the clocks tick whole milliseconds, so ISO times are exact).
    expect(pt < rt || (pt === rt && p.nodeId <= r.nodeId), `${JSON.stringify(p)} before ${JSON.stringify(r)}`).toBe(
      true,
    );
    if (pt === rt && p.nodeId !== r.nodeId) ties++;
  }
  expect(ties).toBeGreaterThan(0);
}

describe('ironlog replay/verify from a replicated history', () => {
  it('replays and verifies s3:// and file:// sources; verify names a corrupted and a deleted object', async () => {
    tmp = new TempDir('ironlog-cli-remote-');
    const fsDir = tmp.join('replica');
    // node-a's clock ticks 1 ms per call, node-b's 2 ms: interleaved, with exact ties.
    const emitted = [
      ...(await runNode(tmp.join('a'), 'node-a', 300, 1, fsDir)),
      ...(await runNode(tmp.join('b'), 'node-b', 260, 2, fsDir)),
    ];
    const s3Url = `s3://${kBucket}/audit?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true&region=us-east-1`;
    const fileUrl = `file://${fsDir}?prefix=audit`;

    // replay --from <url>: a URL given as --from is the source.
    const replay = await runCli(['replay', '--from', s3Url], kAwsEnv);
    expect(replay.code, replay.stderr).toBe(0);
    const printed = parseNdjson(replay.stdout);
    expect(Object.keys(printed[0] ?? {})).toEqual(['nodeId', 'seq', 'time', 'event']);
    expectHistory(printed, emitted);

    // The same history from the directory replica, with --source.
    const fromFile = await runCli(['replay', '--source', fileUrl]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(parseNdjson(fromFile.stdout)).toEqual(printed);

    // `| head`: the reader of stdout is gone before anything is printed. The command exits 0 and
    // still removes its downloaded copy of the history (in a TMPDIR of its own here).
    const childTmp = tmp.join('child-tmp');
    fs.mkdirSync(childTmp);
    const piped = spawnCli(['replay', '--source', fileUrl], { TMPDIR: childTmp });
    piped.stdout?.destroy();
    const pipedCode = await new Promise<number | null>((resolve) => piped.once('exit', (c) => resolve(c)));
    expect(pipedCode).toBe(0);
    expect(fs.readdirSync(childTmp)).toEqual([]);

    // --source keeps --from/--to as times: a window of the merged history, as one JSON array.
    const t1 = printed[100]?.time as string;
    const t2 = printed[350]?.time as string;
    const window = await runCli(['replay', '--source', s3Url, '--from', t1, '--to', t2, '--format', 'json'], kAwsEnv);
    expect(window.code, window.stderr).toBe(0);
    const inWindow = printed.filter((r) => r.time >= t1 && r.time < t2);
    expect(inWindow.length).toBeGreaterThan(100);
    expect(JSON.parse(window.stdout)).toEqual(inWindow);

    // --nodes and the table format.
    const table = await runCli(['replay', '--source', fileUrl, '--nodes', 'node-b', '--format', 'table']);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^node\s+seq\s+time\s+event$/);
    expect(rows.length).toBe(1 + 260);
    expect(rows.slice(1).every((r) => r.startsWith('node-b '))).toBe(true);

    // verify: exit 0 on both sources, with a per-node summary.
    const good = await runCli(['verify', '--from', s3Url], kAwsEnv);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^valid: 2 node\(s\), 560 records, \d+ objects in s3:\/\//);
    expect(good.stdout).toMatch(/node-a: valid, 300 records, seqs 1-300/);
    const goodFile = await runCli(['verify', '--source', fileUrl, '--json']);
    expect(goodFile.code, goodFile.stderr).toBe(0);
    expect(JSON.parse(goodFile.stdout)).toMatchObject({ valid: true, records: 560, problems: [] });

    // Corrupt one object of node-a in the bucket (its metadata kept), delete one of node-b.
    const fsb = createBackend({ type: 'fs', dir: fsDir });
    const keysA = await fsb.list('audit/node-a/');
    const keysB = await fsb.list('audit/node-b/');
    await fsb.close();
    expect(keysA.length).toBeGreaterThanOrEqual(3);
    expect(keysB.length).toBeGreaterThanOrEqual(3);
    const victim = keysA[1] as string;
    const head = await client.send(new HeadObjectCommand({ Bucket: kBucket, Key: victim }));
    const got = await client.send(new GetObjectCommand({ Bucket: kBucket, Key: victim }));
    const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? new Uint8Array());
    expect(bytes.length).toBeGreaterThan(1000);
    bytes[700] = (bytes[700] as number) ^ 0x20;
    await client.send(new PutObjectCommand({ Bucket: kBucket, Key: victim, Body: bytes, Metadata: head.Metadata }));
    const deleted = keysB[1] as string;
    await client.send(new DeleteObjectCommand({ Bucket: kBucket, Key: deleted }));
    const [, deletedFirst, deletedLast] = /(\d{20})-(\d{20})\.wal$/.exec(deleted) ?? [];

    const bad = await runCli(['verify', '--source', s3Url], kAwsEnv);
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/^CORRUPT: 2 node\(s\)/);
    expect(bad.stdout).toContain(`in ${victim} at offset`);
    expect(bad.stdout).toContain(`missing-segment in ${deleted} (no such object)`);
    const badJson = await runCli(['verify', '--source', s3Url, '--json'], kAwsEnv);
    expect(badJson.code, badJson.stderr).toBe(1);
    const report = JSON.parse(badJson.stdout) as {
      valid: boolean;
      problems: Array<{ node: string; object: string; kind: string; seqFrom?: number; seqTo?: number }>;
    };
    expect(report.valid).toBe(false);
    expect(report.problems.some((p) => p.node === 'node-a' && p.object === victim)).toBe(true);
    expect(report.problems.filter((p) => p.object !== victim && p.node === 'node-a')).toEqual([]);
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        node: 'node-b',
        object: deleted,
        kind: 'missing-segment',
        seqFrom: Number(deletedFirst),
        seqTo: Number(deletedLast),
      }),
    );

    // replay refuses a history that does not check out (records before the damage are printed).
    const badReplay = await runCli(['replay', '--source', s3Url, '--nodes', 'node-a'], kAwsEnv);
    expect(badReplay.code).toBe(2);
    expect(badReplay.stderr).toMatch(/ERR_IRONLOG_REPLICATION_TAMPER: .*node-a/);
    // The directory replica was not touched and still verifies.
    expect((await runCli(['verify', '--source', fileUrl])).code).toBe(0);
  });

  it('usage and backend errors exit 2 with a typed code', async () => {
    tmp = new TempDir('ironlog-cli-remote-usage-');
    const url = `s3://no-such-bucket/audit?endpoint=${encodeURIComponent(s3.endpoint)}&forcePathStyle=true`;
    const both = await runCli(['replay', '--dir', tmp.path, '--source', `file://${tmp.path}`]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT: --dir and a source URL .* mutually exclusive/);
    const bothFrom = await runCli(['verify', '--dir', tmp.path, '--from', `file://${tmp.path}`]);
    expect(bothFrom.code).toBe(2);
    expect(bothFrom.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT/);
    const none = await runCli(['verify']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT: required option '--dir <dir>' or '--source <url>'/);
    const twice = await runCli(['replay', '--source', `file://${tmp.path}`, '--from', `file://${tmp.path}`]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT: give the source once/);
    const follow = await runCli(['replay', '--source', `file://${tmp.path}`, '--follow']);
    expect(follow.code).toBe(2);
    expect(follow.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT: --follow/);
    const scheme = await runCli(['verify', '--source', 'ftp://host/x']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT: .*unsupported scheme/);
    const backend = await runCli(['verify', '--source', url], kAwsEnv);
    expect(backend.code).toBe(2);
    expect(backend.stderr).toMatch(/ERR_IRONLOG_BACKEND/);
    // An ISO time is still a time for replay --from (here with a local directory that holds no WAL:
    // --allow-empty, since replay refuses an empty directory otherwise).
    const local = await runCli(['replay', '--dir', tmp.path, '--allow-empty', '--from', '2026-01-01T00:00:00Z']);
    expect(local.code, local.stderr).toBe(0);
    const help = await runCli(['replay', '--help']);
    expect(help.stdout).toContain('--source <url>');
    expect(help.stdout).toMatch(/ironlog replay --source 's3:\/\//);
    const vhelp = await runCli(['verify', '--help']);
    expect(vhelp.stdout).toMatch(/ironlog verify --source 's3:\/\//);
  });
});
