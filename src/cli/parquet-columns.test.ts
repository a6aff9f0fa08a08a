import { describe, expect, it } from 'vitest';
import { type ColumnSpec, convertCell, parseColumnSpecs, pickPath, TypeInference } from './parquet-columns.js';

function infer(values: readonly unknown[]): string {
  const t = new TypeInference();
  for (const v of values) t.observe(v);
  return t.result();
}

const spec = (type: ColumnSpec['type']): ColumnSpec => ({ source: `x:${type}`, name: 'x', path: ['x'], type });

describe('parseColumnSpecs', () => {
  it('reads [name=]path[:type] entries', () => {
    expect(parseColumnSpecs(' user.id , amount:double,who=actor.name:string,tags.0')).toEqual([
      { source: 'user.id', name: 'user.id', path: ['user', 'id'], type: undefined },
      { source: 'amount:double', name: 'amount', path: ['amount'], type: 'double' },
      { source: 'who=actor.name:string', name: 'who', path: ['actor', 'name'], type: 'string' },
      { source: 'tags.0', name: 'tags.0', path: ['tags', '0'], type: undefined },
    ]);
  });

  it.each([
    ['', /no column given/],
    ['a,', /entry 2 is empty/],
    ['a:INT64', /unknown type "INT64"/],
    ['a:', /unknown type ""/],
    ['.a', /no empty part/],
    ['a.', /no empty part/],
    ['n=', /no empty part/],
    ['time', /fixed column time/],
    ['NODEID=a', /fixed column nodeId/],
    ['a,A', /already the column of "a"/],
    ['bad\u0001name=a', /printable/],
  ])('refuses %j', (text, message) => {
    expect(() => parseColumnSpecs(text)).toThrow(message);
    try {
      parseColumnSpecs(text);
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    }
  });
});

describe('TypeInference', () => {
  it.each([
    [[], 'string'],
    [[null, undefined], 'string'],
    [[true, false, null], 'boolean'],
    [[1, -2, 2 ** 53 - 1], 'int64'],
    [[1, 2n ** 62n], 'int64'],
    [[1, 2.5], 'double'],
    [[2 ** 53], 'double'],
    [['a', 'b'], 'string'],
    [['2026-01-01T00:00:00Z'], 'string'],
    [[{ a: 1 }], 'json'],
    [[[1]], 'json'],
    [[1, 'a'], 'json'],
    [[true, 1], 'json'],
    [[2n ** 62n, 0.5], 'json'],
    [[2n ** 64n], 'json'],
    [[new Date(0)], 'json'],
  ])('case %# -> %s', (values, type) => {
    expect(infer(values)).toBe(type);
  });
});

describe('convertCell', () => {
  it('converts values that fit the type', () => {
    expect(convertCell(undefined, spec('int64'), 'int64', 1)).toBe(null);
    expect(convertCell(null, spec('json'), 'json', 1)).toBe(null);
    expect(convertCell(7, spec('int64'), 'int64', 1)).toBe(7n);
    expect(convertCell(-(2n ** 63n), spec('int64'), 'int64', 1)).toBe(-(2n ** 63n));
    expect(convertCell(3, spec('double'), 'double', 1)).toBe(3);
    expect(convertCell(3n, spec('double'), 'double', 1)).toBe(3);
    expect(convertCell(12, spec('string'), 'string', 1)).toBe('12');
    expect(convertCell(false, spec('string'), 'string', 1)).toBe('false');
    expect(convertCell(true, spec('boolean'), 'boolean', 1)).toBe(true);
    expect(convertCell('2026-05-01T12:00:00.123Z', spec('timestamp'), 'timestamp', 1)).toBe(
      BigInt(Date.UTC(2026, 4, 1, 12, 0, 0, 123)) * 1000n,
    );
    expect(convertCell(new Date(1500), spec('timestamp'), 'timestamp', 1)).toBe(1_500_000n);
    expect(convertCell(1.5, spec('timestamp'), 'timestamp', 1)).toBe(1500n);
    expect(convertCell({ b: Buffer.from('hi'), n: 2n ** 60n }, spec('json'), 'json', 1)).toEqual({
      b: { $base64: 'aGk=' },
      n: String(2n ** 60n),
    });
    expect(convertCell('text', spec('json'), 'json', 1)).toBe('text');
  });

  it.each([
    ['int64', 1.5],
    ['int64', 2 ** 53],
    ['int64', 2n ** 63n],
    ['int64', '12'],
    ['double', 'x'],
    ['boolean', 1],
    ['string', { a: 1 }],
    ['timestamp', 'yesterday'],
    ['timestamp', true],
  ] as const)('refuses a %s column holding %s, naming the seq', (type, v) => {
    expect(() => convertCell(v, spec(type), type, 42)).toThrow(/the record with seq 42 has .* not a /);
  });
});

describe('pickPath', () => {
  it('follows own properties only', () => {
    const e = { a: { b: [10, 20] }, n: null };
    expect(pickPath(e, ['a', 'b', '1'])).toBe(20);
    expect(pickPath(e, ['a', 'x'])).toBe(undefined);
    expect(pickPath(e, ['n', 'x'])).toBe(undefined);
    expect(pickPath(e, ['a', 'constructor'])).toBe(undefined);
    expect(pickPath('str', ['length'])).toBe(undefined);
  });
});
