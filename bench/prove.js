// Proof latency on a large tiled log: `npm run build && node bench/prove.js`.
//
// Builds a TileLog (C2SP hash tiles, src/compliance/tiles.ts) of IRONLOG_BENCH_PROVE_LEAVES
// leaves (default 10,000,000) in a temp dir: the leaf hashes of synthetic 200-byte entries,
// committed (durably: temp + fsync + rename + dir fsync per tile) every
// IRONLOG_BENCH_PROVE_COMMIT_LEAVES leaves (default 65,536). Then reopens it read-only, as an
// offline prover would, and measures warm inclusion proofs (p50/p99 over 1,000 random indexes,
// proof alone and proof + verify) and consistency proofs. Prints a summary and the JSON.
// Not part of `npm run bench` (the build alone takes minutes); figures, not a test.
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { kRepoRoot } from './lib/core.js';
import { machineInfo } from './lib/machine.js';
import { percentile } from './lib/stats.js';
import { createTmpRoot } from './lib/tmp.js';

function envInt(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`${name} must be an integer from ${min} to ${max}, got ${raw}`);
    process.exit(2);
  }
  return v;
}

const kLeaves = envInt('IRONLOG_BENCH_PROVE_LEAVES', 10_000_000, 2, 2 ** 40);
const kCommitLeaves = envInt('IRONLOG_BENCH_PROVE_COMMIT_LEAVES', 65_536, 1, 2 ** 30);
const kSamples = envInt('IRONLOG_BENCH_PROVE_SAMPLES', 1000, 10, 1_000_000);
const kWarmup = Math.min(kSamples, 200);
const kEntryBytes = 200;

async function loadCompliance() {
  const dist = path.join(kRepoRoot, 'dist', 'compliance');
  for (const f of ['merkle.js', 'tiles.js']) {
    if (!fs.existsSync(path.join(dist, f))) {
      console.error(`dist/compliance/${f} does not exist: run npm run build first`);
      process.exit(2);
    }
  }
  const merkle = await import(pathToFileURL(path.join(dist, 'merkle.js')).href);
  const tiles = await import(pathToFileURL(path.join(dist, 'tiles.js')).href);
  return { merkle, tiles };
}

function summarize(samplesMs) {
  const s = Float64Array.from(samplesMs).sort();
  let sum = 0;
  for (const v of s) sum += v;
  const r = (v) => Math.round(v * 1000) / 1000;
  return {
    n: s.length,
    p50Ms: r(percentile(s, 0.5)),
    p99Ms: r(percentile(s, 0.99)),
    maxMs: r(s[s.length - 1]),
    meanMs: r(sum / s.length),
  };
}

function countFiles(dir) {
  let files = 0;
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const sub = countFiles(p);
      files += sub.files;
      bytes += sub.bytes;
    } else {
      files++;
      bytes += fs.statSync(p).size;
    }
  }
  return { files, bytes };
}

async function main() {
  const { merkle, tiles } = await loadCompliance();
  const tmp = createTmpRoot(kRepoRoot);
  const machine = machineInfo(tmp);
  const dir = tmp.newDir('prove-tlog');
  console.log(`prove bench: ${kLeaves.toLocaleString('en-US')} leaves in ${dir} (${tmp.fsType.name}; ${tmp.reason})`);
  console.log(
    `node ${process.version}, ${machine.cpuModel}, ${machine.cores} cores, fdatasync p50 ${machine.fdatasync.p50Ms?.toFixed?.(2)} ms`,
  );

  // --- build -----------------------------------------------------------------------------------
  const log = tiles.TileLog.open(dir);
  const entry = Buffer.alloc(kEntryBytes, 0x61);
  let hashMs = 0;
  let appendMs = 0;
  let commitMs = 0;
  let commits = 0;
  const buildStart = performance.now();
  let lastReport = buildStart;
  for (let start = 0; start < kLeaves; start += kCommitLeaves) {
    const end = Math.min(kLeaves, start + kCommitLeaves);
    const t0 = performance.now();
    const batch = new Array(end - start);
    for (let i = start; i < end; i++) {
      entry.writeUIntBE(i, 0, 6); // a distinct entry per index
      batch[i - start] = merkle.leafHash(entry);
    }
    const t1 = performance.now();
    log.append(batch);
    const t2 = performance.now();
    log.commit();
    const t3 = performance.now();
    hashMs += t1 - t0;
    appendMs += t2 - t1;
    commitMs += t3 - t2;
    commits++;
    if (t3 - lastReport > 10_000) {
      lastReport = t3;
      const rate = end / ((t3 - buildStart) / 1000);
      console.log(`  ${end.toLocaleString('en-US')} leaves, ${Math.round(rate).toLocaleString('en-US')}/s`);
    }
  }
  const buildMs = performance.now() - buildStart;
  const rootAtBuild = log.root();
  log.close();
  const disk = countFiles(path.join(dir, 'tile'));

  // --- prove (read-only reopen, like an offline `prove`) -----------------------------------------
  const openStart = performance.now();
  const reader = tiles.TileLog.open(dir, { readOnly: true });
  const openMs = performance.now() - openStart;
  const size = reader.size;
  const root = reader.root();
  if (!root.equals(rootAtBuild)) throw new Error('root after reopen differs from the root at build');
  const firstStart = performance.now();
  reader.inclusionProof(randomInt(size));
  const firstProofMs = performance.now() - firstStart;

  const leafHashOf = (i) => {
    entry.writeUIntBE(i, 0, 6);
    return merkle.leafHash(entry);
  };
  for (let k = 0; k < kWarmup; k++) reader.inclusionProof(randomInt(size));
  const proveOnly = [];
  const proveAndVerify = [];
  let proofHashes = 0;
  for (let k = 0; k < kSamples; k++) {
    const i = randomInt(size);
    const lh = leafHashOf(i);
    const t0 = performance.now();
    const proof = reader.inclusionProof(i);
    const t1 = performance.now();
    merkle.verifyInclusion(lh, i, size, proof, root);
    const t2 = performance.now();
    proveOnly.push(t1 - t0);
    proveAndVerify.push(t2 - t0);
    proofHashes += proof.length;
  }
  const consistency = [];
  for (let k = 0; k < Math.min(kSamples, 200); k++) {
    const m = 1 + randomInt(size - 1);
    const t0 = performance.now();
    const proof = reader.consistencyProof(m);
    const root1 = reader.root(m);
    merkle.verifyConsistency(m, size, proof, root1, root);
    consistency.push(performance.now() - t0);
  }
  reader.close();

  const r1 = (v) => Math.round(v * 10) / 10;
  const report = {
    bench: 'prove',
    date: machine.date,
    machine: {
      os: machine.os,
      cpu: machine.cpuModel,
      cores: machine.cores,
      node: machine.node,
      tmpFs: tmp.fsType.name,
      fdatasyncP50Ms: machine.fdatasync.p50Ms,
    },
    config: { leaves: kLeaves, commitEveryLeaves: kCommitLeaves, entryBytes: kEntryBytes, samples: kSamples },
    build: {
      totalMs: Math.round(buildMs),
      leavesPerSec: Math.round(kLeaves / (buildMs / 1000)),
      leafHashMs: Math.round(hashMs),
      appendMs: Math.round(appendMs),
      commitMs: Math.round(commitMs),
      commits,
      tileFiles: disk.files,
      tileBytes: disk.bytes,
    },
    open: { readOnlyOpenMs: r1(openMs), firstProofMs: r1(firstProofMs) },
    inclusionProof: { ...summarize(proveOnly), avgHashes: r1(proofHashes / kSamples) },
    inclusionProofAndVerify: summarize(proveAndVerify),
    consistencyProofRootAndVerify: summarize(consistency),
    root: root.toString('base64'),
  };
  console.log(
    `build: ${report.build.totalMs} ms (${report.build.leavesPerSec.toLocaleString('en-US')} leaves/s; ` +
      `leaf hashes ${report.build.leafHashMs} ms, append ${report.build.appendMs} ms, ${commits} commits ${report.build.commitMs} ms), ` +
      `${disk.files} tile files, ${(disk.bytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(`read-only open: ${report.open.readOnlyOpenMs} ms, first proof ${report.open.firstProofMs} ms`);
  console.log(
    `inclusionProof (warm, ${kSamples} random indexes): p50 ${report.inclusionProof.p50Ms} ms, p99 ${report.inclusionProof.p99Ms} ms; ` +
      `with verify p50 ${report.inclusionProofAndVerify.p50Ms} ms, p99 ${report.inclusionProofAndVerify.p99Ms} ms`,
  );
  console.log(
    `consistencyProof + root + verify: p50 ${report.consistencyProofRootAndVerify.p50Ms} ms, p99 ${report.consistencyProofRootAndVerify.p99Ms} ms`,
  );
  console.log(JSON.stringify(report, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  });
}
