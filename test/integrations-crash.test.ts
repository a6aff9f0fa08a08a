/**
 * Every adapter with its real host library in a child process: the child logs (or serves) and
 * reports what its adapter acknowledged (a flush callback, winston's 'logged', an HTTP response),
 * is SIGKILLed at once, and everything acknowledged must be in the WAL, in order, exactly once,
 * with every field of the caller's object.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { IntegrationChild, walEvents } from './helpers/integration-child.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
let child: IntegrationChild | undefined;
beforeEach(() => {
  tmp = new TempDir('ironlog-integ-crash-');
});
afterEach(async () => {
  await child?.kill();
  child = undefined;
  tmp.dispose();
});

/** The `i` fields of the WAL's events, in seq order. */
async function loggedIndexes(dir: string): Promise<number[]> {
  const records = await walEvents(dir);
  return records.map((r) => (r.event as { i: number }).i);
}

describe.each(['pino-transport', 'pino-destination', 'pino-destination-sync', 'winston'])('%s', (adapter) => {
  it('keeps every record acknowledged before a SIGKILL', async () => {
    child = new IntegrationChild([adapter, tmp.path, '4', '300']);
    // Kill right after the third acknowledgement, while the child keeps logging.
    const line = await child.waitLine((l) => l === 'ACKED 900');
    await child.kill();
    expect(line).toBe('ACKED 900');
    const indexes = await loggedIndexes(tmp.path);
    expect(indexes.length).toBeGreaterThanOrEqual(900);
    // In order, exactly once: the first records are 0..n-1 without gaps or repeats.
    expect(indexes.slice(0, 900)).toEqual(Array.from({ length: 900 }, (_, i) => i));
    expect(new Set(indexes).size).toBe(indexes.length);
    const first = (await walEvents(tmp.path))[0]?.event as Record<string, unknown>;
    // `ironlog replay` shows the caller's whole object as the record's event.
    const replay = await runCli(['replay', '--dir', tmp.path, '--to-seq', '1', '--format', 'ndjson']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout.trim().split('\n')[0] as string).event).toEqual(first);
    if (adapter === 'winston') {
      expect(first).toMatchObject({ i: 0, audit: true, level: 'info', message: 'line 0' });
    } else {
      // pino's whole log object: level, time, pid, hostname, msg and the caller's fields.
      expect(first).toMatchObject({ i: 0, audit: true, nested: { round: 0 }, level: 30, msg: 'line 0' });
      expect(typeof first['time']).toBe('number');
      expect(typeof first['pid']).toBe('number');
    }
  });
});

describe('pino transport and process.exit()', () => {
  it('loses nothing logged before process.exit() without a flush', async () => {
    child = new IntegrationChild(['pino-transport-exit', tmp.path, '10', '200']);
    expect(await child.exited).toBe(0);
    expect(await loggedIndexes(tmp.path)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});

describe.each(['fastify', 'express'])('%s', (adapter) => {
  it('keeps the audit record of every request that got its response before a SIGKILL', async () => {
    child = new IntegrationChild([adapter, tmp.path]);
    const port = Number((await child.waitLine((l) => l.startsWith('PORT '))).slice(5));
    const answered: number[] = [];
    // 8 concurrent clients, 40 requests each; the kill follows the last response at once.
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        for (let k = 0; k < 40; k++) {
          const n = c * 1000 + k;
          const r = await fetch(`http://127.0.0.1:${port}/items/${n}?token=secret`, {
            method: 'POST',
            headers: { 'x-req-n': String(n), 'x-user': `user-${c}`, authorization: 'Bearer t' },
          });
          expect(r.status).toBe(200);
          await r.json();
          answered.push(n);
        }
      }),
    );
    await child.kill();
    const events = (await walEvents(tmp.path)).map((r) => r.event as Record<string, unknown>);
    const byN = new Map(events.map((e) => [Number((e['headers'] as Record<string, string>)['x-req-n']), e]));
    for (const n of answered) expect(byN.has(n)).toBe(true);
    expect(events.length).toBe(answered.length);
    const sample = byN.get(answered[0] as number);
    expect(sample).toMatchObject({
      type: 'http.request',
      method: 'POST',
      route: '/items/:id',
      status: 200,
      ip: '127.0.0.1',
    });
    expect(String(sample?.['path'])).toMatch(/^\/items\/\d+$/);
    expect(String(sample?.['actor'])).toMatch(/^user-\d$/);
    expect(typeof sample?.['latencyMs']).toBe('number');
    expect(typeof sample?.['requestId']).toBe('string');
  });

  it('with recordIntent, a crash inside the handler leaves the intent on the record', async () => {
    child = new IntegrationChild([`${adapter}-intent`, tmp.path]);
    const port = Number((await child.waitLine((l) => l.startsWith('PORT '))).slice(5));
    await expect(
      fetch(`http://127.0.0.1:${port}/crash`, { method: 'POST', headers: { 'x-req-n': '7' } }),
    ).rejects.toThrow();
    await child.exited;
    const events = (await walEvents(tmp.path)).map((r) => r.event as Record<string, unknown>);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'http.intent',
        method: 'POST',
        path: '/crash',
        status: null,
        headers: { 'x-req-n': '7' },
      }),
    ]);
  });
});
