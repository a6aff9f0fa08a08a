/**
 * Compliance reports through the real CLI: the PDF read back with pdf-parse holds the record
 * count, the period and every clause line; the HTML parses (balanced tags, no external asset)
 * and holds the same figures; a damaged log's report says so in its first section; the evidence
 * bundle's proofs verify offline with `ironlog verify-proof`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PDFParse } from 'pdf-parse';
import * as tar from 'tar';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../dist/compliance/note.js';
import { getProfile } from '../dist/compliance/profiles.js';
import { openSink } from '../dist/main/index.js';
import { Manifest } from '../dist/replication/manifest.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir, TempDirs, until } from './helpers/tmp.js';

const dirs = new TempDirs();
afterEach(async () => {
  await killChildren();
});

const kKey = generateSignerKey('example.com/report');
let root: TempDir;
let dir: string;
/** Records stamped per day: 2026-10-02: 5, 2026-10-03: 9, 2026-10-04: 3 (17 in all). */
const kPerDay: readonly [number, number][] = [
  [2, 5],
  [3, 9],
  [4, 3],
];

beforeAll(async () => {
  root = new TempDir('ironlog-report-');
  dir = root.join('wal');
  for (const [day, n] of kPerDay) {
    let t = Date.UTC(2026, 9, day, 8);
    const sink = await openSink({
      dir,
      clock: () => t,
      signing: { key: kKey.signerKey, checkpointIntervalMs: 86_400_000 },
      compliance: { profile: 'HIPAA' },
    });
    for (let i = 0; i < n; i++) {
      t = Date.UTC(2026, 9, day, 8 + i);
      await sink.emit({ user: 'dr-who', action: 'chart.read', outcome: 'success', resource: `patient/${i}` });
    }
    t = Date.UTC(2026, 9, day, 20);
    await sink.close();
  }
  // One examination, so the custody log has an entry for the bundle.
  const v = await runCli(['verify', '--dir', dir, '--public-key', kKey.verifierKey]);
  expect(v.code).toBe(0);
  return () => {
    root.dispose();
    dirs.disposeAll();
  };
});

async function pdfText(file: string): Promise<string> {
  const parser = new PDFParse({ data: fs.readFileSync(file) });
  try {
    return (await parser.getText()).text.replace(/\s+/g, ' ');
  } finally {
    await parser.destroy();
  }
}

const kVoid = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/** A small structural HTML check: every tag closed in order (void and self-closed aside). */
function checkHtmlStructure(html: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  const body = html.replace(/^<!DOCTYPE html>/i, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = m;
    const name = (rawName as string).toLowerCase();
    if (selfClosing === '/' || (closing === '' && kVoid.has(name))) {
      if (closing === '/' && kVoid.has(name) && stack[stack.length - 1] === name) stack.pop();
      continue;
    }
    if (closing === '') stack.push(name);
    else if (stack.pop() !== name) problems.push(`unbalanced </${name}>`);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(',')}`);
  return problems;
}

describe('compliance report', () => {
  it('PDF: record count, period, every clause line; evidence bundle verifies offline', async () => {
    const out = path.join(root.path, 'q4.pdf');
    const evidence = path.join(root.path, 'q4.tar.gz');
    const r = await runCli([
      'compliance',
      'report',
      '--dir',
      dir,
      '--profile',
      'HIPAA',
      '--period',
      '2026-Q4',
      '--output',
      out,
      '--evidence',
      evidence,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ records: 17, damaged: false, unmet: 0 });
    const text = await pdfText(out);
    expect(text).toContain('Records in the period: 17');
    expect(text).toContain('Period 2026-Q4: 2026-10-01T00:00:00.000Z to 2027-01-01T00:00:00.000Z (92 days)');
    expect(text).toContain('intact: 17 records');
    for (const c of getProfile('HIPAA').clauses) expect(text).toContain(`${c.id} ${c.title}:`);
    expect(text).toContain('2 met, 0 unmet, 0 waived, 1 the operator');
    expect(text.indexOf('1. Integrity')).toBeLessThan(text.indexOf('2. Period and records'));

    const x = dirs.make('ironlog-evidence-');
    await tar.x({ file: evidence, cwd: x });
    const files = fs.readdirSync(x).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'checkpoints',
        'custody',
        'log.pub',
        'proofs',
        'report-model.json',
        'report.html',
        'report.pdf',
      ]),
    );
    expect(fs.readFileSync(path.join(x, 'log.pub'), 'utf8').trim()).toBe(kKey.verifierKey);
    const proofs = fs.readdirSync(path.join(x, 'proofs')).filter((n) => n.endsWith('.proof'));
    expect(proofs.length).toBe(8);
    for (const p of proofs.slice(0, 2)) {
      const v = await runCli(['verify-proof', '--proof', path.join(x, 'proofs', p), '--public-key', kKey.verifierKey]);
      expect(v.code).toBe(0);
    }
    // A proof edited by one byte fails.
    const first = path.join(x, 'proofs', proofs[0] as string);
    const lines = fs.readFileSync(first, 'utf8').split('\n');
    const i = lines.findIndex((l) => /^[A-Za-z0-9+/]{43}=$/.test(l));
    expect(i).toBeGreaterThanOrEqual(0);
    lines[i] = `${(lines[i] as string)[0] === 'A' ? 'B' : 'A'}${(lines[i] as string).slice(1)}`;
    fs.writeFileSync(first, lines.join('\n'));
    const bad = await runCli(['verify-proof', '--proof', first, '--public-key', kKey.verifierKey]);
    expect(bad.code).toBe(1);
    expect(fs.readFileSync(path.join(x, 'README.md'), 'utf8')).toContain('ironlog verify-proof --proof proofs/');
  });

  it('HTML: parses, self-contained, the same figures, one chart bar per day', async () => {
    const out = path.join(root.path, 'oct.html');
    const r = await runCli([
      'compliance',
      'report',
      '--dir',
      dir,
      '--profile',
      'HIPAA',
      '--from',
      '2026-10-01T00:00:00Z',
      '--to',
      '2026-10-08T00:00:00Z',
      '--output',
      out,
    ]);
    expect(r.code).toBe(0);
    const html = fs.readFileSync(out, 'utf8');
    expect(checkHtmlStructure(html)).toEqual([]);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|url\(|@import|href="http/i);
    const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(text).toContain('Records in the period: 17');
    expect(text).toContain('2026-10-01T00:00:00.000Z .. 2026-10-08T00:00:00.000Z');
    for (const c of getProfile('HIPAA').clauses) expect(text).toContain(c.id);
    const bars = [...html.matchAll(/<rect [^>]*><title>(\d{4}-\d{2}-\d{2}): (\d+)<\/title><\/rect>/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(bars).toHaveLength(7);
    expect(bars.slice(0, 5)).toEqual([
      ['2026-10-01', 0],
      ['2026-10-02', 5],
      ['2026-10-03', 9],
      ['2026-10-04', 3],
      ['2026-10-05', 0],
    ]);
    // Same model as the PDF: the PDF of the same period says the same.
    const pdf = path.join(root.path, 'oct.pdf');
    await runCli([
      'compliance',
      'report',
      '--dir',
      dir,
      '--profile',
      'HIPAA',
      '--from',
      '2026-10-01T00:00:00Z',
      '--to',
      '2026-10-08T00:00:00Z',
      '--output',
      pdf,
    ]);
    expect(await pdfText(pdf)).toContain('Records in the period: 17');
  });

  it('a damaged log: both reports say so in their first section', async () => {
    const copy = path.join(dirs.make('ironlog-damaged-'), 'wal');
    fs.cpSync(dir, copy, { recursive: true });
    const seg = fs
      .readdirSync(copy)
      .filter((n) => n.endsWith('.wal'))
      .sort()[0] as string;
    const file = path.join(copy, seg);
    const bytes = fs.readFileSync(file);
    bytes[200] = (bytes[200] as number) ^ 0x55;
    fs.writeFileSync(file, bytes);
    const html = path.join(path.dirname(copy), 'r.html');
    const pdf = path.join(path.dirname(copy), 'r.pdf');
    for (const out of [html, pdf]) {
      const r = await runCli([
        'compliance',
        'report',
        '--dir',
        copy,
        '--profile',
        'HIPAA',
        '--period',
        '2026-10',
        '--output',
        out,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('LOG DAMAGED');
    }
    const doc = fs.readFileSync(html, 'utf8');
    const firstSection = /<section id="([^"]+)">([\s\S]*?)<\/section>/.exec(doc);
    expect(firstSection?.[1]).toBe('integrity');
    expect(firstSection?.[2]).toContain('THE LOG IS DAMAGED.');
    expect(firstSection?.[2]).toContain('class="damaged"');
    const text = await pdfText(pdf);
    const damagedAt = text.indexOf('DAMAGED');
    expect(damagedAt).toBeGreaterThan(-1);
    expect(damagedAt).toBeLessThan(text.indexOf('2. Period and records'));
  });

  it('from a replicated source (--source file://): records and integrity from the downloaded history', async () => {
    const base = dirs.make('ironlog-report-src-');
    const wal = path.join(base, 'wal');
    const replica = path.join(base, 'replica');
    let t = Date.UTC(2026, 10, 3, 9);
    const sink = await openSink({
      dir: wal,
      clock: () => t,
      segmentBytes: 64 * 1024,
      maxBatchBytes: 4096,
      maxEventBytes: 4096,
      replication: { backends: [{ type: 'fs', dir: replica }], closeTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 700; i++) {
      t = Date.UTC(2026, 10, 3, 9) + i * 1000;
      await sink.emit({ i, pad: 'p'.repeat(200) });
    }
    await until(() => sink.replicationStatus()?.segmentsBelowQuorum === 0, 60_000, 'replication');
    await sink.close();
    const sealedRecords = Manifest.loadSync(wal, 'node').compacted.throughSeq;
    expect(sealedRecords).toBeGreaterThan(0);
    const out = path.join(base, 'src.html');
    const r = await runCli([
      'compliance',
      'report',
      '--source',
      `file://${replica}`,
      '--profile',
      'SOX',
      '--period',
      '2026-11',
      '--output',
      out,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = fs
      .readFileSync(out, 'utf8')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ');
    expect(text).toContain(`Records in the period: ${sealedRecords}`);
    expect(text).toContain('The log is intact.');
    expect(text).toContain('signed checkpoints are verified on a WAL directory');
  });

  it('usage errors exit 2', async () => {
    const bad = await runCli([
      'compliance',
      'report',
      '--dir',
      dir,
      '--profile',
      'HIPAA',
      '--period',
      '2026-Q5',
      '--output',
      'x.pdf',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--period must be YYYY, YYYY-Qn or YYYY-MM');
    const ext = await runCli([
      'compliance',
      'report',
      '--dir',
      dir,
      '--profile',
      'HIPAA',
      '--period',
      '2026-Q4',
      '--output',
      'x.docx',
    ]);
    expect(ext.code).toBe(2);
    expect(ext.stderr).toContain('--output must end in .pdf or .html');
  });
});
