/**
 * Actions on replicated sources (`--source`, `readRemoteWal`) keep their chain of custody in
 * `$XDG_STATE_HOME/ironlog/custody` by default: point it at a temp directory per test file, so
 * the suite never writes into the home directory of whoever runs it (child processes inherit it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';

const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-state-'));
process.env.XDG_STATE_HOME = stateHome;
afterAll(() => {
  fs.rmSync(stateHome, { recursive: true, force: true });
});
