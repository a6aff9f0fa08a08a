import { describe, expect, it } from 'vitest';
import { compileFilter } from '../dist/cli/filter.js';
import { bucketQuantile, histogramBuckets, parsePromText, sampleValue } from '../dist/monitoring/prom-text.js';

const rec = {
  seq: 42,
  time: '2026-11-22T10:00:00.000Z',
  event: { level: 50, user: 'u1', action: 'login.ok', tags: ['pci', 'eu'], nested: { x: -3, 'a key': true }, zero: 0 },
};

describe('the export/replay filter language', () => {
  it.each([
    ['level >= 40', true],
    ['level > 50', false],
    ['event.user == "u1"', true],
    ["user != 'u1'", false],
    ['level == "50"', false],
    ['seq == 42 && time >= "2026-11-22"', true],
    ['seq < 10 || action ~ "^login\\\\."', true],
    ['not (tags contains "pci")', false],
    ['!missing', true],
    ['zero', false],
    ['user in ["u2", "u1"]', true],
    ['nested.x == -3 and nested["a key"]', true],
    ['tags[1] == "eu"', true],
    ['action contains "ok"', true],
    ['level >= "40"', false],
    ['constructor || __proto__ || toString', false],
    ['(level >= 40 or seq < 1) and user == "u1"', true],
  ])('%s -> %s', (expr, expected) => {
    expect(compileFilter(expr)(rec)).toBe(expected);
  });

  it.each([
    ['level >= ', 'unexpected end of filter'],
    ['level = 40', 'unexpected character "="'],
    ['user ~ 3', "'~' needs a string pattern"],
    ['user in "u1"', "'in' needs a list"],
    ['"open', 'unterminated string'],
    ['(level > 1', "expected ')'"],
    ['level > 1 2', 'unexpected input'],
  ])('rejects %s with a positioned error', (expr, message) => {
    let err: unknown;
    try {
      compileFilter(expr);
    } catch (e) {
      err = e;
    }
    // Asserted outside the catch, so a filter that compiles fails the test instead of skipping it.
    expect(err).toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).toMatch(/at position \d+/);
  });
});

describe('the Prometheus text reader of ironlog monitor', () => {
  const text = [
    '# HELP h a histogram',
    '# TYPE h histogram',
    'h_bucket{le="0.001"} 10',
    'h_bucket{le="0.01"} 90',
    'h_bucket{le="0.1"} 100',
    'h_bucket{le="+Inf"} 100',
    'h_sum 1.5',
    'h_count 100',
    'c{status="acked",x="a\\"b"} 7',
    'c{status="rejected"} 2',
  ].join('\n');

  it('parses samples, labels and histogram quantiles', () => {
    const s = parsePromText(text);
    expect(sampleValue(s, 'c')).toBe(9);
    expect(sampleValue(s, 'c', { status: 'acked' })).toBe(7);
    expect(s.find((x) => x.name === 'c')?.labels).toEqual({ status: 'acked', x: 'a"b' });
    expect(Number.isNaN(sampleValue(s, 'nope'))).toBe(true);
    const b = histogramBuckets(s, 'h');
    expect(b.map((x) => x.count)).toEqual([10, 90, 100, 100]);
    // Rank 50 falls in (0.001, 0.01]: 40 of its 80 -> halfway.
    expect(bucketQuantile(0.5, b)).toBeCloseTo(0.0055, 6);
    expect(bucketQuantile(0.99, b)).toBeCloseTo(0.01 + 0.09 * 0.9, 6);
    // Windowed against an earlier scrape with nothing new: no data.
    expect(Number.isNaN(bucketQuantile(0.5, b, b))).toBe(true);
  });
});
