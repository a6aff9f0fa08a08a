/**
 * Issue 9 through the real CLI (bin/ironlog.js child processes): recover's output lock, one
 * `ironlog: ERR_IRONLOG_<CODE>: message` line for every failure, units, times without an offset,
 * bare names in filters, progress bars on a terminal, and no AWS SDK Node-version notice.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { kBin, killChildren, runCli, startServe } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-cli-hard-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

async function makeWal(dir: string, n = 200): Promise<void> {
  const sink = await openSink({ dir, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
  for (let i = 0; i < n; i += 20) {
    await sink.emitBatch(Array.from({ length: 20 }, (_, k) => ({ i: i + k, user: `u${k % 3}`, pad: 'p'.repeat(200) })));
  }
  await sink.close();
}

/** No stack trace, exactly the one documented line (plus commander's help hint for usage errors). */
function expectOneErrorLine(stderr: string, code: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/node:internal|Error: /);
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(new RegExp(`^ironlog: ${code}: \\S`));
  expect(lines.slice(1).every((l) => l === '(run with --help for usage)')).toBe(true);
}

describe('recover writes its output under the directory lock (item 1)', () => {
  it('refuses an output a live sink holds, and one that is not empty; the sink keeps its records', async () => {
    const input = tmp.join('in');
    await makeWal(input);
    const held = tmp.join('held');
    const { child, url } = await startServe(held);
    const post = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[{"a":1},{"a":2}]',
    });
    expect(post.status).toBe(200);
    const before = fs.readdirSync(held).sort();

    const r = await runCli(['recover', '--input', input, '--output', held]);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr, 'ERR_IRONLOG_WAL_LOCKED');
    expect(r.stderr).toContain(`process ${child.pid}`);
    expect(fs.readdirSync(held).sort()).toEqual(before);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const v = await runCli(['verify', '--dir', held, '--json']);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, records: 2 });

    const busy = tmp.join('busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(tmp.join('busy', 'notes.txt'), 'keep me');
    const ne = await runCli(['recover', '--input', input, '--output', busy]);
    expect(ne.code).toBe(2);
    expectOneErrorLine(ne.stderr, 'ERR_IRONLOG_INVALID_ARGUMENT');
    expect(ne.stderr).toContain('not empty');
    expect(fs.readdirSync(busy)).toEqual(['notes.txt']);

    // A new directory works, and nothing of the lock is left in it.
    const out = tmp.join('new', 'recovered');
    const ok = await runCli(['recover', '--input', input, '--output', out, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ recordsRecovered: 200, lostSeqs: 0 });
    expect(fs.readdirSync(out).filter((n) => n.startsWith('LOCK'))).toEqual([]);

    // An output holding only the LOCK of a dead process counts as empty: the lock is taken over.
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => dead.once('exit', resolve));
    const stale = tmp.join('stale');
    fs.mkdirSync(stale);
    fs.writeFileSync(tmp.join('stale', 'LOCK'), JSON.stringify({ pid: dead.pid, token: '44'.repeat(16) }));
    const over = await runCli(['recover', '--input', input, '--output', stale]);
    expect(over.code, over.stderr).toBe(0);
    expect(fs.readdirSync(stale).filter((n) => n.startsWith('LOCK'))).toEqual([]);
  });
});

describe('every failure is one ironlog: ERR_IRONLOG_<CODE> line (item 13)', () => {
  it('usage errors are ERR_IRONLOG_USAGE, exit 2', async () => {
    for (const args of [
      ['verify', '--bogus'],
      ['nosuch'],
      ['replay'],
      ['export', '--dir', tmp.path],
      ['stats', '--dir', tmp.path, '--buckets', 'x'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expectOneErrorLine(r.stderr, args[0] === 'replay' ? 'ERR_IRONLOG_INVALID_ARGUMENT' : 'ERR_IRONLOG_USAGE');
    }
  });

  it('export --output into a missing directory or onto a directory', async () => {
    await makeWal(tmp.join('wal'), 20);
    const missing = await runCli(['export', '--dir', tmp.join('wal'), '--output', tmp.join('nope', 'x.ndjson')]);
    expect(missing.code).toBe(2);
    expectOneErrorLine(missing.stderr, 'ERR_IRONLOG_IO');
    expect(missing.stderr).toContain('does not exist');
    const onDir = await runCli(['export', '--dir', tmp.join('wal'), '--output', tmp.path]);
    expect(onDir.code).toBe(2);
    expectOneErrorLine(onDir.stderr, 'ERR_IRONLOG_INVALID_ARGUMENT');
    expect(onDir.stderr).toContain('is a directory');
    expect(fs.readdirSync(tmp.path).sort()).toEqual(['wal']);
  });

  it('serve on a port in use, or on an address that is not local', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const inUse = await runCli(['serve', '--dir', tmp.join('a'), '--port', String(port)]);
      expect(inUse.code).toBe(2);
      expectOneErrorLine(inUse.stderr, 'ERR_IRONLOG_IO');
      expect(inUse.stderr).toContain('in use');
    } finally {
      blocker.close();
    }
    // TEST-NET-1 (RFC 5737): never an address of this machine. Without authentication a
    // non-loopback host is refused before anything listens; with --insecure the bind itself fails.
    const unauthenticated = await runCli(['serve', '--dir', tmp.join('c'), '--host', '192.0.2.1', '--port', '0']);
    expect(unauthenticated.code).toBe(2);
    expectOneErrorLine(unauthenticated.stderr, 'ERR_IRONLOG_INVALID_OPTION');
    const foreign = await runCli(['serve', '--dir', tmp.join('b'), '--host', '192.0.2.1', '--port', '0', '--insecure']);
    expect(foreign.code).toBe(2);
    expectOneErrorLine(foreign.stderr, 'ERR_IRONLOG_IO');
    expect(foreign.stderr).toContain('not one of this machine');
    // The sink it opened first was closed again: the directory is free.
    expect(fs.readdirSync(tmp.join('b')).filter((n) => n.startsWith('LOCK'))).toEqual([]);
  });

  it('monitor with nothing to read, torture with a report it could not write', async () => {
    const down = await runCli(['monitor', '--url', 'http://127.0.0.1:1', '--count', '1']);
    expect(down.code).toBe(2);
    expect(down.stderr.trim().split('\n').at(-1)).toMatch(
      /^ironlog: ERR_IRONLOG_IO: monitor: no refresh of http:\/\/127\.0\.0\.1:1 succeeded/,
    );
    expect(down.stderr).not.toMatch(/\n\s+at /);
    // Refused before the run, not after it.
    const report = await runCli(['torture', '--scenarios', 'power-loss', '--report', tmp.join('nope', 'r.html')]);
    expect(report.code).toBe(2);
    expectOneErrorLine(report.stderr, 'ERR_IRONLOG_IO');
    expect(report.stdout).toBe('');
  });

  it('reading commands on a missing directory', async () => {
    for (const cmd of ['verify', 'replay', 'stats']) {
      const r = await runCli([cmd, '--dir', tmp.join('missing')]);
      expect(r.code, cmd).toBe(2);
      expectOneErrorLine(r.stderr, 'ERR_IRONLOG_IO');
    }
  });
});

describe('units (item 14) and times (item 15)', () => {
  it('a duration needs a unit; sizes take bytes, KB or KiB; help shows defaults in the unit parsed', async () => {
    const bare = await runCli(['monitor', '--dir', tmp.path, '--interval', '1000', '--count', '1']);
    expect(bare.code).toBe(2);
    expectOneErrorLine(bare.stderr, 'ERR_IRONLOG_USAGE');
    expect(bare.stderr).toContain('needs a unit: 1000ms or 1000s');
    const budget = await runCli(['torture', '--time-budget', '3600']);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain('needs a unit');
    const letter = await runCli(['serve', '--dir', tmp.path, '--max-body-bytes', '1m']);
    expect(letter.code).toBe(2);
    expectOneErrorLine(letter.stderr, 'ERR_IRONLOG_USAGE');

    const help = async (cmd: string): Promise<string> => (await runCli([cmd, '--help'])).stdout.replace(/\s+/g, ' ');
    const monitorHelp = await help('monitor');
    expect(monitorHelp).toMatch(/--interval <duration> [^(]*\(default: 1s\)/);
    expect(await help('bench')).toMatch(/--duration <duration>[^(]*\(default: 10s\)/);
    expect(await help('serve')).toMatch(/--max-body-bytes <size> [^(]*\([^)]*\)[^(]*\(default: 1MiB\)/);
    expect(await help('replay')).toMatch(/\(default: 250ms\)/);
  });

  it('a time without an offset is refused, with the fix in the message', async () => {
    await makeWal(tmp.path, 20);
    for (const cmd of ['replay', 'export']) {
      const extra = cmd === 'export' ? ['--output', '-'] : [];
      const r = await runCli([cmd, '--dir', tmp.path, '--from', '2026-12-02T18:24:16', ...extra]);
      expect(r.code, cmd).toBe(2);
      expectOneErrorLine(r.stderr, 'ERR_IRONLOG_USAGE');
      expect(r.stderr).toContain('2026-12-02T18:24:16Z');
    }
    const withZ = await runCli(['replay', '--dir', tmp.path, '--from', '2000-01-01T00:00:00Z']);
    expect(withZ.code, withZ.stderr).toBe(0);
    expect(withZ.stdout.trim().split('\n')).toHaveLength(20);
    const withOffset = await runCli(['replay', '--dir', tmp.path, '--to', '2000-01-01T01:00:00+01:00']);
    expect(withOffset.code, withOffset.stderr).toBe(0);
    expect(withOffset.stdout).toBe('');
    expect((await runCli(['replay', '--help'])).stdout.replace(/\s+/g, ' ')).toContain('with an offset');
  });
});

describe('filters (item 16)', () => {
  it('refuses a bare name on the right of a comparison, accepts the quoted string and event.<field>', async () => {
    await makeWal(tmp.path, 20);
    const bare = await runCli(['replay', '--dir', tmp.path, '--filter', 'user == u1']);
    expect(bare.code).toBe(2);
    expectOneErrorLine(bare.stderr, 'ERR_IRONLOG_INVALID_ARGUMENT');
    expect(bare.stderr).toContain('bare name u1');
    expect(bare.stderr).toContain('"u1"');
    const quoted = await runCli(['replay', '--dir', tmp.path, '--filter', 'user == "u1"']);
    expect(quoted.code, quoted.stderr).toBe(0);
    expect(quoted.stdout.trim().split('\n')).toHaveLength(7);
    const fields = await runCli(['replay', '--dir', tmp.path, '--filter', 'event.user == event.user']);
    expect(fields.stdout.trim().split('\n')).toHaveLength(20);
  });
});

/** Runs the CLI with stdout and stderr on a pseudo-terminal (util-linux `script`). */
function runOnTty(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, kBin, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

describe('progress bars on a terminal (item 17)', () => {
  it('verify, recover and bench draw one on a TTY, and none into a pipe', async () => {
    await makeWal(tmp.join('wal'), 400);
    const verify = await runOnTty(['verify', '--dir', tmp.join('wal')]);
    expect(verify.code, verify.out).toBe(0);
    expect(verify.out).toMatch(/verify \[[^\]]*\] 100% \| segment (\d+)\/\1/);
    const recover = await runOnTty(['recover', '--input', tmp.join('wal'), '--output', tmp.join('rec')]);
    expect(recover.code, recover.out).toBe(0);
    expect(recover.out).toMatch(/recover \[[^\]]*\] 100% \| segment (\d+)\/\1/);
    const bench = await runOnTty(['bench', '--mode', 'inproc', '--duration', '1s', '--connections', '2']);
    expect(bench.code, bench.out).toBe(0);
    expect(bench.out).toMatch(/bench inproc \[[^\]]*\] 100%/);

    const piped = await runCli(['verify', '--dir', tmp.join('wal')]);
    expect(piped.stderr).toBe('');
    const off = await runOnTty(['verify', '--dir', tmp.join('wal'), '--no-progress']);
    expect(off.out).not.toContain('verify [');
  });
});

describe('AWS SDK notice (item 18)', () => {
  it('no NodeVersionSupportWarning before a --source s3:// error', async () => {
    const env: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const r = await runCli(
      ['verify', '--source', 's3://nobucket/audit?endpoint=http://127.0.0.1:1&forcePathStyle=true'],
      { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    expectOneErrorLine(r.stderr, 'ERR_IRONLOG_BACKEND');
  });
});
