/**
 * Chain of custody (issue 10 item 5), through the real `ironlog` binary and the public library:
 * one entry per command, tamper detection by `custody verify`, concurrent appenders keeping one
 * chain, stale locks, torn tails, read-only WAL directories.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyCustodyBytes } from '../dist/compliance/custody.js';
import { parseVerifierKey } from '../dist/compliance/note.js';
import {
  type CustodyEntry,
  kCustodyGenesis,
  listCustodyEntries,
  openSink,
  proveRecord,
  readWal,
  verifyLog,
  verifyWal,
} from '../dist/main/index.js';
import { kBin, killChildren, runCli, spawnCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-custody-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

const kAppender = fileURLToPath(new URL('./fixtures/custody-appender.mjs', import.meta.url));

async function makeWal(dir: string, count = 40): Promise<void> {
  const sink = await openSink({ dir, custody: false });
  await sink.emitBatch(Array.from({ length: count }, (_, i) => ({ i, user: `u${i % 3}` })));
  await sink.close();
}

function logOf(custodyDir: string): string {
  return path.join(custodyDir, 'custody.log');
}

function entriesIn(custodyDir: string): CustodyEntry[] {
  if (!fs.existsSync(logOf(custodyDir))) return [];
  return fs
    .readFileSync(logOf(custodyDir), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as CustodyEntry);
}

/** The lines of a custody log (without the final empty one). */
function linesOf(custodyDir: string): string[] {
  const lines = fs.readFileSync(logOf(custodyDir), 'utf8').split('\n');
  expect(lines.pop()).toBe('');
  return lines;
}

async function keyPair(): Promise<{ key: string; pub: string }> {
  const prefix = tmp.join('custody-key');
  const r = await runCli(['keygen', '--name', 'example.com/custody', '--out', prefix]);
  expect(r.code, r.stderr).toBe(0);
  return { key: `${prefix}.key`, pub: `${prefix}.pub` };
}

describe('every command that acts on a WAL appends exactly one custody entry', () => {
  it('verify, replay, export, recover, errors, problems, --actor, --no-custody, a closed pipe', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal);
    const custody = path.join(wal, 'custody');
    expect(entriesIn(custody)).toEqual([]);

    /** Runs one command and returns the single entry it added. */
    const step = async (args: string[], exitCode: number): Promise<CustodyEntry> => {
      const before = entriesIn(custody).length;
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(exitCode);
      const after = entriesIn(custody);
      expect(after.length, args.join(' ')).toBe(before + 1);
      const e = after.at(-1) as CustodyEntry;
      expect(e.seq).toBe(before + 1);
      return e;
    };

    const v = await step(['verify', '--dir', wal], 0);
    expect(v).toMatchObject({
      v: 1,
      action: 'verify',
      target: path.resolve(wal),
      result: { status: 'ok', exitCode: 0 },
      tool: { name: 'ironlog' },
      via: 'cli',
      prev: kCustodyGenesis,
    });
    expect(v.actor).toBe(v.osUser);
    expect(typeof v.host).toBe('string');
    expect(v.pid).toBeGreaterThan(0);
    expect(Date.parse(v.time)).toBeGreaterThan(Date.now() - 600_000);

    // A custody directory in the WAL directory does not confuse the readers.
    const replayed = await runCli(['replay', '--dir', wal, '--no-custody']);
    expect(replayed.stdout.trim().split('\n')).toHaveLength(40);
    expect(entriesIn(custody).at(-1)).toMatchObject({
      action: 'custody-off',
      result: { status: 'off' },
      details: { of: 'replay', note: 'custody off for replay' },
    });

    const r = await step(['replay', '--dir', wal, '--from-seq', '5', '--to-seq', '9', '--actor', 'alice'], 0);
    expect(r).toMatchObject({ action: 'replay', actor: 'alice', range: { fromSeq: 5, toSeq: 9 } });
    expect(r.osUser).not.toBe('');

    const out = tmp.join('export.ndjson');
    const x = await step(['export', '--dir', wal, '--output', out, '--from', '2026-01-01T00:00:00Z'], 0);
    expect(x).toMatchObject({
      action: 'export',
      range: { from: '2026-01-01T00:00:00.000Z' },
      details: { output: path.resolve(out), format: 'ndjson' },
    });

    const rec = await step(['recover', '--input', wal, '--output', tmp.join('recovered')], 0);
    expect(rec).toMatchObject({
      action: 'recover',
      target: path.resolve(wal),
      details: { output: tmp.join('recovered') },
    });

    const bad = await step(['export', '--dir', wal, '--output', tmp.join('x.ndjson'), '--filter', 'level >>> 4'], 2);
    expect(bad).toMatchObject({ action: 'export', result: { status: 'error', exitCode: 2 } });
    expect(bad.result.code).toMatch(/^ERR_IRONLOG_/);

    // `replay | head`: the pipe closes early; the entry is still written.
    const before = entriesIn(custody).length;
    const piped = spawnCli(['replay', '--dir', wal]);
    piped.stdout?.destroy();
    await new Promise((resolve) => piped.once('exit', resolve));
    expect(entriesIn(custody)).toHaveLength(before + 1);
    expect(entriesIn(custody).at(-1)).toMatchObject({ action: 'replay', result: { status: 'ok' } });

    // Damage found by verify is recorded as problems.
    const seg = fs.readdirSync(wal).find((n) => n.endsWith('.wal')) as string;
    const bytes = fs.readFileSync(path.join(wal, seg));
    bytes[300] = (bytes[300] as number) ^ 0xff;
    fs.writeFileSync(path.join(wal, seg), bytes);
    const damaged = await step(['verify', '--dir', wal, '--json'], 1);
    expect(damaged.result).toMatchObject({ status: 'problems', exitCode: 1 });

    // Listing and verifying the custody log add nothing.
    const n = entriesIn(custody).length;
    const list = await runCli(['custody', 'list', '--dir', wal]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('alice');
    expect(list.stdout).toContain('custody-off (for replay)');
    const listed = await runCli(['custody', 'list', '--dir', wal, '--json']);
    expect((JSON.parse(listed.stdout) as CustodyEntry[]).map((e) => e.seq)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const check = await runCli(['custody', 'verify', '--dir', wal]);
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain(`intact: ${n} entries`);
    expect(entriesIn(custody)).toHaveLength(n);
  }, 180_000);

  it('a missing WAL directory gets no entry and keeps its own error', async () => {
    const r = await runCli(['verify', '--dir', tmp.join('nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_IRONLOG_IO');
    expect(fs.existsSync(tmp.join('nope'))).toBe(false);
  });

  it('custody verify of a WAL without a custody log fails (exit 1); usage errors exit 2', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal, 3);
    const r = await runCli(['custody', 'verify', '--dir', wal]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('missing');
    const u = await runCli(['custody', 'verify']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^ironlog: ERR_IRONLOG_INVALID_ARGUMENT: give --dir/);
  });
});

describe('custody verify detects tampering', () => {
  /** A signed custody log of five entries, made by real commands. */
  async function signedLog(): Promise<{ wal: string; custody: string; pub: string; lines: string[] }> {
    const { key, pub } = await keyPair();
    const wal = tmp.join('wal');
    await makeWal(wal, 10);
    for (const args of [
      ['verify', '--dir', wal],
      ['replay', '--dir', wal, '--from-seq', '2'],
      ['export', '--dir', wal, '--output', tmp.join('e.ndjson')],
      ['verify', '--dir', wal, '--actor', 'bob'],
    ]) {
      const r = await runCli([...args, '--key', key]);
      expect(r.code, r.stderr).toBe(0);
    }
    // The fifth through the environment variable.
    const r = await runCli(['verify', '--dir', wal], { IRONLOG_SIGNING_KEY_FILE: key });
    expect(r.code, r.stderr).toBe(0);
    const custody = path.join(wal, 'custody');
    return { wal, custody, pub, lines: linesOf(custody) };
  }

  /** Writes `lines` as a custody log in a fresh directory and runs `custody verify` on it. */
  async function verifyLines(lines: string[], pub: string | undefined, name: string) {
    const dir = tmp.join(`copy-${name}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(logOf(dir), lines.map((l) => `${l}\n`).join(''));
    return runCli(['custody', 'verify', '--custody', dir, ...(pub ? ['--public-key', pub] : []), '--json']);
  }

  it('signed: intact, then an edited field, a deleted, two reordered, a forged unsigned entry: exit 1, the entry named', async () => {
    const { custody, pub, lines } = await signedLog();
    expect(lines).toHaveLength(5);
    const ok = await runCli(['custody', 'verify', '--custody', custody, '--public-key', pub]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain('5 signatures verified');
    for (const l of lines) expect(JSON.parse(l).sig).toMatch(/^example\.com\/custody /);

    const problems = async (ls: string[], name: string, key: string | undefined = pub) => {
      const r = await verifyLines(ls, key, name);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      return (JSON.parse(r.stdout) as { problems: { kind: string; seq?: number; line: number }[] }).problems;
    };

    const edited = [...lines];
    edited[1] = JSON.stringify({ ...JSON.parse(lines[1] as string), actor: 'mallory' });
    expect(await problems(edited, 'edit')).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'signature', seq: 2 })]),
    );

    const deleted = lines.filter((_, i) => i !== 2);
    expect(await problems(deleted, 'delete')).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'seq', seq: 4, line: 3 })]),
    );

    const swapped = [lines[0], lines[2], lines[1], lines[3], lines[4]] as string[];
    const swapProblems = await problems(swapped, 'swap');
    expect(swapProblems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'seq', seq: 3, line: 2 })]));
    expect(swapProblems).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'seq', seq: 2, line: 3 })]));

    // A forged entry that follows every chain rule but has no signature.
    const last = JSON.parse(lines[4] as string) as CustodyEntry;
    const { sig: _sig, ...unsigned } = last;
    const { createHash } = await import('node:crypto');
    const forged = JSON.stringify({
      ...unsigned,
      seq: 6,
      actor: 'nobody-saw-this',
      prev: createHash('sha256')
        .update(lines[4] as string)
        .digest('hex'),
    });
    expect(await problems([...lines, forged], 'forged')).toEqual([
      expect.objectContaining({ kind: 'unsigned', seq: 6, line: 6 }),
    ]);
    // The same forgery passes the chain alone: that is what the signature is for (documented).
    const chainOnly = await verifyLines([...lines, forged], undefined, 'forged-nokey');
    expect(chainOnly.code).toBe(0);

    // Signed with another key: not by the given key.
    const other = await runCli(['keygen', '--name', 'example.com/custody', '--json']);
    const otherPub = (JSON.parse(other.stdout) as { verifierKey: string }).verifierKey;
    const otherFile = tmp.join('other.pub');
    fs.writeFileSync(otherFile, `${otherPub}\n`);
    const wrongKey = await problems(lines, 'wrong-key', otherFile);
    expect(wrongKey.filter((p) => p.kind === 'signature').map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
  }, 180_000);

  it('signed: changing any field of any entry is detected and names that entry', async () => {
    const { pub, lines } = await signedLog();
    const verifier = parseVerifierKey(fs.readFileSync(pub, 'utf8').trim());
    const check = (ls: string[]) =>
      verifyCustodyBytes(Buffer.from(ls.map((l) => `${l}\n`).join('')), 'custody.log', { verifier });
    expect(check(lines).valid).toBe(true);
    const mutate = (v: unknown): unknown => {
      if (typeof v === 'number') return v + 1;
      if (typeof v === 'string') return `${v}x`;
      if (typeof v === 'boolean') return !v;
      return v;
    };
    let cases = 0;
    lines.forEach((line, i) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const paths: string[][] = [];
      for (const [k, v] of Object.entries(entry)) {
        if (k === 'sig') continue;
        if (typeof v === 'object' && v !== null) for (const kk of Object.keys(v)) paths.push([k, kk]);
        else paths.push([k]);
      }
      for (const p of paths) {
        const copy = JSON.parse(line) as Record<string, Record<string, unknown>>;
        if (p.length === 1) (copy as Record<string, unknown>)[p[0] as string] = mutate(copy[p[0] as string]);
        else {
          const inner = copy[p[0] as string] as Record<string, unknown>;
          inner[p[1] as string] = mutate(inner[p[1] as string]);
        }
        const ls = [...lines];
        ls[i] = JSON.stringify(copy);
        const report = check(ls);
        expect(report.valid, `${p.join('.')} of entry ${i + 1}`).toBe(false);
        expect(
          report.problems.some((q) => q.line === i + 1),
          `${p.join('.')} of entry ${i + 1}: ${JSON.stringify(report.problems)}`,
        ).toBe(true);
        cases++;
      }
      // Removing the signature, or reformatting the line, is caught too.
      const { sig: _s, ...noSig } = entry;
      const ls = [...lines];
      ls[i] = JSON.stringify(noSig);
      expect(check(ls).problems).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'unsigned', line: i + 1 })]),
      );
      ls[i] = JSON.stringify(entry, null, 1).replace(/\n/g, '');
      expect(check(ls).problems).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'edited', line: i + 1 })]),
      );
    });
    expect(cases).toBeGreaterThan(5 * 14);
  }, 180_000);

  it('unsigned: an edited entry breaks the chain at the next one', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal, 5);
    for (let i = 0; i < 3; i++) expect((await runCli(['verify', '--dir', wal])).code).toBe(0);
    const lines = linesOf(path.join(wal, 'custody'));
    const edited = [...lines];
    edited[0] = (edited[0] as string).replace('"status":"ok"', '"status":"problems"');
    expect(edited[0]).not.toBe(lines[0]);
    const r = await verifyLines(edited, undefined, 'unsigned-edit');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { problems: { kind: string; seq: number; message: string }[] };
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'chain', seq: 2 })]);
    expect(report.problems[0]?.message).toContain('line 1');
    // The text form names the entry too.
    const dir = tmp.join('copy-unsigned-edit');
    const text = await runCli(['custody', 'verify', '--custody', dir]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/BROKEN: 3 entries/);
    expect(text.stdout).toContain('chain (entry 2)');

    // Cutting the end is invisible to the chain, but not to a head kept from an earlier check.
    const kept = await runCli(['custody', 'verify', '--dir', wal]);
    const head = /head: (\d+:[0-9a-f]{64})/.exec(kept.stdout)?.[1] as string;
    expect(head).toMatch(/^3:/);
    expect((await runCli(['custody', 'verify', '--dir', wal, '--expect-head', head])).code).toBe(0);
    const cut = await verifyLines(lines.slice(0, 2), undefined, 'cut');
    expect(cut.code).toBe(0);
    const cutDir = tmp.join('copy-cut');
    const cutHead = await runCli(['custody', 'verify', '--custody', cutDir, '--expect-head', head]);
    expect(cutHead.code).toBe(1);
    expect(cutHead.stdout).toContain('head (entry 3): entry 3 of the head you kept is not in the log (it ends at 2)');
    const rewritten = [...lines];
    rewritten[2] = JSON.stringify({ ...JSON.parse(lines[2] as string), actor: 'x' });
    await verifyLines(rewritten, undefined, 'rewritten');
    const rw = await runCli(['custody', 'verify', '--custody', tmp.join('copy-rewritten'), '--expect-head', head]);
    expect(rw.code).toBe(1);
    expect(rw.stdout).toContain('the log was rewritten');
    const badHead = await runCli(['custody', 'verify', '--dir', wal, '--expect-head', 'nope']);
    expect(badHead.code).toBe(2);
  }, 120_000);
});

describe('durability and concurrency of appends', () => {
  it('concurrent appenders (child processes and CLI commands) keep one chain', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal, 5);
    const custody = path.join(wal, 'custody');
    const kChildren = 4;
    const kEach = 10;
    const children: ChildProcess[] = [];
    for (let c = 0; c < kChildren; c++) {
      children.push(spawn(process.execPath, [kAppender, custody, String(kEach), `c${c}`], { stdio: 'inherit' }));
    }
    const cli = [spawnCli(['verify', '--dir', wal]), spawnCli(['verify', '--dir', wal])];
    const codes = await Promise.all(
      [...children, ...cli].map(
        (ch) => new Promise<number | null>((resolve) => ch.once('exit', (code) => resolve(code))),
      ),
    );
    expect(codes).toEqual(Array(kChildren + 2).fill(0));
    const entries = entriesIn(custody);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: kChildren * kEach + 2 }, (_, i) => i + 1));
    for (let c = 0; c < kChildren; c++) {
      expect(entries.filter((e) => e.details?.tag === `c${c}`).map((e) => e.details?.i)).toEqual(
        Array.from({ length: kEach }, (_, i) => i),
      );
    }
    expect(entries.filter((e) => e.via === 'cli')).toHaveLength(2);
    const r = await runCli(['custody', 'verify', '--dir', wal]);
    expect(r.code, r.stdout).toBe(0);
    expect(fs.existsSync(path.join(custody, 'custody.lock'))).toBe(false);
  }, 180_000);

  it('a lock left by a dead process, or an unreadable old one, is taken over', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal, 5);
    const custody = path.join(wal, 'custody');
    expect((await runCli(['verify', '--dir', wal])).code).toBe(0);
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const os = await import('node:os');
    const bootId = fs.existsSync('/proc/sys/kernel/random/boot_id')
      ? fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
      : '';
    const lock = path.join(custody, 'custody.lock');
    fs.writeFileSync(
      lock,
      `${JSON.stringify({ pid: dead.pid, host: os.hostname(), bootId, startTicks: '1', token: 'dead', timeMs: Date.now() })}\n`,
    );
    const r = await runCli(['verify', '--dir', wal]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
    // Half-written (empty) and a minute old: stale by age.
    fs.writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    const r2 = await runCli(['verify', '--dir', wal]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(entriesIn(custody)).toHaveLength(3);
    expect((await runCli(['custody', 'verify', '--dir', wal])).code).toBe(0);
  }, 120_000);

  it('a torn last line is reported apart from tampering, then cut and recorded by the next append', async () => {
    const wal = tmp.join('wal');
    await makeWal(wal, 5);
    const custody = path.join(wal, 'custody');
    for (let i = 0; i < 2; i++) expect((await runCli(['verify', '--dir', wal])).code).toBe(0);
    const torn = '{"v":1,"seq":3,"time":"2026-';
    fs.appendFileSync(logOf(custody), torn);
    const r = await runCli(['custody', 'verify', '--dir', wal]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`torn last line: ${torn.length} bytes after entry 2`);
    const json = JSON.parse((await runCli(['custody', 'verify', '--dir', wal, '--json'])).stdout);
    expect(json).toMatchObject({
      valid: true,
      entries: 2,
      tornTail: { bytes: torn.length, afterSeq: 2 },
      problems: [],
    });

    expect((await runCli(['replay', '--dir', wal])).code).toBe(0);
    const entries = entriesIn(custody);
    expect(entries).toHaveLength(3);
    const { createHash } = await import('node:crypto');
    expect(entries[2]?.torn).toEqual({ bytes: torn.length, sha256: createHash('sha256').update(torn).digest('hex') });
    const after = await runCli(['custody', 'verify', '--dir', wal]);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain('torn');

    // A complete last line that is not an entry is no torn write: appends refuse to chain to it.
    fs.appendFileSync(logOf(custody), 'garbage\n');
    const refused = await runCli(['verify', '--dir', wal]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('ERR_IRONLOG_CUSTODY_CORRUPT');
    expect(refused.stdout).toBe('');
    const broken = await runCli(['custody', 'verify', '--dir', wal]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('malformed');
    expect(broken.stdout).toContain('line 4');
  }, 120_000);
});

describe('read-only WAL directories (a mounted WORM copy)', () => {
  /** Runs the CLI as a user who cannot write `dir` (as root: the nobody user; else after chmod). */
  function runAsReader(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const asRoot = process.getuid?.() === 0;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [kBin, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        env: { ...process.env, HOME: tmp.path },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      // A child that cannot even start (e.g. the nobody user may not execute this Node binary)
      // answers at once with the reason, instead of leaving the test waiting.
      child.once('error', (err) => resolve({ code: -1, stdout, stderr: `${stderr}spawn failed: ${String(err)}` }));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('refuses with a typed error naming --custody and --no-custody; --custody DIR works; --no-custody runs and says the note was not written', async () => {
    fs.chmodSync(tmp.path, 0o755);
    const wal = tmp.join('worm');
    await makeWal(wal, 8);
    fs.chmodSync(wal, 0o555);
    try {
      const refused = await runAsReader(['verify', '--dir', wal]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^ironlog: ERR_IRONLOG_CUSTODY_READ_ONLY: cannot write the custody log in .*worm\/custody/,
      );
      expect(refused.stderr).toContain('--custody DIR');
      expect(refused.stderr).toContain('--no-custody');
      expect(refused.stdout).toBe(''); // nothing was verified
      const replayRefused = await runAsReader(['replay', '--dir', wal]);
      expect(replayRefused.code).toBe(2);
      expect(replayRefused.stdout).toBe('');

      const elsewhere = tmp.join('elsewhere');
      fs.mkdirSync(elsewhere, { mode: 0o777 });
      fs.chmodSync(elsewhere, 0o777);
      const ok = await runAsReader(['verify', '--dir', wal, '--custody', elsewhere]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('valid: 8 records');
      const entries = entriesIn(elsewhere);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: 'verify', target: path.resolve(wal) });

      const off = await runAsReader(['replay', '--dir', wal, '--no-custody']);
      expect(off.code, off.stderr).toBe(0);
      expect(off.stdout.trim().split('\n')).toHaveLength(8);
      expect(off.stderr).toContain('custody off for replay; the note could not be written');
      expect(fs.existsSync(path.join(wal, 'custody'))).toBe(false);

      const listed = await runAsReader(['custody', 'verify', '--custody', elsewhere]);
      expect(listed.code, listed.stdout).toBe(0);
    } finally {
      fs.chmodSync(wal, 0o755);
    }
  }, 120_000);
});

describe('library entry points', () => {
  it('sink.replay, sink.verify, readWal, verifyWal, recoverWal: one entry each, signed with the custody key; custody: false is noted', async () => {
    const { key, pub } = await keyPair();
    const dir = tmp.join('wal');
    const sink = await openSink({ dir, custody: { actor: 'svc-audit', key: { file: key } } });
    await sink.emitBatch(Array.from({ length: 12 }, (_, i) => ({ i })));
    let n = 0;
    for await (const r of sink.replay({ fromSeq: 3 })) {
      n++;
      if (r.seq === 6) break;
    }
    expect(n).toBe(4);
    expect((await sink.verify()).valid).toBe(true);
    await sink.close();
    const custody = path.join(dir, 'custody');
    expect(entriesIn(custody).map((e) => [e.action, e.actor, e.result.status, e.result.records])).toEqual([
      ['replay', 'svc-audit', 'ok', 4],
      ['verify', 'svc-audit', 'ok', undefined],
    ]);

    for await (const _ of readWal(dir, { toSeq: 5, custody: { key: { file: key } } })) {
      // read them all
    }
    const report = await verifyWal(dir, { custody: false });
    expect(report.valid).toBe(true);
    await expect(verifyWal(tmp.join('missing'))).rejects.toMatchObject({ code: 'ERR_IRONLOG_IO' });
    await expect(verifyWal(dir, { custody: { dir: 42 } as never })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
    });
    const cosigner = await runCli(['keygen', '--name', 'w.example/w1', '--cosigner', '--json']);
    const cosignerKey = (JSON.parse(cosigner.stdout) as { signerKey: string }).signerKey;
    await expect(verifyWal(dir, { custody: { key: cosignerKey } })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_KEY_INVALID',
    });
    const entries = listCustodyEntries(custody).entries;
    expect(entries.map((e) => e.action)).toEqual(['replay', 'verify', 'replay', 'custody-off']);
    expect(entries[2]).toMatchObject({ via: 'library', range: { toSeq: 5 }, result: { status: 'ok', records: 5 } });
    expect(entries.map((e) => e.sig !== undefined)).toEqual([true, true, true, false]);
    const v = await runCli(['custody', 'verify', '--dir', dir, '--public-key', pub, '--json']);
    expect(v.code).toBe(1);
    // The custody-off note was written without the key: named as unsigned, nothing else.
    expect(JSON.parse(v.stdout).problems).toEqual([expect.objectContaining({ kind: 'unsigned', seq: 4 })]);
  }, 120_000);
});

describe('signed WAL: prove, checkpoint and verify --public-key', () => {
  it('a signed sink signs its custody entries with its log key; the tlog commands and functions add one entry each', async () => {
    const { key, pub } = await keyPair();
    const dir = tmp.join('signed');
    const sink = await openSink({ dir, signing: { key: { file: key }, checkpointIntervalMs: 60_000 } });
    const acks = await sink.emitBatch(Array.from({ length: 20 }, (_, i) => ({ i })));
    const proof = await sink.prove((acks[4] as { seq: number }).seq);
    expect(proof.seq).toBe(5);
    expect((await sink.verify()).valid).toBe(true);
    await sink.close();
    const custody = path.join(dir, 'custody');
    expect(entriesIn(custody).map((e) => [e.action, e.range, e.sig !== undefined])).toEqual([
      ['prove', { seq: 5 }, true],
      ['verify', undefined, true],
    ]);

    const step = async (args: string[], want: Partial<CustodyEntry>): Promise<void> => {
      const before = entriesIn(custody).length;
      const r = await runCli([...args, '--key', key]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      const after = entriesIn(custody);
      expect(after).toHaveLength(before + 1);
      expect(after.at(-1)).toMatchObject(want);
    };
    await step(['checkpoint', '--dir', dir], { action: 'checkpoint' });
    await step(['prove', '--dir', dir, '--seq', '3', '--json'], { action: 'prove', range: { seq: 3 } });
    await step(['prove', '--dir', dir, '--consistency', '--from-size', '2'], {
      action: 'prove',
      range: { fromSize: 2 },
      details: { consistency: true },
    });
    await step(['verify', '--dir', dir, '--public-key', pub], { action: 'verify', details: { publicKey: true } });

    expect((await proveRecord(dir, 7, { custody: { key: { file: key } } })).seq).toBe(7);
    const report = await verifyLog(dir, {
      publicKey: fs.readFileSync(pub, 'utf8').trim(),
      custody: { key: { file: key } },
    });
    expect(report.valid).toBe(true);
    const entries = entriesIn(custody);
    expect(entries.slice(-2).map((e) => [e.action, e.via])).toEqual([
      ['prove', 'library'],
      ['verify', 'library'],
    ]);
    const v = await runCli(['custody', 'verify', '--dir', dir, '--public-key', pub]);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toContain(`${entries.length} signatures verified`);
  }, 180_000);
});

describe('deletion by local retention', () => {
  it('each retention run that deletes segments appends one delete entry with the seq range and files', async () => {
    const dir = tmp.join('wal');
    const sink = await openSink({
      dir,
      nodeId: 'ret',
      segmentBytes: 64 * 1024,
      maxBatchBytes: 8 * 1024,
      maxEventBytes: 8 * 1024,
      segmentMaxAgeMs: 30,
      custody: { actor: 'retention' },
      replication: {
        backends: [{ type: 'fs' as const, dir: tmp.join('bucket') }],
        localRetention: { deleteAfterMs: 0 },
      },
    });
    for (let i = 0; i < 10; i++) {
      await sink.emitBatch(Array.from({ length: 50 }, (_, k) => ({ i: i * 50 + k, pad: 'r'.repeat(300) })));
    }
    const custody = path.join(dir, 'custody');
    const deletions = (): CustodyEntry[] => entriesIn(custody).filter((e) => e.action === 'delete');
    const end = Date.now() + 60_000;
    while (deletions().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await sink.close();
    const entries = deletions();
    expect(entries.length).toBeGreaterThan(0);
    let deletedFiles = 0;
    for (const e of entries) {
      expect(e).toMatchObject({ actor: 'retention', via: 'library', result: { status: 'ok' } });
      expect(e.details).toMatchObject({ reason: 'local retention' });
      const { firstFile, lastFile, segments } = e.details as { firstFile: string; lastFile: string; segments: number };
      expect(Number(firstFile.slice(0, 20))).toBe(e.range?.fromSeq);
      expect(fs.existsSync(path.join(dir, firstFile))).toBe(false);
      expect(fs.existsSync(path.join(dir, lastFile))).toBe(false);
      deletedFiles += segments;
    }
    expect(deletedFiles).toBeGreaterThan(0);
    expect((await runCli(['custody', 'verify', '--dir', dir])).code).toBe(0);
  }, 120_000);
});
