import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Registry, register } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-metrics-');
});
afterEach(() => tmp.dispose());

interface PromFamily {
  name: string;
  type: string;
  metrics: Array<{
    value?: string;
    labels?: Record<string, string>;
    count?: string;
    sum?: string;
    buckets?: Record<string, string>;
  }>;
}

function families(text: string): Map<string, PromFamily> {
  return new Map((parsePrometheusTextFormat(text) as PromFamily[]).map((f) => [f.name, f]));
}

const kRequired = [
  'ironlog_events_total',
  'ironlog_emit_duration_seconds',
  'ironlog_fsync_duration_seconds',
  'ironlog_batch_events',
  'ironlog_wal_bytes',
  'ironlog_segments',
  'ironlog_ring_used_bytes',
  'ironlog_corruptions_total',
  'ironlog_last_durable_seq',
];

describe('sink metrics', () => {
  it('are off by default: no registry, no global pollution', async () => {
    const sink = await openSink({ dir: tmp.path });
    expect(sink.metrics).toBeUndefined();
    await sink.emit({ a: 1 });
    await sink.close();
    expect(await register.metrics()).not.toContain('ironlog_');
  });

  it('with metrics: true, a registry of the sink own reports what the writer did, read from shared memory', async () => {
    const sink = await openSink({ dir: tmp.path, metrics: true });
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => sink.emit({ i })));
    await sink.emitBatch(Array.from({ length: 50 }, (_, i) => ({ b: i })));
    await sink.emitEncoded(new Uint8Array([0x81, 0xa1, 0x78, 0x01]));
    await expect(sink.emit(() => 1)).rejects.toMatchObject({ code: 'ERR_IRONLOG_ENCODE' });
    await expect(sink.emitBatch(undefined as unknown as unknown[])).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_ARGUMENT',
    });
    expect(acks[299]?.seq).toBe(300);
    const m = sink.metrics;
    expect(m?.registry).not.toBe(register);
    const f = families((await m?.text()) ?? '');
    for (const name of kRequired) expect(f.has(name), name).toBe(true);
    const one = (name: string, labels: Record<string, string> = {}): PromFamily['metrics'][number] | undefined =>
      f.get(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    expect(Number(one('ironlog_events_total', { status: 'acked' })?.value)).toBe(351);
    expect(Number(one('ironlog_events_total', { status: 'rejected' })?.value)).toBe(1);
    expect(Number(one('ironlog_emit_errors_total', { code: 'ERR_IRONLOG_INVALID_ARGUMENT' })?.value)).toBe(0);
    expect(Number(one('ironlog_emit_errors_total', { code: 'ERR_IRONLOG_ENCODE' })?.value)).toBe(1);
    // One observation per call: 300 emits + 1 batch + 1 encoded.
    expect(Number(one('ironlog_emit_duration_seconds')?.count)).toBe(302);
    expect(Number(one('ironlog_last_durable_seq')?.value)).toBe(351);
    expect(Number(one('ironlog_records_written_total')?.value)).toBe(351);
    const batches = Number(one('ironlog_batches_total')?.value);
    const batchHist = one('ironlog_batch_events');
    expect(Number(batchHist?.sum)).toBe(351);
    expect(Number(batchHist?.count)).toBe(batches);
    const fsync = one('ironlog_fsync_duration_seconds');
    expect(Number(fsync?.count)).toBeGreaterThanOrEqual(1);
    // Cumulative buckets never decrease and end at the count.
    const bucketValues = Object.entries(fsync?.buckets ?? {})
      .map(([le, v]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(v)] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, v]) => v);
    expect(bucketValues.length).toBe(16);
    expect(bucketValues[15]).toBe(Number(fsync?.count));
    for (let i = 1; i < bucketValues.length; i++)
      expect(bucketValues[i]).toBeGreaterThanOrEqual(bucketValues[i - 1] as number);
    expect(Number(one('ironlog_ring_capacity_bytes')?.value)).toBe(sink.options.ringBytes);
    expect(Number(one('ironlog_ring_used_bytes')?.value)).toBe(0);
    expect(Number(one('ironlog_segments')?.value)).toBe(1);
    expect(Number(one('ironlog_wal_bytes')?.value)).toBeGreaterThan(351 * 8);
    expect(Number(one('ironlog_corruptions_total')?.value)).toBe(0);
    expect((await sink.verify()).valid).toBe(true);
    await sink.close();
    expect(await register.metrics()).not.toContain('ironlog_');
  });

  it('registers in a registry the user passes, one sink at a time, and leaves it on close', async () => {
    const registry = new Registry();
    const sink = await openSink({ dir: tmp.path, metrics: registry });
    expect(sink.metrics?.registry).toBe(registry);
    await sink.emit({ a: 1 });
    expect(await registry.metrics()).toContain('ironlog_last_durable_seq 1');
    await expect(openSink({ dir: tmp.join('other'), metrics: registry })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
    });
    await sink.close();
    expect(await registry.metrics()).not.toContain('ironlog_');
    const again = await openSink({ dir: tmp.path, metrics: registry });
    expect(await registry.metrics()).toContain('ironlog_last_durable_seq 1');
    await again.close();
  });

  it('rejects a metrics option that is neither a boolean nor a registry', async () => {
    await expect(openSink({ dir: tmp.path, metrics: {} as unknown as boolean })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
    });
  });
});

describe('sink.health()', () => {
  it('is live and ready on an open sink, not ready when the disk is below the minimum, not live once closed', async () => {
    const sink = await openSink({ dir: tmp.path });
    await sink.emit({ a: 1 });
    const h = await sink.health();
    expect(h).toMatchObject({
      status: 'ok',
      live: true,
      ready: true,
      reasons: [],
      wal: { state: 'open', writable: true, durableSeq: 1 },
      disk: { ok: true },
      ring: { ok: true, capacityBytes: sink.options.ringBytes },
    });
    expect(h.disk.freeBytes).toBeGreaterThan(0);
    const low = await sink.health({ minDiskFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(low).toMatchObject({ status: 'degraded', live: true, ready: false, disk: { ok: false } });
    expect(low.reasons[0]).toContain('free');
    await expect(sink.health({ maxRingFill: 2 })).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_OPTION' });
    await sink.close();
    const closed = await sink.health();
    expect(closed).toMatchObject({ ready: false, wal: { state: 'closed', writable: false } });
  });
});
