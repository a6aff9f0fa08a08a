/**
 * `ironlog serve` (a child process, default options) driven by autocannon like the bare yardstick
 * (lib/http-load.js): requests/s with every 200 a durable ack. After the run the server is stopped
 * (SIGTERM: it closes the sink) and the WAL is verified: it must be valid and hold at least as many
 * records as requests were answered 200 (warm-up included), or the run fails.
 */
import * as path from 'node:path';
import { kRepoRoot, loadCore } from '../lib/core.js';
import { driveHttp, kHttpConnections, startServerChild, stopServerChild } from '../lib/http-load.js';

export default {
  kind: 'sink',
  id: () => `serve/http/c${kHttpConnections}`,
  describe: () =>
    `ironlog serve (durable acks), autocannon ${kHttpConnections} connections, one ~1 KB JSON event per request`,
  run: async (ctx) => {
    const core = await loadCore();
    if (core.error) throw Object.assign(new Error(core.error), { skip: true });
    const dir = ctx.tmp.newDir('serve-http');
    const bin = path.join(kRepoRoot, 'bin', 'ironlog.js');
    const { child, url } = await startServerChild(
      [bin, 'serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1', '--on-full', 'wait'],
      'ironlog serve',
    );
    let result;
    try {
      result = await driveHttp(ctx, url);
    } finally {
      await stopServerChild(child);
    }
    const report = await core.api.verifyWal(dir);
    if (!report.valid) throw new Error(`serve: the WAL does not verify (${report.problems.length} problems)`);
    if (report.records < result.events) {
      throw new Error(`serve: ${result.events} requests answered 200 but the WAL holds ${report.records} records`);
    }
    ctx.tmp.removeDir(dir);
    return { ...result, walRecords: report.records };
  },
};
