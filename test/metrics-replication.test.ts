/**
 * Replication in the sink's metrics and health: a directory backend that works, an S3 backend on
 * a closed loopback port that never answers, and a directory replica holding a foreign object
 * (tamper alert). Metrics are scraped from the registry and parsed as Prometheus text.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BackendConfig, backendName } from '../dist/backends/index.js';
import { openSink, type Sink } from '../dist/main/index.js';
import { listSealedSegments } from '../dist/replication/local-segments.js';
import { segmentObjectKey } from '../dist/replication/naming.js';
import { TempDir, until } from './helpers/tmp.js';

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}

let tmp: TempDir;
const sinks: Sink[] = [];
beforeEach(() => {
  tmp = new TempDir('ironlog-metrics-repl-');
});
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close().catch(() => undefined);
  tmp.dispose();
});

/** A loopback port nothing listens on (bound, then closed): connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function scrape(sink: Sink): Promise<Map<string, PromFamily>> {
  const text = (await sink.metrics?.text()) ?? '';
  return new Map((parsePrometheusTextFormat(text) as PromFamily[]).map((f) => [f.name, f]));
}

/** The value of the sample of `name` whose labels include `labels` (NaN when absent). */
function sample(f: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  const m = f.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? Number.NaN : Number(m.value);
}

/** Polls an async condition (the replication manager runs on timers and worker threads). */
async function eventually(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const kSmall = { segmentBytes: 64 * 1024, maxBatchBytes: 8 * 1024, maxEventBytes: 8 * 1024, segmentMaxAgeMs: 40 };
// The breaker opens after 2 failures and stays open for the whole test: no timing window to hit.
const kDeadFast = { retry: { baseMs: 5, capMs: 20 }, breaker: { failureThreshold: 2, cooldownMs: 600_000 } };

async function emitSome(sink: Sink, n: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < n; i += 25) {
    const acks = await sink.emitBatch(Array.from({ length: 25 }, (_, k) => ({ i: i + k, pad: 'm'.repeat(400) })));
    last = acks[acks.length - 1]?.seq ?? last;
  }
  return last;
}

function backends(deadPort: number): { fs: BackendConfig; dead: BackendConfig } {
  return {
    fs: { type: 'fs', dir: tmp.join('replica'), prefix: 'audit' },
    dead: {
      type: 's3',
      bucket: 'unreachable',
      prefix: 'audit',
      endpoint: `http://127.0.0.1:${deadPort}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    },
  };
}

describe('replication metrics and health', () => {
  it('report lag per backend, the open breaker of a dead backend and the drained directory backend', async () => {
    const b = backends(await closedPort());
    const fsName = backendName(b.fs);
    const deadName = backendName(b.dead);
    const registry = new Registry();
    const sink = await openSink({
      dir: tmp.join('wal'),
      nodeId: 'node-m',
      ...kSmall,
      metrics: registry,
      replication: { quorum: 1, backends: [b.fs, b.dead], ...kDeadFast },
    });
    sinks.push(sink);
    const last = await emitSome(sink, 600);

    // The directory backend catches up (lag 0), the dead one's breaker opens with its lag > 0.
    let f = await scrape(sink);
    await eventually(async () => {
      f = await scrape(sink);
      return (
        sample(f, 'ironlog_replication_lag_segments', { backend: fsName }) === 0 &&
        sample(f, 'ironlog_replication_replicated_segments', { backend: fsName }) >= 2 &&
        sample(f, 'ironlog_replication_breaker_open', { backend: deadName }) === 1
      );
    }, 'the fs backend drained and the dead breaker open');
    expect(f.get('ironlog_replication_lag_segments')?.type).toBe('GAUGE');
    const lag1 = sample(f, 'ironlog_replication_lag_segments', { backend: deadName });
    expect(lag1).toBeGreaterThan(0);
    expect(sample(f, 'ironlog_replication_lag_bytes', { backend: deadName })).toBeGreaterThan(0);
    expect(sample(f, 'ironlog_replication_lag_bytes', { backend: fsName })).toBe(0);
    expect(sample(f, 'ironlog_replication_breaker_open', { backend: fsName })).toBe(0);
    expect(sample(f, 'ironlog_replication_breaker_opened_total', { backend: deadName })).toBe(1);
    expect(sample(f, 'ironlog_replication_consecutive_failures', { backend: deadName })).toBeGreaterThanOrEqual(2);
    expect(
      sample(f, 'ironlog_replication_errors_total', { backend: deadName, code: 'ERR_IRONLOG_BACKEND' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(f, 'ironlog_replication_alerts_total', { backend: deadName, kind: 'tamper' })).toBe(0);
    expect(sample(f, 'ironlog_replication_alert_segments', { backend: deadName })).toBe(0);
    expect(sample(f, 'ironlog_replication_last_success_timestamp_seconds', { backend: fsName })).toBeGreaterThan(
      Date.UTC(2020, 0, 1) / 1000,
    );
    expect(
      f.get('ironlog_replication_last_success_timestamp_seconds')?.metrics.some((m) => m.labels?.backend === deadName),
    ).toBe(false);
    expect(sample(f, 'ironlog_replication_backends_reachable')).toBe(1);
    expect(sample(f, 'ironlog_replication_quorum')).toBe(1);
    expect(sample(f, 'ironlog_replication_healthy')).toBe(0);
    expect(sample(f, 'ironlog_replicated_through_seq')).toBeGreaterThan(0);

    // Health: degraded with the reason, still ready (emits work; ack is 'durable').
    const h = await sink.health();
    expect(h.status).toBe('degraded');
    expect(h.ready).toBe(true);
    expect(h.live).toBe(true);
    expect(h.reasons.some((r) => r.startsWith(`replication: ${deadName}: circuit breaker open`))).toBe(true);
    expect(h.replication).toMatchObject({
      ok: false,
      quorum: 1,
      backendsReachable: 1,
      quorumReachable: true,
      acksWaitForQuorum: false,
    });
    expect(h.replication?.backends.find((x) => x.name === deadName)).toMatchObject({ breaker: 'open' });

    // The lag of the dead backend grows as more segments seal; the directory keeps up.
    const more = await emitSome(sink, 600);
    expect(more).toBeGreaterThan(last);
    await eventually(async () => {
      f = await scrape(sink);
      return (
        sample(f, 'ironlog_replication_lag_segments', { backend: deadName }) > lag1 &&
        sample(f, 'ironlog_replication_lag_segments', { backend: fsName }) === 0
      );
    }, 'the dead backend lag to grow');
    expect(sample(f, 'ironlog_replication_breaker_open', { backend: deadName })).toBe(1);

    // Closing removes them from a user's registry, like every other sink metric.
    await sink.close();
    expect(registry.getSingleMetric('ironlog_replication_lag_segments')).toBeUndefined();
    expect(registry.getSingleMetric('ironlog_events_total')).toBeUndefined();
  });

  it('without replication no replication metric is registered and health has no replication part', async () => {
    const sink = await openSink({ dir: tmp.join('plain'), metrics: true });
    sinks.push(sink);
    await emitSome(sink, 25);
    const f = await scrape(sink);
    expect(f.has('ironlog_events_total')).toBe(true);
    expect([...f.keys()].filter((n) => n.startsWith('ironlog_replicat'))).toEqual([]);
    const h = await sink.health();
    expect(h).toMatchObject({ status: 'ok', ready: true, reasons: [] });
    expect(h.replication).toBeUndefined();
  });

  it("with ack: 'replicated' an unreachable quorum makes the sink not ready, with the reason", async () => {
    const b = backends(await closedPort());
    const sink = await openSink({
      dir: tmp.join('wal'),
      nodeId: 'node-q',
      ...kSmall,
      ack: 'replicated',
      metrics: true,
      replication: { quorum: 2, backends: [b.fs, b.dead], ...kDeadFast },
    });
    sinks.push(sink);
    // These acks wait for a quorum that cannot be met; close() rejects them with ERR_IRONLOG_CLOSED.
    const pending = sink.emitBatch(Array.from({ length: 50 }, (_, i) => ({ i, pad: 'q'.repeat(400) })));
    const settled = pending.then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    );
    await until(
      () => sink.replicationStatus()?.backends.some((x) => x.breaker === 'open') === true,
      30_000,
      'breaker open',
    );
    const h = await sink.health();
    expect(h.status).toBe('degraded');
    expect(h.ready).toBe(false);
    expect(h.live).toBe(true);
    expect(h.replication).toMatchObject({ quorumReachable: false, acksWaitForQuorum: true, backendsReachable: 1 });
    expect(h.reasons.some((r) => r.startsWith("ack 'replicated' cannot complete: 1 of 2 backends reachable"))).toBe(
      true,
    );
    expect(h.reasons.some((r) => r.includes('quorum 2 cannot be met'))).toBe(true);
    const f = await scrape(sink);
    expect(sample(f, 'ironlog_replication_backends_reachable')).toBe(1);
    expect(sample(f, 'ironlog_replication_quorum')).toBe(2);
    expect(sample(f, 'ironlog_replication_segments_below_quorum')).toBeGreaterThan(0);
    expect(sample(f, 'ironlog_replicated_through_seq')).toBe(0);
    await sink.close();
    expect(await settled).toBe('ERR_IRONLOG_CLOSED');
  });

  it('a foreign object under a segment name raises a tamper alert: counted, held back, health degraded', async () => {
    const dir = tmp.join('wal');
    const replica = tmp.join('replica');
    // First without replication: seal segments and learn their exact names.
    const first = await openSink({ dir, nodeId: 'node-t', ...kSmall });
    sinks.push(first);
    const last = await emitSome(first, 400);
    // Wait for the age seal of the last segment too: then the reopened sink seals nothing new.
    await eventually(async () => (await listSealedSegments(dir)).at(-1)?.lastSeq === last, 'every record sealed');
    await first.close();
    const sealed = await listSealedSegments(dir);
    expect(sealed.length).toBeGreaterThanOrEqual(2);
    const victim = sealed[0] as { firstSeq: number; lastSeq: number };
    const key = segmentObjectKey('audit', 'node-t', victim.firstSeq, victim.lastSeq);
    fs.mkdirSync(path.dirname(path.join(replica, key)), { recursive: true });
    fs.writeFileSync(path.join(replica, key), 'not the segment');

    const fsBackend: BackendConfig = { type: 'fs', dir: replica, prefix: 'audit' };
    const name = backendName(fsBackend);
    const sink = await openSink({
      dir,
      nodeId: 'node-t',
      ...kSmall,
      metrics: true,
      replication: { quorum: 1, backends: [fsBackend] },
    });
    sinks.push(sink);
    let f = await scrape(sink);
    await eventually(async () => {
      f = await scrape(sink);
      return (
        sample(f, 'ironlog_replication_alerts_total', { backend: name, kind: 'tamper' }) === 1 &&
        sample(f, 'ironlog_replication_replicated_segments', { backend: name }) === sealed.length - 1
      );
    }, 'the tamper alert and the other segments replicated');
    expect(sample(f, 'ironlog_replication_alerts_total', { backend: name, kind: 'verify' })).toBe(0);
    expect(sample(f, 'ironlog_replication_alert_segments', { backend: name })).toBe(1);
    expect(sample(f, 'ironlog_replication_lag_segments', { backend: name })).toBe(1);
    expect(sample(f, 'ironlog_replication_breaker_open', { backend: name })).toBe(0);
    expect(sample(f, 'ironlog_replication_healthy')).toBe(0);
    // The foreign object is evidence: never overwritten.
    expect(fs.readFileSync(path.join(replica, key), 'utf8')).toBe('not the segment');
    const h = await sink.health();
    expect(h.status).toBe('degraded');
    expect(h.ready).toBe(true);
    expect(h.reasons).toContain(`replication: ${name}: 1 segment(s) with tamper/verification alerts, not retried`);
  });
});
