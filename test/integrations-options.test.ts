/** Option validation of every adapter (typed errors), and the pino transport's filter across its thread. */
import Fastify from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import ironlogExpress from '../dist/integrations/express/index.js';
import ironlogFastify from '../dist/integrations/fastify/index.js';
import ironlogTransport, { ironlogDestination } from '../dist/integrations/pino/index.js';
import IronlogTransport from '../dist/integrations/winston/index.js';
import { connectProducer, openSink } from '../dist/main/index.js';
import { EventEncoder } from '../dist/wal/event-codec.js';
import { walEvents } from './helpers/integration-child.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-integ-opts-');
});
afterEach(() => tmp.dispose());

const invalid = { code: 'ERR_IRONLOG_INVALID_OPTION' };

describe('option validation', () => {
  it('every adapter needs { dir } or { sink }, and not both', async () => {
    const sink = await openSink({ dir: tmp.join('wal') });
    try {
      for (const make of [
        (o: never) => ironlogExpress(o),
        (o: never) => ironlogDestination(o),
        (o: never) => new IronlogTransport(o),
      ]) {
        expect(() => make({} as never)).toThrow(expect.objectContaining(invalid));
        expect(() => make({ sink, dir: tmp.path } as never)).toThrow(expect.objectContaining(invalid));
        expect(() => make({ sink: { emit() {} } } as never)).toThrow(expect.objectContaining(invalid));
      }
      await expect(ironlogTransport({} as never)).rejects.toMatchObject(invalid);
      const app = Fastify();
      await expect(app.register(ironlogFastify, {} as never).ready()).rejects.toMatchObject(invalid);
    } finally {
      await sink.close();
    }
  });

  it('refuses bad audit and filter options with the option named', async () => {
    const sink = await openSink({ dir: tmp.join('wal') });
    try {
      const cases: [() => unknown, RegExp][] = [
        [() => ironlogExpress({ sink, failureStatus: 200 }), /options\.failureStatus/],
        [() => ironlogExpress({ sink, redact: 'headers.x' as never }), /options\.redact/],
        [() => ironlogExpress({ sink, actor: 'me' as never }), /options\.actor/],
        [() => ironlogExpress({ sink, recordIntent: 'yes' as never }), /options\.recordIntent/],
        [() => ironlogDestination({ sink, filter: { level: 3 } as never }), /options\.filter\.level/],
        [() => ironlogDestination({ sink, filter: { minLevel: 'loud' } }), /options\.filter\.minLevel/],
        [() => ironlogDestination({ sink, filter: { hasField: [] } }), /options\.filter\.hasField/],
        [() => ironlogDestination({ sink, maxBufferedBytes: -1 }), /options\.maxBufferedBytes/],
        [() => new IronlogTransport({ sink, filter: { minLevel: 3 } as never }), /options\.filter\.minLevel/],
        [() => new IronlogTransport({ sink, highWaterMark: 0 }), /options\.highWaterMark/],
      ];
      for (const [make, message] of cases) {
        expect(make).toThrow(expect.objectContaining({ ...invalid, message: expect.stringMatching(message) }));
      }
    } finally {
      await sink.close();
    }
  });
});

describe('pino transport filter', () => {
  it('keeps only the lines the spec selects, in its worker thread', async () => {
    const dir = tmp.join('wal');
    const transport = pino.transport({
      target: 'ironlog/pino',
      options: { dir, filter: { minLevel: 'error', hasField: ['audit', 'security'] } },
    });
    const logger = pino(transport);
    logger.info('plain info');
    logger.info({ audit: { who: 'u1' } }, 'audit info');
    logger.warn({ security: 'mfa' }, 'security warn');
    logger.warn('plain warn');
    logger.error('an error');
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => {
      transport.once('finish', () => resolve());
      transport.once('close', () => resolve());
      transport.end();
    });
    const msgs = (await walEvents(dir)).map((r) => (r.event as { msg: string }).msg);
    expect(msgs).toEqual(['audit info', 'security warn', 'an error']);
  });
});

describe('pino transport backpressure', () => {
  it('a ring much smaller than what is logged: reading pauses and resumes, flush completes, nothing is lost', async () => {
    const dir = tmp.join('wal');
    const transport = pino.transport({
      target: 'ironlog/pino',
      options: { dir, ringBytes: 64 * 1024, maxEventBytes: 8 * 1024, maxBufferedBytes: 64 * 1024 },
    });
    const logger = pino(transport);
    const pad = 'p'.repeat(400);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      logger.info({ i, pad }, 'bulk');
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => {
      transport.once('finish', () => resolve());
      transport.once('close', () => resolve());
      transport.end();
    });
    const indexes = (await walEvents(dir)).map((r) => (r.event as { i: number }).i);
    expect(indexes).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});

describe('Producer.tryEmitEncoded (what the pino adapters emit through)', () => {
  it('says at once whether the ring took the event: every accepted event is in the WAL exactly once, no refused one', async () => {
    const dir = tmp.join('wal');
    const sink = await openSink({ dir, ringBytes: 64 * 1024, maxEventBytes: 8 * 1024 });
    const producer = connectProducer(sink.producer());
    const encoder = new EventEncoder();
    const acks: Promise<unknown>[] = [];
    let refusals = 0;
    const pad = 'q'.repeat(400);
    for (let i = 0; i < 20_000; i++) {
      const payload = Buffer.from(encoder.encode({ i, pad }));
      for (;;) {
        const ack = producer.tryEmitEncoded(payload);
        if (ack !== undefined) {
          acks.push(ack);
          break;
        }
        refusals++;
        await new Promise((r) => setTimeout(r, 1));
      }
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(acks);
    producer.dispose();
    await sink.close();
    expect(refusals).toBeGreaterThan(0);
    const indexes = (await walEvents(dir)).map((r) => (r.event as { i: number }).i);
    expect(indexes).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });
});
