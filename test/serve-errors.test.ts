import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IronlogError, openSink } from '../dist/main/index.js';
import { type IngestTarget, startIngestServer } from '../dist/server/http-ingest.js';
import { FaultSwitch, faultFsModulePath } from '../dist/testing/fault-fs.js';
import { postEvents } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-serve-err-');
});
afterEach(() => tmp.dispose());

/** A stand-in sink whose emits fail with `code`, recording what reached it. */
function failingTarget(code: string): IngestTarget & { calls: number } {
  const target = {
    calls: 0,
    emitEncodedBatch(): Promise<never> {
      target.calls++;
      return Promise.reject(new IronlogError(code as 'ERR_IRONLOG_BACKPRESSURE', `injected ${code}`));
    },
    health: () => Promise.reject(new Error('not used')),
    metrics: undefined,
    options: { maxEventBytes: 1024, ringBytes: 64 * 1024 },
  };
  return target;
}

describe('HTTP status of emit failures', () => {
  it('maps backpressure, disk full and a faulted WAL to 503 with Retry-After, a too-large event to 413', async () => {
    for (const [code, status, retry] of [
      ['ERR_IRONLOG_BACKPRESSURE', 503, '1'],
      ['ERR_IRONLOG_DISK_FULL', 503, '5'],
      ['ERR_IRONLOG_WAL_FAULTED', 503, '1'],
      ['ERR_IRONLOG_CLOSED', 503, '1'],
      ['ERR_IRONLOG_INTERNAL', 500, null],
    ] as const) {
      const target = failingTarget(code);
      const server = await startIngestServer(target, { port: 0 });
      try {
        const r = await postEvents(server.url, '[{"a":1},{"a":2}]');
        expect({ code, status: r.status, retry: r.headers.get('retry-after') }).toEqual({ code, status, retry });
        expect(r.json).toMatchObject({ error: { code } });
        expect(target.calls).toBe(1);
      } finally {
        await server.stop();
      }
    }
  });

  it('refuses, before emitting anything, an event over maxEventBytes and a batch over half the ring', async () => {
    const target = failingTarget('ERR_IRONLOG_INTERNAL');
    const server = await startIngestServer(target, { port: 0, maxBodyBytes: 1024 * 1024 });
    try {
      const big = await postEvents(server.url, JSON.stringify([{ a: 1 }, { pad: 'x'.repeat(2000) }]));
      expect(big.status).toBe(413);
      expect(big.json).toMatchObject({ error: { code: 'ERR_IRONLOG_EVENT_TOO_LARGE' } });
      const many = await postEvents(
        server.url,
        JSON.stringify(Array.from({ length: 200 }, () => ({ pad: 'y'.repeat(500) }))),
      );
      expect(many.status).toBe(413);
      expect(target.calls).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe('a real sink on a full disk', () => {
  it('answers 503 + Retry-After while the disk is full, is live but not ready, and recovers', async () => {
    const faults = new FaultSwitch();
    const sink = await openSink({
      dir: tmp.path,
      metrics: true,
      walFsModule: faultFsModulePath,
      walFsModuleData: faults.sab,
    });
    const server = await startIngestServer(sink, { port: 0 });
    try {
      expect((await postEvents(server.url, '{"before":1}')).json).toEqual({ seqs: [1] });
      faults.failWrites('ENOSPC');
      const full = await postEvents(server.url, '{"during":1}');
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('5');
      expect(full.json).toMatchObject({ error: { code: 'ERR_IRONLOG_DISK_FULL' } });
      const refused = await postEvents(server.url, '{"during":2}');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      const ready = await fetch(`${server.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: 'unavailable',
        reasons: [expect.stringContaining('faulted')],
      });
      expect((await fetch(`${server.url}/health/live`)).status).toBe(200);
      const health = (await (await fetch(`${server.url}/health`)).json()) as {
        wal: { state: string; faultCode: string };
      };
      expect(health.wal).toMatchObject({ state: 'faulted', faultCode: 'ERR_IRONLOG_DISK_FULL' });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/ironlog_wal_writable 0/);
      expect(metrics).toMatch(/ironlog_emit_errors_total\{code="ERR_IRONLOG_DISK_FULL"\} 1/);

      faults.clear();
      // The writer retries its gap record every 200 ms; poll until emits are accepted again.
      let after: Awaited<ReturnType<typeof postEvents>> | undefined;
      for (let i = 0; i < 100; i++) {
        after = await postEvents(server.url, '{"after":1}');
        if (after.status === 200) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(after?.status).toBe(200);
      expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    } finally {
      await server.stop();
      await sink.close();
    }
  });
});
