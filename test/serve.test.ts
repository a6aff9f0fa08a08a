import { pack } from 'msgpackr';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readWal } from '../dist/main/index.js';
import { exited, killChildren, postEvents, startServe } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-serve-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

async function records(dir: string): Promise<Array<{ seq: number; event: unknown }>> {
  const out: Array<{ seq: number; event: unknown }> = [];
  for await (const r of readWal(dir)) out.push({ seq: r.seq, event: r.event });
  return out;
}

/** Reopens the WAL with a sink (cuts a torn tail a SIGKILL may leave) and reads every record. */
async function recordsAfterCrash(dir: string): Promise<Map<number, unknown>> {
  const sink = await openSink({ dir });
  const out = new Map<number, unknown>();
  for await (const r of sink.replay({ fromSeq: 1 })) out.set(r.seq, r.event);
  await sink.close();
  return out;
}

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }>;
}

describe('ironlog serve', () => {
  it('accepts a JSON object, a JSON array, NDJSON and msgpack, and answers with the seqs', async () => {
    const { child, url } = await startServe(tmp.path);
    const one = await postEvents(url, JSON.stringify({ user: 'u1', action: 'login' }));
    expect(one).toMatchObject({ status: 200, json: { seqs: [1] } });
    const arr = await postEvents(url, JSON.stringify([{ a: 1 }, { a: 2 }, { a: 3 }]));
    expect(arr.json).toEqual({ seqs: [2, 3, 4] });
    const nd = await postEvents(url, '{"n":1}\n\n{"n":2}\n', 'application/x-ndjson');
    expect(nd.json).toEqual({ seqs: [5, 6] });
    const mp = await postEvents(url, pack([{ m: 1 }, { m: 2, nested: { x: [1, 2] } }]), 'application/msgpack');
    expect(mp.json).toEqual({ seqs: [7, 8] });
    const mpOne = await postEvents(url, pack({ m: 3 }), 'application/msgpack');
    expect(mpOne.json).toEqual({ seqs: [9] });
    const empty = await postEvents(url, '[]');
    expect(empty).toMatchObject({ status: 200, json: { seqs: [] } });

    // Graceful stop: exit code 0, and everything is in a cleanly readable WAL.
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect((await records(tmp.path)).map((r) => r.event)).toEqual([
      { user: 'u1', action: 'login' },
      { a: 1 },
      { a: 2 },
      { a: 3 },
      { n: 1 },
      { n: 2 },
      { m: 1 },
      { m: 2, nested: { x: [1, 2] } },
      { m: 3 },
    ]);
  });

  it('answers 400/413/415 to bad bodies and writes nothing of them', async () => {
    const { child, url } = await startServe(tmp.path, ['--max-body-bytes', '2KiB']);
    const bad: Array<[string | Uint8Array, string, number]> = [
      ['{"user": "u1", ', 'application/json', 400],
      ['', 'application/json', 400],
      ['42', 'application/json', 400],
      ['"text"', 'application/json', 400],
      ['null', 'application/json', 400],
      // A valid batch with one bad item: nothing of it may be written.
      ['[{"ok":1},{"ok":2},7]', 'application/json', 400],
      ['[{"ok":1},[1,2]]', 'application/json', 400],
      ['{"ok":1}\n{"ok":2}\nnot json\n', 'application/x-ndjson', 400],
      ['{"ok":1}\n[1]\n', 'application/x-ndjson', 400],
      [Buffer.from([0xc1]), 'application/msgpack', 400],
      [pack(['x']), 'application/msgpack', 400],
      [JSON.stringify([{ big: 'x'.repeat(3000) }]), 'application/json', 413],
      ['{"a":1}', 'application/xml', 415],
    ];
    for (const [body, type, status] of bad) {
      const r = await postEvents(url, body, type);
      expect({ body: String(body).slice(0, 40), status: r.status }).toEqual({
        body: String(body).slice(0, 40),
        status,
      });
      expect(r.json).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    }
    // Nothing was written: the next good event gets seq 1.
    expect((await postEvents(url, '{"good":true}')).json).toEqual({ seqs: [1] });
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/events`)).status).toBe(405);
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await records(tmp.path)).toEqual([{ seq: 1, event: { good: true } }]);
  });

  it('answers 200 only once the record is durable: SIGKILL right after a 200 loses nothing acked', async () => {
    for (let round = 0; round < 3; round++) {
      const { child, url } = await startServe(tmp.path);
      const acked = new Map<number, unknown>();
      const otherAnswers: number[] = [];
      let killed = false;
      const posts = Array.from({ length: 40 }, (_, i) => {
        const event = { round, i, user: `u${i}` };
        return postEvents(url, JSON.stringify(event)).then(
          (r) => {
            // Every body is valid: a server that answers at all answers 200.
            if (r.status !== 200) {
              otherAnswers.push(r.status);
              return;
            }
            acked.set((r.json as { seqs: number[] }).seqs[0] as number, event);
            if (!killed) {
              killed = true;
              child.kill('SIGKILL');
            }
          },
          () => {
            // Connection reset by the kill: not acked, so no promise was made.
          },
        );
      });
      await Promise.all(posts);
      expect(otherAnswers).toEqual([]);
      expect(await exited(child)).toMatchObject({ signal: 'SIGKILL' });
      expect(acked.size).toBeGreaterThan(0);
      const onDisk = await recordsAfterCrash(tmp.path);
      for (const [seq, event] of acked) expect(onDisk.get(seq)).toEqual(event);
    }
  });

  it('serves Prometheus metrics and health', async () => {
    const { child, url } = await startServe(tmp.path);
    await postEvents(url, JSON.stringify(Array.from({ length: 25 }, (_, i) => ({ i }))));
    await postEvents(url, '{"x":1}');
    await postEvents(url, '{bad');
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = parsePrometheusTextFormat(await res.text()) as PromFamily[];
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const name of [
      'ironlog_events_total',
      'ironlog_emit_duration_seconds',
      'ironlog_fsync_duration_seconds',
      'ironlog_batch_events',
      'ironlog_wal_bytes',
      'ironlog_segments',
      'ironlog_ring_used_bytes',
      'ironlog_corruptions_total',
      'ironlog_last_durable_seq',
      'ironlog_http_requests_total',
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
    const value = (name: string, labels: Record<string, string> = {}): number => {
      const f = byName.get(name) as PromFamily;
      const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      return Number(m?.value);
    };
    expect(value('ironlog_events_total', { status: 'acked' })).toBe(26);
    expect(value('ironlog_last_durable_seq')).toBe(26);
    expect(value('ironlog_records_written_total')).toBe(26);
    expect(value('ironlog_segments')).toBe(1);
    expect(value('ironlog_wal_bytes')).toBeGreaterThan(0);
    expect(value('ironlog_http_requests_total', { route: 'events', code: '400' })).toBe(1);
    expect(byName.get('ironlog_emit_duration_seconds')?.type).toBe('HISTOGRAM');
    const emit = byName.get('ironlog_emit_duration_seconds')?.metrics[0] as {
      count?: string;
      buckets?: Record<string, string>;
    };
    expect(Number(emit.count)).toBe(2);
    const batch = byName.get('ironlog_batch_events')?.metrics[0] as { sum?: string };
    expect(Number(batch.sum)).toBe(26);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      live: true,
      ready: true,
      wal: { state: 'open', writable: true, durableSeq: 26 },
      disk: { ok: true },
      ring: { ok: true },
    });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('drains in-flight requests on SIGTERM: every 200 is on disk and the exit code is 0', async () => {
    const { child, url } = await startServe(tmp.path);
    expect((await postEvents(url, '{"warm":1}')).json).toEqual({ seqs: [1] });
    // Six lanes post one request after another until the server stops answering 200; SIGTERM is
    // sent when the tenth 200 arrives, so requests are on their way (some in flight, some not yet
    // accepted) when it lands.
    const results: { status: number; json: unknown }[] = [];
    let oks = 0;
    let killed = false;
    const lane = async (l: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const r = await postEvents(url, JSON.stringify({ l, i })).catch(() => ({ status: 0, json: undefined }));
        results.push(r);
        if (r.status !== 200) return;
        if (++oks === 10 && !killed) {
          killed = true;
          child.kill('SIGTERM');
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, l) => lane(l)));
    expect(killed).toBe(true);
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    const onDisk = new Map((await records(tmp.path)).map((r) => [r.seq, r.event]));
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(10);
    for (const r of results) {
      expect([0, 200, 503]).toContain(r.status);
      if (r.status === 200) {
        for (const seq of (r.json as { seqs: number[] }).seqs) expect(onDisk.has(seq)).toBe(true);
      }
    }
  });
});
