import { type Command, Option } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { diskSpace } from '../monitoring/health.js';
import {
  bucketQuantile,
  histogramBuckets,
  type PromSample,
  parsePromText,
  sampleValue,
} from '../monitoring/prom-text.js';
import { type SealedCache, summarizeWal } from '../monitoring/wal-summary.js';
import { intArg, listenForStop, positiveDurationMs, sleepUnlessStopped } from './args.js';
import { formatBytes, formatRate } from './format.js';

/** One refresh of the monitor. Fields are NaN when the source cannot tell. */
export interface MonitorSample {
  readonly time: string;
  readonly status: string;
  readonly eventsPerSecond: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly fsyncAvgMs: number;
  readonly fsyncP99Ms: number;
  readonly batchAvgEvents: number;
  readonly ringFillPercent: number;
  readonly segments: number;
  readonly walBytes: number;
  readonly diskFreeBytes: number;
  readonly durableSeq: number;
  readonly reasons: readonly string[];
}

interface Scrape {
  readonly atMs: number;
  readonly samples: PromSample[];
}

async function fetchText(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text() };
}

/** Samples a server's /metrics and /health; `prev` is the previous scrape (for rates). */
async function sampleUrl(base: string, prev: Scrape | undefined): Promise<{ sample: MonitorSample; scrape: Scrape }> {
  const root = base.replace(/\/+$/, '');
  const [metrics, health] = await Promise.all([fetchText(`${root}/metrics`), fetchText(`${root}/health`)]);
  if (metrics.status !== 200) throw new Error(`GET ${root}/metrics answered ${metrics.status}`);
  const scrape: Scrape = { atMs: performance.now(), samples: parsePromText(metrics.text) };
  const s = scrape.samples;
  const p = prev?.samples;
  const dt = prev ? (scrape.atMs - prev.atMs) / 1000 : Number.NaN;
  const delta = (name: string): number => sampleValue(s, name) - (p ? sampleValue(p, name) : 0);
  const ack = histogramBuckets(s, 'ironlog_emit_duration_seconds');
  const ackPrev = p ? histogramBuckets(p, 'ironlog_emit_duration_seconds') : undefined;
  const fsync = histogramBuckets(s, 'ironlog_fsync_duration_seconds');
  const fsyncPrev = p ? histogramBuckets(p, 'ironlog_fsync_duration_seconds') : undefined;
  let status = 'unknown';
  let reasons: string[] = [];
  try {
    const h = JSON.parse(health.text) as { status?: unknown; reasons?: unknown };
    if (typeof h.status === 'string') status = h.status;
    if (Array.isArray(h.reasons)) reasons = h.reasons.map(String);
  } catch {
    status = `health ${health.status}`;
  }
  const used = sampleValue(s, 'ironlog_ring_used_bytes');
  const capacity = sampleValue(s, 'ironlog_ring_capacity_bytes');
  return {
    scrape,
    sample: {
      time: new Date().toISOString(),
      status,
      eventsPerSecond: delta('ironlog_records_written_total') / dt,
      ackP50Ms: bucketQuantile(0.5, ack, ackPrev) * 1000,
      ackP99Ms: bucketQuantile(0.99, ack, ackPrev) * 1000,
      fsyncAvgMs: (delta('ironlog_fsync_duration_seconds_sum') / delta('ironlog_fsync_duration_seconds_count')) * 1000,
      fsyncP99Ms: bucketQuantile(0.99, fsync, fsyncPrev) * 1000,
      batchAvgEvents: delta('ironlog_batch_events_sum') / delta('ironlog_batch_events_count'),
      ringFillPercent: capacity > 0 ? (used / capacity) * 100 : Number.NaN,
      segments: sampleValue(s, 'ironlog_segments'),
      walBytes: sampleValue(s, 'ironlog_wal_bytes'),
      diskFreeBytes: sampleValue(s, 'ironlog_disk_free_bytes'),
      durableSeq: sampleValue(s, 'ironlog_last_durable_seq'),
      reasons,
    },
  };
}

/** Samples a WAL directory (no live process needed): what the files say. */
async function sampleDir(
  dir: string,
  cache: SealedCache,
  prev: { atMs: number; lastSeq: number } | undefined,
): Promise<{ sample: MonitorSample; state: { atMs: number; lastSeq: number } }> {
  const summary = await summarizeWal(dir, cache);
  const atMs = performance.now();
  let free = Number.NaN;
  try {
    free = (await diskSpace(dir)).freeBytes;
  } catch {
    // Reported as n/a.
  }
  const damaged = summary.segments.find((s) => s.problem !== undefined);
  return {
    state: { atMs, lastSeq: summary.lastSeq },
    sample: {
      time: new Date().toISOString(),
      status: damaged ? 'damaged' : 'files',
      eventsPerSecond: prev ? (summary.lastSeq - prev.lastSeq) / ((atMs - prev.atMs) / 1000) : Number.NaN,
      ackP50Ms: Number.NaN,
      ackP99Ms: Number.NaN,
      fsyncAvgMs: Number.NaN,
      fsyncP99Ms: Number.NaN,
      batchAvgEvents: Number.NaN,
      ringFillPercent: Number.NaN,
      segments: summary.segments.length,
      walBytes: summary.bytes,
      diskFreeBytes: free,
      durableSeq: summary.lastSeq,
      reasons: damaged ? [`${damaged.name}: ${damaged.problem}`] : [],
    },
  };
}

const num = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const bytes = (v: number): string => (Number.isFinite(v) ? formatBytes(v) : 'n/a');

/** One line per sample (not a TTY). */
export function sampleLine(s: MonitorSample): string {
  return `${s.time} status=${s.status} events/s=${Number.isFinite(s.eventsPerSecond) ? Math.round(s.eventsPerSecond) : 'n/a'} ack_p50_ms=${num(s.ackP50Ms, 3)} ack_p99_ms=${num(s.ackP99Ms, 3)} fsync_avg_ms=${num(s.fsyncAvgMs, 3)} fsync_p99_ms=${num(s.fsyncP99Ms, 3)} batch_avg=${num(s.batchAvgEvents, 1)} ring_fill_pct=${num(s.ringFillPercent, 1)} segments=${Number.isFinite(s.segments) ? s.segments : 'n/a'} wal_bytes=${Number.isFinite(s.walBytes) ? s.walBytes : 'n/a'} disk_free_bytes=${Number.isFinite(s.diskFreeBytes) ? s.diskFreeBytes : 'n/a'} durable_seq=${Number.isFinite(s.durableSeq) ? s.durableSeq : 'n/a'}`;
}

function panel(source: string, s: MonitorSample): string {
  const rows: Array<[string, string]> = [
    ['status', `${s.status}${s.reasons.length > 0 ? ` (${s.reasons.join('; ')})` : ''}`],
    ['events/s', Number.isFinite(s.eventsPerSecond) ? formatRate(s.eventsPerSecond) : 'n/a'],
    ['ack p50 / p99', `${num(s.ackP50Ms, 3)} / ${num(s.ackP99Ms, 3)} ms`],
    ['fsync avg / p99', `${num(s.fsyncAvgMs, 3)} / ${num(s.fsyncP99Ms, 3)} ms`],
    ['batch size (avg)', `${num(s.batchAvgEvents, 1)} events`],
    ['ring fill', `${num(s.ringFillPercent, 1)} %`],
    ['segments', Number.isFinite(s.segments) ? String(s.segments) : 'n/a'],
    ['WAL size', bytes(s.walBytes)],
    ['disk free', bytes(s.diskFreeBytes)],
    ['durable seq', Number.isFinite(s.durableSeq) ? String(s.durableSeq) : 'n/a'],
  ];
  return `ironlog monitor  ${source}  ${s.time}  (Ctrl-C to quit)\n\n${rows.map(([k, v]) => `  ${k.padEnd(18)} ${v}`).join('\n')}\n`;
}

/** `ironlog monitor`: a live view of a server (--url) or a WAL directory (--dir). */
export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('live view: events/s, ack p50/p99, fsync time, batch size, ring fill, segments, disk free')
    .option('--url <url>', 'an `ironlog serve` base URL (reads /metrics and /health)')
    .option('--dir <dir>', 'a WAL directory (reads the files: no ack or fsync figures)')
    .addOption(
      new Option('--interval <duration>', 'time between refreshes, with a unit: 500ms, 5s, 1m')
        .argParser(positiveDurationMs)
        .default(1000, '1s'),
    )
    .option('--count <n>', 'stop after this many refreshes (0: run until Ctrl-C)', intArg, 0)
    .addHelpText(
      'after',
      `
On a terminal the view refreshes in place; otherwise it prints one line of key=value pairs per
refresh (good for logs and scripts).

Examples:
  $ ironlog monitor --url http://127.0.0.1:8080
  $ ironlog monitor --dir ./audit --interval 5s --count 12 >> monitor.log`,
    )
    .action(async (opts: { url?: string; dir?: string; interval: number; count: number }) => {
      if ((opts.url === undefined) === (opts.dir === undefined)) {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'monitor: give exactly one of --url or --dir');
      }
      const url = opts.url;
      const dir = opts.dir;
      const tty = process.stdout.isTTY === true;
      const source = url ?? dir ?? '';
      const stop = listenForStop();
      let prevScrape: Scrape | undefined;
      let prevDir: { atMs: number; lastSeq: number } | undefined;
      const cache: SealedCache = new Map();
      let okSamples = 0;
      let lastError = '';
      if (tty) process.stdout.write('\x1b[2J');
      for (let i = 0; opts.count === 0 || i < opts.count; i++) {
        if (i > 0) {
          await sleepUnlessStopped(opts.interval, stop);
          if (stop.stopped) break;
        }
        let sample: MonitorSample;
        try {
          if (url !== undefined) {
            const r = await sampleUrl(url, prevScrape);
            prevScrape = r.scrape;
            sample = r.sample;
          } else {
            const r = await sampleDir(dir as string, cache, prevDir);
            prevDir = r.state;
            sample = r.sample;
          }
          okSamples++;
        } catch (err) {
          // The typed code, as every CLI failure prints it (ERR_IRONLOG_SEGMENT_NOT_FILE, ...).
          const code = (err as { code?: unknown }).code;
          const prefix = typeof code === 'string' && code.startsWith('ERR_') ? `${code}: ` : '';
          lastError = `${prefix}${(err as Error).message}`;
          const msg = `${new Date().toISOString()} error: ${lastError}\n`;
          if (tty) process.stdout.write(`\x1b[H\x1b[J${msg}`);
          else process.stderr.write(msg);
          continue;
        }
        process.stdout.write(tty ? `\x1b[H\x1b[J${panel(source, sample)}` : `${sampleLine(sample)}\n`);
      }
      stop.dispose();
      if (okSamples === 0 && lastError !== '') {
        throw new IronlogError(ErrorCodes.IO, `monitor: no refresh of ${source} succeeded (last: ${lastError})`);
      }
      process.exitCode = 0;
    });
}
