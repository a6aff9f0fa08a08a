/**
 * The replication manager with an in-process runner instead of the piscina pool: scheduling,
 * quorum, backoff, breaker, alerts and close, one decision at a time. The manifest is real (a temp
 * dir, atomic saves); the uploads are whatever the test's runner answers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import type { SealedSegment } from '../wal/sealed-segment.js';
import { segmentFileName } from '../wal/segment.js';
import { ReplicationManager } from './manager.js';
import { resolveReplicationOptions } from './options.js';
import type { ReplicateResult, ReplicateRunner, ReplicateTask } from './task.js';

const dirs: string[] = [];
const managers: ReplicationManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Call {
  readonly task: ReplicateTask;
  readonly answer: (res: ReplicateResult | Error) => void;
}

/** A runner whose every task waits for the test to answer it. */
class ManualRunner implements ReplicateRunner {
  readonly calls: Call[] = [];
  closed = 0;
  run(task: ReplicateTask): Promise<ReplicateResult> {
    return new Promise((resolve, reject) => {
      this.calls.push({ task, answer: (res) => (res instanceof Error ? reject(res) : resolve(res)) });
    });
  }
  async close(): Promise<void> {
    this.closed++;
  }
  /** The calls for backend `name` so far. */
  for(name: string): Call[] {
    return this.calls.filter((c) => c.task.backend.name === name);
  }
}

const ok = (sha = 'a'.repeat(64)): ReplicateResult => ({
  ok: true,
  outcome: 'uploaded',
  sha256: sha,
  bytes: 100,
  verifiedBy: 'service-checksum',
});
const failed = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string): ReplicateResult => ({
  ok: false,
  error: new IronlogError(code, message).toWire(),
  sha256: undefined,
});

function segment(firstSeq: number, lastSeq: number): SealedSegment {
  return {
    path: segmentFileName(firstSeq),
    firstSeq,
    lastSeq,
    records: lastSeq - firstSeq + 1,
    bytes: 100,
    sealSha256: 'b'.repeat(64),
    merkleRoot: 'c'.repeat(64),
  };
}

/** Lets settled tasks' bookkeeping (promise chains, manifest saves) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Waits (polling, generous bound) until the runner has received `n` calls in all. */
async function calls(runner: ManualRunner, n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (runner.calls.length < n) {
    if (Date.now() > end) throw new Error(`timed out waiting for call ${n} (have ${runner.calls.length})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function open(quorum: number, names: string[], extra: { failureThreshold?: number } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-manager-'));
  dirs.push(dir);
  const options = resolveReplicationOptions({
    quorum,
    backends: names.map((name) => ({ type: 'fs' as const, dir: path.join(dir, name), name })),
    retry: { baseMs: 1000, capMs: 1000 },
    breaker: { failureThreshold: extra.failureThreshold ?? 5, cooldownMs: 600_000 },
    closeTimeoutMs: 200,
  });
  const runner = new ManualRunner();
  let nowMs = 1_000_000;
  const clock = { advance: (ms: number) => (nowMs += ms) };
  const manager = ReplicationManager.create({
    dir,
    nodeId: 'node',
    options,
    runner,
    now: () => nowMs,
    random: () => 0.5,
  });
  managers.push(manager);
  await manager.start();
  return { dir, manager, runner, clock };
}

describe('ReplicationManager with an in-process runner', () => {
  it('uploads each segment to every backend, oldest first, one at a time per backend; quorum resolves waiters', async () => {
    const { manager, runner } = await open(2, ['a', 'b', 'c']);
    manager.enqueue(segment(1, 10));
    manager.enqueue(segment(11, 20));
    // One task per backend in flight, for the oldest segment, with its deterministic key and metadata.
    expect(runner.calls.map((c) => [c.task.backend.name, c.task.key])).toEqual([
      ['a', 'node/00000000000000000001-00000000000000000010.wal'],
      ['b', 'node/00000000000000000001-00000000000000000010.wal'],
      ['c', 'node/00000000000000000001-00000000000000000010.wal'],
    ]);
    expect(runner.calls[0]?.task.metadata).toMatchObject({
      'ironlog-node': 'node',
      'ironlog-first-seq': '1',
      'ironlog-last-seq': '10',
      'ironlog-records': '10',
    });
    let replicated = false;
    const waiting = manager.waitReplicated(5).then(() => {
      replicated = true;
    });
    const events: unknown[] = [];
    manager.events.on('replicated', (s) => events.push(s));

    runner.for('a')[0]?.answer(ok());
    await calls(runner, 4);
    expect(replicated).toBe(false);
    // a moved on to the next segment; b and c are still busy with the first.
    expect(runner.for('a').map((c) => c.task.key)).toEqual([
      'node/00000000000000000001-00000000000000000010.wal',
      'node/00000000000000000011-00000000000000000020.wal',
    ]);
    runner.for('b')[0]?.answer(ok());
    await waiting;
    expect(events).toEqual([{ firstSeq: 1, lastSeq: 10 }]);
    const st = manager.status();
    expect(st.replicatedThroughSeq).toBe(10);
    expect(st.segmentsBelowQuorum).toBe(1);
    expect(st.backends.map((b) => [b.name, b.replicatedSegments, b.lagSegments])).toEqual([
      ['a', 1, 1],
      ['b', 1, 1],
      ['c', 0, 2],
    ]);
    expect(st.healthy).toBe(true);
  });

  it('a retryable failure backs that backend off (full jitter), feeds its breaker, and leaves the others alone', async () => {
    const { manager, runner, clock } = await open(1, ['a', 'b'], { failureThreshold: 2 });
    const errors: [string, string][] = [];
    manager.events.on('backendError', (e, name) => errors.push([name, e.code]));
    manager.enqueue(segment(1, 10));
    runner.for('a')[0]?.answer(failed(ErrorCodes.BACKEND, 'connection reset'));
    runner.for('b')[0]?.answer(ok());
    await settle();
    expect(errors).toEqual([['a', ErrorCodes.BACKEND]]);
    // Backoff: 0.5 * min(1000, 1000 * 2^0) = 500 ms on the manager's clock; nothing is retried before.
    expect(runner.for('a')).toHaveLength(1);
    let st = manager.status().backends[0];
    expect(st).toMatchObject({ name: 'a', consecutiveFailures: 1, breaker: 'closed', lagSegments: 1 });
    expect(st?.lastError).toMatchObject({ code: ErrorCodes.BACKEND, message: 'connection reset', atMs: 1_000_000 });
    // The timer fires after the (real) delay; the manager's clock says 500 ms have passed.
    clock.advance(500);
    for (let i = 0; i < 100 && runner.for('a').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(runner.for('a')).toHaveLength(2);
    runner.for('a')[1]?.answer(failed(ErrorCodes.BACKEND, 'connection reset again'));
    await settle();
    // Second failure in a row: the breaker opens (threshold 2), and the status says why.
    st = manager.status().backends[0];
    expect(st).toMatchObject({ consecutiveFailures: 2, breaker: 'open', breakerOpened: 1 });
    expect(manager.status().healthy).toBe(false);
    expect(manager.status().reasons).toEqual([
      'a: circuit breaker open after 2 failures in a row (last error: connection reset again)',
    ]);
    // b, with quorum 1, replicated the segment regardless.
    expect(manager.status().replicatedThroughSeq).toBe(10);
  });

  it('a tamper alert is not retried; the segment stays in that backend lag and the status names it', async () => {
    const { manager, runner } = await open(1, ['a']);
    const alerts: [string, string][] = [];
    manager.events.on('alert', (e, name) => alerts.push([name, e.code]));
    manager.enqueue(segment(1, 10));
    manager.enqueue(segment(11, 20));
    runner.for('a')[0]?.answer(failed(ErrorCodes.REPLICATION_TAMPER, 'another object holds the name'));
    await calls(runner, 2);
    expect(alerts).toEqual([['a', ErrorCodes.REPLICATION_TAMPER]]);
    // Next segment goes ahead; the tampered one is never asked for again.
    expect(runner.for('a').map((c) => c.task.key)).toEqual([
      'node/00000000000000000001-00000000000000000010.wal',
      'node/00000000000000000011-00000000000000000020.wal',
    ]);
    runner.for('a')[1]?.answer(ok());
    await settle();
    await new Promise((r) => setTimeout(r, 50));
    expect(runner.calls).toHaveLength(2);
    const st = manager.status();
    expect(st.backends[0]).toMatchObject({ alerts: 1, lagSegments: 1, replicatedSegments: 1, breaker: 'closed' });
    expect(st.reasons).toEqual(['a: 1 segment(s) with tamper/verification alerts, not retried']);
    // Segment 1-10 never reached quorum, so nothing is replicated "through" it.
    expect(st.replicatedThroughSeq).toBe(0);
    expect(st.segmentsBelowQuorum).toBe(1);
  });

  it('a runner that rejects (a crashed worker) is a retryable WORKER_EXITED failure', async () => {
    const { manager, runner } = await open(1, ['a']);
    const errors: string[] = [];
    manager.events.on('backendError', (e) => errors.push(e.code));
    manager.enqueue(segment(1, 10));
    runner.for('a')[0]?.answer(new Error('worker died'));
    await settle();
    expect(errors).toEqual([ErrorCodes.WORKER_EXITED]);
    expect(manager.status().backends[0]?.lastError?.message).toBe('replicator task failed: Error: worker died');
  });

  it('close() rejects replicated-ack waiters with CLOSED, closes the runner once, and keeps the manifest for the next open', async () => {
    const { dir, manager, runner } = await open(1, ['a']);
    manager.enqueue(segment(1, 10));
    const waiting = manager.waitReplicated(3);
    const closing = manager.close();
    // The upload in flight may finish (within closeTimeoutMs) and is recorded.
    runner.for('a')[0]?.answer(ok());
    await closing;
    // It did finish: the waiter resolved before close rejected the rest.
    await expect(waiting).resolves.toBeUndefined();
    const late = manager.waitReplicated(11);
    await expect(late).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    expect(runner.closed).toBe(1);
    await manager.close();
    expect(runner.closed).toBe(1);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'replication-manifest.json'), 'utf8')) as {
      compacted: { throughSeq: number };
    };
    expect(saved.compacted.throughSeq).toBe(10);
  });

  it('close() with an upload still pending rejects its waiter with CLOSED, naming the seq', async () => {
    const { manager } = await open(1, ['a']);
    manager.enqueue(segment(1, 10));
    const waiting = manager.waitReplicated(7).then(
      () => 'resolved',
      (e: IronlogError) => [e.code, e.message],
    );
    // No answer from the runner: close waits closeTimeoutMs (200 ms here) and gives up on it.
    await manager.close();
    expect(await waiting).toEqual([
      ErrorCodes.CLOSED,
      'the sink closed before seq 7 was replicated to a quorum; it is durable locally and replication resumes on the next open',
    ]);
  });
});
