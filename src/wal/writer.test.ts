import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../testing/temp-dir.js';
import { BatchBuilder } from './batch.js';
import { GapReason } from './frame-layout.js';
import { nodeWalFs, type WalFs } from './fs.js';
import { readWal, type WalRecord } from './reader.js';
import type { SealedSegment } from './sealed-segment.js';
import { SEGMENT_HEADER_BYTES, segmentFileName } from './segment.js';
import { verifyWal } from './verify.js';
import { WalWriter, type WalWriterOptions } from './writer.js';

const dirs = new TempDirs();
const tmpDir = (): string => dirs.make('ironlog-wal-');
afterEach(() => dirs.disposeAll());

class Clock {
  us = 1_700_000_000_000_000;
  readonly nowUs = (): number => this.us;
  tick(us = 1000): number {
    this.us += us;
    return this.us;
  }
}

function open(dir: string, extra: Partial<WalWriterOptions> = {}): WalWriter {
  return WalWriter.open({
    dir,
    nodeId: 'test-node',
    segmentBytes: 4096,
    segmentMaxAgeMs: 60_000,
    zeroFillAheadBytes: 0,
    ...extra,
  });
}

function event(seq: number, padBytes = 40): Record<string, unknown> {
  return { seq, action: 'login', pad: 'p'.repeat(padBytes) };
}

/** Appends one batch of `n` records (seqs lastSeq+1..) and returns their seqs. */
function addBatch(w: WalWriter, n: number, clock?: Clock, padBytes = 40): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) {
    const seq = w.lastSeq + 1 + i;
    const payload = pack(event(seq, padBytes));
    w.batch.addRecord(seq, clock ? clock.tick() : seq * 1000, 0, payload, 0, payload.length);
    seqs.push(seq);
  }
  w.appendBatch();
  return seqs;
}

async function readAll(dir: string, opts: Parameters<typeof readWal>[1] = {}): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir, opts)) out.push(r);
  return out;
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

describe('WalWriter round trips', () => {
  it('writes many batches over several segments (by size) and reads them back in order', async () => {
    const dir = tmpDir();
    const sealed: SealedSegment[] = [];
    const clock = new Clock();
    const w = open(dir, { onSealed: (s) => sealed.push(s), nowUs: clock.nowUs });
    let expected = 0;
    for (let b = 0; b < 120; b++) {
      expected += addBatch(w, 1 + (b % 7), clock).length;
      if (b % 3 === 0) w.sync();
    }
    w.sync();
    expect(w.lastSeq).toBe(expected);
    expect(w.syncedSeq).toBe(expected);
    w.close();

    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    expect(sealed.length).toBe(files.length - 1);
    for (let i = 0; i < sealed.length; i++) {
      const s = sealed[i] as SealedSegment;
      const bytes = fs.readFileSync(s.path);
      // A sealed file ends exactly at its seal: trailer = seal offset + "IRNLSEAL".
      expect(bytes.length).toBe(s.bytes);
      expect(bytes.toString('latin1', bytes.length - 8)).toBe('IRNLSEAL');
      const sealOffset = Number(bytes.readBigUInt64LE(bytes.length - 16));
      expect(createHash('sha256').update(bytes.subarray(sealOffset)).digest('hex')).toBe(s.sealSha256);
      expect(bytes.length).toBeLessThanOrEqual(4096);
      if (i > 0) expect(s.firstSeq).toBe((sealed[i - 1] as SealedSegment).lastSeq + 1);
      // Each header links to the previous seal.
      const next = fs.readFileSync(path.join(dir, files[i + 1] as string));
      expect(next.subarray(88, 120).toString('hex')).toBe(s.sealSha256);
    }
    const records = await readAll(dir);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    expect(records[41]?.event).toEqual(event(42));
    const report = await verifyWal(dir);
    expect(report).toMatchObject({
      valid: true,
      records: expected,
      firstSeq: 1,
      lastSeq: expected,
      segments: files.length,
    });
  });

  it('keeps the open segment zero-filled ahead, and a seal truncates it to the seal', async () => {
    const dir = tmpDir();
    const w = open(dir, { segmentBytes: 1 << 20, zeroFillAheadBytes: 256 * 1024 });
    addBatch(w, 3);
    w.sync();
    const file = path.join(dir, segmentFileName(1));
    const dataEnd = w.walBytes;
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(dataEnd + 128 * 1024);
    // Appending inside the zero-filled area does not change the file size.
    const before = fs.statSync(file).size;
    addBatch(w, 3);
    w.sync();
    expect(fs.statSync(file).size).toBe(before);
    w.close();
    expect((await verifyWal(dir)).valid).toBe(true);
    const w2 = open(dir, { segmentBytes: 1 << 20, zeroFillAheadBytes: 256 * 1024 });
    expect(w2.lastSeq).toBe(6);
    addBatch(w2, 1);
    // Unsynced appends do not extend the zero fill; an idle maintain() after the sync does, once
    // less than half of the distance is left.
    addBatch(w2, 150, undefined, 1000);
    w2.sync();
    const end = w2.walBytes;
    expect(fs.statSync(file).size).toBeLessThan(end + 128 * 1024);
    w2.maintain(50);
    expect(fs.statSync(file).size).toBe(end + 256 * 1024);
    const grown = fs.statSync(file).size;
    w2.maintain(50);
    expect(fs.statSync(file).size).toBe(grown);
    w2.seal();
    w2.close();
    const bytes = fs.readFileSync(file);
    expect(bytes.toString('latin1', bytes.length - 8)).toBe('IRNLSEAL');
    expect((await verifyWal(dir)).valid).toBe(true);
    expect((await readAll(dir)).length).toBe(157);
  });

  it('rolls by age with an injected clock (sealIfOlderThan)', async () => {
    const dir = tmpDir();
    const clock = new Clock();
    const sealed: SealedSegment[] = [];
    const w = open(dir, {
      segmentBytes: 1 << 20,
      segmentMaxAgeMs: 1000,
      nowUs: clock.nowUs,
      onSealed: (s) => sealed.push(s),
    });
    const nowMs = (): number => clock.us / 1000;
    expect(w.sealIfOlderThan(nowMs())).toBe(false); // no segment yet
    addBatch(w, 2, clock);
    w.sync();
    expect(w.sealIfOlderThan(nowMs())).toBe(false); // too young
    clock.tick(999_000);
    expect(w.sealIfOlderThan(nowMs())).toBe(false);
    clock.tick(2_000);
    expect(w.sealIfOlderThan(nowMs())).toBe(true);
    expect(sealed).toHaveLength(1);
    expect(sealed[0]).toMatchObject({ firstSeq: 1, lastSeq: 2, records: 2 });
    expect(w.segmentPath).toBe('');
    expect(w.syncedSeq).toBe(2);
    clock.tick(5_000_000);
    expect(w.sealIfOlderThan(nowMs())).toBe(false); // nothing open, nothing to seal
    addBatch(w, 1, clock);
    expect(w.segmentFirstSeq).toBe(3);
    expect(path.basename(w.segmentPath)).toBe(segmentFileName(3));
    w.close();
    expect(segmentFiles(dir)).toEqual([segmentFileName(1), segmentFileName(3)]);
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('reopen continues seq and chain, for an open and for a sealed last segment', async () => {
    const dir = tmpDir();
    const w = open(dir);
    addBatch(w, 3);
    addBatch(w, 2);
    w.close();
    const chain = w.lastChainHash;
    const w2 = open(dir);
    expect(w2.lastSeq).toBe(5);
    expect(w2.syncedSeq).toBe(5);
    expect(w2.lastChainHash).toEqual(chain);
    expect(w2.segmentFirstSeq).toBe(1);
    expect(w2.openReport.tornTailBytes).toBe(0);
    addBatch(w2, 4);
    w2.seal();
    const chain2 = w2.lastChainHash;
    w2.close();
    const w3 = open(dir);
    expect(w3.lastSeq).toBe(9);
    expect(w3.lastChainHash).toEqual(chain2);
    expect(w3.segmentPath).toBe('');
    addBatch(w3, 1);
    w3.close();
    expect(segmentFiles(dir)).toEqual([segmentFileName(1), segmentFileName(10)]);
    const report = await verifyWal(dir);
    expect(report).toMatchObject({ valid: true, records: 10, lastSeq: 10, sealedSegments: 1 });
    expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('stores gap records: they consume seqs, readWal skips them, verify counts them', async () => {
    const dir = tmpDir();
    const w = open(dir);
    addBatch(w, 2);
    w.batch.addGap(3, 7, GapReason.WRITE_REJECTED, { code: 'ERR_IRONLOG_WAL_FSYNC' });
    w.appendBatch();
    expect(w.lastSeq).toBe(7);
    addBatch(w, 1);
    w.close();
    expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 8]);
    expect(await verifyWal(dir)).toMatchObject({ valid: true, records: 3, gaps: 1, gapSeqs: 5, lastSeq: 8 });
  });

  it('rejects a batch that does not continue the seqs with INTERNAL, and resets the builder', () => {
    const dir = tmpDir();
    const w = open(dir);
    addBatch(w, 2);
    const p = pack({});
    w.batch.addRecord(5, 0, 0, p, 0, p.length);
    expect(() => w.appendBatch()).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INTERNAL' }));
    expect(w.batch.count).toBe(0);
    expect(w.lastSeq).toBe(2);
    w.close();
    w.batch.addRecord(3, 0, 0, p, 0, p.length);
    expect(() => w.appendBatch()).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_CLOSED' }));
  });
});

describe('WalWriter.open on damaged or foreign directories', () => {
  /** A WAL of 3 batches in one open segment; returns the batch boundaries. */
  function threeBatches(dir: string, zeroFillAheadBytes = 0): { file: string; ends: number[]; lastSeqs: number[] } {
    const w = open(dir, { segmentBytes: 1 << 20, zeroFillAheadBytes });
    const ends: number[] = [];
    const lastSeqs: number[] = [];
    for (const n of [2, 3, 3]) {
      addBatch(w, n);
      ends.push(w.walBytes);
      lastSeqs.push(w.lastSeq);
    }
    w.close();
    return { file: path.join(dir, segmentFileName(1)), ends, lastSeqs };
  }

  it('truncation at every offset inside the last batch: open recovers the previous batch, verify is valid', async () => {
    const dir = tmpDir();
    const { file, ends, lastSeqs } = threeBatches(dir);
    const original = fs.readFileSync(file);
    const lastStart = ends[1] as number;
    expect(original.length).toBe(ends[2]);
    for (let cut = lastStart + 1; cut < original.length; cut++) {
      fs.writeFileSync(file, original.subarray(0, cut));
      const w = open(dir, { segmentBytes: 1 << 20 });
      expect(w.lastSeq).toBe(lastSeqs[1]);
      expect(w.openReport).toMatchObject({ tornTailOffset: lastStart, tornTailBytes: cut - lastStart });
      w.close();
      expect(fs.statSync(file).size).toBe(lastStart);
      const report = await verifyWal(dir);
      expect(report.valid).toBe(true);
      expect(report.lastSeq).toBe(lastSeqs[1]);
    }
    // And the writer continues after a cut.
    fs.writeFileSync(file, original.subarray(0, lastStart + 50));
    const w = open(dir, { segmentBytes: 1 << 20 });
    addBatch(w, 2);
    w.close();
    expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('a torn last batch whose COMMIT survived but a record did not is cut (zero-filled file)', async () => {
    const dir = tmpDir();
    const { file, ends, lastSeqs } = threeBatches(dir, 64 * 1024);
    const bytes = fs.readFileSync(file);
    expect(bytes.length).toBeGreaterThan(ends[2] as number); // zero-filled ahead
    // The sector holding the last batch's second record never reached the disk.
    const lastStart = ends[1] as number;
    bytes.fill(0, lastStart + 90, lastStart + 140);
    fs.writeFileSync(file, bytes);
    expect((await verifyWal(dir)).problems[0]?.kind).toBe('torn-tail');
    const w = open(dir, { segmentBytes: 1 << 20, zeroFillAheadBytes: 64 * 1024 });
    expect(w.lastSeq).toBe(lastSeqs[1]);
    w.close();
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('junk after the end of data (a half-written next batch) is cut', async () => {
    const dir = tmpDir();
    const { file, ends, lastSeqs } = threeBatches(dir, 64 * 1024);
    const bytes = fs.readFileSync(file);
    // Copy the first half of batch 2 after the end of data, as if a write was torn.
    bytes.copy(bytes, ends[2] as number, ends[0] as number, (ends[0] as number) + 100);
    fs.writeFileSync(file, bytes);
    const w = open(dir, { segmentBytes: 1 << 20 });
    expect(w.lastSeq).toBe(lastSeqs[2]);
    expect(w.openReport.tornTailOffset).toBe(ends[2]);
    w.close();
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('damage before the tail (complete batches after it) throws WAL_CORRUPT naming file, offset, seq and recover', () => {
    const dir = tmpDir();
    const { file, ends } = threeBatches(dir);
    const bytes = fs.readFileSync(file);
    const at = (ends[0] as number) + 40; // inside batch 2, batch 3 is intact
    bytes[at] = (bytes[at] as number) ^ 0x01;
    fs.writeFileSync(file, bytes);
    let err: unknown;
    try {
      open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    const message = (err as Error).message;
    expect(message).toContain(file);
    expect(message).toContain(`offset ${ends[0]}`);
    expect(message).toContain('seq 3');
    expect(message).toMatch(/recover/);
    // Nothing was cut.
    expect(fs.readFileSync(file)).toEqual(bytes);
  });

  it('damage in the last batch of a sealed last segment is not taken for a torn tail', () => {
    const dir = tmpDir();
    const w = open(dir);
    addBatch(w, 2);
    addBatch(w, 2);
    w.seal();
    w.close();
    const file = path.join(dir, segmentFileName(1));
    const bytes = fs.readFileSync(file);
    const sealOffset = Number(bytes.readBigUInt64LE(bytes.length - 16));
    bytes[sealOffset - 70] = (bytes[sealOffset - 70] as number) ^ 0x40; // last record of the last batch
    fs.writeFileSync(file, bytes);
    expect(() => open(dir)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_CORRUPT' }));
  });

  it('a chain mismatch in the last batch (frames intact) is not cut silently', () => {
    const dir = tmpDir();
    const { file, lastSeqs } = threeBatches(dir);
    // A well-formed batch with the right seqs, chained from the wrong hash.
    const b = new BatchBuilder();
    const p = pack({ forged: true });
    b.addRecord((lastSeqs[2] as number) + 1, 0, 0, p, 0, p.length);
    const total = b.commit(Buffer.alloc(32, 7));
    fs.appendFileSync(file, b.buffer.subarray(0, total));
    expect(() => open(dir)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_WAL_CORRUPT', message: expect.stringMatching(/chain/) }),
    );
  });

  it('a duplicate of the last batch appended at the end is a torn tail (nothing acked is lost)', () => {
    const dir = tmpDir();
    const { file, ends, lastSeqs } = threeBatches(dir);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([bytes, bytes.subarray(ends[1] as number, ends[2] as number)]));
    const w = open(dir);
    expect(w.lastSeq).toBe(lastSeqs[2]);
    w.close();
  });

  it('foreign files: a *.wal that is not a segment name, or a segment with bad magic -> WAL_FORMAT', () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'notes.wal'), 'hello');
    expect(() => open(dir)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_FORMAT' }));
    const dir2 = tmpDir();
    fs.writeFileSync(path.join(dir2, segmentFileName(1)), Buffer.from('SQLite format 3\0'.padEnd(4096, 'x')));
    expect(() => open(dir2)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_FORMAT' }));
    // Other files (LOCK, state files) are ignored.
    const dir3 = tmpDir();
    fs.writeFileSync(path.join(dir3, 'LOCK'), '123');
    const w = open(dir3);
    expect(w.lastSeq).toBe(0);
    w.close();
  });

  it('removes a last segment whose creation never completed, and finishes an interrupted seal', async () => {
    const dir = tmpDir();
    const w = open(dir);
    addBatch(w, 3);
    w.seal();
    w.close();
    const sealedFile = path.join(dir, segmentFileName(1));
    // A seal that was written and synced but not yet truncated: zero tail.
    fs.appendFileSync(sealedFile, Buffer.alloc(1000));
    // And a next segment created but never written (crash before its header reached the disk).
    const torn = path.join(dir, segmentFileName(4));
    fs.writeFileSync(torn, Buffer.alloc(4096));
    const w2 = open(dir);
    expect(w2.openReport.removedSegments).toEqual([torn]);
    expect(w2.openReport.finishedSeal).toBe(true);
    expect(fs.existsSync(torn)).toBe(false);
    expect(w2.lastSeq).toBe(3);
    addBatch(w2, 1);
    w2.close();
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('a missing middle segment fails open with WAL_CORRUPT', () => {
    const dir = tmpDir();
    const w = open(dir, { segmentBytes: 2048 });
    for (let i = 0; i < 30; i++) addBatch(w, 2);
    w.close();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    fs.rmSync(path.join(dir, files[1] as string));
    expect(() => open(dir, { segmentBytes: 2048 })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_WAL_CORRUPT' }),
    );
  });
});

// -------------------------------------------------------------------------------------------------
// Fault injection

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated failure, ${syscall}`), { code, syscall });
}

/** A WalFs that fails writes (after writing half, like a short write before ENOSPC), fdatasync or ftruncate. */
class FaultFs implements WalFs {
  write: string | null = null;
  fdatasync: string | null = null;
  ftruncate: string | null = null;
  #halfWritten = false;
  readonly openSync = nodeWalFs.openSync;
  readonly closeSync = nodeWalFs.closeSync;
  readonly readSync = nodeWalFs.readSync;
  readonly fsyncSync = nodeWalFs.fsyncSync;
  readonly fstatSync = nodeWalFs.fstatSync;
  readonly renameSync = nodeWalFs.renameSync;
  readonly unlinkSync = nodeWalFs.unlinkSync;
  readonly readdirSync = nodeWalFs.readdirSync;
  readonly mkdirSync = nodeWalFs.mkdirSync;
  /** A full disk: writes inside the file's current size succeed, anything that would grow it fails. */
  diskFull = false;
  writeSync(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
    if (this.diskFull) {
      const size = nodeWalFs.fstatSync(fd).size;
      if (pos + len > size) {
        if (size > pos) return nodeWalFs.writeSync(fd, buf, off, size - pos, pos); // short write
        throw errno('ENOSPC', 'write');
      }
    }
    if (this.write) {
      if (!this.#halfWritten && len >= 16) {
        this.#halfWritten = true;
        return nodeWalFs.writeSync(fd, buf, off, len >> 1, pos);
      }
      this.#halfWritten = false;
      throw errno(this.write, 'write');
    }
    return nodeWalFs.writeSync(fd, buf, off, len, pos);
  }
  fdatasyncSync(fd: number): void {
    if (this.fdatasync) throw errno(this.fdatasync, 'fdatasync');
    nodeWalFs.fdatasyncSync(fd);
  }
  ftruncateSync(fd: number, len: number): void {
    if (this.ftruncate) throw errno(this.ftruncate, 'ftruncate');
    nodeWalFs.ftruncateSync(fd, len);
  }
}

/** The segment's bytes after `end` are gone or zero: nothing partial remains. */
function assertNothingAfter(file: string, end: number): void {
  const bytes = fs.readFileSync(file);
  expect(bytes.length).toBeGreaterThanOrEqual(end);
  expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);
}

describe('WalWriter under injected faults', () => {
  for (const [code, expected] of [
    ['EIO', 'ERR_IRONLOG_WAL_WRITE'],
    ['ENOSPC', 'ERR_IRONLOG_DISK_FULL'],
  ] as const) {
    it(`write ${code} -> ${expected}; the partial batch is removed; appending works after the fault clears`, async () => {
      for (const zeroFillAheadBytes of [0, 64 * 1024]) {
        const dir = tmpDir();
        const ffs = new FaultFs();
        const w = open(dir, { fs: ffs, segmentBytes: 1 << 20, zeroFillAheadBytes });
        addBatch(w, 3);
        w.sync();
        const end = w.walBytes;
        const chain = w.lastChainHash;
        ffs.write = code;
        expect(() => addBatch(w, 4)).toThrow(expect.objectContaining({ code: expected }));
        expect(w.lastSeq).toBe(3);
        expect(w.lastChainHash).toEqual(chain);
        expect(w.batch.count).toBe(0);
        assertNothingAfter(path.join(dir, segmentFileName(1)), end);
        expect(await verifyWal(dir)).toMatchObject({ valid: true, lastSeq: 3 });
        ffs.write = null;
        expect(addBatch(w, 4)).toEqual([4, 5, 6, 7]);
        w.sync();
        w.close();
        expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect((await verifyWal(dir)).valid).toBe(true);
      }
    });
  }

  for (const [code, expected] of [
    ['EIO', 'ERR_IRONLOG_WAL_FSYNC'],
    ['ENOSPC', 'ERR_IRONLOG_DISK_FULL'],
  ] as const) {
    it(`fdatasync ${code} -> ${expected}; everything unsynced is cut and rolled back; appending resumes`, async () => {
      const dir = tmpDir();
      const ffs = new FaultFs();
      const w = open(dir, { fs: ffs, segmentBytes: 1 << 20 });
      addBatch(w, 2);
      w.sync();
      const end = w.walBytes;
      const chain = w.lastChainHash;
      addBatch(w, 2); // unsynced ('interval' mode)
      addBatch(w, 3);
      expect(w.lastSeq).toBe(7);
      ffs.fdatasync = code;
      expect(() => w.sync()).toThrow(expect.objectContaining({ code: expected }));
      // The caller rejects exactly syncedSeq+1 .. 7.
      expect(w.syncedSeq).toBe(2);
      expect(w.lastSeq).toBe(2);
      expect(w.lastChainHash).toEqual(chain);
      assertNothingAfter(path.join(dir, segmentFileName(1)), end);
      expect(await verifyWal(dir)).toMatchObject({ valid: true, lastSeq: 2 });
      ffs.fdatasync = null;
      // Typically the caller records the rejected seqs as a gap, then goes on.
      w.batch.addGap(3, 7, GapReason.WRITE_REJECTED, { code: expected });
      w.appendBatch();
      addBatch(w, 1);
      w.sync();
      expect(w.syncedSeq).toBe(8);
      w.close();
      expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 8]);
      expect(await verifyWal(dir)).toMatchObject({ valid: true, gapSeqs: 5, lastSeq: 8 });
    });
  }

  it('disk full: the zero-filled space is a reserve, so the gap record for the rejected seqs still fits', async () => {
    const dir = tmpDir();
    const ffs = new FaultFs();
    const w = open(dir, { fs: ffs, segmentBytes: 1 << 20, zeroFillAheadBytes: 4096 });
    addBatch(w, 2);
    w.sync();
    const file = path.join(dir, segmentFileName(1));
    const size = fs.statSync(file).size;
    const end = w.walBytes;
    expect(size).toBeGreaterThan(end + 2048);
    ffs.diskFull = true;
    expect(() => addBatch(w, 10, undefined, 1000)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_DISK_FULL' }));
    // Nothing partial, and the reserve is still there.
    expect(fs.statSync(file).size).toBe(size);
    assertNothingAfter(file, end);
    w.batch.addGap(3, 12, GapReason.WRITE_REJECTED, { code: 'ERR_IRONLOG_DISK_FULL' });
    w.appendBatch();
    w.sync();
    expect(w.syncedSeq).toBe(12);
    ffs.diskFull = false;
    w.maintain(10);
    addBatch(w, 1);
    w.seal();
    w.close();
    expect(await verifyWal(dir)).toMatchObject({ valid: true, records: 3, gapSeqs: 10, lastSeq: 13 });
  });

  it('a failed undo (ftruncate) is repaired before the next append', async () => {
    const dir = tmpDir();
    const ffs = new FaultFs();
    const w = open(dir, { fs: ffs, segmentBytes: 1 << 20 });
    addBatch(w, 2);
    w.sync();
    const end = w.walBytes;
    ffs.write = 'ENOSPC';
    ffs.ftruncate = 'EIO';
    expect(() => addBatch(w, 2)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_DISK_FULL' }));
    ffs.write = null;
    expect(() => addBatch(w, 2)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_WRITE' })); // repair still failing
    expect(w.lastSeq).toBe(2);
    ffs.ftruncate = null;
    addBatch(w, 2);
    w.sync();
    const dataEnd = w.walBytes;
    w.close();
    expect(dataEnd).toBeGreaterThan(end);
    expect(fs.readFileSync(path.join(dir, segmentFileName(1))).length).toBe(dataEnd);
    expect((await readAll(dir)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await verifyWal(dir)).valid).toBe(true);
  });

  it('a failed fdatasync of the seal while rolling rolls back to the last synced batch', async () => {
    const dir = tmpDir();
    const ffs = new FaultFs();
    const w = open(dir, { fs: ffs, segmentBytes: 2048 });
    while (w.walBytes < 1200) {
      addBatch(w, 2);
      w.sync();
    }
    const synced = w.lastSeq;
    addBatch(w, 1); // unsynced
    expect(w.segmentFirstSeq).toBe(1);
    ffs.fdatasync = 'EIO';
    // This batch does not fit: the writer seals first, and the seal's fdatasync fails.
    expect(() => addBatch(w, 6, undefined, 100)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_FSYNC' }));
    expect(w.lastSeq).toBe(synced);
    expect(w.syncedSeq).toBe(synced);
    ffs.fdatasync = null;
    addBatch(w, 6, undefined, 100);
    w.sync();
    w.close();
    expect(segmentFiles(dir).length).toBe(2);
    const report = await verifyWal(dir);
    expect(report).toMatchObject({ valid: true, lastSeq: synced + 6 });
  });

  it('a failed segment creation leaves nothing behind and is retried', async () => {
    const dir = tmpDir();
    const ffs = new FaultFs();
    const w = open(dir, { fs: ffs });
    ffs.fdatasync = 'EIO';
    expect(() => addBatch(w, 1)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_FSYNC' }));
    expect(segmentFiles(dir)).toEqual([]);
    ffs.fdatasync = null;
    addBatch(w, 1);
    w.sync();
    w.close();
    expect(await verifyWal(dir)).toMatchObject({ valid: true, records: 1 });
    expect(SEGMENT_HEADER_BYTES).toBe(128);
  });
});
