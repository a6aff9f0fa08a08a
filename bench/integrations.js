// Throughput of each integration against plain `sink.emit()` in the same run, over dist/ (run
// `npm run build` first): `node bench/integrations.js`. Every figure is durable events per second
// (the clock stops when the adapter acknowledged the last one: a flush callback, winston's
// 'logged', an HTTP response). Rounds alternate the scenarios so they share the same conditions.
// Knobs (env): IRONLOG_BENCH_EVENTS (log events per run, default 50,000), IRONLOG_BENCH_REQUESTS
// (HTTP requests per run, default 3,000), IRONLOG_BENCH_CONCURRENCY (HTTP clients, default 32),
// IRONLOG_BENCH_ROUNDS (default 3). Writes bench/results/integrations-latest.json.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import express from 'express';
import Fastify from 'fastify';
import pino from 'pino';
import winston from 'winston';
import { makeEvent } from './lib/event.js';
import { machineInfo, machineRows } from './lib/machine.js';
import { createTmpRoot } from './lib/tmp.js';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(kRoot, 'dist', p);
const { openSink } = await import(dist('main/index.js'));
const { default: ironlogPino, ironlogDestination } = await import(dist('integrations/pino/index.js'));
const { default: IronlogTransport } = await import(dist('integrations/winston/index.js'));
const { default: ironlogFastify } = await import(dist('integrations/fastify/index.js'));
const { default: ironlogExpress } = await import(dist('integrations/express/index.js'));
void ironlogPino;

const num = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.round(v) : fallback;
};
const kEvents = num('IRONLOG_BENCH_EVENTS', 50_000);
const kRequests = num('IRONLOG_BENCH_REQUESTS', 3_000);
const kConcurrency = num('IRONLOG_BENCH_CONCURRENCY', 32);
const kRounds = num('IRONLOG_BENCH_ROUNDS', 3);
/** Emits in flight for the plain-emit baseline (the sink's own closed loop). */
const kWindow = 1024;

const tmp = createTmpRoot(kRoot);
const flushed = (logger) => new Promise((resolve, reject) => logger.flush((e) => (e ? reject(e) : resolve())));

/** Each returns { events, seconds }. */
const logScenarios = {
  async 'sink.emit (baseline)'(dir) {
    const sink = await openSink({ dir });
    const ev = makeEvent();
    const t0 = performance.now();
    const inflight = new Set();
    for (let i = 0; i < kEvents; i++) {
      ev.n = i;
      const p = sink.emit(ev).then(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= kWindow) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const seconds = (performance.now() - t0) / 1000;
    await sink.close();
    return { events: kEvents, seconds };
  },
  async 'pino transport'(dir) {
    const transport = pino.transport({ target: dist('integrations/pino/index.js'), options: { dir } });
    await new Promise((resolve) => transport.once('ready', resolve));
    const logger = pino(transport);
    const ev = makeEvent();
    const t0 = performance.now();
    for (let i = 0; i < kEvents; i++) {
      ev.n = i;
      logger.info(ev, 'audit');
      // Let the transport's worker run now and then, as a server's event loop would.
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await flushed(logger);
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((resolve) => {
      transport.once('close', resolve);
      transport.once('finish', resolve);
      transport.end();
    });
    return { events: kEvents, seconds };
  },
  async 'pino destination'(dir) {
    const sink = await openSink({ dir });
    const dest = ironlogDestination(sink);
    const logger = pino(dest);
    const ev = makeEvent();
    const t0 = performance.now();
    for (let i = 0; i < kEvents; i++) {
      ev.n = i;
      logger.info(ev, 'audit');
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await flushed(logger);
    const seconds = (performance.now() - t0) / 1000;
    await sink.close();
    return { events: kEvents, seconds };
  },
  async 'winston transport'(dir) {
    const transport = new IronlogTransport({ dir });
    await transport.ready();
    const logger = winston.createLogger({ transports: [transport] });
    let logged = 0;
    let done;
    const all = new Promise((resolve) => {
      done = resolve;
    });
    transport.on('logged', () => {
      if (++logged === kEvents) done();
    });
    const ev = makeEvent();
    const t0 = performance.now();
    for (let i = 0; i < kEvents; i++) {
      ev.n = i;
      logger.info('audit', { ...ev });
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await all;
    const seconds = (performance.now() - t0) / 1000;
    const finished = new Promise((resolve) => transport.once('finish', resolve));
    logger.end();
    await finished;
    return { events: kEvents, seconds };
  },
};

/** Drives `url` with kConcurrency keep-alive clients for kRequests requests. */
async function drive(url) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: kConcurrency });
  let next = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method: 'POST', agent, headers: { 'x-user': 'user-48213', 'content-length': '0' } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: kConcurrency }, async () => {
      while (next++ < kRequests) await one();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { events: kRequests, seconds };
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}/items/42`;
}

const httpScenarios = {
  async 'fastify, no audit (baseline)'() {
    const app = Fastify();
    app.post('/items/:id', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const r = await drive(`http://127.0.0.1:${app.server.address().port}/items/42`);
    await app.close();
    return r;
  },
  async 'fastify + ironlog'(dir) {
    const app = Fastify();
    await app.register(ironlogFastify, { dir, actor: (req) => req.headers['x-user'] ?? null });
    app.post('/items/:id', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const r = await drive(`http://127.0.0.1:${app.server.address().port}/items/42`);
    await app.close();
    return r;
  },
  async 'express, no audit (baseline)'() {
    const app = express();
    app.post('/items/:id', (_req, res) => res.json({ ok: true }));
    const server = http.createServer(app);
    const r = await drive(await listen(server));
    await new Promise((resolve) => server.close(resolve));
    return r;
  },
  async 'express + ironlog'(dir) {
    const app = express();
    const audit = ironlogExpress({ dir, actor: (req) => req.get('x-user') ?? null });
    app.use(audit);
    app.post('/items/:id', (_req, res) => res.json({ ok: true }));
    const server = http.createServer(app);
    const r = await drive(await listen(server));
    await new Promise((resolve) => server.close(resolve));
    await audit.close();
    return r;
  },
};

const machine = machineInfo(tmp);
for (const [k, v] of machineRows(machine)) console.log(`${k.padEnd(12)} ${v}`);
console.log(
  `\n${kEvents} log events per run, ${kRequests} HTTP requests (${kConcurrency} clients), ${kRounds} rounds\n`,
);

const results = new Map();
const all = { ...logScenarios, ...httpScenarios };
for (let round = 0; round < kRounds; round++) {
  for (const [name, run] of Object.entries(all)) {
    const r = await run(tmp.newDir(name));
    const rate = r.events / r.seconds;
    if (!results.has(name)) results.set(name, []);
    results.get(name).push(rate);
    console.log(`round ${round + 1}  ${name.padEnd(30)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} /s`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const base = median(results.get('sink.emit (baseline)'));
const rows = [...results].map(([name, rates]) => {
  const m = median(rates);
  const httpBase = name.startsWith('fastify')
    ? median(results.get('fastify, no audit (baseline)'))
    : name.startsWith('express')
      ? median(results.get('express, no audit (baseline)'))
      : undefined;
  return {
    scenario: name,
    medianPerSecond: Math.round(m),
    vsEmit: Math.round((m / base) * 1000) / 1000,
    vsUnauditedFramework: httpBase === undefined ? null : Math.round((m / httpBase) * 1000) / 1000,
    rounds: rates.map(Math.round),
  };
});
console.log('\nscenario                         median/s   vs emit   vs same framework unaudited');
for (const r of rows) {
  console.log(
    `${r.scenario.padEnd(30)} ${r.medianPerSecond.toLocaleString('en-US').padStart(9)} ${r.vsEmit.toFixed(3).padStart(9)} ${
      r.vsUnauditedFramework === null ? '' : r.vsUnauditedFramework.toFixed(3).padStart(12)
    }`,
  );
}
const out = path.join(kRoot, 'bench', 'results', 'integrations-latest.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  `${JSON.stringify({ machine, config: { kEvents, kRequests, kConcurrency, kRounds }, rows }, null, 2)}\n`,
);
console.log(`\nwrote ${path.relative(kRoot, out)}`);
process.exit(0);
