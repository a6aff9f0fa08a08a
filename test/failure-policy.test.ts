/**
 * `onFailure` and `failStop` (issue 14), each scenario in a real child process
 * (test/fixtures/failure-child.mjs): faults come from the fault-fs seam in the child's writer
 * worker, the replication outage from a directory backend whose directory is replaced by a file.
 * The child reports every onFailure call, ack and rejection as a JSON line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, FAIL_STOP_EXIT_CODE, readWal, verifyWal } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

const kChild = fileURLToPath(new URL('./fixtures/failure-child.mjs', import.meta.url));

type Line =
  | { t: 'failure'; code: string; message: string }
  | { t: 'ack'; seq: number }
  | { t: 'rejected'; code: string }
  | { t: 'warning'; name: string; message: string }
  | { t: 'phase'; name: string; failures: number; acked?: number; rejected?: number; [k: string]: unknown };

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Line[];
  stderr: string;
}

let tmp: TempDir;
const live = new Set<ChildProcess>();
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(async () => {
  await Promise.all(
    [...live].map(
      (c) =>
        new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  tmp.dispose();
});

function runChild(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [kChild, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      const lines = out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line);
      resolve({ code, signal, lines, stderr });
    });
  });
}

const failuresOf = (r: Run) => r.lines.filter((l): l is Line & { t: 'failure' } => l.t === 'failure');
const phase = (r: Run, name: string) =>
  r.lines.find((l) => l.t === 'phase' && l.name === name) as Line & { t: 'phase' };
const ackedSeqs = (r: Run) => r.lines.flatMap((l) => (l.t === 'ack' ? [l.seq] : []));
const rejections = (r: Run) => r.lines.flatMap((l) => (l.t === 'rejected' ? [l.code] : []));

/** Every acked seq is in the WAL (read after the child is gone) and the WAL verifies. */
async function expectNothingAckedLost(dir: string, acked: readonly number[]): Promise<void> {
  const report = await verifyWal(dir);
  expect(report.problems).toEqual([]);
  expect(report.valid).toBe(true);
  const present = new Set<number>();
  for await (const rec of readWal(dir)) present.add(rec.seq);
  expect(acked.filter((s) => !present.has(s))).toEqual([]);
}

describe('onFailure', () => {
  it('is called once per WAL fault episode, however many acks it rejects, and again after recovery', async () => {
    const dir = tmp.join('wal');
    const r = await runChild(['episodes', dir]);
    expect(r.code, r.stderr).toBe(0);
    const one = phase(r, 'episode1');
    const two = phase(r, 'episode2');
    // 80 rejected acks each (the failed batch, the frames drained while faulted, refused emits)...
    expect(one.rejected).toBe(80);
    expect(two.rejected).toBe(80);
    // ...and one call per episode: one after the first, a second one after the recovery.
    expect(one.failures).toBe(1);
    expect(two.failures).toBe(2);
    expect(failuresOf(r).map((f) => f.code)).toEqual([ErrorCodes.WAL_FSYNC, ErrorCodes.WAL_FSYNC]);
    expect(phase(r, 'closed').failures).toBe(2);
    expect(ackedSeqs(r)).toHaveLength(15);
    await expectNothingAckedLost(dir, ackedSeqs(r));
  });

  it('a throwing handler does not break the sink: one warning, the sink goes on and recovers', async () => {
    const dir = tmp.join('wal');
    const r = await runChild(['throwing', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(failuresOf(r)).toHaveLength(2);
    const warnings = r.lines.filter((l) => l.t === 'warning');
    expect(warnings).toEqual([
      expect.objectContaining({
        name: 'IronlogFailureHandlerWarning',
        message: expect.stringContaining('handler bug 1'),
      }),
    ]);
    // Emits between and after the episodes were acked: the sink was not harmed by the throw.
    expect(ackedSeqs(r)).toHaveLength(15);
    await expectNothingAckedLost(dir, ackedSeqs(r));
  });

  it('writer worker death calls it once (the rejected emits and later refusals do not)', async () => {
    const dir = tmp.join('wal');
    const r = await runChild(['writer-death', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(failuresOf(r).map((f) => f.code)).toEqual([ErrorCodes.WORKER_EXITED]);
    const dead = phase(r, 'dead');
    expect(dead.rejected).toBe(20);
    expect(dead.refusedAfter).toBe(3);
    expect(phase(r, 'closed').failures).toBe(1);
    await expectNothingAckedLost(dir, ackedSeqs(r));
  });

  it("replication quorum lost with ack 'replicated': once per outage, again after the quorum was regained", async () => {
    const dir = tmp.join('wal');
    const r = await runChild(['quorum', dir, tmp.join('backend')]);
    expect(r.code, r.stderr).toBe(0);
    expect(phase(r, 'lost').failures).toBe(1);
    // The waiting acks completed once the backend came back, without another call.
    expect(phase(r, 'regained')).toMatchObject({ failures: 1, acked: 5, rejected: 0 });
    expect(phase(r, 'second')).toMatchObject({ failures: 2, acked: 2, rejected: 0 });
    expect(failuresOf(r).map((f) => f.code)).toEqual([
      ErrorCodes.REPLICATION_QUORUM_LOST,
      ErrorCodes.REPLICATION_QUORUM_LOST,
    ]);
    expect(failuresOf(r)[0]?.message).toMatch(/quorum 1 cannot be met: only 0 of 1 backends reachable/);
  });
});

describe('failStop', () => {
  const stderrLine = (code: string, dir: string) =>
    new RegExp(`^ironlog: fail-stop: ${code} in WAL ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [^\\n]+\\n$`);

  for (const c of [
    { scenario: 'failstop-fsync', code: ErrorCodes.WAL_FSYNC },
    { scenario: 'failstop-writer', code: ErrorCodes.WORKER_EXITED },
  ]) {
    it(`${c.scenario}: every pending ack rejects with ${c.code}, onFailure runs, then the process exits ${FAIL_STOP_EXIT_CODE} with one stderr line`, async () => {
      const dir = tmp.join('wal');
      const r = await runChild([c.scenario, dir]);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(FAIL_STOP_EXIT_CODE);
      expect(FAIL_STOP_EXIT_CODE).toBe(70);
      // Exactly one line, naming the code and the WAL dir; no stack trace.
      expect(r.stderr).toMatch(stderrLine(c.code, dir));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(failuresOf(r).map((f) => f.code)).toEqual([c.code]);
      // The 10 emits before the fault were acked; all 100 emitted after it were rejected (none left
      // pending: each printed its outcome before the exit), with the episode's code, or, for frames
      // the writer drained after the failed batch (thread timing decides how many), WAL_FAULTED.
      expect(ackedSeqs(r)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const codes = rejections(r);
      expect(codes).toHaveLength(100);
      // The failed batch's acks carry the episode's code. Emits that reach the ring once it is in
      // FAULTED state, before the main thread has heard of the fault, are refused at once with
      // WAL_FAULTED, so under load such a refusal can print before the failed batch's rejections.
      expect(codes).toContain(c.code);
      expect(codes.filter((x) => x !== c.code && x !== ErrorCodes.WAL_FAULTED)).toEqual([]);
      if (c.code === ErrorCodes.WORKER_EXITED) expect(new Set(codes)).toEqual(new Set([c.code]));
      // onFailure ran (once, above) before the exit, and nothing ran on afterwards. Its place among
      // the rejections is not fixed: acks are rejected through shared memory (the ring's failure
      // table and state word), while the handler hears of the fault by the writer's message, so
      // under load every rejection can print before it.
      expect(r.lines.some((l) => l.t === 'failure')).toBe(true);
      expect(r.lines.some((l) => l.t === 'phase' && l.name === 'still-running')).toBe(false);
      await expectNothingAckedLost(dir, ackedSeqs(r));
    });
  }

  it('replication quorum lost: the waiting replicated acks reject, then the process exits', async () => {
    const dir = tmp.join('wal');
    const r = await runChild(['failstop-quorum', dir, tmp.join('backend')]);
    expect(r.code).toBe(FAIL_STOP_EXIT_CODE);
    expect(r.stderr).toMatch(stderrLine(ErrorCodes.REPLICATION_QUORUM_LOST, dir));
    expect(failuresOf(r).map((f) => f.code)).toEqual([ErrorCodes.REPLICATION_QUORUM_LOST]);
    expect(ackedSeqs(r)).toEqual([1, 2, 3]);
    expect(rejections(r)).toEqual(Array.from({ length: 5 }, () => ErrorCodes.REPLICATION_QUORUM_LOST));
    await expectNothingAckedLost(dir, ackedSeqs(r));
  });
});
