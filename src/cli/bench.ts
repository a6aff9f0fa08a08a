import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { importOptional } from '../core/optional-dependency.js';
import { openSink } from '../main/sink.js';
import { verifyWal } from '../wal/verify.js';
import { intArg, listenForStop, parseSize, positiveDurationMs } from './args.js';
import { segmentProgress, timeProgress } from './progress.js';

interface BenchOptions {
  mode: 'http' | 'inproc';
  duration: number;
  connections: number;
  eventSize: number;
  batch: number;
  dir?: string;
  keep?: boolean;
  json?: boolean;
  progress?: boolean;
}

/** What `ironlog bench` reports (`--json` prints it as is). */
export interface BenchReport {
  readonly mode: 'http' | 'inproc';
  readonly machine: { platform: string; cpus: number; cpuModel: string; node: string };
  readonly durationSeconds: number;
  readonly connections: number;
  readonly eventBytes: number;
  readonly eventsPerRequest: number;
  /** HTTP requests (http) or emit calls (inproc) answered successfully. */
  readonly requestsOk: number;
  readonly requestsFailed: number;
  readonly requestsPerSecond: number;
  readonly eventsAcked: number;
  readonly eventsPerSecond: number;
  /** Ack latency (inproc) or HTTP response latency (http), milliseconds. */
  readonly latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  readonly verify: { valid: boolean; records: number; segments: number; problems: number; allAckedPresent: boolean };
}

/** A JSON event of about `bytes` bytes; `[<id>]` is replaced per request by autocannon. */
function eventJson(bytes: number, id: string): string {
  const base = `{"id":"${id}","user":"u42","action":"bench.write","level":30,"pad":""}`;
  return `{"id":"${id}","user":"u42","action":"bench.write","level":30,"pad":"${'x'.repeat(Math.max(0, bytes - base.length))}"}`;
}

function machine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    node: process.version,
  };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Starts `ironlog serve` as a child on a free loopback port; resolves with its URL. */
function startServer(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const bin = fileURLToPath(new URL('../../bin/ironlog.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1', '--on-full', 'wait'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new IronlogError(ErrorCodes.IO, `ironlog serve did not start within 15 s: ${err}`));
    }, 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string });
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new IronlogError(ErrorCodes.IO, `ironlog serve exited with code ${code} before listening: ${err}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

async function benchHttp(
  opts: BenchOptions,
  dir: string,
): Promise<Omit<BenchReport, 'verify' | 'machine' | 'mode' | 'eventBytes'>> {
  // Loaded here, before the server starts: autocannon is an optional peer dependency (missing in
  // a lean install: a typed error naming it), and takes ~0.25 s to import, which no other command
  // should pay.
  const { default: autocannon } = await importOptional(
    'autocannon',
    'ironlog bench --mode http',
    () => import('autocannon'),
  );
  const { child, url } = await startServer(dir);
  // Ctrl-C or SIGTERM during the run: take the server child down with us.
  const stop = listenForStop();
  void stop.promise.then(() => {
    child.kill('SIGKILL');
    process.exit(130);
  });
  try {
    const events = Array.from({ length: opts.batch }, (_, i) => eventJson(opts.eventSize, `[<id>]-${i}`));
    const body = opts.batch === 1 ? (events[0] as string) : `[${events.join(',')}]`;
    const result = await autocannon({
      url: `${url}/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      idReplacement: true,
      connections: opts.connections,
      duration: opts.duration / 1000,
    });
    const ok = result['2xx'];
    return {
      durationSeconds: result.duration,
      connections: opts.connections,
      eventsPerRequest: opts.batch,
      requestsOk: ok,
      requestsFailed: result.non2xx + result.errors,
      requestsPerSecond: ok / result.duration,
      eventsAcked: ok * opts.batch,
      eventsPerSecond: (ok * opts.batch) / result.duration,
      latencyMs: {
        p50: result.latency.p50,
        p90: result.latency.p90,
        p99: result.latency.p99,
        p999: result.latency.p99_9,
        max: result.latency.max,
      },
    };
  } finally {
    stop.dispose();
    await stopChild(child);
  }
}

async function benchInproc(
  opts: BenchOptions,
  dir: string,
): Promise<Omit<BenchReport, 'verify' | 'machine' | 'mode' | 'eventBytes'>> {
  const sink = await openSink({ dir });
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  let ok = 0;
  let failed = 0;
  let seq = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.duration;
  try {
    const loop = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const events = Array.from({ length: opts.batch }, () => JSON.parse(eventJson(opts.eventSize, String(++seq))));
        const start = performance.now();
        try {
          if (opts.batch === 1) await sink.emit(events[0]);
          else await sink.emitBatch(events);
          ok++;
        } catch {
          failed++;
        }
        if (n === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[n++] = performance.now() - start;
      }
    };
    await Promise.all(Array.from({ length: opts.connections }, loop));
  } finally {
    await sink.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = latencies.subarray(0, n).sort();
  return {
    durationSeconds: seconds,
    connections: opts.connections,
    eventsPerRequest: opts.batch,
    requestsOk: ok,
    requestsFailed: failed,
    requestsPerSecond: ok / seconds,
    eventsAcked: ok * opts.batch,
    eventsPerSecond: (ok * opts.batch) / seconds,
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? Number.NaN,
    },
  };
}

const f = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

/** `ironlog bench`: durable ingest throughput and latency, then a verify of what was written. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure durable ingest: HTTP (serve + autocannon) or in-process emit, then verify what was written')
    .addOption(
      new Option(
        '--mode <mode>',
        'http: `ironlog serve` on a free loopback port driven by autocannon; inproc: emit loop',
      )
        .choices(['http', 'inproc'])
        .default('http'),
    )
    .addOption(
      new Option('--duration <duration>', 'how long to run, with a unit: 500ms, 10s, 1m')
        .argParser(positiveDurationMs)
        .default(10_000, '10s'),
    )
    .option('--connections <n>', 'HTTP connections (http) or concurrent emit loops (inproc)', intArg, 100)
    .addOption(
      new Option('--event-size <size>', 'approximate JSON size of one event: bytes (512), 1KB (1000), 4KiB (4096)')
        .argParser(parseSize)
        .default(1000, '1KB'),
    )
    .option('--batch <n>', 'events per request / emitBatch call', intArg, 1)
    .option('--dir <dir>', 'WAL directory to write (default: a temporary one, removed afterwards)')
    .option('--keep', 'keep the temporary WAL directory')
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar (it is only drawn when stderr is a terminal anyway)')
    .addHelpText(
      'after',
      `
Runs on this machine's disk: the figures say what fdatasync costs here (a VM disk with a write
cache is faster than real durable hardware). Every acked event must be found by the verify at
the end; the exit code is 1 otherwise.

Examples:
  $ ironlog bench --mode http --duration 10s --connections 100 --event-size 1KB
  $ ironlog bench --mode inproc --duration 5s --connections 256 --batch 10 --json`,
    )
    .action(async (opts: BenchOptions) => {
      if (opts.connections < 1) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--connections must be at least 1');
      if (opts.batch < 1) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--batch must be at least 1');
      const temp = opts.dir === undefined;
      const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-bench-'));
      try {
        const bar = timeProgress(`bench ${opts.mode}`, opts.duration, opts.progress);
        let run: Awaited<ReturnType<typeof benchHttp>>;
        try {
          run = opts.mode === 'http' ? await benchHttp(opts, dir) : await benchInproc(opts, dir);
        } finally {
          bar.stop();
        }
        const verifyBar = segmentProgress('verify', opts.progress);
        let v: Awaited<ReturnType<typeof verifyWal>>;
        try {
          v = await verifyWal(dir, verifyBar ? { onProgress: verifyBar.onProgress } : {});
        } finally {
          verifyBar?.stop();
        }
        const report: BenchReport = {
          mode: opts.mode,
          machine: machine(),
          eventBytes: eventJson(opts.eventSize, '0').length,
          ...run,
          verify: {
            valid: v.valid,
            records: v.records,
            segments: v.segments,
            problems: v.problems.length,
            allAckedPresent: v.records >= run.eventsAcked,
          },
        };
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const m = report.machine;
          const w = (s: string): boolean => process.stdout.write(`${s}\n`);
          w(
            `ironlog bench --mode ${report.mode}: ${f(report.durationSeconds)} s, ${report.connections} connections, ${report.eventsPerRequest} event(s) of ${report.eventBytes} B per request`,
          );
          w(`machine:   ${m.platform}, ${m.cpus} x ${m.cpuModel}, node ${m.node}`);
          w(
            `requests:  ${report.requestsOk} ok, ${report.requestsFailed} failed, ${f(report.requestsPerSecond, 0)} req/s`,
          );
          w(`events:    ${report.eventsAcked} acked durable, ${f(report.eventsPerSecond, 0)} events/s`);
          const l = report.latencyMs;
          w(
            `latency:   p50 ${f(l.p50)} ms, p90 ${f(l.p90)} ms, p99 ${f(l.p99)} ms, p99.9 ${f(l.p999)} ms, max ${f(l.max)} ms`,
          );
          w(
            `verify:    ${v.valid ? 'valid' : 'CORRUPT'}, ${v.records} records in ${v.segments} segments; ${report.verify.allAckedPresent ? 'every acked event is present' : 'ACKED EVENTS MISSING'}`,
          );
          if (!temp || opts.keep) w(`WAL:       ${dir}`);
        }
        process.exitCode = report.verify.valid && report.verify.allAckedPresent ? 0 : 1;
      } finally {
        if (temp && !opts.keep) fs.rmSync(dir, { recursive: true, force: true });
      }
    });
}
