// Per-record checksum and Merkle-leaf hash candidates (issue 15): `node bench/hash-choices.mjs`
// after `npm run build`. Same process, alternated A/B per round, median over rounds, and the
// per-round ratios, because absolute figures drift on a shared VM. Prints, writes nothing.
//   checksum of one WAL record (232 B: a 200 B event + its frame): the JS CRC-32C the WAL uses,
//     xxhash-wasm h64Raw (xxhash64, returns a BigInt), zlib.crc32 (plain CRC-32, reference);
//   RFC 6962 leaf hash SHA-256(0x00 || entry) of a 232 B entry: the landed leafHash
//     (crypto.hash one-shot), createHash per call, hash-wasm's reusable createSHA256() hasher.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { createSHA256 } from 'hash-wasm';
import xxhash from 'xxhash-wasm';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
const { crc32c } = await import(dist('wal/crc32c.js'));
const { leafHash } = await import(dist('compliance/merkle.js'));

const kRecord = 232;
const kCount = 4096;
const rounds = Number(process.env.IRONLOG_BENCH_ROUNDS ?? 7);
const msPerCase = Number(process.env.IRONLOG_BENCH_CASE_MS ?? 300);
const buf = Buffer.alloc(kRecord * kCount);
for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
const slices = Array.from({ length: kCount }, (_, i) => buf.subarray(i * kRecord, (i + 1) * kRecord));

const { h64Raw } = await xxhash();
const sha = await createSHA256();
const prefix = new Uint8Array([0]);
let sink = 0;

const cases = {
  checksum: {
    'crc32c (JS, landed)': (i) => {
      sink ^= crc32c(buf, i * kRecord, (i + 1) * kRecord);
    },
    'xxhash-wasm h64Raw': (i) => {
      sink ^= Number(h64Raw(slices[i]) & 0xffn);
    },
    'zlib.crc32 (CRC-32, ref)': (i) => {
      sink ^= zlib.crc32(slices[i]);
    },
  },
  leaf: {
    'leafHash (crypto.hash, landed)': (i) => {
      sink ^= leafHash(slices[i])[0];
    },
    'createHash per call': (i) => {
      sink ^= createHash('sha256').update(prefix).update(slices[i]).digest()[0];
    },
    'hash-wasm createSHA256 reused': (i) => {
      sha.init();
      sha.update(prefix);
      sha.update(slices[i]);
      sink ^= sha.digest('binary')[0];
    },
  },
};

function time(fn) {
  const end = performance.now() + msPerCase;
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t < end) {
    for (let i = 0; i < kCount; i++) fn(i);
    n += kCount;
    t = performance.now();
  }
  return ((t - t0) * 1e6) / n; // ns per op
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`hash choices: ${rounds} rounds x ${msPerCase} ms per case, ${kRecord} B inputs, Node ${process.version}`);
for (const [group, fns] of Object.entries(cases)) {
  const names = Object.keys(fns);
  for (const n of names) time(fns[n]); // warm-up
  const per = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) per[n].push(time(fns[n]));
  }
  const base = names[0];
  console.log(`\n${group}: ns per ${kRecord} B input (median over rounds), ratio to ${base} per round`);
  for (const n of names) {
    const ratios = per[n].map((v, i) => v / per[base][i]);
    console.log(
      `  ${n.padEnd(32)} ${median(per[n]).toFixed(0).padStart(6)} ns   x${median(ratios).toFixed(2)}  [${ratios.map((x) => x.toFixed(2)).join(', ')}]`,
    );
  }
}
if (sink === 0.5) console.log('');
