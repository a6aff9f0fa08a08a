/**
 * Issue 9, items 2-5, 9 and 10: the WAL readers, `verify`, `recover`, `stats` and `monitor --dir`
 * give honest answers and survive hostile directory entries. Every case runs on a WAL written by a
 * real sink and, except the many-flip comparison (API, same code path), through the real CLI.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, recoverWal, verifyWal } from '../dist/main/index.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-harden-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

const kCount = 600;

/** 600 events in batches of 20, in 64 KiB segments: three sealed segments and an open one. */
async function makeWal(dir: string, count = kCount): Promise<void> {
  let now = Date.UTC(2026, 0, 1);
  const sink = await openSink({ dir, clock: () => now, ringBytes: 64 * 1024, segmentBytes: 64 * 1024 });
  for (let i = 0; i < count; i += 20) {
    await sink.emitBatch(
      Array.from({ length: 20 }, (_, k) => ({ i: i + k, mark: `MARK-${i + k}-END`, pad: 'p'.repeat(150) })),
    );
    now += 20_000;
  }
  await sink.close();
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** End offsets of the batches of a segment image (after each COMMIT) and the seal's offset (-1: none). */
function batchEnds(buf: Buffer): { ends: number[]; sealOffset: number } {
  const ends: number[] = [];
  let p = 128;
  while (p + 32 <= buf.length) {
    const frameBytes = buf.readUInt32LE(p);
    if (frameBytes === 0) break;
    const type = buf[p + 8];
    if (type === 4) return { ends, sealOffset: p };
    p += Math.ceil(frameBytes / 8) * 8;
    if (type === 2) ends.push(p);
  }
  return { ends, sealOffset: -1 };
}

interface JsonReport {
  valid: boolean;
  records: number;
  lost: Array<{ fromSeq: number; toSeq: number }>;
  problems: Array<{ kind: string; segment: string; offset: number; seqFrom?: number; seqTo?: number }>;
}

describe('verify never calls nothing valid (item 2)', () => {
  it('a directory without segments, a missing or mistyped source, and replay of one: exit 2 with a typed code', async () => {
    fs.writeFileSync(tmp.join('README.txt'), 'not a WAL');
    const empty = await runCli(['verify', '--dir', tmp.path]);
    expect(empty.code, empty.stdout).toBe(2);
    expect(empty.stderr).toContain('ERR_IRONLOG_WAL_EMPTY');
    expect(empty.stdout).not.toContain('valid');
    const allowed = await runCli(['verify', '--dir', tmp.path, '--allow-empty', '--json']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ valid: true, segments: 0, records: 0 });
    const replayEmpty = await runCli(['replay', '--dir', tmp.path]);
    expect(replayEmpty.code, replayEmpty.stdout).toBe(2);
    expect(replayEmpty.stderr).toContain('ERR_IRONLOG_WAL_EMPTY');
    const replayAllowed = await runCli(['replay', '--dir', tmp.path, '--allow-empty']);
    expect(replayAllowed.code, replayAllowed.stderr).toBe(0);
    expect(replayAllowed.stdout).toBe('');
    await expect(verifyWal(tmp.path)).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_EMPTY' });
    await expect(verifyWal(tmp.path, { allowEmpty: true })).resolves.toMatchObject({ valid: true });

    const nowhere = `file://${tmp.join('no-such-dir')}`;
    for (const args of [
      ['verify', '--source', nowhere],
      ['replay', '--source', nowhere],
    ]) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).toBe(2);
      expect(r.stderr).toMatch(/ERR_IRONLOG_IO: .*does not exist/);
    }
    // A real history under prefix "audit": a mistyped prefix or node finds nothing.
    const bucket = tmp.join('bucket');
    const node = path.join(bucket, 'audit', 'node-a');
    fs.mkdirSync(node, { recursive: true });
    const wal = tmp.join('wal');
    await makeWal(wal);
    for (const name of segmentFiles(wal).slice(0, 3)) {
      const buf = fs.readFileSync(path.join(wal, name));
      const first = Number(name.slice(0, 20));
      const { sealOffset } = batchEnds(buf);
      const last = Number(buf.readBigUInt64LE(sealOffset + 24));
      fs.writeFileSync(
        path.join(node, `${String(first).padStart(20, '0')}-${String(last).padStart(20, '0')}.wal`),
        buf,
      );
    }
    const good = await runCli(['verify', '--source', `file://${bucket}?prefix=audit`]);
    expect(good.code, good.stderr).toBe(0);
    const typo = await runCli(['verify', '--source', `file://${bucket}?prefix=audti`]);
    expect(typo.code, typo.stdout).toBe(2);
    expect(typo.stderr).toContain('ERR_IRONLOG_WAL_EMPTY');
    const typoReplay = await runCli(['replay', '--source', `file://${bucket}?prefix=audti`]);
    expect(typoReplay.code).toBe(2);
    expect(typoReplay.stderr).toContain('ERR_IRONLOG_WAL_EMPTY');
    const badNode = await runCli(['verify', '--source', `file://${bucket}?prefix=audit`, '--nodes', 'node-b']);
    expect(badNode.code).toBe(2);
    expect(badNode.stderr).toMatch(/ERR_IRONLOG_WAL_EMPTY: .*node-b.*nodes found: node-a/);
    const allowedTypo = await runCli(['verify', '--source', `file://${bucket}?prefix=audti`, '--allow-empty']);
    expect(allowedTypo.code, allowedTypo.stderr).toBe(0);
  });
});

describe('a sealed segment must end exactly at its seal (item 3)', () => {
  it('the sealed last segment losing its last batch (cut or zeroed, with or without its seal), and its seal', async () => {
    await makeWal(tmp.path);
    const names = segmentFiles(tmp.path);
    // The last sealed segment becomes the last segment of the WAL.
    const open = names[names.length - 1] as string;
    const lastSealed = names[names.length - 2] as string;
    const orig = fs.readFileSync(tmp.join(lastSealed));
    const { ends, sealOffset } = batchEnds(orig);
    expect(sealOffset).toBeGreaterThan(0);
    const prevEnd = ends[ends.length - 2] as number;
    const seal = orig.subarray(sealOffset);
    const cases: Record<string, Buffer> = {
      'cut to the previous batch, seal gone': orig.subarray(0, prevEnd),
      'previous batches then the seal': Buffer.concat([orig.subarray(0, prevEnd), seal]),
      'zeroed from the previous batch to the end': Buffer.concat([
        orig.subarray(0, prevEnd),
        Buffer.alloc(orig.length - prevEnd),
      ]),
      'last batch zeroed, seal kept': Buffer.concat([
        orig.subarray(0, prevEnd),
        Buffer.alloc(sealOffset - prevEnd),
        seal,
      ]),
      'seal cut off': orig.subarray(0, sealOffset),
      'seal zeroed': Buffer.concat([orig.subarray(0, sealOffset), Buffer.alloc(orig.length - sealOffset)]),
    };
    fs.rmSync(tmp.join(open));
    const ok = await runCli(['verify', '--dir', tmp.path]);
    expect(ok.code, ok.stdout).toBe(0);
    for (const [what, bytes] of Object.entries(cases)) {
      fs.writeFileSync(tmp.join(lastSealed), bytes);
      const r = await runCli(['verify', '--dir', tmp.path, '--json']);
      expect(r.code, `${what}: ${r.stdout}`).toBe(1);
      const report = JSON.parse(r.stdout) as JsonReport;
      expect(report.valid).toBe(false);
      // Never excused as a torn tail: the segment had been sealed.
      expect(report.problems.map((p) => p.kind)).not.toContain('torn-tail');
      expect(
        report.problems.some((p) => p.segment === lastSealed && p.kind === 'seal'),
        what,
      ).toBe(true);
      // The same file refuses to be continued by a sink.
      await expect(openSink({ dir: tmp.path }), what).rejects.toMatchObject({ code: 'ERR_IRONLOG_WAL_CORRUPT' });
    }
    // A segment in the middle that lost its seal.
    fs.writeFileSync(tmp.join(lastSealed), orig);
    const middle = names[1] as string;
    const m = fs.readFileSync(tmp.join(middle));
    fs.writeFileSync(tmp.join(middle), m.subarray(0, batchEnds(m).sealOffset));
    const r = await runCli(['verify', '--dir', tmp.path, '--json']);
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as JsonReport).problems).toContainEqual(
      expect.objectContaining({ kind: 'seal', segment: middle }),
    );
  });
});

describe('verify reports what is lost, exactly as recover loses it (items 4, 5)', () => {
  it('one flipped byte in a record: one lost seq, the right one, in verify and recover; recover exits 1', async () => {
    await makeWal(tmp.path);
    // Event 300 (seq 301) in a batch of 20.
    const needle = Buffer.from('MARK-300-END');
    let segment = '';
    for (const name of segmentFiles(tmp.path)) {
      const buf = fs.readFileSync(tmp.join(name));
      const at = buf.indexOf(needle);
      if (at < 0) continue;
      buf[at + 5] = (buf[at + 5] as number) ^ 0x01;
      fs.writeFileSync(tmp.join(name), buf);
      segment = name;
    }
    const v = await runCli(['verify', '--dir', tmp.path, '--json']);
    expect(v.code).toBe(1);
    const report = JSON.parse(v.stdout) as JsonReport;
    expect(report.lost).toEqual([{ fromSeq: 301, toSeq: 301 }]);
    const lostProblems = report.problems.filter((p) => p.kind === 'lost');
    expect(lostProblems).toEqual([expect.objectContaining({ segment, seqFrom: 301, seqTo: 301 })]);
    // Damage is located by offset; no problem claims other seqs.
    for (const p of report.problems.filter((q) => q.kind !== 'lost')) expect(p.seqFrom).toBeUndefined();
    const text = await runCli(['verify', '--dir', tmp.path]);
    expect(text.stdout).toContain('seqs 301-301');
    expect(text.stdout).not.toMatch(/\d+ seqs lost inside damaged batches/);

    const rec = await runCli(['recover', '--input', tmp.path, '--output', tmp.join('out')]);
    expect(rec.code, rec.stderr).toBe(1);
    expect(rec.stderr).toContain('lost seqs 301-301');
    const recJson = await runCli(['recover', '--input', tmp.path, '--output', tmp.join('out2'), '--json']);
    expect(recJson.code).toBe(1);
    expect((JSON.parse(recJson.stdout) as { lost: unknown }).lost).toEqual(report.lost);
    // Nothing lost: exit 0.
    const clean = await runCli(['recover', '--input', tmp.join('out'), '--output', tmp.join('out3')]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('nothing lost');
  });

  it('for many random single-byte flips (and zeroed sectors, truncations), verify lost ranges == recover lost ranges', async () => {
    const src = tmp.join('src');
    await makeWal(src);
    const names = segmentFiles(src);
    const images = names.map((n) => fs.readFileSync(path.join(src, n)));
    const seed = Number(process.env.IRONLOG_FLIP_SEED ?? Date.now() % 1_000_000);
    let state = seed;
    const rnd = (n: number): number => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state % n;
    };
    const rounds = 120;
    let sawLoss = 0;
    for (let round = 0; round < rounds; round++) {
      const dir = tmp.join(`flip-${round}`);
      fs.mkdirSync(dir);
      const k = rnd(names.length);
      // Mostly single-byte flips; also zeroed sectors and truncations (the same accounting applies).
      const kind = round % 4 === 3 ? 'zero-sector' : round % 8 === 6 ? 'truncate' : 'flip';
      for (let i = 0; i < names.length; i++) {
        let img = Buffer.from(images[i] as Buffer);
        if (i === k) {
          const at = rnd(img.length);
          if (kind === 'flip') img[at] = (img[at] as number) ^ (1 + rnd(255));
          else if (kind === 'zero-sector') img.fill(0, at - (at % 512), Math.min(img.length, at - (at % 512) + 512));
          else img = img.subarray(0, at);
        }
        fs.writeFileSync(path.join(dir, names[i] as string), img);
      }
      const v = await verifyWal(dir);
      const r = await recoverWal(dir, `${dir}-out`);
      expect(v.lost, `seed ${seed} round ${round} (${kind})`).toEqual(r.lost);
      expect(v.lostSeqs).toBe(r.lostSeqs);
      if (r.lostSeqs > 0) {
        sawLoss++;
        expect(v.valid).toBe(false);
      }
      fs.rmSync(dir, { recursive: true });
      fs.rmSync(`${dir}-out`, { recursive: true });
    }
    // Most flips land in record bytes: the comparison is not vacuous.
    expect(sawLoss, `seed ${seed}`).toBeGreaterThan(rounds / 4);
  });
});

describe('only regular files are segments (item 9)', () => {
  it('a FIFO, a directory, a symlink to /dev/zero named like a segment: typed errors, no hang', async () => {
    await makeWal(tmp.path);
    const entry = tmp.join('00000000000000099999.wal');
    const kinds: Array<[string, () => void, RegExp]> = [
      [
        'fifo',
        () => {
          const r = spawnSync('mkfifo', [entry]);
          if (r.status !== 0) throw new Error('mkfifo failed');
        },
        /is a FIFO/,
      ],
      ['directory', () => fs.mkdirSync(entry), /is a directory/],
      ['symlink', () => fs.symlinkSync('/dev/zero', entry), /is a symbolic link/],
    ];
    for (const [what, make, message] of kinds) {
      make();
      for (const args of [
        ['verify', '--dir', tmp.path],
        ['stats', '--dir', tmp.path],
        ['replay', '--dir', tmp.path],
        ['recover', '--input', tmp.path, '--output', tmp.join(`rec-${what}`)],
        ['monitor', '--dir', tmp.path, '--count', '1'],
      ]) {
        const r = await runCli(args);
        expect(r.code, `${what} ${args[0]}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toContain('ERR_IRONLOG_SEGMENT_NOT_FILE');
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      await expect(openSink({ dir: tmp.path }), what).rejects.toMatchObject({ code: 'ERR_IRONLOG_SEGMENT_NOT_FILE' });
      fs.rmSync(entry, { recursive: true, force: true });
    }
  });
});

describe('64-bit positions (item 10)', () => {
  it('stats, monitor --dir and verify on a 3 GiB open segment; 5 GiB is refused with a typed error', async () => {
    await makeWal(tmp.path);
    const names = segmentFiles(tmp.path);
    const open = tmp.join(names[names.length - 1] as string);
    // Sparse: instant, and no disk used.
    fs.truncateSync(open, 3 * 1024 ** 3);
    const stats = await runCli(['stats', '--dir', tmp.path, '--json']);
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ records: kCount });
    const mon = await runCli(['monitor', '--dir', tmp.path, '--count', '1']);
    expect(mon.code, mon.stderr).toBe(0);
    expect(mon.stdout).toContain(`durable_seq=${kCount}`);
    // verify accepts what segmentBytes allows (up to 4 GiB), without holding the zero fill.
    const v = await runCli(['verify', '--dir', tmp.path, '--json']);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, records: kCount });
    fs.truncateSync(open, 5 * 1024 ** 3);
    for (const args of [
      ['stats', '--dir', tmp.path],
      ['verify', '--dir', tmp.path],
      ['monitor', '--dir', tmp.path, '--count', '1'],
    ]) {
      const r = await runCli(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('ERR_IRONLOG_SEGMENT_TOO_LARGE');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 300_000);
});
