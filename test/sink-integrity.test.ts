/**
 * Issue 9, item 6: a sink (and `serve`) opening a WAL whose sealed segments are damaged notices it:
 * the background check after open recomputes every CRC, chain hash and seal of the sealed
 * segments, and reports damage through health (`degraded`, with the reason), the
 * `ironlog_corruptions_total` metric and the sink's `corruption` event. Opening does not wait.
 */
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { killChildren, spawnCli, waitForOutput } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-integrity-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

async function makeWal(dir: string): Promise<void> {
  const sink = await openSink({ dir, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
  for (let i = 0; i < 600; i += 20) {
    await sink.emitBatch(
      Array.from({ length: 20 }, (_, k) => ({ i: i + k, mark: `MARK-${i + k}-END`, pad: 'p'.repeat(150) })),
    );
  }
  await sink.close();
}

/** Flips one payload byte of event `i` in whichever (sealed) segment holds it; returns the segment. */
function flip(dir: string, i: number): string {
  const needle = Buffer.from(`MARK-${i}-END`);
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))) {
    const buf = fs.readFileSync(`${dir}/${name}`);
    const at = buf.indexOf(needle);
    if (at < 0) continue;
    buf[at + 5] = (buf[at + 5] as number) ^ 0x01;
    fs.writeFileSync(`${dir}/${name}`, buf);
    return name;
  }
  throw new Error(`event ${i} not found`);
}

describe('damaged sealed segments are noticed by a sink', () => {
  it('an intact WAL: the check passes, health ok', async () => {
    await makeWal(tmp.path);
    const sink = await openSink({ dir: tmp.path, metrics: true });
    try {
      const st = await sink.sealedSegmentsChecked();
      expect(st.state).toBe('ok');
      expect(st.segmentsChecked).toBeGreaterThanOrEqual(2);
      const h = await sink.health();
      expect(h.status).toBe('ok');
      expect(h.integrity?.state).toBe('ok');
      expect(await sink.metrics?.text()).toMatch(/^ironlog_corruptions_total 0$/m);
    } finally {
      await sink.close();
    }
  });

  it('a flipped byte in a sealed segment: typed event, degraded health with the reason, metric', async () => {
    await makeWal(tmp.path);
    const segment = flip(tmp.path, 100);
    const sink = await openSink({ dir: tmp.path, metrics: true });
    try {
      const event = new Promise<{ code: string; problems: number }>((resolve) =>
        sink.events.once('corruption', (err, problems) => resolve({ code: err.code, problems: problems.length })),
      );
      // Opening did not wait for the check, and the sink takes events meanwhile.
      const ack = await sink.emit({ after: 'damage' });
      expect(ack.seq).toBe(601);
      const st = await sink.sealedSegmentsChecked();
      expect(st.state).toBe('damaged');
      expect(st.problems[0]).toMatchObject({ segment });
      await expect(event).resolves.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
      const h = await sink.health();
      expect(h.status).toBe('degraded');
      expect(h.ready).toBe(true);
      expect(h.reasons.join('\n')).toContain(`sealed segment ${segment} is damaged`);
      expect(await sink.metrics?.text()).toMatch(new RegExp(`^ironlog_corruptions_total ${st.problems.length}$`, 'm'));
    } finally {
      await sink.close();
    }
  });

  it('serve reports it on /health', async () => {
    await makeWal(tmp.path);
    const segment = flip(tmp.path, 100);
    const child = spawnCli(['serve', '--dir', tmp.path, '--port', '0']);
    const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const url = m[1] as string;
    let body: { status: string; reasons: string[] } = { status: '', reasons: [] };
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      body = (await (await fetch(`${url}/health`)).json()) as typeof body;
      if (body.status === 'degraded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(body.status).toBe('degraded');
    expect(body.reasons.join('\n')).toContain(`sealed segment ${segment} is damaged`);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^ironlog_corruptions_total [1-9]/m);
  });
});
