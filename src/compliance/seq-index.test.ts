import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SeqIndex } from './seq-index.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-seqindex-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Entries: records 1-3, gap 4-10, record 11, 1-seq gap 12, record 13, gap 14-20. */
const kEntries: Array<[number, number]> = [
  [1, 1],
  [2, 2],
  [3, 3],
  [4, 10],
  [11, 11],
  [12, 12],
  [13, 13],
  [14, 20],
];

function where(seq: number): { index: number; entrySeq: number } {
  const i = kEntries.findIndex(([a, b]) => seq >= a && seq <= b);
  return { index: i, entrySeq: (kEntries[i] as [number, number])[0] };
}

describe('SeqIndex (tlog/index)', () => {
  it('maps every seq to its entry, through gaps, after a reopen too', () => {
    const idx = SeqIndex.open(dir, 0, true);
    expect(idx.nextSeq).toBe(-1);
    for (const [i, [a, b]] of kEntries.entries()) idx.append(i, a, b);
    idx.commit();
    // Rows: entry 0 at 1, entry 4 at 11 (after the 7-seq gap), entry 8 at 21 (after the last gap).
    expect(fs.statSync(path.join(dir, 'index')).size).toBe(3 * 16);
    for (const reopened of [idx, SeqIndex.open(dir, kEntries.length, true)]) {
      expect(reopened.nextSeq).toBe(21);
      for (let seq = 1; seq <= 20; seq++) expect(reopened.locate(seq, kEntries.length)).toEqual(where(seq));
      expect(reopened.locate(21, kEntries.length)).toBeUndefined();
      expect(reopened.locate(0, kEntries.length)).toBeUndefined();
      expect(reopened.locate(13, 6)).toBeUndefined(); // beyond a smaller tree
      for (const [i, [a]] of kEntries.entries()) expect(reopened.seqOf(i)).toBe(a);
    }
  });

  it('cuts rows past the tiled size and a torn row on open', () => {
    const idx = SeqIndex.open(dir, 0, true);
    for (const [i, [a, b]] of kEntries.entries()) idx.append(i, a, b);
    idx.commit();
    fs.appendFileSync(path.join(dir, 'index'), Buffer.alloc(7, 1));
    // The tiles only hold the first 5 entries (a crash before their commit).
    const cut = SeqIndex.open(dir, 5, true);
    expect(fs.statSync(path.join(dir, 'index')).size).toBe(2 * 16);
    expect(cut.nextSeq).toBe(12);
    cut.append(5, 12, 12);
    expect(() => cut.append(7, 13, 13)).toThrow(/out of order/);
    expect(() => cut.append(6, 14, 14)).toThrow(/next seq is 13/);
  });

  it('refuses a missing index for a non-empty log', () => {
    expect(() => SeqIndex.open(dir, 3, false)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_TLOG_STATE' }));
  });
});
