import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readWal } from '../dist/main/index.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-cli-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

const kStart = Date.UTC(2026, 0, 1);
const kCount = 600;

/** 600 events, one per second of fake time, in small segments (several sealed ones). */
async function makeWal(dir: string): Promise<void> {
  let now = kStart;
  const sink = await openSink({ dir, clock: () => now, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
  for (let i = 0; i < kCount; i += 20) {
    await sink.emitBatch(
      Array.from({ length: 20 }, (_, k) => ({
        i: i + k,
        user: `u${(i + k) % 5}`,
        mark: `MARK-${i + k}-END`,
        pad: 'p'.repeat(150),
      })),
    );
    now += 20_000;
  }
  await sink.close();
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** Flips one byte inside the payload of event `i` (found by its unique marker). */
function damageEvent(dir: string, i: number): string {
  const needle = Buffer.from(`MARK-${i}-END`);
  for (const name of segmentFiles(dir)) {
    const file = path.join(dir, name);
    const buf = fs.readFileSync(file);
    const at = buf.indexOf(needle);
    if (at >= 0) {
      buf[at + 5] = (buf[at + 5] as number) ^ 0x01;
      fs.writeFileSync(file, buf);
      return name;
    }
  }
  throw new Error(`event ${i} not found`);
}

describe('ironlog verify', () => {
  it('exits 0 on a good WAL, 1 with located problems on a damaged one, 2 on usage or I/O errors', async () => {
    await makeWal(tmp.path);
    expect(segmentFiles(tmp.path).length).toBeGreaterThan(2);
    const good = await runCli(['verify', '--dir', tmp.path]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(new RegExp(`^valid: ${kCount} records, seqs 1-${kCount}`));
    const goodJson = await runCli(['verify', '--dir', tmp.path, '--json']);
    expect(goodJson.code, goodJson.stderr).toBe(0);
    expect(JSON.parse(goodJson.stdout)).toMatchObject({ valid: true, records: kCount, firstSeq: 1, lastSeq: kCount });

    const segment = damageEvent(tmp.path, 300);
    const bad = await runCli(['verify', '--dir', tmp.path, '--json']);
    expect(bad.code, bad.stderr).toBe(1);
    const report = JSON.parse(bad.stdout) as {
      valid: boolean;
      problems: Array<{ segment: string; offset: number; seqFrom?: number; seqTo?: number; kind: string }>;
    };
    expect(report.valid).toBe(false);
    expect(report.problems.length).toBeGreaterThan(0);
    const p = report.problems[0];
    expect(p?.segment).toBe(segment);
    expect(p?.offset).toBeGreaterThan(0);
    // What the damage costs: exactly the damaged event's seq (event i has seq i + 1).
    expect(report.problems.filter((q) => q.kind === 'lost')).toEqual([
      expect.objectContaining({ segment, seqFrom: 301, seqTo: 301 }),
    ]);
    const text = await runCli(['verify', '--dir', tmp.path]);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toContain('CORRUPT');
    expect(text.stdout).toContain(`in ${segment} at offset`);

    const missing = await runCli(['verify', '--dir', tmp.join('does-not-exist')]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('ERR_IRONLOG_IO');
    const usage = await runCli(['verify']);
    expect(usage.code, usage.stderr).toBe(2);
    expect(usage.stderr).toContain("required option '--dir <dir>'");
  });
});

describe('ironlog replay', () => {
  it('prints what was emitted, in every format, by seq and by time', async () => {
    await makeWal(tmp.path);
    const all = await runCli(['replay', '--dir', tmp.path]);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; time: string; event: { i: number; mark: string } });
    expect(lines).toHaveLength(kCount);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: kCount }, (_, k) => k + 1));
    expect(lines[41]?.event).toMatchObject({ i: 41, user: 'u1', mark: 'MARK-41-END' });
    expect(lines[0]?.time).toBe(new Date(kStart).toISOString());
    // The same as the library reads.
    const lib: unknown[] = [];
    for await (const r of readWal(tmp.path)) lib.push({ seq: r.seq, time: r.time.toISOString(), event: r.event });
    expect(lines).toEqual(lib);

    const json = await runCli(['replay', '--dir', tmp.path, '--format', 'json', '--from-seq', '10', '--to-seq', '19']);
    expect(json.code, json.stderr).toBe(0);
    const arr = JSON.parse(json.stdout) as Array<{ seq: number }>;
    expect(arr.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, k) => k + 10));

    const table = await runCli(['replay', '--dir', tmp.path, '--format', 'table', '--to-seq', '3']);
    expect(table.stdout.split('\n')[0]).toMatch(/seq\s+time\s+event/);
    expect(table.stdout.trim().split('\n')).toHaveLength(4);

    // Batches of 20 share a time: kStart + 20 s * k. [100 s, 200 s) holds batches 5..9 = events 100..199.
    const from = new Date(kStart + 100_000).toISOString();
    const to = new Date(kStart + 200_000).toISOString();
    const byTime = await runCli(['replay', '--dir', tmp.path, '--from', from, '--to', to]);
    expect(byTime.code, byTime.stderr).toBe(0);
    const seqs = byTime.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, k) => k + 101));

    const filtered = await runCli(['replay', '--dir', tmp.path, '--filter', 'user == "u3" && i < 50']);
    const fl = filtered.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { event: { i: number } }).event.i);
    expect(fl).toEqual([3, 8, 13, 18, 23, 28, 33, 38, 43, 48]);

    const badDate = await runCli(['replay', '--dir', tmp.path, '--from', 'yesterday']);
    expect(badDate.code, badDate.stderr).toBe(2);
  });

  it('replays by time without reading sealed segments outside the range (damage there goes unseen)', async () => {
    await makeWal(tmp.path);
    // Event 10 lives in the first (sealed) segment, whose seal says its times end long before --from.
    const first = damageEvent(tmp.path, 10);
    expect(first).toBe(segmentFiles(tmp.path)[0]);
    const from = new Date(kStart + 400_000).toISOString();
    const r = await runCli(['replay', '--dir', tmp.path, '--from', from]);
    expect(r.stderr).toBe('');
    expect(r.code, r.stderr).toBe(0);
    const seqs = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, k) => k + 401));
    // A full read does reach the damage.
    expect((await runCli(['replay', '--dir', tmp.path, '--format', 'table'])).code).toBe(2);
  });

  it('fails with exit 2 and points to recover when the WAL is damaged', async () => {
    await makeWal(tmp.path);
    damageEvent(tmp.path, 300);
    const r = await runCli(['replay', '--dir', tmp.path]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('ERR_IRONLOG_WAL_CORRUPT');
    expect(r.stderr).toContain('recover');
    // What was read before the damage is printed, in order: every seq up to the damaged batch.
    const seqs = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs.length).toBeGreaterThan(250);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => k + 1));
    expect(seqs.length).toBeLessThanOrEqual(300);
  });
});

describe('ironlog recover', () => {
  it('keeps every intact record around a damaged one, reports the loss, and the output verifies', async () => {
    await makeWal(tmp.path);
    damageEvent(tmp.path, 300);
    const out = tmp.join('recovered');
    const r = await runCli(['recover', '--input', tmp.path, '--output', out, '--json']);
    // Records were lost: exit 1, the documented "damage found" (issue 9, item 5).
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as {
      recordsRecovered: number;
      lost: Array<{ fromSeq: number; toSeq: number }>;
    };
    // Event i has seq i + 1.
    expect(report.lost).toEqual([{ fromSeq: 301, toSeq: 301 }]);
    expect(report.recordsRecovered).toBe(kCount - 1);
    const v = await runCli(['verify', '--dir', out]);
    expect(v.code, v.stderr).toBe(0);
    const replay = await runCli(['replay', '--dir', out]);
    const seqs = replay.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: kCount }, (_, k) => k + 1).filter((s) => s !== 301));
    const text = await runCli(['recover', '--input', tmp.path, '--output', tmp.join('again')]);
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('lost seqs 301-301');
  });
});
