/**
 * Yardstick (b), the naive baseline: per event, msgpack-encode it, `fs.appendFileSync(fd,
 * bytes)` and `fs.fdatasyncSync(fd)`, i.e. what a logger without group commit does to make each
 * record durable before acknowledging it. Latency is per event.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { kPackr, makeEvent } from '../lib/event.js';
import { LatencyRecorder, summarizeLatency } from '../lib/stats.js';

export default {
  kind: 'yardstick',
  id: () => 'fs.appendFile+fdatasync/1',
  describe: () => 'naive appendFileSync + fdatasyncSync per event',
  run: async (ctx) => {
    const dir = ctx.tmp.newDir('fs-append');
    const fd = fs.openSync(path.join(dir, 'log'), 'a');
    const ev = makeEvent();
    const rec = new LatencyRecorder();
    try {
      const start = performance.now();
      const measureFrom = start + ctx.warmupMs;
      const end = measureFrom + ctx.measureMs;
      let events = 0;
      let windowStart = Number.NaN;
      let now = start;
      while (now < end) {
        const t0 = now;
        ev.n++;
        fs.appendFileSync(fd, kPackr.pack(ev));
        fs.fdatasyncSync(fd);
        now = performance.now();
        if (t0 >= measureFrom) {
          if (events === 0) windowStart = t0;
          rec.add(now - t0);
          events++;
        }
      }
      const windowMs = now - windowStart;
      return { events, windowMs, eventsPerSec: (events / windowMs) * 1000, latency: summarizeLatency(rec.toArray()) };
    } finally {
      fs.closeSync(fd);
      ctx.tmp.removeDir(dir);
    }
  },
};
