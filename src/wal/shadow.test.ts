/**
 * Power loss with a shadow (issue 14): the primary and the shadow each behind a crash-consistency
 * model (`testing/crash-fs.ts`, one per directory), every legal post-crash state of the shadow
 * must hold every batch `sync()` returned for, and so must the primary's. With the model told to
 * ignore the shadow's fdatasyncs (a writer that forgot them), the check fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CrashFs, type CrashImage } from '../testing/crash-fs.js';
import { TempDir } from '../testing/temp-dir.js';
import type { WalFs } from './fs.js';
import { WalWriter } from './writer.js';

/** Routes each path to the model of its directory; fds are renumbered so the two never collide. */
function routingFs(models: readonly CrashFs[]): WalFs {
  const fds = new Map<number, { m: CrashFs; fd: number }>();
  let next = 1000;
  const modelOf = (p: string): CrashFs => {
    const abs = path.resolve(p);
    const m = models.find((x) => abs === x.dir || abs.startsWith(`${x.dir}${path.sep}`));
    if (!m) throw Object.assign(new Error(`ENOENT: no model for ${p}`), { code: 'ENOENT' });
    return m;
  };
  const of = (fd: number): { m: CrashFs; fd: number } => {
    const f = fds.get(fd);
    if (!f) throw Object.assign(new Error(`EBADF: ${fd}`), { code: 'EBADF' });
    return f;
  };
  return {
    openSync(p, flags) {
      const m = modelOf(p);
      const fd = next++;
      fds.set(fd, { m, fd: m.openSync(p, flags) });
      return fd;
    },
    closeSync(fd) {
      const f = of(fd);
      f.m.closeSync(f.fd);
      fds.delete(fd);
    },
    writeSync: (fd, b, o, l, p) => of(fd).m.writeSync(of(fd).fd, b, o, l, p),
    readSync: (fd, b, o, l, p) => of(fd).m.readSync(of(fd).fd, b, o, l, p),
    fdatasyncSync: (fd) => of(fd).m.fdatasyncSync(of(fd).fd),
    fsyncSync: (fd) => of(fd).m.fsyncSync(of(fd).fd),
    ftruncateSync: (fd, n) => of(fd).m.ftruncateSync(of(fd).fd, n),
    fstatSync: (fd) => of(fd).m.fstatSync(of(fd).fd),
    renameSync: (a, b) => modelOf(a).renameSync(a, b),
    unlinkSync: (p) => modelOf(p).unlinkSync(p),
    readdirSync: (p) => modelOf(p).readdirSync(p),
    mkdirSync: (p) => modelOf(p).mkdirSync(p),
  };
}

/** The last seq a writer finds in `image` after its open-time recovery (-1 when it cannot open it). */
function lastSeqOf(image: CrashImage, tmp: TempDir, k: number): number {
  const dir = tmp.join(`state-${k}`);
  fs.mkdirSync(dir);
  for (const [name, bytes] of image) fs.writeFileSync(path.join(dir, name), bytes);
  let w: WalWriter;
  try {
    w = WalWriter.open({ dir, nodeId: 'n', segmentBytes: 16 * 1024, segmentMaxAgeMs: 1e12, zeroFillAheadBytes: 0 });
  } catch {
    return -1; // e.g. a segment whose synced header was lost: unreadable
  }
  const last = w.lastSeq;
  w.close();
  return last;
}

/** Writes batches through a writer with one shadow; after some syncs, checks every crash state. */
function run(dropShadowSync: boolean): { checked: number; short: number } {
  const tmp = new TempDir('ironlog-shadow-crash-');
  try {
    const primary = new CrashFs(tmp.join('p'));
    const shadow = new CrashFs(tmp.join('s'), { dropFdatasync: dropShadowSync });
    const w = WalWriter.open({
      dir: primary.dir,
      nodeId: 'n',
      segmentBytes: 16 * 1024,
      segmentMaxAgeMs: 1e12,
      zeroFillAheadBytes: 0,
      fs: routingFs([primary, shadow]),
      shadows: { dirs: [shadow.dir], onFailure: 'fail' },
    });
    let seq = 0;
    let random = 7;
    const rnd = (): number => {
      random = (random * 1103515245 + 12345) % 2147483648;
      return random / 2147483648;
    };
    let checked = 0;
    let short = 0;
    for (let round = 0; round < 12; round++) {
      const n = 1 + Math.floor(rnd() * 40);
      for (let i = 0; i < n; i++) {
        seq++;
        const payload = Buffer.from(`{"seq":${seq},"pad":"${'p'.repeat(Math.floor(rnd() * 300))}"}`);
        w.batch.addRecord(seq, 1_000 + seq, 0, payload, 0, payload.length);
      }
      w.appendBatch();
      w.sync();
      const acked = w.syncedSeq;
      // A few unsynced bytes on top, as a crash in the middle of the next batch would leave.
      seq++;
      const extra = Buffer.from(`{"unsynced":${seq}}`);
      w.batch.addRecord(seq, 1_000 + seq, 0, extra, 0, extra.length);
      w.appendBatch();
      for (const model of [primary, shadow]) {
        for (const image of model.crashStates(12, rnd)) {
          if (lastSeqOf(image, tmp, checked++) < acked) short++;
        }
      }
      w.sync();
    }
    // Several segments were rolled (sealed, header rewritten, new file + directory fsync) on both.
    expect(shadow.readdirSync(shadow.dir).filter((n) => n.endsWith('.wal')).length).toBeGreaterThan(1);
    w.close();
    return { checked, short };
  } finally {
    tmp.dispose();
  }
}

describe('shadow copies under power loss', () => {
  it('every legal post-crash state of the primary and of the shadow holds every synced batch', () => {
    const r = run(false);
    expect(r.checked).toBeGreaterThan(40);
    expect(r.short).toBe(0);
  });

  it('the check catches a shadow whose fdatasync does nothing', () => {
    expect(run(true).short).toBeGreaterThan(0);
  });
});
