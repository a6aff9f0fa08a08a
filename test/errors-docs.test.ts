/**
 * docs/errors.md and the ErrorCodes table (src/core/errors.ts) agree both ways, as fastify's
 * test/internals/errors.test.js checks its Errors.md: every code is documented once, with a
 * cause and a remedy, every documented code exists, and every code is raised somewhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ErrorCodes } from '../src/core/errors.js';

const kRoot = fileURLToPath(new URL('..', import.meta.url));
const kDoc = fs.readFileSync(path.join(kRoot, 'docs/errors.md'), 'utf8');

/** The rows of the code table: `| \`ERR_…\` | when | what to do |`. */
const kRows = [...kDoc.matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|\s*$/gm)].map((m) => ({
  code: m[1] as string,
  when: (m[2] as string).trim(),
  todo: (m[3] as string).trim(),
}));

it('docs/errors.md has a table row for every code in ErrorCodes', () => {
  expect(kRows.length).toBeGreaterThan(10);
  const documented = new Set(kRows.map((r) => r.code));
  expect(Object.values(ErrorCodes).filter((c) => !documented.has(c))).toEqual([]);
});

it('every code docs/errors.md names exists in ErrorCodes (table rows and prose alike)', () => {
  const known: string[] = Object.values(ErrorCodes);
  // `ERR_IRONLOG_WITNESS_*` names a family: at least one code must start with it.
  const mentioned = new Set(kDoc.match(/\bERR_IRONLOG_[A-Z0-9_]+\*?/g) ?? []);
  const exists = (c: string): boolean =>
    c.endsWith('*') ? known.some((k) => k.startsWith(c.slice(0, -1))) : known.includes(c);
  expect(mentioned.size).toBeGreaterThan(10);
  expect([...mentioned].filter((c) => !exists(c))).toEqual([]);
});

it('each code has exactly one row, with a cause and a remedy', () => {
  const seen = new Map<string, number>();
  for (const r of kRows) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
  expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  expect(kRows.filter((r) => r.when.length < 10 || r.todo.length < 3).map((r) => r.code)).toEqual([]);
});

it('every ErrorCodes key follows ERR_IRONLOG_<KEY>, so a code reads the same in code and docs', () => {
  const off = Object.entries(ErrorCodes).filter(([key, code]) => code !== `ERR_IRONLOG_${key}`);
  expect(off).toEqual([]);
});

it('every code is raised somewhere in src/ (no documented code is dead)', () => {
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && p !== path.join(kRoot, 'src/core/errors.ts')) {
        sources.push(fs.readFileSync(p, 'utf8'));
      }
    }
  };
  walk(path.join(kRoot, 'src'));
  const all = sources.join('\n');
  const unused = Object.keys(ErrorCodes).filter((key) => !new RegExp(`\\bErrorCodes\\.${key}\\b`).test(all));
  expect(unused).toEqual([]);
});
