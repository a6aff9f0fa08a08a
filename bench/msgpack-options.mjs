// msgpackr settings for the producer's encode (issue 15, item 3), measured on the benchmark event:
//   npm run build && node bench/msgpack-options.mjs
// Alternates, in one process, the sink's own encoder (EventEncoder: maps, the Error extension),
// a plain Packr with the same settings, the same with RESET_BUFFER_MODE (the result overwritten
// by the next call: no 8 KiB buffer allocated every ~30 events), with REUSE_BUFFER_MODE as well
// (no result view allocated either), and msgpackr records (shared structures, `useRecords: true`:
// what lmdb-js uses; a different format on disk). Prints ns per encode (median over rounds) and
// the encoded size. IRONLOG_BENCH_ROUNDS (default 5) rounds of 1,000,000 encodes per case.
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE } from 'msgpackr';
import { makeEvent } from './lib/event.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventEncoder } = await import(pathToFileURL(path.join(root, 'dist', 'wal', 'event-codec.js')).href);
const rounds = Number(process.env.IRONLOG_BENCH_ROUNDS ?? 5);
const ev = makeEvent();
// Every case copies its result into a ring-like SharedArrayBuffer, as the producer does.
const ring = new Uint8Array(new SharedArrayBuffer(1 << 20));
let at = 0;
const copy = (b, start = 0, end = b.length) => {
  ring.set(start === 0 && end === b.length ? b : b.subarray(start, end), at);
  at = (at + 256) & 0xfffff;
  return end - start;
};
const cases = {
  'EventEncoder (the sink)': (() => {
    const e = new EventEncoder();
    return () => copy(e.encode(ev));
  })(),
  'Packr maps': (() => {
    const p = new Packr({ useRecords: false });
    return () => copy(p.pack(ev));
  })(),
  'Packr maps, RESET_BUFFER_MODE': (() => {
    const p = new Packr({ useRecords: false });
    return () => copy(p.pack(ev, RESET_BUFFER_MODE));
  })(),
  'Packr maps, RESET + REUSE': (() => {
    const p = new Packr({ useRecords: false });
    return () => {
      const b = p.pack(ev, RESET_BUFFER_MODE | REUSE_BUFFER_MODE);
      return copy(b, b.start, b.end);
    };
  })(),
  'Packr records (structures)': (() => {
    const p = new Packr({ useRecords: true, structures: [] });
    return () => copy(p.pack(ev));
  })(),
};
const ns = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const size = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(cases)) {
    for (let i = 0; i < 100_000; i++) {
      ev.n++;
      f();
    }
    const n = 1_000_000;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      ev.n++;
      size[name] = f();
    }
    ns[name].push(Number(process.hrtime.bigint() - t) / n);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(ns['EventEncoder (the sink)']);
console.log(`msgpack encode of the benchmark event, ${rounds} rounds x 1,000,000, Node ${process.version}`);
for (const name of Object.keys(cases)) {
  const m = median(ns[name]);
  console.log(
    `  ${name.padEnd(30)} ${m.toFixed(0).padStart(5)} ns  ${(m / base).toFixed(2)}x  [${ns[name].map((x) => x.toFixed(0)).join(', ')}]  ${size[name]} B`,
  );
}
