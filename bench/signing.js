// Signing on vs off (issue 10): `npm run build && node bench/signing.js`.
// 1. Durable emit throughput (1 producer, 256 in flight) and paced 10k/s ack p99, each with and
//    without `signing`, alternated per round (order flipped every round), same harness as
//    bench/run.js. Signing runs with checkpointIntervalMs 1000 so the checkpointer hashes and signs
//    inside every measured window (the default, 60 s, would mostly sign outside it).
// 2. `proveRecord` latency (warm) and `verifyLog` throughput on a signed WAL of
//    IRONLOG_BENCH_TLOG_RECORDS records (default 1,000,000).
// Knobs: IRONLOG_BENCH_SECONDS (3), IRONLOG_BENCH_WARMUP_SECONDS (0.5), IRONLOG_BENCH_ROUNDS (3),
// IRONLOG_BENCH_TLOG_RECORDS. Prints a table; writes nothing. Exit code 0.
import { performance } from 'node:perf_hooks';
import { kCoreUrl, kRepoRoot, loadCore } from './lib/core.js';
import { machineInfo, machineRows } from './lib/machine.js';
import { percentile } from './lib/stats.js';
import { createTmpRoot, waitForQuietDisk } from './lib/tmp.js';
import sinkEmit from './scenarios/sink-emit.js';
import sinkPaced from './scenarios/sink-paced.js';

function envNumber(name, fallback) {
  const v = Number(process.env[name]);
  return process.env[name] && Number.isFinite(v) && v > 0 ? v : fallback;
}

const measureSeconds = envNumber('IRONLOG_BENCH_SECONDS', 3);
const warmupSeconds = envNumber('IRONLOG_BENCH_WARMUP_SECONDS', 0.5);
const rounds = Math.round(envNumber('IRONLOG_BENCH_ROUNDS', 3));
const tlogRecords = Math.round(envNumber('IRONLOG_BENCH_TLOG_RECORDS', 1_000_000));

const core = await loadCore();
if (core.error) {
  console.error(`bench/signing.js: ${core.error}`);
  process.exit(0);
}
const { generateSignerKey } = await import(new URL('../compliance/note.js', kCoreUrl).href);
const keys = generateSignerKey('bench.example/log');
const signing = { key: keys.signerKey, checkpointIntervalMs: 1000 };

const tmp = createTmpRoot(kRepoRoot);
const machine = machineInfo(tmp);
console.log('ironlog signing benchmark');
for (const [k, v] of machineRows(machine)) console.log(`  ${`${k}:`.padEnd(26)} ${v}`);
console.log(`  ${'Config:'.padEnd(26)} ${rounds} rounds x ${measureSeconds} s (+${warmupSeconds} s warm-up)`);
waitForQuietDisk(tmp.root);

const ctx = { tmp, warmupMs: warmupSeconds * 1000, measureMs: measureSeconds * 1000, batchSizes: new Map() };
const plan = [
  [sinkEmit, { producers: 1, inFlight: 256 }],
  [sinkPaced, { rate: 10_000 }],
];
const results = new Map();
for (let round = 1; round <= rounds; round++) {
  for (const [scenario, params] of plan) {
    const modes = round % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
    for (const mode of modes) {
      process.env.IRONLOG_BENCH_SINK_OPTIONS = mode === 'on' ? JSON.stringify({ signing }) : '';
      const id = `${scenario.id(params)} signing ${mode}`;
      try {
        const r = await scenario.run(ctx, params);
        const list = results.get(id) ?? [];
        list.push(r);
        results.set(id, list);
        console.log(
          `[round ${round}/${rounds}] ${id.padEnd(34)} ${Math.round(r.eventsPerSec).toLocaleString('en-US').padStart(10)} ev/s  p50 ${r.latency.p50Ms.toFixed(3)}  p99 ${r.latency.p99Ms.toFixed(3)} ms`,
        );
      } catch (err) {
        console.log(`[round ${round}/${rounds}] ${id} FAILED: ${err?.message ?? err}`);
      }
    }
  }
}
process.env.IRONLOG_BENCH_SINK_OPTIONS = '';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Number.NaN;
};
console.log('\nMedians of the rounds:');
for (const [scenario, params] of plan) {
  const off = results.get(`${scenario.id(params)} signing off`) ?? [];
  const on = results.get(`${scenario.id(params)} signing on`) ?? [];
  const tOff = median(off.map((r) => r.eventsPerSec));
  const tOn = median(on.map((r) => r.eventsPerSec));
  const pOff = median(off.map((r) => r.latency.p99Ms));
  const pOn = median(on.map((r) => r.latency.p99Ms));
  console.log(
    `  ${scenario.id(params).padEnd(16)} throughput off ${Math.round(tOff).toLocaleString('en-US')} / on ${Math.round(tOn).toLocaleString('en-US')} ev/s (${((tOn / tOff) * 100).toFixed(1)}%), p99 off ${pOff.toFixed(3)} / on ${pOn.toFixed(3)} ms (${(pOn - pOff >= 0 ? '+' : '') + (pOn - pOff).toFixed(3)} ms)`,
  );
}

// 2. prove latency and verify throughput on a signed WAL.
const dir = tmp.newDir('tlog-prove');
const sink = await core.api.openSink({ dir, signing: { key: keys.signerKey } });
const { pack } = await import('msgpackr');
const batch = Array.from({ length: 1000 }, (_, i) =>
  pack({ i, user: `u${i % 97}`, action: 'read', pad: 'x'.repeat(40) }),
);
const t0 = performance.now();
for (let n = 0; n < tlogRecords; n += batch.length) await sink.emitEncodedBatch(batch);
const tWrite = performance.now() - t0;
const tc = performance.now();
await sink.close(); // the close checkpoint hashes whatever the interval ticks had not
const tClose = performance.now() - tc;
console.log(
  `\nSigned WAL of ${tlogRecords.toLocaleString('en-US')} records written in ${(tWrite / 1000).toFixed(1)} s; close (catch-up + close checkpoint) ${tClose.toFixed(0)} ms`,
);
const lat = [];
for (let i = 0; i < 200; i++) {
  const seq = 1 + Math.floor(Math.random() * tlogRecords);
  const s = performance.now();
  await core.api.proveRecord(dir, seq);
  if (i >= 20) lat.push(performance.now() - s); // the first ones warm the page cache and the JIT
}
lat.sort((a, b) => a - b);
console.log(
  `  proveRecord (warm, 180 random seqs): p50 ${percentile(lat, 0.5).toFixed(2)} ms, p99 ${percentile(lat, 0.99).toFixed(2)} ms, max ${lat[lat.length - 1].toFixed(2)} ms`,
);
for (const checkWal of [false, true]) {
  const s = performance.now();
  const r = await core.api.verifyLog(dir, { publicKey: keys.verifierKey, checkWal });
  const ms = performance.now() - s;
  console.log(
    `  verifyLog${checkWal ? ' + verifyWal' : ' (tree only)'}: ${r.valid ? 'valid' : 'INVALID'}, ${Math.round((r.records / ms) * 1000).toLocaleString('en-US')} records/s (${(ms / 1000).toFixed(1)} s)`,
  );
}
tmp.cleanup();
process.exit(0);
