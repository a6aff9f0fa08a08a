// Data-protection benchmark (issue 11): durable emit throughput (closed loop) and paced ack
// latency for plain, masking, pseudonymization, record encryption and encryption + subject
// keys, in the same run, modes alternated per round. Uses the compiled dist/ (npm run build).
//   node bench/data-protection.js
// Env: IRONLOG_BENCH_SECONDS (3), IRONLOG_BENCH_ROUNDS (2), IRONLOG_BENCH_PACED_RATE (5000),
//      IRONLOG_BENCH_IN_FLIGHT (256). Writes bench/results/data-protection-latest.json.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createControl, driveWindow, runLanes } from './lib/closed-loop.js';
import { kRepoRoot, loadCore } from './lib/core.js';
import { makeEvent } from './lib/event.js';
import { machineInfo, machineRows } from './lib/machine.js';
import { runPaced } from './lib/paced.js';
import { median, summarizeLatency } from './lib/stats.js';
import { createTmpRoot, waitForQuietDisk } from './lib/tmp.js';

const num = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const seconds = num('IRONLOG_BENCH_SECONDS', 3);
const rounds = Math.round(num('IRONLOG_BENCH_ROUNDS', 2));
const pacedRate = Math.round(num('IRONLOG_BENCH_PACED_RATE', 5000));
const inFlight = Math.round(num('IRONLOG_BENCH_IN_FLIGHT', 256));

const core = await loadCore();
if (core.error) {
  console.error(core.error);
  process.exit(2);
}
const { openSink } = core.api;
const tmp = createTmpRoot(kRepoRoot);
const masterKeys = { type: 'static', keys: { bench: randomBytes(32) } };
const kSubjects = 1000;

// The benchmark event with a card number in free text and a patient block, so every mode has work.
function event(n) {
  const e = makeEvent(n);
  e.note = 'card 4111 1111 1111 1111 used';
  e.patient = { id: `p-${n % kSubjects}`, name: 'Alice Liddell', dob: '1852-05-04' };
  return e;
}

const modes = {
  plain: {},
  masking: { masking: { cardFields: true, scanCardNumbers: true, fields: [{ path: 'ip', action: 'redact' }] } },
  pseudonymization: {
    masking: {
      fields: [
        { path: 'actor.id', action: 'pseudonymize' },
        { path: 'patient.id', action: 'pseudonymize' },
      ],
    },
    pseudonymization: { keyId: 'b1', key: randomBytes(32) },
  },
  encryption: { keyProvider: masterKeys, encryption: true },
  'encryption+subject keys': {
    keyProvider: masterKeys,
    encryption: true,
    subjectEncryption: { subjectPath: 'patient.id', fields: ['patient.name', 'patient.dob'] },
  },
};

async function runMode(label, options) {
  const dir = tmp.newDir(label.replace(/[^a-z]+/g, '-'));
  const sink = await openSink({ dir, ...options });
  try {
    // Subject keys are made once per subject (a durable key-store write): make them first, so
    // the figures show the steady state (a first-seen subject costs a provider call + 2 fsyncs).
    for (let s = 0; s < kSubjects; s += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => sink.emit(event(s + i))));
    }
    // Every mode: the same warm-up, then wait until the disk is quiet again (the key store's
    // fsyncs of new subjects must not leak into the measured window).
    waitForQuietDisk(dir, { quietMs: 1000, maxMs: 10_000 });
    const ctl = createControl();
    let n = 0;
    const lanes = runLanes({ ctl, inFlight, op: () => sink.emit(event(n++)) });
    await driveWindow(ctl, 500, seconds * 1000);
    const closed = await lanes;
    const paced = await runPaced({
      rate: pacedRate,
      warmupMs: 500,
      measureMs: seconds * 1000,
      op: () => sink.emit(event(n++)),
    });
    return {
      eventsPerSec: (closed.ops / closed.windowMs) * 1000,
      paced: summarizeLatency(paced.latencies),
    };
  } finally {
    await sink.close();
    tmp.removeDir(dir);
  }
}

const machine = machineInfo(tmp);
for (const [k, v] of machineRows(machine)) console.log(`${k.padEnd(14)} ${v}`);
console.log(
  `rounds ${rounds}, ${seconds} s closed loop at ${inFlight} in flight, then ${seconds} s paced at ${pacedRate}/s\n`,
);
const samples = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
  for (const [label, options] of Object.entries(modes)) {
    const res = await runMode(label, options);
    samples[label].push(res);
    console.log(
      `round ${r + 1} ${label.padEnd(24)} ${Math.round(res.eventsPerSec).toString().padStart(8)} ev/s  paced p99 ${res.paced.p99Ms.toFixed(2)} ms`,
    );
  }
}
const plain = median(samples.plain.map((s) => s.eventsPerSec));
const table = Object.entries(samples).map(([label, s]) => {
  const eps = median(s.map((x) => x.eventsPerSec));
  return {
    mode: label,
    eventsPerSec: Math.round(eps),
    ofPlain: `${Math.round((eps / plain) * 100)}%`,
    pacedP50Ms: Number(median(s.map((x) => x.paced.p50Ms)).toFixed(2)),
    pacedP99Ms: Number(median(s.map((x) => x.paced.p99Ms)).toFixed(2)),
  };
});
console.log('\nmedian of rounds:');
console.table(table);
const targets = [
  ['encryption >= 70% of plain', table[3].eventsPerSec >= 0.7 * plain],
  ['masking >= 85% of plain', table[1].eventsPerSec >= 0.85 * plain],
];
for (const [what, ok] of targets) console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
const out = path.join(kRepoRoot, 'bench', 'results', 'data-protection-latest.json');
fs.writeFileSync(
  out,
  `${JSON.stringify({ machine, config: { seconds, rounds, pacedRate, inFlight }, table, samples }, null, 2)}\n`,
);
console.log(`\nwrote ${path.relative(kRepoRoot, out)}`);
