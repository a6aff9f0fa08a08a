/**
 * HTTP load for the serve-vs-bare comparison: a server child process (`ironlog serve`, or the bare
 * yardstick server), autocannon from the bench process with the same connections and the same
 * body (one ~1 KB JSON event per request, ids made unique per request), a warm-up run, then the
 * measured run. Both servers are child processes, so the client's cost is the same for both.
 */
import { spawn } from 'node:child_process';

/** Connections of both HTTP scenarios (the setup). */
export const kHttpConnections = 100;
/** Approximate JSON bytes of the one event per request. */
export const kHttpEventBytes = 1024;

/** The same event `ironlog bench --mode http` sends; `[<id>]` is replaced per request. */
export function httpEventJson(bytes = kHttpEventBytes) {
  const base = `{"id":"[<id>]","user":"u42","action":"bench.write","level":30,"pad":""}`;
  return `{"id":"[<id>]","user":"u42","action":"bench.write","level":30,"pad":"${'x'.repeat(Math.max(0, bytes - base.length))}"}`;
}

/** Spawns `args` (node script + arguments), resolves with { child, url } once it prints its URL. */
export function startServerChild(args, what) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 20 s: ${err}`));
    }, 20_000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr.on('data', (d) => {
      err += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code} before listening: ${err}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 30 s; resolves with the exit code. */
export function stopServerChild(child) {
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

/** Warm-up, then the measured autocannon run against `${url}/events`. */
export async function driveHttp(ctx, url) {
  const { default: autocannon } = await import('autocannon');
  const run = (seconds) =>
    autocannon({
      url: `${url}/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: httpEventJson(),
      idReplacement: true,
      connections: kHttpConnections,
      duration: seconds,
    });
  if (ctx.warmupMs > 0) await run(Math.max(1, Math.round(ctx.warmupMs / 1000)));
  const r = await run(Math.max(1, Math.round(ctx.measureMs / 1000)));
  const ok = r['2xx'];
  return {
    events: ok,
    windowMs: r.duration * 1000,
    eventsPerSec: ok / r.duration,
    failed: r.non2xx + r.errors + r.timeouts,
    latency: { p50Ms: r.latency.p50, p99Ms: r.latency.p99, p999Ms: r.latency.p99_9, maxMs: r.latency.max },
    connections: kHttpConnections,
  };
}
