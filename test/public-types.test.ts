/**
 * The published type of the package (dist/main/*.d.ts, built by `npm run build` with
 * tsconfig.build.json) shows only the public API: the Sink's wiring members live behind
 * module-private symbols tagged `@internal`, which `stripInternal` drops from the .d.ts, and
 * `new Sink()` is not possible from outside (use `openSink`).
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const kSinkDts = fileURLToPath(new URL('../dist/main/sink.d.ts', import.meta.url));

it('Sink in the published .d.ts has no internal members and a private constructor', () => {
  const dts = fs.readFileSync(kSinkDts, 'utf8');
  const sinkClass = dts.slice(dts.indexOf('export declare class Sink'));
  expect(sinkClass.length).toBeGreaterThan(500);
  expect(sinkClass).toContain('emit(event: unknown): Promise<Ack>;'); // the public API is there
  expect(sinkClass).toContain('private constructor();');
  for (const hidden of ['kCreate', 'kAttachMetrics', 'kAttachReplication', 'kStartReplication']) {
    expect(sinkClass, hidden).not.toContain(`[${hidden}]`);
  }
  expect(sinkClass).not.toMatch(/attachMetrics|attachReplication|replicationStart/);
  expect(dts).not.toContain('@internal');
});

it('no published .d.ts carries an @internal member', () => {
  const root = fileURLToPath(new URL('../dist/', import.meta.url));
  const tagged: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}${e.name}`;
      if (e.isDirectory()) walk(`${p}/`);
      else if (e.name.endsWith('.d.ts') && fs.readFileSync(p, 'utf8').includes('@internal')) tagged.push(p);
    }
  };
  walk(root);
  expect(tagged).toEqual([]);
});

/** A doc comment carrying `@internal`, directly above a constructor. */
const kInternalConstructor =
  /\/\*\*(?:(?!\*\/)[\s\S])*@internal(?:(?!\*\/)[\s\S])*\*\/\s*(?:(?:public|protected)\s+)?constructor\s*\(/;

it('no constructor is tagged @internal (stripInternal would publish the class as `new X()` with no arguments)', () => {
  expect(kInternalConstructor.test('  /** @internal use {@link make}. */\n  constructor(a: number) {')).toBe(true);
  expect(kInternalConstructor.test('  /** Use {@link make}. */\n  constructor(a: number) {')).toBe(false);
  expect(
    kInternalConstructor.test('  /** @internal */\n  static [kMake](): X {}\n  /** Doc. */\n  constructor() {'),
  ).toBe(false);
  const root = fileURLToPath(new URL('../src/', import.meta.url));
  const tagged: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}${e.name}`;
      if (e.isDirectory()) walk(`${p}/`);
      else if (e.name.endsWith('.ts') && kInternalConstructor.test(fs.readFileSync(p, 'utf8'))) tagged.push(p);
    }
  };
  walk(root);
  expect(tagged).toEqual([]);
});
