/**
 * The documented examples run: every ```sh runnable block of docs/cli.md is a session of
 * `$ command` lines, each followed by the output it must print (stdout and stderr together) and
 * optionally `# exit N` (default 0). `…` in an expected line stands for any text; runs of spaces
 * compare as one. Commands run in order, in one new directory, with `ironlog` as bin/ironlog.js.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kBin } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

const kDoc = fileURLToPath(new URL('../docs/cli.md', import.meta.url));

interface Step {
  readonly command: string;
  readonly expected: string[];
  readonly exit: number;
}

/** The runnable blocks of a markdown file, as steps. */
function runnableSessions(markdown: string): Step[][] {
  const sessions: Step[][] = [];
  const blocks = markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm);
  for (const b of blocks) {
    const steps: Step[] = [];
    for (const line of (b[1] as string).split('\n')) {
      if (line === '') continue;
      if (line.startsWith('$ ')) {
        steps.push({ command: line.slice(2), expected: [], exit: 0 });
        continue;
      }
      const step = steps.at(-1);
      if (!step) throw new Error(`output before the first command: ${line}`);
      const exit = /^# exit (\d+)$/.exec(line);
      if (exit) (step as { exit: number }).exit = Number(exit[1]);
      else step.expected.push(line);
    }
    sessions.push(steps);
  }
  return sessions;
}

function lineMatcher(expected: string): RegExp {
  const norm = expected.replace(/ +/g, ' ');
  const parts = norm.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`);
}

function run(command: string, cwd: string): Promise<{ code: number | null; out: string }> {
  const script = `ironlog() { "${process.execPath}" "${kBin}" "$@"; }\n{ ${command}\n} 2>&1`;
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

describe('docs/cli.md runnable examples', () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = new TempDir('ironlog-docs-');
  });
  afterEach(() => tmp.dispose());

  const sessions = runnableSessions(fs.readFileSync(kDoc, 'utf8'));

  it('has runnable examples', () => {
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.flat().length).toBeGreaterThan(5);
  });

  sessions.forEach((steps, i) => {
    it(`session ${i + 1} prints what the docs show`, async () => {
      for (const step of steps) {
        const { code, out } = await run(step.command, tmp.path);
        const lines = out
          .replace(/\n$/, '')
          .split('\n')
          .filter((l, k, all) => l !== '' || k < all.length - 1);
        const got = out === '' ? [] : lines.map((l) => l.replace(/ +/g, ' ').trimEnd());
        expect(code, `$ ${step.command}\n${out}`).toBe(step.exit);
        expect(got.length, `$ ${step.command}\n${out}`).toBe(step.expected.length);
        step.expected.forEach((e, k) => {
          expect(got[k], `$ ${step.command} (line ${k + 1})`).toMatch(lineMatcher(e.trimEnd()));
        });
      }
    }, 300_000);
  });
});
