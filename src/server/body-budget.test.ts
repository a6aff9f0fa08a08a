/**
 * The per-request budget must never refuse a valid body it can afford (a false 400 would lose an
 * audit event), and must refuse a body whose declared counts do not fit. Property test: every
 * value fast-check builds, packed by msgpackr (every int, float, str, bin, array and map width,
 * timestamps), passes the scan; truncating it anywhere inside is refused or still decodes.
 */
import fc from 'fast-check';
import { Packr, unpackMultiple } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { frameBytesFor } from '../ringbuffer/layout.js';
import { checkBodyBudget, maxEventsFor } from './body-budget.js';

const kPackr = new Packr({ useRecords: false });
/** Writes the smallest map header (fixmap, map16, map32) instead of always map16. */
const kVariablePackr = new Packr({ useRecords: false, variableMapSize: true });
const kLimit = 4 * 1024 * 1024;

const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 30, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.date({ noInvalidDate: true }),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 10 }), tie('node'), { maxKeys: 20 }),
  ),
})).node;

describe('checkBodyBudget', () => {
  it('accepts every msgpack value msgpackr writes, alone and as a sequence', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), (values) => {
        const body = Buffer.concat(values.map((v) => kPackr.pack(v)));
        expect(checkBodyBudget(body, 'msgpack', kLimit)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('accepts the widths around every header boundary', () => {
    for (const n of [15, 16, 255, 256, 65_535, 65_536]) {
      const arr = Array.from({ length: n }, (_, i) => i);
      const map = Object.fromEntries(arr.map((i) => [`k${i}`, i]));
      for (const v of [arr, map, 'x'.repeat(n), Buffer.alloc(n)]) {
        expect(checkBodyBudget(kVariablePackr.pack({ v }), 'msgpack', 64 * 1024 * 1024)).toBeUndefined();
      }
    }
  });

  it('refuses a truncated body that msgpackr cannot decode either', () => {
    fc.assert(
      fc.property(value, fc.nat(), (v, cut) => {
        const full = kPackr.pack({ v });
        const body = full.subarray(0, cut % full.length);
        if (body.length === 0) return;
        const verdict = checkBodyBudget(body, 'msgpack', kLimit);
        let decodes = true;
        try {
          unpackMultiple(body);
        } catch {
          decodes = false;
        }
        // The scan may refuse only what does not decode as a complete sequence.
        if (verdict !== undefined) expect(decodes && verdict.status === 400).toBe(false);
        if (!decodes) expect(verdict?.status).toBe(400);
      }),
      { numRuns: 300 },
    );
  });

  it('counts events against the ring: exactly the limit passes, one more is 413', () => {
    const max = maxEventsFor(kLimit);
    expect(max).toBe(Math.floor(kLimit / frameBytesFor(1)));
    const seq = (n: number): Buffer => Buffer.alloc(n, 0x80);
    expect(checkBodyBudget(seq(max), 'msgpack', kLimit)).toBeUndefined();
    expect(checkBodyBudget(seq(max + 1), 'msgpack', kLimit)).toMatchObject({ status: 413 });
    const json = (n: number): Buffer => Buffer.from(`[${Array.from({ length: n }, () => '{"a":"[,]"}').join(',')}]`);
    expect(checkBodyBudget(json(max), 'json', kLimit)).toBeUndefined();
    expect(checkBodyBudget(json(max + 1), 'json', kLimit)).toMatchObject({ status: 413 });
    const nd = (n: number): Buffer => Buffer.from(`${'{}\n\n'.repeat(n)}`);
    expect(checkBodyBudget(nd(max), 'ndjson', kLimit)).toBeUndefined();
    expect(checkBodyBudget(nd(max + 1), 'ndjson', kLimit)).toMatchObject({ status: 413 });
  });

  it.each([
    ['{"id":12345678901234567890}', 400],
    ['[{"id":-9007199254740993}]', 400],
    ['{"x":1e400}', 400],
    ['{"x":-1E+309}', 400],
    ['{"id":9007199254740991,"n":-9007199254740991,"f":1.5e300,"z":0.1}', undefined],
    ['{"s":"12345678901234567890","k\\"12345678901234567890":1}', undefined],
  ])('numbers JSON.parse would change: %s', (text, status) => {
    for (const format of ['json', 'ndjson'] as const) {
      const verdict = checkBodyBudget(Buffer.from(text), format, kLimit);
      expect(verdict?.status).toBe(status);
      if (status !== undefined) expect(verdict?.message).toMatch(/cannot be stored exactly/);
    }
  });
});
