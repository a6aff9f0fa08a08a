/**
 * Aggregation (median of rounds), paired ratios, the issue's target checks, the console table,
 * the JSON results file and the results section of docs/performance.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { machineRows } from './machine.js';
import { median, range } from './stats.js';

const get = (obj, keyPath) => keyPath.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);

/** Per scenario id: medians over the rounds that succeeded. */
export function aggregate(entries) {
  return entries.map((e) => {
    const ok = e.rounds.filter((r) => r.result);
    const med = (k) => median(ok.map((r) => get(r.result, k)));
    const [minRate, maxRate] = range(ok.map((r) => r.result.eventsPerSec));
    return {
      id: e.id,
      kind: e.kind,
      description: e.description,
      roundsOk: ok.length,
      roundsFailed: e.rounds.length - ok.length,
      errors: [...new Set(e.rounds.filter((r) => r.error).map((r) => r.error))],
      eventsPerSec: med('eventsPerSec'),
      eventsPerSecMin: minRate,
      eventsPerSecMax: maxRate,
      latency: {
        p50Ms: med('latency.p50Ms'),
        p99Ms: med('latency.p99Ms'),
        p999Ms: med('latency.p999Ms'),
        maxMs: med('latency.maxMs'),
        perEvent: ok[0]?.result.eventsPerOp === undefined || ok[0]?.result.eventsPerOp === 1,
      },
      cpu: {
        method: ok[0]?.result.cpu?.method,
        producerUsPerEvent: med('cpu.producerUsPerEvent'),
        producerEluUsPerEvent: med('cpu.producerEluUsPerEvent'),
        otherUsPerEvent: med('cpu.otherUsPerEvent'),
        processCores: med('cpu.processCores'),
      },
      writer: {
        meanBatchEvents: med('writer.meanBatchEvents'),
        eventsPerFsync: med('writer.eventsPerFsync'),
        bytesPerRecord: med('writer.bytesPerRecord'),
        fsyncMeanMs: med('writer.fsyncMeanMs'),
        fsyncsOver10ms: med('writer.fsyncsOver10ms'),
        slowestFsyncBucketLeMs: med('writer.slowestFsyncBucketLeMs'),
        fsyncsOver1msPerSec: med('writer.fsyncsOver1msPerSec'),
        slowestFsyncMs: med('writer.slowestFsyncMs'),
      },
      batchEvents: med('batchEvents'),
      issueLagP99Ms: med('issueLag.p99Ms'),
    };
  });
}

/** Per-round a/b of two scenarios (same round = same conditions), then the median. */
function pairedRatio(entries, idA, idB, key = 'eventsPerSec') {
  const a = entries.find((e) => e.id === idA);
  const b = entries.find((e) => e.id === idB);
  if (!a || !b) return undefined;
  const ratios = [];
  for (let i = 0; i < Math.min(a.rounds.length, b.rounds.length); i++) {
    const x = get(a.rounds[i].result, key);
    const y = get(b.rounds[i].result, key);
    if (Number.isFinite(x) && Number.isFinite(y) && y > 0) ratios.push(x / y);
  }
  return ratios.length ? { median: median(ratios), perRound: ratios } : undefined;
}

/** The comparisons that matter, as paired ratios. */
export function ratios(entries) {
  const defs = [
    ['emit/1p/x256', 'lmdb/x256', 'eventsPerSec', 'emit 1p x256 / lmdb-js x256 (throughput)'],
    ['emit/1p/x1024', 'lmdb/x1024', 'eventsPerSec', 'emit 1p x1024 / lmdb-js x1024 (throughput)'],
    [
      'emit/1p/x256',
      'fs.write+fdatasync/batch-of(emit/1p/x256)',
      'eventsPerSec',
      'emit 1p x256 / plain write+fdatasync ceiling',
    ],
    [
      'emit/1p/x1024',
      'fs.write+fdatasync/batch-of(emit/1p/x1024)',
      'eventsPerSec',
      'emit 1p x1024 / plain write+fdatasync ceiling',
    ],
    [
      'emitBatch/100x16',
      'fs.write+fdatasync/batch-of(emitBatch/100x16)',
      'eventsPerSec',
      'emitBatch 100 / plain write+fdatasync ceiling',
    ],
    [
      'emitEncodedBatch/100x16',
      'fs.write+fdatasync/batch-of(emitEncodedBatch/100x16)',
      'eventsPerSec',
      'emitEncodedBatch 100 / plain write+fdatasync ceiling',
    ],
    [
      'emit/1p/x256',
      'fs.appendFile+fdatasync/1',
      'eventsPerSec',
      'emit 1p x256 / naive appendFile+fdatasync per event',
    ],
    ['serve/http/c100', 'http/bare/c100', 'eventsPerSec', 'serve / bare node:http (requests/s, one event each)'],
    ['paced/lmdb/10k', 'paced/emit/10k', 'latency.p99Ms', 'paced 10k/s ack p99: lmdb-js / sink (>1 = sink better)'],
    ['paced/lmdb/10k', 'paced/emit/10k', 'latency.p999Ms', 'paced 10k/s ack p99.9: lmdb-js / sink (>1 = sink better)'],
    [
      'paced/emit/10k',
      'paced/floor/10k',
      'latency.p99Ms',
      'paced 10k/s ack p99: sink / environment floor (1 = at the floor)',
    ],
  ];
  const out = [];
  for (const [a, b, key, label] of defs) {
    const r = pairedRatio(entries, a, b, key);
    if (r) out.push({ label, a, b, key, ...r });
  }
  return out;
}

/** The targets of issue 15, as PASS / FAIL / SKIP lines (informative only). */
export function checks(summary, ratioList, harnessUsPerOp) {
  const by = (id) => summary.find((s) => s.id === id && s.roundsOk > 0);
  const ratio = (a, b, key = 'eventsPerSec') => ratioList.find((r) => r.a === a && r.b === b && r.key === key);
  const out = [];
  const add = (label, value, ok, shown) =>
    out.push({
      label,
      value,
      status: value === undefined || !Number.isFinite(value) ? 'SKIP' : ok(value) ? 'PASS' : 'FAIL',
      shown,
    });
  const loop = Number.isFinite(harnessUsPerOp)
    ? `; of which the bench's own loop ~${harnessUsPerOp.toFixed(2)} us`
    : '';
  for (const n of [256, 1024]) {
    const r = ratio(`emit/1p/x${n}`, `lmdb/x${n}`);
    add(
      `one producer await emit() x${n} >= 2.0x lmdb-js x${n}`,
      r?.median,
      (v) => v >= 2,
      r ? `${r.median.toFixed(2)}x` : '',
    );
  }
  for (const n of [256, 1024]) {
    const s = by(`emit/1p/x${n}`);
    add(
      `producer (main thread) CPU per event, emit x${n} <= 1.3 us`,
      s?.cpu.producerUsPerEvent,
      (v) => v <= 1.3,
      s ? `${fmtUs(s.cpu.producerUsPerEvent)} (${s.cpu.method}${loop})` : '',
    );
  }
  const p = by('paced/emit/10k');
  const lm = by('paced/lmdb/10k');
  const floor = by('paced/floor/10k');
  const vsFloor = (k) => (floor ? ` ms (environment floor ${fmtMs(floor.latency[k])} ms)` : ' ms');
  add(
    'paced 10,000/s ack p99 <= 1.5 ms',
    p?.latency.p99Ms,
    (v) => v <= 1.5,
    fmtMs(p?.latency.p99Ms) + vsFloor('p99Ms'),
  );
  const pl = ratio('paced/lmdb/10k', 'paced/emit/10k', 'latency.p99Ms');
  add(
    "paced 10,000/s ack p99 <= lmdb-js's p99 (same rounds)",
    pl?.median,
    (v) => v >= 1,
    pl
      ? `lmdb-js / sink ${pl.median.toFixed(2)} (sink ${fmtMs(p?.latency.p99Ms)} ms, lmdb-js ${fmtMs(lm?.latency.p99Ms)} ms)`
      : '',
  );
  add(
    'paced 10,000/s ack p99.9 <= 5 ms',
    p?.latency.p999Ms,
    (v) => v <= 5,
    fmtMs(p?.latency.p999Ms) + vsFloor('p999Ms'),
  );
  const enc = ratio('emitEncodedBatch/100x16', 'fs.write+fdatasync/batch-of(emitEncodedBatch/100x16)');
  add(
    'emitEncodedBatch (100 x 16) >= 0.9x the plain write+fdatasync loop',
    enc?.median,
    (v) => v >= 0.9,
    enc ? `${enc.median.toFixed(2)}x` : '',
  );
  const e = by('emitEncodedBatch/100x16');
  add(
    'emitEncodedBatch writer (other threads) CPU per event <= 0.6 us',
    e?.cpu.otherUsPerEvent,
    (v) => v <= 0.6,
    e ? `${fmtUs(e.cpu.otherUsPerEvent)} (process CPU minus the producer thread: mostly the writer)` : '',
  );
  const b = by('emitBatch/100x16');
  add(
    'emitBatch 100 (16 in flight) >= 700,000 events/s',
    b?.eventsPerSec,
    (v) => v >= 700_000,
    fmtRate(b?.eventsPerSec),
  );
  const h = ratio('serve/http/c100', 'http/bare/c100');
  add(
    'serve >= 0.6x the requests/s of a bare node:http server (same JSON parse, no I/O)',
    h?.median,
    (v) => v >= 0.6,
    h
      ? `${h.median.toFixed(2)}x (${fmtRate(by('serve/http/c100')?.eventsPerSec)} vs ${fmtRate(by('http/bare/c100')?.eventsPerSec)} req/s)`
      : '',
  );
  return out;
}

// ---- formatting -------------------------------------------------------------------------------

/**
 * The fsync tail behind a paced line: for the sink, the writer's fsyncs over 10 ms per round and
 * over 1 ms per second (from its histogram); for the environment floor, the same count for its
 * bare write + fdatasync loop (the disk without the sink). Empty when neither was measured.
 */
export function pacedFsyncNote(x) {
  const w = x.writer ?? {};
  const parts = [];
  if (Number.isFinite(w.fsyncsOver10ms)) {
    parts.push(`writer fsyncs over 10 ms per round: ${w.fsyncsOver10ms} (slowest <= ${w.slowestFsyncBucketLeMs} ms)`);
  }
  if (Number.isFinite(w.fsyncsOver1msPerSec)) {
    const who = Number.isFinite(w.slowestFsyncMs)
      ? `bare write+fdatasync loop: fsyncs over 1 ms ${fmtNum(w.fsyncsOver1msPerSec)}/s (slowest ${fmtMs(w.slowestFsyncMs)} ms)`
      : `fsyncs over 1 ms ${fmtNum(w.fsyncsOver1msPerSec)}/s`;
    parts.push(who);
  }
  return parts.length ? `; ${parts.join('; ')}` : '';
}

export function fmtRate(v) {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return Math.round(v).toLocaleString('en-US');
}
export function fmtMs(v) {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(1) : Math.round(v).toString();
}
export function fmtUs(v) {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return `${v.toFixed(2)} us`;
}
function fmtNum(v, digits = 1) {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(digits);
}

const kColumns = [
  ['Scenario', (s) => s.id],
  ['events/s', (s) => fmtRate(s.eventsPerSec)],
  ['min-max', (s) => (s.roundsOk > 1 ? `${fmtRate(s.eventsPerSecMin)}-${fmtRate(s.eventsPerSecMax)}` : '-')],
  ['ack p50 ms', (s) => fmtMs(s.latency.p50Ms)],
  ['p99 ms', (s) => fmtMs(s.latency.p99Ms)],
  ['p99.9 ms', (s) => fmtMs(s.latency.p999Ms)],
  ['prod CPU/ev', (s) => fmtUs(s.cpu.producerUsPerEvent)],
  ['other CPU/ev', (s) => fmtUs(s.cpu.otherUsPerEvent)],
  [
    'ev/fsync',
    (s) => (Number.isFinite(s.writer.eventsPerFsync) ? fmtNum(s.writer.eventsPerFsync) : fmtNum(s.batchEvents, 0)),
  ],
  ['fsync ms', (s) => fmtMs(s.writer.fsyncMeanMs)],
];

function rowsOf(summary) {
  return summary.map((s) =>
    s.roundsOk === 0
      ? [s.id, `not measured: ${s.errors[0] ?? 'no result'}`, '', '', '', '', '', '', '', '']
      : kColumns.map(([, f]) => f(s)),
  );
}

/** A plain-text table for the console. */
export function consoleTable(summary) {
  const header = kColumns.map(([h]) => h);
  const cells = summary.map((s) => (s.roundsOk > 0 ? kColumns.map(([, f]) => f(s)) : undefined));
  const widths = header.map((h, i) =>
    Math.max(
      h.length,
      ...cells.filter(Boolean).map((r) => r[i].length),
      i === 0 ? Math.max(...summary.map((s) => s.id.length)) : 0,
    ),
  );
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  summary.forEach((s, i) => {
    out.push(cells[i] ? line(cells[i]) : `${s.id.padEnd(widths[0])}  not measured: ${s.errors[0] ?? 'no result'}`);
  });
  return out.join('\n');
}

function mdEscape(s) {
  return String(s).replace(/\|/g, '\\|');
}

/** Markdown: machine, results, ratios, checks. */
export function markdownResults(report) {
  const { machine, config, summary } = report;
  const lines = [];
  lines.push(
    `Run of ${machine.date} (\`npm run bench\`, ${config.rounds} rounds x ${config.measureSeconds} s per scenario, ` +
      `${config.warmupSeconds} s warm-up, event ${config.eventBytes} B msgpack). Figures are medians over the rounds; ` +
      '"min-max" is the spread of throughput across rounds.',
    '',
  );
  lines.push('| Machine | |', '|---|---|');
  for (const [k, v] of machineRows(machine)) lines.push(`| ${k} | ${mdEscape(v)} |`);
  lines.push(
    '',
    `| ${kColumns.map(([h]) => h).join(' | ')} |`,
    `|${kColumns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  );
  for (const r of rowsOf(summary)) lines.push(`| ${r.map(mdEscape).join(' | ')} |`);
  lines.push('', 'Scenarios:', '');
  for (const s of summary) lines.push(`- \`${s.id}\`: ${s.description}`);
  const paced = summary.filter((x) => Number.isFinite(x.issueLagP99Ms));
  if (paced.length) {
    lines.push(
      '',
      'Paced runs, issue lag p99 (how late the scheduler itself issued; high = the main thread was stalled):',
      '',
    );
    for (const x of paced) {
      lines.push(`- \`${x.id}\`: ${fmtMs(x.issueLagP99Ms)} ms${pacedFsyncNote(x)}`);
    }
  }
  if (report.ratios.length) {
    lines.push(
      '',
      'Ratios (per round, same conditions; median over rounds):',
      '',
      '| Ratio | median | per round |',
      '|---|---:|---|',
    );
    for (const r of report.ratios)
      lines.push(`| ${r.label} | ${r.median.toFixed(2)} | ${r.perRound.map((x) => x.toFixed(2)).join(', ')} |`);
  }
  lines.push('', 'Targets (informative):', '');
  for (const c of report.checks) lines.push(`- **${c.status}** ${c.label}${c.shown ? `: ${c.shown}` : ''}`);
  return lines.join('\n');
}

const kBegin = '<!-- bench:results:begin (written by `npm run bench`; edits inside are overwritten) -->';
const kEnd = '<!-- bench:results:end -->';

const kIntro = `# Performance

\`npm run bench\` (\`bench/run.js\`) measures, in one process run:

- **durable \`emit()\`**: events/s and ack latency (p50, p99, p99.9) with ~200-byte events, 1, 2 and 4
  producer threads, 256 and 1024 emits in flight per producer, at full speed;
- **paced \`emit()\`** at 10,000 events/s, open loop: latency counts from each event's *scheduled* time,
  so a stall is not hidden by coordinated omission;
- **\`emitBatch\`** and **\`emitEncodedBatch\`** with 100-event batches, 16 in flight;
- **producer CPU per event**: CPU time of the producing thread only (Linux per-thread schedstat), and
  of every other thread (mostly the writer worker);
- three **yardsticks** in the same run, same event and batch sizes: a plain \`writeSync\` + \`fdatasync\`
  loop at the batch sizes the sink achieved (Node's ceiling on this disk), a naive
  \`appendFileSync\` + \`fdatasync\` per event, and lmdb-js with \`await put().flushed\` (durable) at the same
  in-flight counts;
- an **environment floor** for the paced tail: the same pacer with a no-op ack while another thread
  loops write + fdatasync. On the development VM back-to-back fsyncs stall every thread of the VM for
  ~10-20 ms about 1% of the time, so a paced p99 near this floor is the VM, not the sink.

Every figure is the median of a few short rounds, alternated with the yardsticks, because absolute
figures drift on a shared VM; the targets use ratios from the same run where they can. Method details:
[\`bench/README.md\`](../bench/README.md).

Reproduce: \`npm run bench\` (about 4-5 minutes). \`IRONLOG_BENCH_SECONDS\` (per round, default 3),
\`IRONLOG_BENCH_ROUNDS\` (default 3) and \`IRONLOG_BENCH_FILTER\` (a regex over scenario ids) shorten it.
Results also go to \`bench/results/<date>.json\` and \`bench/results/latest.json\`.

> **Caveat.** The results below come from a VM whose virtual disk has a write cache: \`fdatasync\` takes
> ~0.2-0.4 ms there, far less than on a real disk that honours flushes. These figures show what the
> code costs; they are no proof of durability, and throughput per fsync on real hardware will differ.
> Durability is proven by the torture suite, not by a benchmark.

## Results
`;

/** Writes or replaces the results section of docs/performance.md. */
export function writePerformanceDoc(file, report) {
  const section = `${kBegin}\n${markdownResults(report)}\n${kEnd}`;
  let text;
  if (fs.existsSync(file)) {
    const old = fs.readFileSync(file, 'utf8');
    const a = old.indexOf(kBegin.slice(0, 30));
    const b = old.indexOf(kEnd);
    if (a >= 0 && b > a) text = old.slice(0, a) + section + old.slice(b + kEnd.length);
    else text = `${old.trimEnd()}\n\n## Results\n\n${section}\n`;
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    text = `${kIntro}\n${section}\n`;
  }
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Writes bench/results/<date>.json and, unless told not to, latest.json (via a temp file each). */
export function writeJson(dir, report, { latest = true } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const name = `${report.machine.date.replace(/[:.]/g, '-')}.json`;
  const body = `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  const files = [path.join(dir, name)];
  if (latest) files.push(path.join(dir, 'latest.json'));
  for (const f of files) {
    fs.writeFileSync(`${f}.tmp`, body);
    fs.renameSync(`${f}.tmp`, f);
  }
  return files;
}
