/**
 * Yardstick (d): a bare node:http server (bench/workers/bare-http-server.js) that parses the same
 * JSON and answers without any I/O, driven exactly like `serve/http` (lib/http-load.js).
 */
import * as path from 'node:path';
import { kRepoRoot } from '../lib/core.js';
import { driveHttp, kHttpConnections, startServerChild, stopServerChild } from '../lib/http-load.js';

export default {
  kind: 'yardstick',
  id: () => `http/bare/c${kHttpConnections}`,
  describe: () =>
    `bare node:http server, JSON.parse and answer, no I/O; autocannon ${kHttpConnections} connections, one ~1 KB JSON event per request`,
  run: async (ctx) => {
    const script = path.join(kRepoRoot, 'bench', 'workers', 'bare-http-server.js');
    const { child, url } = await startServerChild([script], 'bare http server');
    try {
      return await driveHttp(ctx, url);
    } finally {
      await stopServerChild(child);
    }
  },
};
