/**
 * Yardstick (a), the ceiling for Node on this disk: a plain synchronous loop of
 * `fs.writeSync(batch)` + `fs.fdatasyncSync()`, appending to one file, with the batch size the
 * sink achieved in the scenario named by `batchOf` (its mean events per fdatasync in the same
 * round, from `sink.stats()`: records / fsyncs) and the sink's WAL bytes per record. No encoding, no threads, no acks:
 * just the bytes and the syncs. Latency is per batch (write + fdatasync).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodedEvent, kEventBytes } from '../lib/event.js';
import { LatencyRecorder, summarizeLatency } from '../lib/stats.js';

/** WAL record size to assume when the sink's counters are not available. */
const kFallbackRecordBytes = kEventBytes + 32;

export default {
  kind: 'yardstick',
  id: (p) => `fs.write+fdatasync/batch-of(${p.batchOf})`,
  describe: (p) => `plain writeSync + fdatasyncSync loop, batches as large as ${p.batchOf} achieved`,
  run: async (ctx, p) => {
    const seen = ctx.batchSizes.get(p.batchOf);
    const batchEvents = Math.max(1, Math.round(seen?.eventsPerFsync ?? p.fallbackBatch));
    const recordBytes =
      Number.isFinite(seen?.bytesPerRecord) && seen.bytesPerRecord >= kEventBytes
        ? Math.round(seen.bytesPerRecord)
        : kFallbackRecordBytes;
    const record = Buffer.alloc(recordBytes);
    Buffer.from(encodedEvent()).copy(record, recordBytes - kEventBytes);
    const batch = Buffer.alloc(batchEvents * recordBytes);
    for (let i = 0; i < batchEvents; i++) record.copy(batch, i * recordBytes);

    const dir = ctx.tmp.newDir('fs-write');
    const fd = fs.openSync(path.join(dir, 'log'), 'w');
    const rec = new LatencyRecorder();
    try {
      const start = performance.now();
      const measureFrom = start + ctx.warmupMs;
      const end = measureFrom + ctx.measureMs;
      let batches = 0;
      let windowStart = Number.NaN;
      let now = start;
      while (now < end) {
        const t0 = now;
        fs.writeSync(fd, batch);
        fs.fdatasyncSync(fd);
        now = performance.now();
        if (t0 >= measureFrom) {
          if (batches === 0) windowStart = t0;
          rec.add(now - t0);
          batches++;
        }
      }
      const windowMs = now - windowStart;
      return {
        batchEvents,
        batchSource: seen ? `${p.batchOf} (round ${seen.round})` : `fallback ${p.fallbackBatch} (no sink figure)`,
        recordBytes,
        events: batches * batchEvents,
        windowMs,
        eventsPerSec: ((batches * batchEvents) / windowMs) * 1000,
        latency: summarizeLatency(rec.toArray()),
      };
    } finally {
      fs.closeSync(fd);
      ctx.tmp.removeDir(dir);
    }
  },
};
