// TileLog commit cost (issue 10 follow-up): `npm run build && node bench/tile-commit.js [sync,async,...]`.
// Appends 1,000,000 leaf hashes in 16 commits of 65,536 (what the checkpointer does during a
// catch-up) with the synchronous commit() (one fsync after the other) and commitAsync()
// (fsyncs in parallel on the libuv pool, one fsync per directory), alternated. Prints the times.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

const { TileLog } = await import(new URL('../dist/compliance/tiles.js', import.meta.url).href);
const { leafHash } = await import(new URL('../dist/compliance/merkle.js', import.meta.url).href);
const N = 1_000_000,
  CHUNK = 65_536;
const leaves = Array.from({ length: N }, (_, i) => leafHash(Buffer.from(`e${i}`)));
for (const mode of (process.argv[2] ?? 'sync,async,sync,async').split(',')) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-tile-commit-'));
  const log = TileLog.open(dir);
  const t0 = performance.now();
  for (let i = 0; i < N; i += CHUNK) {
    log.append(leaves.slice(i, i + CHUNK));
    if (mode === 'sync') log.commit();
    else await log.commitAsync();
  }
  const ms = performance.now() - t0;
  console.log(`${mode}: ${N} leaves in ${Math.ceil(N / CHUNK)} commits: ${ms.toFixed(0)} ms`);
  log.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
