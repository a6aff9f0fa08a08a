import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import {
  collect,
  exited,
  killChildren,
  postEvents,
  runCli,
  spawnCli,
  startServe,
  waitForOutput,
} from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-cli-tools-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

const kStart = Date.UTC(2026, 2, 1);

/** 400 events, 10 per fake second, in 64 KiB segments. */
async function makeWal(dir: string): Promise<void> {
  let now = kStart;
  const sink = await openSink({ dir, clock: () => now, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
  for (let i = 0; i < 400; i += 10) {
    await sink.emitBatch(
      Array.from({ length: 10 }, (_, k) => ({
        i: i + k,
        level: ((i + k) % 6) * 10,
        user: `u${(i + k) % 4}`,
        msg: `hello, "world" ${i + k}`,
        pad: 'z'.repeat(200),
      })),
    );
    now += 1000;
  }
  await sink.close();
}

describe('ironlog export', () => {
  it('writes NDJSON, JSON and CSV, filtered by the filter language', async () => {
    await makeWal(tmp.path);
    const nd = tmp.join('out.ndjson');
    const r = await runCli([
      'export',
      '--dir',
      tmp.path,
      '--format',
      'ndjson',
      '--filter',
      'level >= 40',
      '--output',
      nd,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rows = fs
      .readFileSync(nd, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; event: { i: number; level: number } });
    const expected = Array.from({ length: 400 }, (_, i) => i).filter((i) => (i % 6) * 10 >= 40);
    expect(rows.map((x) => x.event.i)).toEqual(expected);
    expect(rows.every((x) => x.seq === x.event.i + 1)).toBe(true);
    expect(r.stderr).toContain(`exported ${expected.length} records`);
    expect(fs.existsSync(`${nd}.partial`)).toBe(false);

    const js = tmp.join('out.json');
    expect(
      (
        await runCli([
          'export',
          '--dir',
          tmp.path,
          '--format',
          'json',
          '--filter',
          'event.user == "u1" and i < 20',
          '--output',
          js,
        ])
      ).code,
    ).toBe(0);
    expect((JSON.parse(fs.readFileSync(js, 'utf8')) as Array<{ event: { i: number } }>).map((x) => x.event.i)).toEqual([
      1, 5, 9, 13, 17,
    ]);

    const csv = tmp.join('out.csv');
    const c = await runCli([
      'export',
      '--dir',
      tmp.path,
      '--format',
      'csv',
      '--columns',
      'user,msg,level',
      '--to-seq',
      '3',
      '--output',
      csv,
    ]);
    expect(c.code, c.stderr).toBe(0);
    expect(fs.readFileSync(csv, 'utf8')).toBe(
      [
        'seq,time,user,msg,level',
        `1,${new Date(kStart).toISOString()},u0,"hello, ""world"" 0",0`,
        `2,${new Date(kStart).toISOString()},u1,"hello, ""world"" 1",10`,
        `3,${new Date(kStart).toISOString()},u2,"hello, ""world"" 2",20`,
        '',
      ].join('\n'),
    );

    const stdout = await runCli(['export', '--dir', tmp.path, '--output', '-', '--filter', 'seq in [7, 9]']);
    expect(
      stdout.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([7, 9]);

    const bad = await runCli(['export', '--dir', tmp.path, '--output', tmp.join('x'), '--filter', 'level >= ']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('filter: unexpected end of filter');
    expect(fs.existsSync(tmp.join('x'))).toBe(false);
  });
});

describe('ironlog stats', () => {
  it('reports segments, records, bytes, time span and a rate series without reading every record', async () => {
    await makeWal(tmp.path);
    const r = await runCli(['stats', '--dir', tmp.path, '--json', '--buckets', '4']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as {
      records: number;
      firstSeq: number;
      lastSeq: number;
      segmentCount: number;
      sealedSegments: number;
      bytes: number;
      from: string;
      to: string;
      spanSeconds: number;
      rates: Array<{ records: number }>;
      segments: Array<{ records: number; sealed: boolean }>;
    };
    const files = fs.readdirSync(tmp.path).filter((n) => n.endsWith('.wal'));
    expect(s).toMatchObject({ records: 400, firstSeq: 1, lastSeq: 400, segmentCount: files.length });
    expect(s.segmentCount).toBeGreaterThan(1);
    expect(s.sealedSegments).toBe(s.segmentCount - 1);
    expect(s.bytes).toBe(files.reduce((a, n) => a + fs.statSync(tmp.join(n)).size, 0));
    expect(s.from).toBe(new Date(kStart).toISOString());
    expect(s.to).toBe(new Date(kStart + 39_000).toISOString());
    expect(s.spanSeconds).toBe(39);
    expect(s.segments.reduce((a, x) => a + x.records, 0)).toBe(400);
    expect(s.rates).toHaveLength(4);
    const estimated = s.rates.reduce((a, x) => a + x.records, 0);
    expect(Math.abs(estimated - 400)).toBeLessThanOrEqual(4);
    const exact = JSON.parse(
      (await runCli(['stats', '--dir', tmp.path, '--json', '--buckets', '4', '--exact'])).stdout,
    ) as {
      rates: Array<{ records: number }>;
    };
    expect(exact.rates.reduce((a, x) => a + x.records, 0)).toBe(400);
    const text = await runCli(['stats', '--dir', tmp.path]);
    expect(text.stdout).toContain('records    400');
    expect(text.stdout).toContain('rate over time');
  });
});

describe('ironlog replay --follow and monitor', () => {
  it('follows a live WAL written by serve (across segment rolls), and monitor reads it by URL and by directory', async () => {
    const { child: server, url } = await startServe(tmp.path, ['--ring-bytes', '64KiB', '--segment-bytes', '64KiB']);
    expect((await postEvents(url, '[{"n":1},{"n":2},{"n":3}]')).json).toEqual({ seqs: [1, 2, 3] });
    const follower = spawnCli(['replay', '--dir', tmp.path, '--follow', '--poll-interval', '50ms']);
    const followed = collect(follower);
    await waitForOutput(follower, /"seq":3/);
    expect((await postEvents(url, '{"n":4}\n{"n":5}\n', 'application/x-ndjson')).json).toEqual({ seqs: [4, 5] });
    // ~300 KiB more: the 64 KiB segments roll several times while the follower reads.
    for (let b = 0; b < 15; b++) {
      const events = Array.from({ length: 80 }, (_, k) => ({ n: 6 + b * 80 + k, pad: 'q'.repeat(200) }));
      expect((await postEvents(url, JSON.stringify(events))).status).toBe(200);
    }
    await waitForOutput(follower, /"seq":1205,/);
    follower.kill('SIGTERM');
    const f = await followed;
    expect(f.code, f.stderr).toBe(0);
    const lines = f.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; event: { n: number } });
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 1205 }, (_, k) => k + 1));
    expect(lines.every((l) => l.event.n === l.seq)).toBe(true);
    expect(fs.readdirSync(tmp.path).filter((n) => n.endsWith('.wal')).length).toBeGreaterThan(3);

    // With --to-seq the follower ends by itself.
    const bounded = await runCli(['replay', '--dir', tmp.path, '--follow', '--from-seq', '1200', '--to-seq', '1202']);
    expect(bounded.code, bounded.stderr).toBe(0);
    expect(bounded.stdout.trim().split('\n')).toHaveLength(3);

    const byUrl = await runCli(['monitor', '--url', url, '--count', '2', '--interval', '100ms']);
    expect(byUrl.code, byUrl.stderr).toBe(0);
    const urlLines = byUrl.stdout.trim().split('\n');
    expect(urlLines).toHaveLength(2);
    expect(urlLines[1]).toMatch(/status=ok events\/s=\d+ ack_p50_ms=\S+ ack_p99_ms=\S+ fsync_avg_ms=/);
    expect(urlLines[1]).toContain('durable_seq=1205');

    const byDir = await runCli(['monitor', '--dir', tmp.path, '--count', '2', '--interval', '100ms']);
    expect(byDir.code, byDir.stderr).toBe(0);
    const dirLines = byDir.stdout.trim().split('\n');
    expect(dirLines).toHaveLength(2);
    expect(dirLines[1]).toContain('durable_seq=1205');
    expect(dirLines[1]).toContain('ack_p50_ms=n/a');

    expect(await exited(server, 'SIGTERM')).toEqual({ code: 0, signal: null });
    const down = await runCli(['monitor', '--url', url, '--count', '1']);
    expect(down.code, down.stderr).toBe(2);
    expect(down.stderr).toContain('error');
  });
});

describe('help and version', () => {
  it('every command has --help with an example; version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const v = await runCli(['version']);
    expect(v.stdout).toContain(`ironlog ${pkg.version}`);
    expect((await runCli(['--version'])).stdout.trim()).toBe(pkg.version);
    const top = await runCli(['--help']);
    expect(top.code, top.stderr).toBe(0);
    const commands = ['verify', 'replay', 'export', 'recover', 'stats', 'serve', 'monitor', 'bench', 'version'];
    for (const c of commands) expect(top.stdout).toContain(`  ${c}`);
    // Each command's help, built by the same program the binary runs (no process per command).
    const { buildProgram } = await import('../dist/cli/main.js');
    const program = buildProgram();
    for (const c of commands) {
      const cmd = program.commands.find((x) => x.name() === c);
      expect(cmd, c).toBeDefined();
      let text = '';
      cmd?.configureOutput({ writeOut: (str) => (text += str) });
      cmd?.outputHelp();
      expect(text, c).toMatch(/Examples?:\n\s+\$ ironlog /);
    }
    const one = await runCli(['export', '--help']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('Filter language');
    expect((await runCli(['no-such-command'])).code).toBe(2);
  });
});
