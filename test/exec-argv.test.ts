/**
 * ironlog's worker threads start with the parent's Node options minus `--input-type`: a program
 * run as `node --input-type=module -e "..."` (the way many scripts and READMEs try a library) opens
 * a sink, and its writer, zero-fill and sealed-check threads start (Node refuses a worker that
 * inherits `--input-type`: ERR_INPUT_TYPE_NOT_ALLOWED).
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { workerExecArgv } from '../dist/core/worker-exec-argv.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

const kIndex = pathToFileURL(new URL('../dist/main/index.js', import.meta.url).pathname).href;

it('drops --input-type (both spellings) and keeps every other option', () => {
  expect(
    workerExecArgv(['--input-type=module', '--max-old-space-size=512', '--input-type', 'commonjs', '--trace-warnings']),
  ).toEqual(['--max-old-space-size=512', '--trace-warnings']);
  expect(workerExecArgv([])).toEqual([]);
});

for (const flags of [['--input-type=module'], ['--input-type', 'module']]) {
  it(`a sink opened from node ${flags.join(' ')} -e writes, syncs and closes`, () => {
    const script = `
      import { openSink, readWal } from ${JSON.stringify(kIndex)};
      const dir = ${JSON.stringify(tmp.path)};
      const sink = await openSink({ dir });
      const acks = await Promise.all([1, 2, 3].map((n) => sink.emit({ n })));
      await sink.close();
      let records = 0;
      for await (const r of readWal(dir)) records++;
      console.log(JSON.stringify({ seqs: acks.map((a) => a.seq), records }));
    `;
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ seqs: [1, 2, 3], records: 3 });
  });
}
