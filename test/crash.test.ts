import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { type AckLine, killChildren, spawnKill9Child } from './helpers/kill9.js';
import { TempDir } from './helpers/tmp.js';

const kRounds = 20;

let tmp: TempDir;
beforeAll(() => {
  tmp = new TempDir('ironlog-crash-');
});
afterEach(() => killChildren());
afterAll(() => tmp.dispose());

/** Runs the shared load child until it is ready, SIGKILLs it after `killAfterMs`, returns its acks. */
async function runAndKill(dir: string, round: number, killAfterMs: number): Promise<readonly AckLine[]> {
  const child = spawnKill9Child(dir, { round, producers: 1, inFlight: 300 });
  await child.ready;
  if (!child.running) throw new Error(`child exited before it was ready: ${child.stderr}`);
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  if (!child.running) throw new Error(`child exited on its own: ${child.stderr}`);
  await child.kill();
  expect((await child.exited).signal).toBe('SIGKILL');
  return child.acks;
}

/** The identity of a record: round, producer thread, index within the thread. */
const idOf = (r: number, p: number, i: number): string => `${r}/${p}/${i}`;

it(`every acked record survives SIGKILL, exactly once and in order (${kRounds} rounds)`, async () => {
  const dir = tmp.join('wal');
  const allAcked = new Map<number, string>();
  const seed = Number(process.env.IRONLOG_CRASH_SEED ?? Date.now() % 100_000);
  let rnd = seed;
  const random = (): number => {
    rnd = (rnd * 1103515245 + 12345) % 2147483648;
    return rnd / 2147483648;
  };
  for (let round = 0; round < kRounds; round++) {
    const acked = await runAndKill(dir, round, 30 + Math.floor(random() * 300));
    if (process.env.IRONLOG_DEBUG) console.log(`round ${round}: ${acked.length} acks`);
    const reused: number[] = [];
    for (const a of acked) {
      // A seq acked twice across rounds would mean a seq was reused after a crash.
      if (allAcked.has(a.seq)) reused.push(a.seq);
      allAcked.set(a.seq, idOf(a.round, a.producer, a.index));
    }
    expect(reused, `seed ${seed}: seqs acked twice`).toEqual([]);

    // Reopen (recovers the torn tail), then read everything back.
    const sink = await openSink({ dir });
    const report = await sink.verify();
    expect(report.valid, `seed ${seed} round ${round}: ${JSON.stringify(report.problems)}`).toBe(true);
    const stored = new Map<number, string>();
    let prev = 0;
    let disorder = 0;
    for await (const r of sink.replay({ fromSeq: 1 })) {
      if (r.seq !== prev + 1) disorder++;
      prev = r.seq;
      const e = r.event as { r: number; p: number; i: number };
      stored.set(r.seq, idOf(e.r, e.p, e.i));
    }
    await sink.close();
    expect(disorder, `seed ${seed} round ${round}: seqs not dense and ordered`).toBe(0);
    const lost: number[] = [];
    for (const [seq, id] of allAcked) if (stored.get(seq) !== id) lost.push(seq);
    expect(lost, `seed ${seed} round ${round}: acked seqs lost or changed`).toEqual([]);
    // Every record appears once at most (no duplicates after recovery).
    const ids = [...stored.values()];
    expect(new Set(ids).size).toBe(ids.length);
  }
  expect(allAcked.size).toBeGreaterThan(kRounds * 10);
});
