/**
 * Yardstick (c): lmdb-js, durable. `open({ path, separateFlushed: true })` and each op awaits
 * `db.put(key, event).flushed`, which resolves once the commit holding the put is synced to
 * disk. (A plain `await db.put()` resolves at commit, before the sync with lmdb's default
 * overlappingSync on Linux, so it is not durable.) Same event object and encoding as the sink
 * (msgpackr maps, `useRecords: false`), same in-flight counts, main thread.
 */
import * as path from 'node:path';
import { open } from 'lmdb';
import { createControl, driveWindow, runLanes } from '../lib/closed-loop.js';
import { withTimeout } from '../lib/core.js';
import { sampleThreadCpu, threadCpuDelta } from '../lib/cpu.js';
import { makeEvent } from '../lib/event.js';
import { summarizeClosedLoop } from '../lib/sink-load.js';

/** Opens a fresh lmdb env for one run and closes and removes it afterwards. */
export async function withLmdb(ctx, label, fn) {
  const dir = ctx.tmp.newDir(label);
  const db = open({ path: path.join(dir, 'db'), separateFlushed: true, useRecords: false });
  try {
    return await fn(db);
  } finally {
    await withTimeout(db.close(), 60_000, 'lmdb close()');
    ctx.tmp.removeDir(dir);
  }
}

export default {
  kind: 'yardstick',
  id: (p) => `lmdb/x${p.inFlight}`,
  describe: (p) => `lmdb-js put().flushed (separateFlushed), main thread, ${p.inFlight} in flight`,
  run: (ctx, p) =>
    withLmdb(ctx, `lmdb-${p.inFlight}`, async (db) => {
      const ev = makeEvent();
      let key = 0;
      const op = () => {
        ev.n++;
        return db.put(++key, ev).flushed;
      };
      const ctl = createControl();
      let procA;
      let procB;
      const lanes = runLanes({ ctl, inFlight: p.inFlight, op });
      lanes.catch(() => {}); // awaited below
      await driveWindow(ctl, ctx.warmupMs, ctx.measureMs, (phase) => {
        if (phase === 1) procA = sampleThreadCpu();
        else procB = sampleThreadCpu();
      });
      const r = await withTimeout(lanes, ctx.warmupMs + ctx.measureMs + 60_000, 'lmdb lanes');
      return summarizeClosedLoop([r], 1, undefined, threadCpuDelta(procA, procB), {
        producers: 1,
        inFlight: p.inFlight,
      });
    }),
};
