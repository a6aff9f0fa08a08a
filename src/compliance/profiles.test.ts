import { describe, expect, it } from 'vitest';
import { sampleSeqs } from './evidence.js';
import { evaluateProfile, getProfile, kProfileNames } from './profiles.js';
import { parsePeriod } from './report-model.js';

const kNothing = {
  signing: undefined,
  masking: false,
  pseudonymization: false,
  subjectEncryption: false,
  replication: undefined,
  localDeleteAfterMs: undefined,
  metrics: false,
  custody: true,
} as const;

describe('profile data', () => {
  it('every clause has an id, a title, its text, a feature and the operator part; ids are unique', () => {
    for (const name of kProfileNames) {
      const p = getProfile(name);
      expect(p.clauses.length).toBeGreaterThan(2);
      expect(new Set(p.clauses.map((c) => c.id)).size).toBe(p.clauses.length);
      for (const c of p.clauses) {
        expect(c.text.length).toBeGreaterThan(40);
        expect(c.title).not.toBe('');
        expect(c.feature).not.toBe('');
        expect(c.operator).not.toBe('');
        expect(c.checks.length).toBeGreaterThan(0);
      }
    }
    expect(getProfile('HIPAA').minRetentionDays).toBe(2192);
    expect(getProfile('SOX').minRetentionDays).toBe(2557);
    expect(getProfile('PCI-DSS').minImmediateDays).toBe(92);
  });

  it('evaluation is pure and an operator-only clause is never unmet', () => {
    const p = getProfile('PCI-DSS');
    const r = { retentionDays: 366, localRetentionDays: 92, maxRetentionDays: undefined };
    const a = evaluateProfile(p, kNothing, r);
    expect(evaluateProfile(p, kNothing, r)).toEqual(a);
    expect(a.find((c) => c.id === 'PCI DSS 10.2.1')?.status).toBe('operator');
    expect(a.find((c) => c.id === 'PCI DSS 10.3.2')?.status).toBe('unmet');
    const w = evaluateProfile(p, kNothing, r, {}, { 'PCI DSS 10.3.2': 'HSM-signed syslog' });
    expect(w.find((c) => c.id === 'PCI DSS 10.3.2')).toMatchObject({ status: 'waived' });
  });
});

describe('parsePeriod', () => {
  it('quarters, months and years in UTC; anything else undefined', () => {
    expect(parsePeriod('2026-Q4')).toEqual({
      label: '2026-Q4',
      fromMs: Date.UTC(2026, 9, 1),
      toMs: Date.UTC(2027, 0, 1),
    });
    expect(parsePeriod('2026-02')).toEqual({
      label: '2026-02',
      fromMs: Date.UTC(2026, 1, 1),
      toMs: Date.UTC(2026, 2, 1),
    });
    expect(parsePeriod('2026')).toEqual({ label: '2026', fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2027, 0, 1) });
    for (const bad of ['2026-Q5', '2026-13', '26', 'Q4', '2026-Q4 ', '']) expect(parsePeriod(bad)).toBeUndefined();
  });
});

describe('sampleSeqs', () => {
  it('spreads over the range, ends included, never more than asked or than exist', () => {
    expect(sampleSeqs(1, 100, 5)).toEqual([1, 26, 51, 75, 100]);
    expect(sampleSeqs(10, 12, 8)).toEqual([10, 11, 12]);
    expect(sampleSeqs(7, 7, 8)).toEqual([7]);
    expect(sampleSeqs(0, 0, 8)).toEqual([]);
  });
});
