/** Invariant checks shared by the scenarios that run a real sink. */
import { readWal } from '../wal/reader.js';
import { verifyWal } from '../wal/verify.js';
import type { AckLine } from './child.js';
import type { TortureContext } from './types.js';
import { describeError, seqRanges } from './util.js';

/** Identity of an event written by a torture producer. */
interface TortureEvent {
  readonly r?: number;
  readonly p?: number;
  readonly i?: number;
}

/**
 * Checks a closed WAL against the acks a run collected: `verifyWal` valid (which includes seqs
 * dense, records and gaps together); records in increasing seq order; every acked seq present with the event that was acked for it; no event
 * (round, producer, index) stored twice. Returns the number of records read.
 */
export async function checkAckedWal(
  ctx: TortureContext,
  dir: string,
  acks: Iterable<AckLine>,
  where: string,
): Promise<number> {
  // Nothing acked can mean nothing written: an empty WAL is valid here; the acks are checked below.
  const report = await verifyWal(dir, { allowEmpty: true });
  if (!report.valid) {
    ctx.fail(
      'verify-invalid',
      `${where}: ${report.problems.map((p) => `${p.kind} in ${p.segment}@${p.offset}: ${p.message}`).join('; ')}`,
    );
  }
  const stored = new Map<number, string>();
  const ids = new Set<string>();
  const dup: string[] = [];
  let prev = 0;
  let disorder = 0;
  try {
    for await (const r of readWal(dir)) {
      // Gaps (rejected writes) are skipped by readWal; verifyWal checks that seqs are dense.
      if (r.seq <= prev) disorder++;
      prev = r.seq;
      const e = r.event as TortureEvent;
      const id = `${e.r}/${e.p}/${e.i}`;
      if (ids.has(id)) dup.push(id);
      ids.add(id);
      stored.set(r.seq, id);
    }
  } catch (err) {
    ctx.fail('read-failed', `${where}: readWal: ${describeError(err)}`);
    return stored.size;
  }
  if (disorder > 0) ctx.fail('order', `${where}: ${disorder} places where seqs are not in increasing order`);
  if (dup.length > 0) ctx.fail('duplicate', `${where}: events stored twice: ${dup.slice(0, 10).join(', ')}`);
  const lost: number[] = [];
  const changed: number[] = [];
  for (const a of acks) {
    const got = stored.get(a.seq);
    if (got === undefined) lost.push(a.seq);
    else if (got !== `${a.round}/${a.producer}/${a.index}`) changed.push(a.seq);
  }
  if (lost.length > 0) ctx.fail('lost-acked', `${where}: acked seqs missing: ${seqRanges(lost)}`);
  if (changed.length > 0) ctx.fail('wrong-content', `${where}: acked seqs hold another event: ${seqRanges(changed)}`);
  return stored.size;
}
