/**
 * Yardstick (c), paced: lmdb-js `put().flushed` at the same fixed rate and with the same
 * open-loop latency measurement as paced/emit.
 */
import { makeEvent } from '../lib/event.js';
import { runPaced } from '../lib/paced.js';
import { withLmdb } from './lmdb-put-flushed.js';
import { pacedResult } from './sink-paced.js';

export default {
  kind: 'yardstick',
  id: (p) => `paced/lmdb/${p.rate / 1000}k`,
  describe: (p) => `lmdb-js put().flushed paced at ${p.rate.toLocaleString('en-US')}/s (open loop)`,
  run: (ctx, p) =>
    withLmdb(ctx, `paced-lmdb-${p.rate}`, async (db) => {
      const ev = makeEvent();
      let key = 0;
      const op = () => {
        ev.n++;
        return db.put(++key, ev).flushed;
      };
      const r = await runPaced({ rate: p.rate, warmupMs: ctx.warmupMs, measureMs: ctx.measureMs, op });
      return pacedResult(r, p.rate, undefined);
    }),
};
