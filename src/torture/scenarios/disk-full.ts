/**
 * disk-full: a sink whose writer runs on a size-limited file system fills its disk at a random
 * byte. The disk is either a quota through the `walFsModule` seam (`DiskQuota`), or, where the
 * machine allows it (root on Linux), a real tmpfs of 512 KiB-1 MiB with ballast files. Acks of what could not be stored must
 * reject with typed errors (`ERR_IRONLOG_DISK_FULL` first, `ERR_IRONLOG_WAL_FAULTED` while
 * faulted), nothing acked may be lost, nothing of a rejected emit may be stored (no partial
 * batch: `verifyWal` valid, no torn tail), and emits must succeed again once space returns. Two
 * fill/free cycles per iteration, then a reopen.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes } from '../../core/errors.js';
import type { SinkOptions } from '../../main/options.js';
import { openSink, type Sink } from '../../main/sink.js';
import { DiskQuota, quotaFsModulePath } from '../../testing/quota-fs.js';
import { readWal } from '../../wal/reader.js';
import { checkAckedWal } from '../checks.js';
import { type AckLine, sleep } from '../child.js';
import { addMetric, type Scenario, type TortureContext } from '../types.js';
import { describeError } from '../util.js';

interface State {
  readonly dir: string;
  readonly acked: AckLine[];
  readonly rejected: Set<string>;
}
const kState = new WeakMap<TortureContext, State>();
const kAllowed: ReadonlySet<string> = new Set([ErrorCodes.DISK_FULL, ErrorCodes.WAL_FAULTED]);

/** Emits from `lanes` lanes until every lane saw a rejection (or `maxPerLane` acks). */
async function fillUp(
  ctx: TortureContext,
  sink: Sink,
  cycle: number,
  lanes: number,
  maxPerLane: number,
  st: State,
): Promise<number> {
  let rejections = 0;
  const lane = async (p: number): Promise<void> => {
    for (let i = 0; i < maxPerLane; i++) {
      const id = `${cycle}/${p}/${i}`;
      try {
        const ack = await sink.emit({ r: cycle, p, i, pad: 'f'.repeat(ctx.rng.int(50, 1200)) });
        st.acked.push({ seq: ack.seq, round: cycle, producer: p, index: i });
      } catch (err) {
        rejections++;
        st.rejected.add(id);
        const code = (err as { code?: string }).code ?? '';
        if (!kAllowed.has(code)) ctx.fail('untyped-error', `cycle ${cycle}: emit rejected with ${describeError(err)}`);
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, p) => lane(p)));
  return rejections;
}

/** The disk under test: a quota through the WalFs seam, or a real size-limited tmpfs. */
interface Disk {
  readonly kind: 'quota' | 'tmpfs';
  readonly options: Pick<SinkOptions, 'walFsModule' | 'walFsModuleData'>;
  /** Gives space back (raises the quota, or deletes a ballast file). */
  free(): void;
  /** A violated limit, or undefined. */
  overLimit(): string | undefined;
  /** Copies the WAL out (a tmpfs is unmounted) and releases the disk. */
  release(): void;
}

function quotaDisk(ctx: TortureContext): Disk {
  const rng = ctx.rng;
  const quota = new DiskQuota(rng.int(150, ctx.params.quick ? 400 : 1500) * 1024);
  return {
    kind: 'quota',
    options: { walFsModule: quotaFsModulePath, walFsModuleData: quota.sab },
    free: () => {
      quota.limitBytes += rng.int(200, 600) * 1024;
    },
    overLimit: () =>
      quota.usedBytes > quota.limitBytes
        ? `${quota.usedBytes} bytes used over a ${quota.limitBytes} byte quota`
        : undefined,
    release: () => {},
  };
}

/**
 * A real small file system: a tmpfs of 512 KiB-1 MiB mounted at `mnt` (needs root on Linux),
 * with two ballast files that are deleted one per cycle to give space back. Undefined when the
 * machine does not allow the mount (`IRONLOG_TORTURE_NO_MOUNT=1` turns it off).
 */
function tmpfsDisk(ctx: TortureContext, mnt: string, walDir: string, copyTo: string): Disk | undefined {
  const { IRONLOG_TORTURE_NO_MOUNT: noMount } = process.env;
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || noMount) return undefined;
  const sizeKiB = ctx.rng.int(512, 1024);
  fs.mkdirSync(mnt, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const ballast = [path.join(mnt, 'ballast-0'), path.join(mnt, 'ballast-1')];
  for (const b of ballast) fs.writeFileSync(b, Buffer.alloc(128 * 1024, 1));
  let mounted = true;
  return {
    kind: 'tmpfs',
    options: {},
    free: () => {
      const b = ballast.shift();
      if (b) fs.rmSync(b);
    },
    overLimit: () => undefined,
    release: () => {
      if (!mounted) return;
      try {
        if (fs.existsSync(walDir)) fs.cpSync(walDir, copyTo, { recursive: true });
      } finally {
        execFileSync('umount', [mnt], { stdio: 'ignore' });
        mounted = false;
      }
    },
  };
}

async function run(ctx: TortureContext): Promise<void> {
  const rng = ctx.rng;
  const mnt = path.join(ctx.tmpDir, 'mnt');
  const copy = path.join(ctx.tmpDir, 'wal');
  const useTmpfs = rng.chance(0.5);
  const disk = (useTmpfs ? tmpfsDisk(ctx, mnt, path.join(mnt, 'wal'), copy) : undefined) ?? quotaDisk(ctx);
  const liveDir = disk.kind === 'tmpfs' ? path.join(mnt, 'wal') : copy;
  const st: State = { dir: copy, acked: [], rejected: new Set() };
  kState.set(ctx, st);
  addMetric(ctx, disk.kind === 'tmpfs' ? 'realTmpfs' : 'quotaFs');
  try {
    const sink = await openSink({
      dir: liveDir,
      segmentBytes: 64 * 1024,
      maxBatchBytes: 16 * 1024,
      maxEventBytes: 4 * 1024,
      ringBytes: 256 * 1024,
      ...disk.options,
    });
    const faults: string[] = [];
    sink.events.on('fault', (e) => faults.push(e.code));
    try {
      for (let cycle = 0; cycle < 2; cycle++) {
        const rejections = await fillUp(ctx, sink, cycle, rng.int(4, 32), 100_000, st);
        addMetric(ctx, 'rejectedEmits', rejections);
        if (faults[0] !== undefined && faults[0] !== ErrorCodes.DISK_FULL) {
          ctx.fail(
            'wrong-code',
            `${disk.kind}, cycle ${cycle}: the first fault was ${faults[0]}, expected ${ErrorCodes.DISK_FULL}`,
          );
        }
        const over = disk.overLimit();
        if (over) ctx.fail('quota', `cycle ${cycle}: ${over}`);
        // Space returns: the fault must clear (gap record written) and emits must succeed again.
        disk.free();
        const deadline = Date.now() + 15_000;
        let ok = 0;
        for (let i = 0; ok < 20 && Date.now() < deadline; i++) {
          try {
            const ack = await sink.emit({ r: 100 + cycle, p: 0, i });
            st.acked.push({ seq: ack.seq, round: 100 + cycle, producer: 0, index: i });
            ok++;
          } catch (err) {
            const code = (err as { code?: string }).code ?? '';
            if (!kAllowed.has(code)) ctx.fail('untyped-error', `after space returned: ${describeError(err)}`);
            st.rejected.add(`${100 + cycle}/0/${i}`);
            await sleep(20);
          }
        }
        if (ok < 20)
          ctx.fail(
            'no-resume',
            `${disk.kind}, cycle ${cycle}: emits did not succeed again within 15 s of space returning`,
          );
        addMetric(ctx, 'fillCycles');
      }
    } finally {
      await sink.close();
    }
  } finally {
    disk.release();
  }
}

async function verify(ctx: TortureContext): Promise<void> {
  const st = kState.get(ctx);
  if (!st) return;
  if (st.rejected.size === 0) ctx.fail('never-full', 'the disk never filled up: the scenario tested nothing');
  addMetric(ctx, 'ackedRecords', st.acked.length);
  await checkAckedWal(ctx, st.dir, st.acked, 'after two fill/free cycles');
  // Nothing of a rejected emit is stored.
  const stored: string[] = [];
  for await (const r of readWal(st.dir)) {
    const e = r.event as { r?: number; p?: number; i?: number };
    const id = `${e.r}/${e.p}/${e.i}`;
    if (st.rejected.has(id)) stored.push(id);
  }
  if (stored.length > 0)
    ctx.fail('rejected-stored', `rejected emits found in the WAL: ${stored.slice(0, 10).join(', ')}`);
  // The WAL opens again and takes writes.
  try {
    const sink = await openSink({ dir: st.dir });
    await sink.emit({ after: true });
    await sink.close();
  } catch (err) {
    ctx.fail('open-failed', `reopen after disk full: ${describeError(err)}`);
  }
}

/** The disk-full scenario. */
export const diskFull: Scenario = {
  name: 'disk-full',
  description:
    'A size-limited file system (quota through the WalFs seam) fills at a random byte: acks fail with ERR_IRONLOG_DISK_FULL / WAL_FAULTED, nothing acked is lost, nothing partial is left, emits succeed again once space returns (two cycles).',
  run,
  verify,
};
