// Replication benchmark: `npm run build && node bench/replication-throughput.mjs`.
//
// 1. Upload throughput per backend (MB/s): N sealed-segment-sized objects put one after another
//    through the Backend implementations (official SDKs) against local servers: s3rver, azurite,
//    the GCS JSON-API test fixture, a directory. Includes hashing and verification, as in
//    replication.
// 2. Replication lag while a sink runs at full speed with all four backends: the largest lag in
//    segments per backend during the run, and how long the backlog takes to drain afterwards.
//
// Local emulators are not the real services: these figures compare backends and catch
// regressions, they do not predict cloud throughput. Knobs: IRONLOG_BENCH_REPL_OBJECTS (default 8),
// IRONLOG_BENCH_REPL_OBJECT_MIB (8), IRONLOG_BENCH_REPL_SECONDS (8).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Storage } from '@google-cloud/storage';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));
const { createBackend, s3ClientConfig, sha256Hex } = await import(
  pathToFileURL(path.join(root, 'dist/backends/index.js')).href
);
const { openSink } = await import(pathToFileURL(path.join(root, 'dist/main/index.js')).href);

const objects = Number(process.env.IRONLOG_BENCH_REPL_OBJECTS ?? 8);
const objectMiB = Number(process.env.IRONLOG_BENCH_REPL_OBJECT_MIB ?? 8);
const seconds = Number(process.env.IRONLOG_BENCH_REPL_SECONDS ?? 8);
const creds = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-bench-repl-'));
const children = [];

function startProcess(args, re) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
  });
}

/** The GCS fixture is TypeScript (test/fixtures): transpile it next to a copy that imports dist. */
async function startGcs() {
  const src = fs
    .readFileSync(path.join(root, 'test/fixtures/gcs-server.ts'), 'utf8')
    .replace("'../../src/wal/crc32c.js'", `'${pathToFileURL(path.join(root, 'dist/wal/crc32c.js')).href}'`);
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText;
  const file = path.join(tmp, 'gcs-server.mjs');
  fs.writeFileSync(file, js);
  const { startGcsServer } = await import(pathToFileURL(file).href);
  return startGcsServer();
}

const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
console.log(`machine: ${machine}`);

let gcs;
try {
  const s3Dir = path.join(tmp, 's3rver');
  fs.mkdirSync(s3Dir);
  const [s3, azure, gcsServer] = await Promise.all([
    startProcess(
      [
        '--openssl-legacy-provider',
        'node_modules/s3rver/bin/s3rver.js',
        '-d',
        s3Dir,
        '-a',
        '127.0.0.1',
        '-p',
        '0',
        '--silent',
      ],
      /listening on 127\.0\.0\.1:(\d+)/,
    ),
    startProcess(
      [
        'node_modules/azurite/dist/src/blob/main.js',
        '--silent',
        '--inMemoryPersistence',
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        '0',
        '--disableTelemetry',
        '--skipApiVersionCheck',
        '--loose',
      ],
      /listens on http:\/\/127\.0\.0\.1:(\d+)/,
    ),
    startGcs(),
  ]);
  gcs = gcsServer;
  const conn = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=${azure}/devstoreaccount1;`;
  const s3c = new S3Client(
    s3ClientConfig({ type: 's3', bucket: 'b', endpoint: s3, forcePathStyle: true, credentials: creds }),
  );
  await s3c.send(new CreateBucketCommand({ Bucket: 'bench' }));
  s3c.destroy();
  await BlobServiceClient.fromConnectionString(conn).getContainerClient('bench').create();
  await new Storage({ apiEndpoint: gcs.endpoint, projectId: 'bench' }).createBucket('bench');
  const configs = [
    { type: 's3', bucket: 'bench', endpoint: s3, forcePathStyle: true, credentials: creds },
    { type: 'azure', connectionString: conn, container: 'bench' },
    { type: 'gcs', bucket: 'bench', apiEndpoint: gcs.endpoint, projectId: 'bench' },
    { type: 'fs', dir: path.join(tmp, 'fs-backend') },
  ];

  console.log(`\n1. upload throughput: ${objects} objects of ${objectMiB} MiB each, one at a time`);
  const throughput = {};
  for (const c of configs) {
    const b = createBackend(c);
    const bodies = Array.from({ length: objects }, () => randomBytes(objectMiB * 2 ** 20));
    const t0 = performance.now();
    for (const [i, body] of bodies.entries()) {
      await b.put(`tp/${i}.wal`, body, { sha256: sha256Hex(body), metadata: {} });
    }
    const s = (performance.now() - t0) / 1000;
    throughput[c.type] = (objects * objectMiB) / s;
    console.log(`  ${c.type.padEnd(6)} ${throughput[c.type].toFixed(1).padStart(7)} MiB/s`);
    await b.close();
  }

  const payload = Array.from({ length: 100 }, (_, i) => ({ user: `u${i}`, action: 'write', pad: 'x'.repeat(200) }));
  const runLanes = async (target) => {
    const until = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          await target.emitBatch(payload);
          n += payload.length;
        }
      }),
    );
    return n;
  };
  const base = await openSink({ dir: path.join(tmp, 'wal-base'), segmentBytes: 8 * 2 ** 20, segmentMaxAgeMs: 1000 });
  const baseEvents = await runLanes(base);
  await base.close();
  console.log(`\n2. baseline, no replication: ${Math.round(baseEvents / seconds)} durable events/s`);
  console.log(`\n3. sink at full speed for ${seconds} s, replicating to all four (segments 8 MiB, max age 1 s)`);
  const sink = await openSink({
    dir: path.join(tmp, 'wal'),
    segmentBytes: 8 * 2 ** 20,
    segmentMaxAgeMs: 1000,
    replication: { quorum: 2, backends: configs.map((c) => ({ ...c, prefix: 'lag' })) },
  });
  const maxLag = {};
  const sample = setInterval(() => {
    for (const b of sink.replicationStatus().backends) maxLag[b.type] = Math.max(maxLag[b.type] ?? 0, b.lagSegments);
  }, 100);
  const events = await runLanes(sink);
  const stopped = performance.now();
  const wal = sink.stats();
  const sealedAtStop =
    sink.replicationStatus().backends[0].replicatedSegments + sink.replicationStatus().backends[0].lagSegments;
  while (sink.replicationStatus().backends.some((b) => b.lagSegments > 0)) await new Promise((r) => setTimeout(r, 50));
  const drainS = (performance.now() - stopped) / 1000;
  clearInterval(sample);
  const st = sink.replicationStatus();
  await sink.close();
  console.log(`  events: ${events} (${Math.round(events / seconds)}/s durable), WAL bytes ${wal.bytes ?? 'n/a'}`);
  console.log('  (the emulators and the in-process GCS fixture share the same 2 cores with the sink)');
  console.log(
    `  sealed segments at stop: ${sealedAtStop}; backlog drained ${drainS.toFixed(2)} s after the producers stopped`,
  );
  for (const b of st.backends) {
    console.log(
      `  ${b.type.padEnd(6)} max lag ${String(maxLag[b.type] ?? 0).padStart(3)} segments, replicated ${b.replicatedSegments}`,
    );
  }
  const out = {
    date: new Date().toISOString(),
    machine,
    objects,
    objectMiB,
    throughputMiBps: throughput,
    baselineEventsPerSecond: baseEvents / seconds,
    sink: {
      seconds,
      events,
      eventsPerSecond: events / seconds,
      sealedAtStop,
      drainSeconds: drainS,
      maxLagSegments: maxLag,
    },
  };
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results/replication-latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log('\nwrote bench/results/replication-latest.json');
} finally {
  for (const c of children) c.kill('SIGKILL');
  await gcs?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
