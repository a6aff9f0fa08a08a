// Writer-side CPU profile on encoded batches (issue 15, item 5):
//   npm run build && node --cpu-prof --cpu-prof-dir=/tmp/ironlog-prof bench/writer-profile.mjs
//   node bench/writer-profile.mjs --summarize /tmp/ironlog-prof
// The first form drives `emitEncodedBatch` (100 pre-encoded ~200 B events, 16 in flight) for
// IRONLOG_BENCH_SECONDS (default 5) against a fresh sink; --cpu-prof writes one profile per thread,
// the writer worker's included. `--emit` drives `await sink.emit(event)` with 256 in flight instead
// (IRONLOG_PROFILE_IN_FLIGHT to change it): the producer path. The second form prints, for the
// writer worker's profile and the main thread's, self time per function (top 25) and the share of
// the commit loop's steps.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
if (args[0] === '--summarize') {
  summarize(args[1]);
} else {
  await drive(args.includes('--emit'));
}

async function drive(emitMode) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { openSink } = await import(pathToFileURL(path.join(root, 'dist', 'main', 'index.js')).href);
  const { kPackr, makeEvent } = await import('./lib/event.js');
  const seconds = Number(process.env.IRONLOG_BENCH_SECONDS ?? 5);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-prof-'));
  const sink = await openSink({ dir });
  const ev = makeEvent();
  const encoded = Array.from({ length: 100 }, () => {
    ev.n++;
    return kPackr.pack(ev);
  });
  const end = performance.now() + seconds * 1000;
  let events = 0;
  const lane = emitMode
    ? async () => {
        while (performance.now() < end) {
          ev.n++;
          await sink.emit(ev);
          events++;
        }
      }
    : async () => {
        while (performance.now() < end) {
          await sink.emitEncodedBatch(encoded);
          events += encoded.length;
        }
      };
  const lanes = emitMode ? Number(process.env.IRONLOG_PROFILE_IN_FLIGHT ?? 256) : 16;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: lanes }, lane));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const s = sink.stats();
  await sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(
    `${events} events in ${ms.toFixed(0)} ms = ${Math.round((events / ms) * 1000)} ev/s; process CPU ${(((cpu.user + cpu.system) / events) * 1).toFixed(2)} us/event; ` +
      `${(s.records / s.batches).toFixed(0)} events/batch, fsync mean ${((s.fsyncSecondsSum / s.fsyncs) * 1000).toFixed(3)} ms`,
  );
}

function summarize(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) {
    const prof = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const dt = new Map();
    for (let i = 0; i < prof.samples.length; i++) {
      const id = prof.samples[i];
      dt.set(id, (dt.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
    }
    const isWriter = prof.nodes.some((n) => n.callFrame.functionName === 'runCommitLoop');
    const isMain = prof.nodes.some((n) => n.callFrame.functionName === 'drive');
    if (!isWriter && !isMain) continue;
    const self = new Map();
    let total = 0;
    for (const [id, us] of dt) {
      const n = byId.get(id);
      const key = `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url || '')}:${n.callFrame.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + us);
      total += us;
    }
    // Inclusive time of selected frames (by name), through the parent links.
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const inclusive = new Map();
    for (const [id, us] of dt) {
      const seen = new Set();
      for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
        const name = byId.get(cur).callFrame.functionName;
        if (seen.has(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + us);
      }
    }
    console.log(`${isWriter ? 'writer worker' : 'main thread'} profile ${f}: ${(total / 1000).toFixed(0)} ms sampled`);
    console.log('  self time, top 25:');
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
      console.log(`    ${((us / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
    console.log(isWriter ? '  inclusive time of the commit loop steps:' : '  inclusive time of the emit steps:');
    const steps = isMain
      ? [
          'lane',
          'emit',
          '#emitPlain',
          '#encode',
          'encode',
          'pack',
          '#emitOne',
          'claim',
          'writeHeader',
          'publish',
          'add',
          '#nowUs',
          'defaultClockUs',
          'processTicksAndRejections',
        ]
      : [
          'commitTurn',
          'drain',
          'addRecord',
          'sealFrameCrc',
          'commit',
          'appendBatch',
          'addBatch',
          'writeFully',
          'sync',
          'fdatasyncSync',
          'recordBatch',
          'waitForData',
          'idleTurn',
          'maintain',
        ];
    for (const name of steps)
      if (inclusive.has(name))
        console.log(`    ${((inclusive.get(name) / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
}
