/**
 * The directory lock under a real race: many child processes try to take the lock of one
 * directory at the same instant (fresh, and with a stale `LOCK` of a dead process), round after
 * round; exactly one may win each round and every other one gets ERR_IRONLOG_WAL_LOCKED.
 * `IRONLOG_LOCK_ROUNDS` / `IRONLOG_LOCK_OPENERS` raise the default 10 rounds of 6 openers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/core/errors.js';
import { acquireDirLock } from '../src/wal/dir-lock.js';
import { verifyWal } from '../src/wal/verify.js';
import { TempDir } from './helpers/tmp.js';

const kFixture = fileURLToPath(new URL('./fixtures/lock-opener.mjs', import.meta.url));
const kRounds = Number(process.env.IRONLOG_LOCK_ROUNDS ?? 10);
const kOpeners = Number(process.env.IRONLOG_LOCK_OPENERS ?? 6);

interface Opener {
  readonly child: ChildProcess;
  readonly lines: string[];
  next(): Promise<Record<string, unknown>>;
}

const live = new Set<ChildProcess>();

function startOpener(mode: 'lock' | 'sink', dir: string): Opener {
  const child = spawn(process.execPath, [kFixture, mode, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  // A write to a child that has already exited fails with EPIPE; its exit code is what the test
  // checks, so the pipe's error is not an error of the test.
  child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let buf = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
      i = buf.indexOf('\n');
    }
  });
  return {
    child,
    lines,
    next: () =>
      new Promise((resolve, reject) => {
        const l = lines.shift();
        if (l !== undefined) return resolve(JSON.parse(l));
        const onExit = (code: number | null): void => reject(new Error(`opener exited (${code}): ${stderr}`));
        child.once('exit', onExit);
        waiting.push((line) => {
          child.off('exit', onExit);
          resolve(JSON.parse(line));
        });
      }),
  };
}

/** Starts `n` openers and waits until each is ready. */
async function startOpeners(n: number, mode: 'lock' | 'sink', dir = ''): Promise<Opener[]> {
  const openers = Array.from({ length: n }, () => startOpener(mode, dir));
  for (const o of openers) expect(await o.next()).toEqual({ ready: true });
  return openers;
}

/** One round of `lock` openers: `go` to all at once, then release; returns each one's outcome. */
async function lockRound(openers: readonly Opener[], dir: string): Promise<Record<string, unknown>[]> {
  for (const o of openers) o.child.stdin?.write(`go ${dir}\n`);
  const outcomes = await Promise.all(openers.map((o) => o.next()));
  // Everyone has tried while the winner still holds the lock: now let go.
  for (const o of openers) o.child.stdin?.write('release\n');
  for (const o of openers) expect(await o.next()).toEqual({ released: true });
  return outcomes;
}

async function stopOpeners(openers: readonly Opener[], last = 'exit\n'): Promise<void> {
  if (last !== '') for (const o of openers) if (o.child.exitCode === null) o.child.stdin?.write(last);
  for (const o of openers) {
    const code = await new Promise<number | null>((resolve) => {
      if (o.child.exitCode !== null) resolve(o.child.exitCode);
      else o.child.once('exit', resolve);
    });
    expect(code).toBe(0);
  }
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

function expectOneWinner(outcomes: Record<string, unknown>[]): void {
  const winners = outcomes.filter((o) => o.won === true);
  expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
  for (const o of outcomes.filter((x) => x.won !== true)) {
    expect(o.code, JSON.stringify(o)).toBe(ErrorCodes.WAL_LOCKED);
  }
}

describe('directory lock', () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = new TempDir();
  });
  afterEach(() => {
    for (const c of live) c.kill('SIGKILL');
    tmp.dispose();
  });

  it(`exactly one of ${kOpeners} simultaneous openers wins, ${kRounds} rounds on a fresh directory`, async () => {
    const openers = await startOpeners(kOpeners, 'lock');
    for (let r = 0; r < kRounds; r++) {
      const dir = tmp.join(`fresh-${r}`);
      fs.mkdirSync(dir);
      expectOneWinner(await lockRound(openers, dir));
      // The winner released it: nothing of the lock is left behind.
      expect(fs.readdirSync(dir)).toEqual([]);
    }
    await stopOpeners(openers);
  }, 600_000);

  it(`exactly one of ${kOpeners} simultaneous openers takes over a stale LOCK, ${kRounds} rounds`, async () => {
    const pid = await deadPid();
    const openers = await startOpeners(kOpeners, 'lock');
    for (let r = 0; r < kRounds; r++) {
      const dir = tmp.join(`stale-${r}`);
      fs.mkdirSync(dir);
      const token = `${r.toString(16).padStart(2, '0')}${'ab'.repeat(15)}`;
      fs.writeFileSync(`${dir}/LOCK`, `${JSON.stringify({ pid, token })}\n`);
      expectOneWinner(await lockRound(openers, dir));
      expect(fs.readdirSync(dir)).toEqual([]);
    }
    await stopOpeners(openers);
  }, 600_000);

  it('two sinks opened at once on a stale LOCK: one writes, the other is refused, nothing acked is lost', async () => {
    const pid = await deadPid();
    for (let r = 0; r < 2; r++) {
      const dir = tmp.join(`sink-${r}`);
      fs.mkdirSync(dir);
      if (r === 1) fs.writeFileSync(`${dir}/LOCK`, `${JSON.stringify({ pid, token: 'cd'.repeat(16) })}\n`);
      const openers = await startOpeners(3, 'sink', dir);
      for (const o of openers) o.child.stdin?.write('go\n');
      const outcomes = await Promise.all(openers.map((o) => o.next()));
      expectOneWinner(outcomes);
      // Let the winner write for a while with the losers gone, then stop it.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const o of openers) o.child.stdin?.write('release\n');
      const winner = openers[outcomes.findIndex((o) => o.won === true)] as Opener;
      const done = [await winner.next()];
      await stopOpeners(openers, '');
      const acked = done[0]?.acked as number;
      expect(acked).toBeGreaterThan(0);
      const report = await verifyWal(dir);
      expect(report.problems).toEqual([]);
      expect(report.records).toBe(acked);
    }
  }, 600_000);

  it('clears a takeover claim its dead claimant left; waits out (refuses) a live one', async () => {
    const pid = await deadPid();
    const dir = tmp.path;
    const x = '11'.repeat(16);
    fs.writeFileSync(tmp.join('LOCK'), JSON.stringify({ pid, token: x }));
    // A claimant that died between taking the claim and removing the stale LOCK.
    fs.writeFileSync(tmp.join(`LOCK.claim.${x}`), JSON.stringify({ pid, token: '22'.repeat(16) }));
    const lock = acquireDirLock(dir);
    expect(JSON.parse(fs.readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);

    // A claimant that is alive (this process, as another thread would be): the opener is refused.
    const mine = acquireDirLock(dir);
    const record = JSON.parse(fs.readFileSync(mine.path, 'utf8')) as Record<string, unknown>;
    mine.release();
    fs.writeFileSync(tmp.join('LOCK'), JSON.stringify({ pid, token: x }));
    fs.writeFileSync(tmp.join(`LOCK.claim.${x}`), JSON.stringify({ ...record, token: '33'.repeat(16) }));
    expect(() => acquireDirLock(dir)).toThrow(
      expect.objectContaining({ code: ErrorCodes.WAL_LOCKED, message: expect.stringContaining('being taken over') }),
    );
    expect(fs.existsSync(tmp.join('LOCK'))).toBe(true);
  });

  it('an empty, unreadable or foreign LOCK is never taken for stale', () => {
    const dir = tmp.path;
    for (const content of ['', '\n', '12345\n', '{"pid":1}', 'garbage']) {
      fs.writeFileSync(tmp.join('LOCK'), content);
      expect(() => acquireDirLock(dir)).toThrow(expect.objectContaining({ code: ErrorCodes.WAL_LOCKED }));
      // Left as it was, for a person to look at.
      expect(fs.readFileSync(tmp.join('LOCK'), 'utf8')).toBe(content);
    }
    fs.rmSync(tmp.join('LOCK'));
    const lock = acquireDirLock(dir);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a LOCK of this live process (another thread) is not stale; a reused pid with another start time is', () => {
    const dir = tmp.path;
    const lock = acquireDirLock(dir);
    const record = fs.readFileSync(lock.path, 'utf8');
    expect(JSON.parse(record)).toMatchObject({ pid: process.pid });
    lock.release();
    // As another thread of this process would have left it: same pid, same start time.
    fs.writeFileSync(tmp.join('LOCK'), record.replace(/"token":"[0-9a-f]+"/, `"token":"${'ef'.repeat(16)}"`));
    expect(() => acquireDirLock(dir)).toThrow(expect.objectContaining({ code: ErrorCodes.WAL_LOCKED }));
    if (JSON.parse(record).start !== undefined) {
      // Our pid, but a process that started at another time (a container restart reusing pids).
      fs.writeFileSync(tmp.join('LOCK'), JSON.stringify({ ...JSON.parse(record), token: '01'.repeat(16), start: '1' }));
      acquireDirLock(dir).release();
    }
    fs.rmSync(tmp.join('LOCK'), { force: true });
  });
});
