/**
 * Adapters against a failing sink (the fault fs of src/testing on a real WAL, or a closed sink),
 * backpressure of the pino destination on a small ring, `filter` on every adapter. Real pino,
 * winston, Fastify and Express; real HTTP on 127.0.0.1 port 0.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import ironlogExpress from '../dist/integrations/express/index.js';
import ironlogFastify from '../dist/integrations/fastify/index.js';
import { ironlogDestination } from '../dist/integrations/pino/index.js';
import IronlogTransport from '../dist/integrations/winston/index.js';
import { openSink, type Sink } from '../dist/main/index.js';
import { readRingUsage } from '../dist/monitoring/ring-usage.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { walEvents } from './helpers/integration-child.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  tmp = new TempDir('ironlog-integ-faults-');
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  tmp.dispose();
});

async function faultySink(): Promise<{ sink: Sink; faults: FaultSwitch }> {
  const faults = new FaultSwitch();
  const sink = await openSink({ dir: tmp.join('wal'), walFsModule: faultFsModulePath, walFsModuleData: faults.sab });
  cleanups.push(() => sink.close());
  return { sink, faults };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Waits until the writer has cleared a fault (the WAL is open again). */
async function waitOpen(sink: Sink): Promise<void> {
  for (let t = 0; t < 500 && readRingUsage(sink.producer().sab).state !== 'open'; t++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(readRingUsage(sink.producer().sab).state).toBe('open');
}

describe('fastify: a request whose audit record cannot be made durable', () => {
  it("gets 503 on a full disk, not the handler's 200, and 200 again once the disk has room", async () => {
    const { sink, faults } = await faultySink();
    const app = Fastify();
    await app.register(ironlogFastify, { sink });
    app.get('/ok', async () => ({ ok: true }));
    await app.ready();
    cleanups.push(() => app.close());
    faults.failWrites('ENOSPC', -1);
    const failed = await app.inject({ method: 'GET', url: '/ok' });
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_DISK_FULL' } });
    faults.clear();
    // The writer clears the fault by itself (gap record); then requests pass again.
    let status = 0;
    for (let t = 0; t < 100 && status !== 200; t++) {
      status = (await app.inject({ method: 'GET', url: '/ok' })).statusCode;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(sink.closed).toBe(false); // a sink passed in is not closed by the plugin
  });

  it('answers the configured failureStatus on a closed sink, and request.audit rejects', async () => {
    const sink = await openSink({ dir: tmp.join('wal') });
    const app = Fastify();
    let auditError: unknown;
    await app.register(ironlogFastify, { sink, failureStatus: 500 });
    app.get('/h', async (req) => {
      await req.audit({ action: 'read' }).catch((err: unknown) => {
        auditError = err;
      });
      return { ok: true };
    });
    await app.ready();
    cleanups.push(() => app.close());
    await sink.close();
    const r = await app.inject({ method: 'GET', url: '/h' });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_CLOSED' } });
    expect(auditError).toMatchObject({ code: 'ERR_IRONLOG_CLOSED' });
  });

  it("request.audit writes the handler's object (redacted, with requestId); filter and redaction apply; onClose closes an owned sink", async () => {
    const dir = tmp.join('own');
    const app = Fastify();
    await app.register(ironlogFastify, {
      dir,
      headers: ['x-api-key', 'authorization'],
      redact: ['headers.x-api-key', 'card.number'],
      filter: (e) => e.status !== 404,
    });
    app.post('/pay', async (req) => {
      const ack = await req.audit({ action: 'pay', card: { number: '4111', brand: 'visa' } });
      return { seq: ack.seq };
    });
    const paid = await app.inject({
      method: 'POST',
      url: '/pay?secret=1',
      headers: { 'x-api-key': 'k', authorization: 'Bearer x' },
    });
    expect(paid.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/missing' })).statusCode).toBe(404);
    const sink = app.ironlogSink;
    await app.close();
    expect(sink.closed).toBe(true);
    const events = (await walEvents(dir)).map((r) => r.event);
    expect(events).toEqual([
      { action: 'pay', card: { number: '[REDACTED]', brand: 'visa' }, requestId: expect.any(String) },
      expect.objectContaining({
        type: 'http.request',
        path: '/pay',
        status: 200,
        headers: { 'x-api-key': '[REDACTED]', authorization: '[REDACTED]' },
      }),
    ]);
  });
});

describe('express: a request whose audit record cannot be made durable', () => {
  it('gets 503 on a full disk and on a closed sink, not 200', async () => {
    const { sink, faults } = await faultySink();
    const app = express();
    app.use(ironlogExpress({ sink }));
    app.get('/ok', (_req, res) => res.json({ ok: true }));
    const url = await listen(http.createServer(app));
    expect((await fetch(`${url}/ok`)).status).toBe(200);
    faults.failWrites('ENOSPC', -1);
    const failed = await fetch(`${url}/ok`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_DISK_FULL' } });
    faults.clear();
    await sink.close();
    const closed = await fetch(`${url}/ok`);
    expect(closed.status).toBe(503);
    expect(await closed.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_CLOSED' } });
  });

  it('audits an aborted request (close without finish) and filters', async () => {
    const dir = tmp.join('own');
    const audit = ironlogExpress({ dir, filter: (e) => e.path !== '/skip' });
    cleanups.push(() => audit.close());
    const app = express();
    app.use(audit);
    let release: (() => void) | undefined;
    app.get('/slow', (_req, res) => {
      release = () => res.json({ late: true });
    });
    app.get('/skip', (_req, res) => res.json({ skipped: true }));
    const url = await listen(http.createServer(app));
    expect((await fetch(`${url}/skip`)).status).toBe(200);
    const controller = new AbortController();
    const pending = fetch(`${url}/slow`, { signal: controller.signal });
    for (let t = 0; t < 200 && release === undefined; t++) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    await expect(pending).rejects.toThrow();
    const sink = await audit.ready;
    let events: unknown[] = [];
    for (let t = 0; t < 200 && events.length === 0; t++) {
      await new Promise((r) => setTimeout(r, 10));
      await sink.flush();
      events = (await walEvents(dir)).map((r) => r.event);
    }
    release?.();
    expect(events).toEqual([expect.objectContaining({ type: 'http.aborted', path: '/slow', status: null })]);
  });
});

describe('pino destination', () => {
  it('returns false from write() while the ring is full, emits drain, and loses nothing', async () => {
    const dir = tmp.join('wal');
    const sink = await openSink({ dir, ringBytes: 64 * 1024, maxEventBytes: 8 * 1024 });
    cleanups.push(() => sink.close());
    const dest = ironlogDestination({ sink, maxBufferedBytes: 1024 * 1024 });
    let drains = 0;
    dest.on('drain', () => drains++);
    const line = (i: number): string => `${JSON.stringify({ level: 30, i, pad: 'x'.repeat(900) })}\n`;
    let falses = 0;
    let n = 0;
    // Write until the ring pushes back, a few times over.
    while (falses < 3 && n < 100_000) {
      if (!dest.write(line(n++))) {
        falses++;
        await new Promise<void>((resolve) => dest.once('drain', () => resolve()));
      }
    }
    expect(falses).toBe(3);
    expect(drains).toBeGreaterThanOrEqual(3);
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    const indexes = (await walEvents(dir)).map((r) => (r.event as { i: number }).i);
    expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('flush() and flushSync() report a record that is not durable; filter keeps errors and audit lines', async () => {
    const { sink, faults } = await faultySink();
    const dest = ironlogDestination({ sink, filter: { minLevel: 'error', hasField: 'audit' } });
    const errors: unknown[] = [];
    dest.on('error', (err) => errors.push(err));
    const logger = pino(dest);
    logger.info('dropped by the filter');
    logger.info({ audit: { who: 'u1' } }, 'kept: audit');
    logger.error('kept: error');
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    dest.flushSync();
    // The failed write is the line's own, or one of the writer's (zero-fill ahead) just before it:
    // then the line finds the WAL faulted. Either way it is not durable, and the flush says so.
    const notDurable = expect.stringMatching(/^ERR_IRONLOG_WAL_(WRITE|FAULTED)$/);
    faults.failWrites('EIO', 1);
    logger.error('lost');
    await expect(
      new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve()))),
    ).rejects.toMatchObject({ code: notDurable });
    expect(errors).toEqual([expect.objectContaining({ code: notDurable })]);
    // Wait until the writer cleared the fault (gap record) before the next injection.
    await waitOpen(sink);
    faults.failWrites('EIO', 1);
    logger.error('lost too');
    expect(() => dest.flushSync()).toThrow(expect.objectContaining({ code: notDurable }));
    const msgs = (await walEvents(tmp.join('wal'))).map((r) => (r.event as { msg?: string }).msg);
    expect(msgs).toContain('kept: audit');
    expect(msgs).toContain('kept: error');
    expect(msgs).not.toContain('dropped by the filter');
    expect(msgs).not.toContain('lost');
  });

  it('flushSync() before the sink is open is a typed error', async () => {
    const dest = ironlogDestination({ dir: tmp.join('wal') });
    expect(() => dest.flushSync()).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOT_READY' }));
    await new Promise<void>((resolve) => dest.once('ready', () => resolve()));
    await new Promise<void>((resolve) => dest.end(() => resolve()));
    expect(dest.sink?.closed).toBe(true);
  });
});

describe('winston transport', () => {
  it('reports a failed info as an error, stays piped, and logs the next one; filter applies', async () => {
    const { sink, faults } = await faultySink();
    const transport = new IronlogTransport({ sink, filter: { minLevel: 'warn', hasField: 'audit' } });
    const logger = winston.createLogger({ level: 'debug', transports: [transport] });
    const errors: unknown[] = [];
    logger.on('error', (err) => errors.push(err));
    const logged: unknown[] = [];
    transport.on('logged', (info) => logged.push(info.message));
    const waitLogged = async (n: number): Promise<void> => {
      for (let t = 0; t < 500 && logged.length < n; t++) await new Promise((r) => setTimeout(r, 10));
    };
    logger.info('filtered out');
    logger.info('audited', { audit: true });
    await waitLogged(1);
    faults.failWrites('EIO', 1);
    logger.error('fails');
    for (let t = 0; t < 500 && errors.length === 0; t++) await new Promise((r) => setTimeout(r, 10));
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_IRONLOG_WAL_WRITE' })]);
    // Still piped: the next info reaches the WAL once the writer cleared the fault.
    let events: string[] = [];
    for (let attempt = 0; attempt < 50 && !events.includes('after the error'); attempt++) {
      logger.warn('after the error');
      await waitLogged(logged.length + 1);
      events = (await walEvents(tmp.join('wal'))).map((r) => String((r.event as { message: string }).message));
    }
    expect(events[0]).toBe('audited');
    expect(events).toContain('after the error');
    expect(events).not.toContain('filtered out');
    expect(events).not.toContain('fails');
    expect(logged).not.toContain('fails');
  });

  it("logger.end() then the transport's finish: every info is durable and the owned sink closed", async () => {
    const dir = tmp.join('own');
    const transport = new IronlogTransport({ dir });
    const logger = winston.createLogger({ transports: [transport] });
    for (let i = 0; i < 500; i++) logger.info('m', { i });
    const finished = new Promise<void>((resolve) => transport.on('finish', () => resolve()));
    logger.end();
    await finished;
    expect(transport.sink?.closed).toBe(true);
    const indexes = (await walEvents(dir)).map((r) => (r.event as { i: number }).i);
    expect(indexes).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});

describe('recordIntent: an intent that cannot be recorded', () => {
  it('fastify and express answer failureStatus and never run the handler', async () => {
    const sink = await openSink({ dir: tmp.join('wal') });
    let ran = 0;
    const app = Fastify();
    await app.register(ironlogFastify, { sink, recordIntent: true, failureStatus: 507 });
    app.post('/act', async () => {
      ran++;
      return { ok: true };
    });
    await app.ready();
    cleanups.push(() => app.close());
    const ex = express();
    ex.use(ironlogExpress({ sink, recordIntent: true, failureStatus: 507 }));
    ex.post('/act', (_req, res) => {
      ran++;
      res.json({ ok: true });
    });
    const url = await listen(http.createServer(ex));
    expect((await app.inject({ method: 'POST', url: '/act' })).statusCode).toBe(200);
    expect((await fetch(`${url}/act`, { method: 'POST' })).status).toBe(200);
    expect(ran).toBe(2);
    await sink.close();
    const f = await app.inject({ method: 'POST', url: '/act' });
    expect(f.statusCode).toBe(507);
    expect(f.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_CLOSED' } });
    const e = await fetch(`${url}/act`, { method: 'POST' });
    expect(e.status).toBe(507);
    expect(await e.json()).toMatchObject({ error: { code: 'ERR_IRONLOG_CLOSED' } });
    expect(ran).toBe(2);
    // Both requests of each framework: an intent and an outcome.
    const types = (await walEvents(tmp.join('wal'))).map((r) => (r.event as { type: string }).type);
    expect(types).toEqual(['http.intent', 'http.request', 'http.intent', 'http.request']);
  });
});
