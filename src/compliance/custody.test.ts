import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TempDir } from '../testing/temp-dir.js';
import {
  appendCustodyEntry,
  type CustodyDraft,
  kCustodyGenesis,
  kCustodyGenesisText,
  verifyCustodyBytes,
} from './custody.js';
import { generateSignerKey, openNote, parseSignerKey, parseVerifierKey } from './note.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-custody-unit-');
});
afterEach(() => {
  tmp.dispose();
});

const draft = (i: number, extra: Partial<CustodyDraft> = {}): CustodyDraft => ({
  actor: 'unit',
  action: 'verify',
  target: '/wal',
  result: { status: 'ok' },
  via: 'library',
  details: { i },
  ...extra,
});

describe('custody log format', () => {
  it('the genesis is the SHA-256 of the documented text', () => {
    expect(kCustodyGenesisText).toBe('ironlog custody log v1\n');
    expect(kCustodyGenesis).toBe(createHash('sha256').update('ironlog custody log v1\n').digest('hex'));
  });

  it('a signed entry is a C2SP signed note: the line without sig, a blank line, the signature line', async () => {
    const keys = generateSignerKey('example.com/custody');
    const signer = parseSignerKey(keys.signerKey);
    const entry = await appendCustodyEntry(tmp.path, draft(1), signer);
    const line = fs.readFileSync(path.join(tmp.path, 'custody.log'), 'utf8').trimEnd();
    expect(line.endsWith(`,"sig":"${entry.sig}"}`)).toBe(true);
    const body = line.replace(/,"sig":"[^"]*"\}$/, '}');
    const opened = openNote(`${body}\n\n— ${entry.sig}\n`, [parseVerifierKey(keys.verifierKey)]);
    expect(opened.text).toBe(`${body}\n`);
    expect(entry.prev).toBe(kCustodyGenesis);
  });

  it('appends from one process at once are serialized into one chain', async () => {
    await Promise.all(Array.from({ length: 25 }, (_, i) => appendCustodyEntry(tmp.path, draft(i), undefined)));
    const bytes = fs.readFileSync(path.join(tmp.path, 'custody.log'));
    const report = verifyCustodyBytes(bytes, 'custody.log');
    expect(report).toMatchObject({ valid: true, entries: 25, head: { seq: 25 } });
    expect(fs.existsSync(path.join(tmp.path, 'custody.lock'))).toBe(false);
  });

  it('finds the previous entry behind a line longer than the first read window', async () => {
    await appendCustodyEntry(tmp.path, draft(0, { details: { big: 'x'.repeat(200_000) } }), undefined);
    await appendCustodyEntry(tmp.path, draft(1), undefined);
    fs.appendFileSync(path.join(tmp.path, 'custody.log'), 'y'.repeat(150_000)); // a long torn tail
    const e = await appendCustodyEntry(tmp.path, draft(2), undefined);
    expect(e).toMatchObject({ seq: 3, torn: { bytes: 150_000 } });
    const report = verifyCustodyBytes(fs.readFileSync(path.join(tmp.path, 'custody.log')), 'custody.log');
    expect(report).toMatchObject({ valid: true, entries: 3 });
    expect(report.tornTail).toBeUndefined();
  });

  it('an empty line, a non-JSON line and a non-entry are malformed, each named by its line', () => {
    const report = verifyCustodyBytes(Buffer.from('\nnot json\n{"v":2}\n'), 'custody.log');
    expect(report.problems.map((p) => [p.kind, p.line])).toEqual([
      ['malformed', 1],
      ['malformed', 2],
      ['malformed', 3],
    ]);
  });
});
