import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

const kChild = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url));
const kRounds = 20;

let tmp: TempDir;
beforeAll(() => {
  tmp = new TempDir('ironlog-crash-');
});
afterAll(() => tmp.dispose());

/** Runs the child until it has acked something, SIGKILLs it at a random moment, returns its acks. */
function runAndKill(dir: string, startId: number, killAfterMs: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kChild, dir, '300', String(startId)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<number, number>();
    let buf = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else {
          const [seq, id] = line.split(' ').map(Number) as [number, number];
          acked.set(seq, id);
        }
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (code ${code}): ${stderr}`));
      else resolve(acked);
    });
  });
}

it(`every acked record survives SIGKILL, exactly once and in order (${kRounds} rounds)`, async () => {
  const dir = tmp.join('wal');
  const allAcked = new Map<number, number>();
  let nextId = 0;
  const seed = Number(process.env.IRONLOG_CRASH_SEED ?? Date.now() % 100_000);
  let rnd = seed;
  const random = (): number => {
    rnd = (rnd * 1103515245 + 12345) % 2147483648;
    return rnd / 2147483648;
  };
  for (let round = 0; round < kRounds; round++) {
    const acked = await runAndKill(dir, nextId, 30 + Math.floor(random() * 300));
    if (process.env.IRONLOG_DEBUG) console.log(`round ${round}: ${acked.size} acks`);
    const reused: number[] = [];
    for (const [seq, id] of acked) {
      // A seq acked twice across rounds would mean a seq was reused after a crash.
      if (allAcked.has(seq)) reused.push(seq);
      allAcked.set(seq, id);
      nextId = Math.max(nextId, id + 1);
    }
    expect(reused, `seed ${seed}: seqs acked twice`).toEqual([]);
    nextId += 1_000_000;

    // Reopen (recovers the torn tail), then read everything back.
    const sink = await openSink({ dir });
    const report = await sink.verify();
    expect(report.valid, `seed ${seed} round ${round}: ${JSON.stringify(report.problems)}`).toBe(true);
    const stored = new Map<number, number>();
    let prev = 0;
    let disorder = 0;
    for await (const r of sink.replay({ fromSeq: 1 })) {
      if (r.seq !== prev + 1) disorder++;
      prev = r.seq;
      stored.set(r.seq, (r.event as { id: number }).id);
    }
    await sink.close();
    expect(disorder, `seed ${seed} round ${round}: seqs not dense and ordered`).toBe(0);
    const lost: number[] = [];
    for (const [seq, id] of allAcked) if (stored.get(seq) !== id) lost.push(seq);
    expect(lost, `seed ${seed} round ${round}: acked seqs lost or changed`).toEqual([]);
    // Every id appears once at most (no duplicates after recovery).
    const ids = [...stored.values()];
    expect(new Set(ids).size).toBe(ids.length);
  }
  expect(allAcked.size).toBeGreaterThan(kRounds * 10);
});
