// A/B of issue 15's zero fill: on the writer worker's helper thread (the default) against inline
// on the writer thread (a pass-through `walFsModule` selects the inline executor, as an injected
// file system does). Paced emit at 10,000/s, 3 s per run, alternated per round (ROUNDS, default 3).
//   npm run build && node bench/zero-fill-ab.mjs
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeEvent } from './lib/event.js';
import { runPaced } from './lib/paced.js';
import { summarizeLatency } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { openSink } = await import(pathToFileURL(path.join(here, '..', 'dist', 'main', 'index.js')).href);
const passThrough = path.join(here, 'workers', 'pass-through-wal-fs.mjs');
const rounds = Number(process.env.ROUNDS ?? 3);
const res = { helper: [], inline: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 ? ['inline', 'helper'] : ['helper', 'inline']) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perf-ab-'));
    const sink = await openSink({ dir, ...(mode === 'inline' ? { walFsModule: passThrough } : {}) });
    const ev = makeEvent();
    const out = await runPaced({
      rate: 10000,
      warmupMs: 500,
      measureMs: 3000,
      op: () => {
        ev.n++;
        return sink.emit(ev);
      },
    });
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
    const l = summarizeLatency(out.latencies);
    const lag = summarizeLatency(out.issueLag);
    res[mode].push(l);
    console.log(
      `round ${r + 1} ${mode.padEnd(6)} p50 ${l.p50Ms.toFixed(3)} p99 ${l.p99Ms.toFixed(3)} p99.9 ${l.p999Ms.toFixed(3)} ms (issue lag p99 ${lag.p99Ms.toFixed(3)})`,
    );
  }
}
for (const k of ['p50Ms', 'p99Ms', 'p999Ms']) {
  const ratios = res.helper.map((h, i) => h[k] / res.inline[i][k]);
  console.log(`${k}: helper / inline per round ${ratios.map((x) => x.toFixed(2)).join(', ')}`);
}
