/**
 * Loads the library under test from the compiled `dist/` (bench files are plain JS, no build
 * step of their own) and wraps one sink's life: fresh directory, open, run, close, remove.
 * The sink's options can be overridden for experiments with IRONLOG_BENCH_SINK_OPTIONS (JSON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const kRepoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** URL of the public entry point; producer workers import it too. */
export const kCoreUrl = pathToFileURL(path.join(kRepoRoot, 'dist', 'main', 'index.js')).href;

let loaded;
/** Upper bounds (s) of the writer's fsync histogram: internal to the core, so optional. */
let fsyncBucketBounds;

/** The public API, or `{ error }` when `dist/` is missing or broken. */
export async function loadCore() {
  if (loaded) return loaded;
  if (!fs.existsSync(fileURLToPath(kCoreUrl))) {
    loaded = { error: `${path.relative(kRepoRoot, fileURLToPath(kCoreUrl))} does not exist (run npm run build)` };
    return loaded;
  }
  try {
    const mod = await import(kCoreUrl);
    if (typeof mod.openSink !== 'function' || typeof mod.connectProducer !== 'function') {
      loaded = { error: 'dist/main/index.js does not export openSink and connectProducer' };
    } else {
      loaded = { api: mod };
      try {
        const layout = await import(new URL('../ringbuffer/layout.js', kCoreUrl).href);
        if (Array.isArray(layout.FSYNC_BUCKETS_SECONDS)) fsyncBucketBounds = layout.FSYNC_BUCKETS_SECONDS;
      } catch {
        // Internal module moved: the slow-fsync count is simply not reported.
      }
    }
  } catch (err) {
    loaded = { error: `cannot import dist/main/index.js: ${err?.message ?? err}` };
  }
  return loaded;
}

/** Extra sink options from IRONLOG_BENCH_SINK_OPTIONS (JSON object), if any. */
export function benchSinkOptions() {
  const raw = process.env.IRONLOG_BENCH_SINK_OPTIONS;
  if (!raw) return {};
  const parsed = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('IRONLOG_BENCH_SINK_OPTIONS must be a JSON object of openSink options');
  }
  return parsed;
}

/** Writer counters that matter here, from `sink.stats()`. */
export function statsSample(sink) {
  const s = sink.stats();
  return {
    records: s.records,
    bytes: s.bytes,
    batches: s.batches,
    fsyncs: s.fsyncs,
    fsyncSecondsSum: s.fsyncSecondsSum,
    fsyncBuckets: Array.isArray(s.fsyncBuckets) ? [...s.fsyncBuckets] : undefined,
  };
}

/** Derived writer figures between two {@link statsSample}s. */
export function statsDelta(a, b) {
  if (!a || !b) return undefined;
  const records = b.records - a.records;
  const batches = b.batches - a.batches;
  const fsyncs = b.fsyncs - a.fsyncs;
  return {
    records,
    batches,
    fsyncs,
    /** Events per write batch (one drain of the ring). */
    meanBatchEvents: batches > 0 ? records / batches : Number.NaN,
    /** Events made durable per fdatasync (= meanBatchEvents in syncMode 'batch'). */
    eventsPerFsync: fsyncs > 0 ? records / fsyncs : Number.NaN,
    bytesPerRecord: records > 0 ? (b.bytes - a.bytes) / records : Number.NaN,
    fsyncMeanMs: fsyncs > 0 ? ((b.fsyncSecondsSum - a.fsyncSecondsSum) * 1000) / fsyncs : Number.NaN,
    ...slowFsyncs(a.fsyncBuckets, b.fsyncBuckets),
  };
}

/**
 * From the writer's cumulative fsync histogram: how many fsyncs in the window took longer than
 * 10 ms and longer than 1 ms, and the upper bound of the slowest bucket hit (a stalled disk, not
 * the sink's code, is usually what sets the ack tail of a paced run).
 */
function slowFsyncs(a, b) {
  const bounds = fsyncBucketBounds;
  if (!bounds || !a || !b || a.length !== bounds.length + 1 || b.length !== a.length) return {};
  const count = (i) => b[i] - (i > 0 ? b[i - 1] : 0) - (a[i] - (i > 0 ? a[i - 1] : 0));
  let over10ms = 0;
  let over1ms = 0;
  let slowestLeMs = 0;
  for (let i = 0; i < a.length; i++) {
    const n = count(i);
    const lower = i > 0 ? bounds[i - 1] : 0;
    if (lower >= 0.01) over10ms += n;
    if (lower >= 0.001) over1ms += n;
    if (n > 0) slowestLeMs = i < bounds.length ? bounds[i] * 1000 : Number.POSITIVE_INFINITY;
  }
  return { fsyncsOver10ms: over10ms, fsyncsOver1ms: over1ms, slowestFsyncBucketLeMs: slowestLeMs };
}

/**
 * Opens a sink in a fresh directory, runs `fn(sink, api)`, closes the sink and removes the
 * directory, even when `fn` throws.
 */
export async function withSink(ctx, label, fn) {
  const core = await loadCore();
  if (core.error) throw Object.assign(new Error(core.error), { skip: true });
  const dir = ctx.tmp.newDir(label);
  let sink;
  try {
    sink = await core.api.openSink({ dir, ...benchSinkOptions() });
    return await fn(sink, core.api);
  } finally {
    if (sink) await withTimeout(sink.close(), 60_000, 'sink.close()');
    ctx.tmp.removeDir(dir);
  }
}

/** Rejects if `p` takes longer than `ms` (a hung core must not hang the whole bench). */
export function withTimeout(p, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
