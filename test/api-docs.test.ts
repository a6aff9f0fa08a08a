/**
 * The API reference builds from the TSDoc of the public entry point with typedoc, and its
 * validation (links that resolve, every type a public signature uses is documented or listed as
 * intentionally not exported) passes with warnings as errors (typedoc.json). `--emit none`
 * checks without writing; `npm run docs:api` writes the HTML to docs/api/reference/.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const kRoot = fileURLToPath(new URL('..', import.meta.url));
const kTypedoc = fileURLToPath(new URL('../node_modules/typedoc/bin/typedoc', import.meta.url));

function typedoc(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kTypedoc, ...args], {
      cwd: kRoot,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`typedoc timed out; output so far: ${output}`));
    }, 110_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('API reference (typedoc)', () => {
  it('is configured strictly, for the public entry point', () => {
    const config = JSON.parse(fs.readFileSync(new URL('../typedoc.json', import.meta.url), 'utf8')) as {
      entryPoints: string[];
      treatWarningsAsErrors: boolean;
      treatValidationWarningsAsErrors: boolean;
      out: string;
    };
    expect(config.entryPoints).toEqual(['src/main/index.ts']);
    expect(config.treatWarningsAsErrors).toBe(true);
    expect(config.treatValidationWarningsAsErrors).toBe(true);
    expect(config.out).toBe('docs/api/reference');
    expect(fs.readFileSync(new URL('../.gitignore', import.meta.url), 'utf8')).toMatch(/^docs\/api\/reference\/$/m);
  });

  it('builds with no warning', { timeout: 120_000 }, async () => {
    const r = await typedoc(['--emit', 'none']);
    expect(r.output).not.toMatch(/\[(warning|error)\]/);
    expect(r.code, r.output).toBe(0);
  });
});
