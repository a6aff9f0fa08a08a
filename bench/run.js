// ironlog benchmark harness: `npm run bench` (builds first) or `node bench/run.js`.
// Runs every scenario in alternated rounds, prints the machine and a table, writes
// bench/results/<date>.json + latest.json and the results section of docs/performance.md,
// and prints the issue's targets as PASS/FAIL lines. Exit code 0 regardless of the targets.
// Knobs (env): see bench/README.md.
import * as path from 'node:path';
import { calibrateHarness } from './lib/closed-loop.js';
import { benchSinkOptions, kRepoRoot, loadCore } from './lib/core.js';
import { kThreadCpuMethod } from './lib/cpu.js';
import { kEventBytes } from './lib/event.js';
import { machineInfo, machineRows } from './lib/machine.js';
import { kPacerMethod } from './lib/paced.js';
import {
  aggregate,
  checks,
  consoleTable,
  fmtMs,
  fmtRate,
  pacedFsyncNote,
  ratios,
  writeJson,
  writePerformanceDoc,
} from './lib/report.js';
import { median } from './lib/stats.js';
import { createTmpRoot, waitForQuietDisk } from './lib/tmp.js';
import envPacedFloor from './scenarios/env-paced-floor.js';
import fsAppend from './scenarios/fs-append-fdatasync.js';
import fsWrite from './scenarios/fs-write-fdatasync.js';
import httpBare from './scenarios/http-bare.js';
import httpServe from './scenarios/http-serve.js';
import lmdbPaced from './scenarios/lmdb-paced.js';
import lmdbPut from './scenarios/lmdb-put-flushed.js';
import sinkEmit from './scenarios/sink-emit.js';
import sinkEmitBatch from './scenarios/sink-emit-batch.js';
import sinkPaced from './scenarios/sink-paced.js';

const kTraceLegs = [
  ['emitToDrain', 'emit->drain'],
  ['drainToDurable', 'drain->durable'],
  ['durableToWake', 'durable->wake'],
];

/** One line per leg of a paced run's trace (see src/groupcommit/trace.ts). */
function traceLines(t) {
  return kTraceLegs.map(
    ([leg, name]) =>
      `${name.padEnd(16)} p50 ${fmtMs(t[leg].p50Ms)}  p99 ${fmtMs(t[leg].p99Ms)}  p99.9 ${fmtMs(t[leg].p999Ms)} ms  (${t[leg].count} samples)`,
  );
}

function envNumber(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`${name} must be a number from ${min} to ${max}, got ${raw}; using ${fallback}`);
    return fallback;
  }
  return v;
}

const config = {
  measureSeconds: envNumber('IRONLOG_BENCH_SECONDS', 3, 0.1, 600),
  warmupSeconds: envNumber('IRONLOG_BENCH_WARMUP_SECONDS', 0.5, 0, 60),
  rounds: Math.round(envNumber('IRONLOG_BENCH_ROUNDS', 3, 1, 50)),
  pacedRate: Math.round(envNumber('IRONLOG_BENCH_PACED_RATE', 10_000, 10, 1_000_000)),
  filter: process.env.IRONLOG_BENCH_FILTER || undefined,
  eventBytes: kEventBytes,
  sinkOptions: benchSinkOptions(),
  threadCpuMethod: kThreadCpuMethod,
  pacer: kPacerMethod,
  /** `--trace` (`npm run bench -- --trace`): the paced run's emit->drain->durable->wake split. */
  trace: process.argv.slice(2).includes('--trace'),
};
const writeDocs = process.env.IRONLOG_BENCH_DOCS === '1' || (process.env.IRONLOG_BENCH_DOCS !== '0' && !config.filter);

// The plan, in the order each round runs it: every sink scenario sits next to the yardsticks it
// is compared with, so a pair shares the same conditions. Fixed order, repeated per round. Run
// directories are only deleted at exit (lib/tmp.js: deleting large files stalls fdatasync here).
const rate = config.pacedRate;
const plan = [
  // Paced first: the most sensitive to the disk's state, so always right after the same neighbours.
  [sinkPaced, { rate }],
  [lmdbPaced, { rate }],
  [envPacedFloor, { rate }],
  [sinkEmit, { producers: 1, inFlight: 256 }],
  [lmdbPut, { inFlight: 256 }],
  [fsWrite, { batchOf: 'emit/1p/x256', fallbackBatch: 64 }],
  [sinkEmit, { producers: 1, inFlight: 1024 }],
  [lmdbPut, { inFlight: 1024 }],
  [fsWrite, { batchOf: 'emit/1p/x1024', fallbackBatch: 256 }],
  [sinkEmit, { producers: 2, inFlight: 256 }],
  [sinkEmit, { producers: 2, inFlight: 1024 }],
  [sinkEmit, { producers: 4, inFlight: 256 }],
  [sinkEmit, { producers: 4, inFlight: 1024 }],
  [sinkEmitBatch, { mode: 'emitBatch', batchSize: 100, inFlight: 16 }],
  [fsWrite, { batchOf: 'emitBatch/100x16', fallbackBatch: 800 }],
  [sinkEmitBatch, { mode: 'emitEncodedBatch', batchSize: 100, inFlight: 16 }],
  [fsWrite, { batchOf: 'emitEncodedBatch/100x16', fallbackBatch: 800 }],
  [fsAppend, {}],
  [httpServe, {}],
  [httpBare, {}],
].map(([scenario, params]) => ({ scenario, params, id: scenario.id(params), description: scenario.describe(params) }));

const filterRe = config.filter ? new RegExp(config.filter) : undefined;
const selected = plan.filter((p) => !filterRe || filterRe.test(p.id));

const tmp = createTmpRoot(kRepoRoot);
const machine = machineInfo(tmp);
config.harnessCalibration = await calibrateHarness();

console.log('ironlog benchmark');
for (const [k, v] of machineRows(machine)) console.log(`  ${`${k}:`.padEnd(26)} ${v}`);
console.log(
  `  ${'Config:'.padEnd(26)} ${config.rounds} rounds x ${config.measureSeconds} s (+${config.warmupSeconds} s warm-up), ` +
    `event ${config.eventBytes} B, thread CPU via ${config.threadCpuMethod}, pacer ${config.pacer}` +
    (config.filter ? `, filter /${config.filter}/` : '') +
    (Object.keys(config.sinkOptions).length ? `, sink options ${JSON.stringify(config.sinkOptions)}` : ''),
);
console.log(
  `  ${'Harness loop cost:'.padEnd(26)} ${config.harnessCalibration.usPerOp.toFixed(3)} us CPU per op (included in the producer CPU figures)`,
);
const quiet = waitForQuietDisk(tmp.root);
config.quietDiskWait = quiet;
console.log(
  `  ${'Disk settle:'.padEnd(26)} waited ${(quiet.waitedMs / 1000).toFixed(1)} s for a quiet disk` +
    (quiet.stalls ? ` (${quiet.stalls} fsync stalls, worst ${quiet.maxStallMs} ms)` : ''),
);
const core = await loadCore();
if (core.error) console.log(`  ${'Core:'.padEnd(26)} NOT AVAILABLE (${core.error}); sink scenarios are skipped`);
const estimate = selected.length * config.rounds * (config.measureSeconds + config.warmupSeconds + 0.4);
console.log(`  ${'Scenarios:'.padEnd(26)} ${selected.length} (about ${Math.ceil(estimate / 60)} min)\n`);

const ctx = {
  tmp,
  warmupMs: config.warmupSeconds * 1000,
  measureMs: config.measureSeconds * 1000,
  /** Latest writer figures per sink scenario id (the fs.write yardstick copies its batch size). */
  batchSizes: new Map(),
  trace: config.trace,
};
const entries = selected.map((p) => ({ id: p.id, kind: p.scenario.kind, description: p.description, rounds: [] }));
const runs = [];

for (let round = 1; round <= config.rounds; round++) {
  for (let i = 0; i < selected.length; i++) {
    const { scenario, params, id } = selected[i];
    const label = `[round ${round}/${config.rounds}] ${id}`;
    let entry;
    if (scenario.kind === 'sink' && core.error) {
      entry = { round, error: 'core not built' };
    } else {
      try {
        const result = await scenario.run(ctx, params);
        entry = { round, result };
        if (result.writer && Number.isFinite(result.writer.eventsPerFsync))
          ctx.batchSizes.set(id, { ...result.writer, round });
        const lat = result.latency;
        console.log(
          `${label.padEnd(70)} ${fmtRate(result.eventsPerSec).padStart(10)} ev/s  p50 ${fmtMs(lat.p50Ms)}  p99 ${fmtMs(lat.p99Ms)}  p99.9 ${fmtMs(lat.p999Ms)} ms`,
        );
        if (result.trace) for (const line of traceLines(result.trace)) console.log(`    ${line}`);
      } catch (err) {
        entry = { round, error: String(err?.message ?? err) };
        console.log(`${label.padEnd(70)} FAILED: ${entry.error}`);
        if (!err?.skip && process.env.IRONLOG_BENCH_DEBUG) console.error(err);
      }
    }
    entries[i].rounds.push(entry);
    runs.push({ id, ...entry });
  }
}

const summary = aggregate(entries);
const ratioList = ratios(entries);
const checkList = checks(summary, ratioList, config.harnessCalibration.usPerOp);
const report = {
  harness: 'ironlog bench/run.js',
  version: 1,
  machine,
  config,
  core: core.error ? { available: false, error: core.error } : { available: true },
  summary,
  ratios: ratioList,
  checks: checkList,
  runs,
};

console.log(`\nResults (median of ${config.rounds} rounds; latency in ms; batch scenarios: latency per batch)\n`);
console.log(consoleTable(summary));
const paced = summary.filter((x) => Number.isFinite(x.issueLagP99Ms));
if (paced.length) {
  console.log(
    '\nPaced runs, issue lag p99 (how late the scheduler itself issued; high = main thread stalled), medians:',
  );
  for (const x of paced) {
    console.log(`  ${x.id.padEnd(24)} ${fmtMs(x.issueLagP99Ms)} ms${pacedFsyncNote(x)}`);
  }
}
if (ratioList.length) {
  console.log('\nRatios (paired per round, median):');
  for (const r of ratioList)
    console.log(`  ${r.label.padEnd(62)} ${r.median.toFixed(2)}  [${r.perRound.map((x) => x.toFixed(2)).join(', ')}]`);
}
const traced = entries.filter((e) => e.rounds.some((r) => r.result?.trace));
if (traced.length) {
  console.log('\nTrace of the ack path (--trace; per leg, median over rounds of p50 / p99 / p99.9, ms):');
  for (const e of traced) {
    const ts = e.rounds.map((r) => r.result?.trace).filter(Boolean);
    const med = (leg, k) => median(ts.map((t) => t[leg][k]).filter(Number.isFinite));
    console.log(`  ${e.id}`);
    for (const [leg, name] of kTraceLegs)
      console.log(
        `    ${name.padEnd(16)} ${fmtMs(med(leg, 'p50Ms'))} / ${fmtMs(med(leg, 'p99Ms'))} / ${fmtMs(med(leg, 'p999Ms'))}`,
      );
  }
}
console.log('\nTargets (informative; exit code is 0 regardless):');
for (const c of checkList) console.log(`  ${c.status.padEnd(4)}  ${c.label}${c.shown ? `: ${c.shown}` : ''}`);

// A filtered run does not replace latest.json or the doc (they describe a full run).
const files = writeJson(path.join(kRepoRoot, 'bench', 'results'), report, { latest: writeDocs });
console.log(`\nWrote ${files.map((f) => path.relative(kRepoRoot, f)).join(', ')}`);
if (writeDocs) {
  const doc = path.join(kRepoRoot, 'docs', 'performance.md');
  writePerformanceDoc(doc, report);
  console.log(`Wrote ${path.relative(kRepoRoot, doc)} (results section)`);
} else {
  console.log('docs/performance.md left alone (filtered run; IRONLOG_BENCH_DOCS=1 forces it)');
}
tmp.cleanup();
// Exit explicitly: a failed scenario may have left a sink's worker behind.
process.exit(0);
