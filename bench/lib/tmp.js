/**
 * Where benchmark data goes: `os.tmpdir()` unless it is memory-backed (tmpfs/ramfs, where
 * fdatasync costs nothing and every figure would be meaningless), in which case the repo's
 * `.bench-tmp/` (on the real disk) is used. `IRONLOG_BENCH_TMPDIR` overrides both.
 * Everything lives under one `mkdtemp` root that is removed at exit, on SIGINT/SIGTERM too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

const kFsTypes = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x2fc12fc1, 'zfs'],
  [0x794c7630, 'overlayfs'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
  [0x6969, 'nfs'],
  [0x65735546, 'fuse'],
  [0x5346544e, 'ntfs'],
  [0x4d44, 'vfat'],
  [0xf2f52010, 'f2fs'],
]);
const kMemoryBacked = new Set([0x01021994, 0x858458f6]);

const kSleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks until `write + fdatasync` probes in `dir` (about 500 per second) have seen no stall
 * over `stallMs` for `quietMs`, or `maxMs` passed. Used at start-up (a previous run's clean-up may
 * still be discarding) and after forced deletions. Returns what it saw.
 */
export function waitForQuietDisk(dir, { quietMs = 3000, maxMs = 30_000, stallMs = 40 } = {}) {
  const file = path.join(dir, `quiet-probe-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(512, 1);
  const start = performance.now();
  let lastStall = start;
  let stalls = 0;
  let maxStallMs = 0;
  try {
    for (;;) {
      const t0 = performance.now();
      if (t0 - lastStall >= quietMs || t0 - start >= maxMs) break;
      fs.writeSync(fd, buf, 0, buf.length, 0);
      fs.fdatasyncSync(fd);
      const d = performance.now() - t0;
      if (d > stallMs) {
        stalls++;
        lastStall = performance.now();
        if (d > maxStallMs) maxStallMs = d;
      }
      // Pause between probes: back-to-back fsyncs disturb this VM by themselves.
      Atomics.wait(kSleepCell, 0, 0, 1);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return { waitedMs: Math.round(performance.now() - start), stalls, maxStallMs: Math.round(maxStallMs) };
}

/** Less than 10 GiB or 15 % free where `dir` lives. */
function lowOnSpace(dir) {
  try {
    const st = fs.statfsSync(dir);
    const free = st.bavail * st.bsize;
    return free < 10 * 1024 ** 3 || free < 0.15 * st.blocks * st.bsize;
  } catch {
    return true;
  }
}

/** File system type of `dir` as a name (from statfs's magic number). */
export function fsTypeOf(dir) {
  try {
    const type = fs.statfsSync(dir).type;
    return {
      magic: `0x${type.toString(16)}`,
      name: kFsTypes.get(type) ?? 'unknown',
      memoryBacked: kMemoryBacked.has(type),
    };
  } catch (err) {
    return { magic: undefined, name: 'unknown', memoryBacked: false, error: String(err) };
  }
}

/**
 * Creates the benchmark's temp root and arranges its removal.
 * @param {string} repoRoot
 */
export function createTmpRoot(repoRoot) {
  let base = process.env.IRONLOG_BENCH_TMPDIR || os.tmpdir();
  let reason = process.env.IRONLOG_BENCH_TMPDIR ? 'IRONLOG_BENCH_TMPDIR' : 'os.tmpdir()';
  fs.mkdirSync(base, { recursive: true });
  let type = fsTypeOf(base);
  if (type.memoryBacked && !process.env.IRONLOG_BENCH_TMPDIR) {
    base = path.join(repoRoot, '.bench-tmp');
    fs.mkdirSync(base, { recursive: true });
    reason = `os.tmpdir() is ${type.name} (memory-backed), using the repo's .bench-tmp/`;
    type = fsTypeOf(base);
  }
  const createdBase = base === path.join(repoRoot, '.bench-tmp');
  const root = fs.mkdtempSync(path.join(base, 'ironlog-bench-'));
  const cleanup = () => {
    try {
      fs.rmSync(root, { recursive: true, force: true });
      // Leave no empty .bench-tmp/ behind (rmdir fails harmlessly if another run uses it).
      if (createdBase) fs.rmdirSync(base);
    } catch {
      // Best effort at exit; nothing more to do.
    }
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
  }
  let n = 0;
  /** A fresh, empty directory for one run. */
  const newDir = (label) => {
    const dir = path.join(root, `${String(++n).padStart(3, '0')}-${label.replace(/[^A-Za-z0-9._-]+/g, '_')}`);
    fs.mkdirSync(dir);
    return dir;
  };
  // Deleting a large file makes this VM's disk stall fdatasync for 50-150 ms a few times over the
  // next seconds (ext4 mounted with online `discard`; the bigger the deletion, the longer), which
  // would land in whatever scenario runs next. So finished runs' directories are kept until the
  // whole benchmark is over, unless the file system gets low on space: then they are deleted at
  // once and the harness waits for the disk to be quiet again.
  const retired = [];
  /** Retires one run's directory: deleted at exit, or now if space runs low. */
  const removeDir = (dir) => {
    retired.push(dir);
    if (lowOnSpace(root)) {
      for (const d of retired.splice(0)) fs.rmSync(d, { recursive: true, force: true });
      waitForQuietDisk(root);
    }
  };
  return { root, base, reason, fsType: type, newDir, removeDir, cleanup };
}
