/**
 * The machine a run happened on (printed and stored with every result, as pino's runbench
 * does), plus a quick probe of fdatasync latency on the benchmark's temp dir.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return undefined;
  }
}

function osName() {
  try {
    const text = fs.readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    if (m) return m[1];
  } catch {
    // Not Linux or no os-release: fall through.
  }
  return `${os.type()} ${os.release()}`;
}

/** `df -T` of dir, parsed: { device, type, sizeGiB, availGiB, mount }. */
function dfOf(dir) {
  const out = run('df', ['-T', '-k', dir]);
  if (!out) return undefined;
  const line = out.split('\n').pop()?.trim().split(/\s+/);
  if (!line || line.length < 7) return { raw: out };
  return {
    device: line[0],
    type: line[1],
    sizeGiB: Math.round((Number(line[2]) / 1024 / 1024) * 10) / 10,
    availGiB: Math.round((Number(line[4]) / 1024 / 1024) * 10) / 10,
    mount: line[6],
  };
}

/** `findmnt -T dir` (source, fstype, options), when findmnt exists. */
function findmntOf(dir) {
  const out = run('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '-T', dir]);
  if (!out) return undefined;
  const [source, fstype, options] = out.split(/\s+/);
  return { source, fstype, options };
}

/**
 * Median and p99 of `write(4 KiB) + fdatasync` on a fresh file in `dir`: the disk's floor for
 * one durable append. Takes well under a second on a sane disk.
 */
export function probeFdatasync(dir, iterations = 300) {
  const file = path.join(dir, 'fdatasync-probe');
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(4096, 7);
  const samples = new Float64Array(iterations);
  try {
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, buf);
      fs.fdatasyncSync(fd);
      samples[i] = performance.now() - t0;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  samples.sort();
  return { iterations, p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) };
}

/** Everything we know about the machine and the temp dir. */
export function machineInfo(tmp) {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    os: osName(),
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    tmpDir: tmp.base,
    tmpDirReason: tmp.reason,
    tmpFs: {
      statfs: tmp.fsType.name,
      df: dfOf(tmp.base),
      findmnt: findmntOf(tmp.base),
    },
    fdatasync: probeFdatasync(tmp.root),
  };
}

/** Machine info as [label, value] rows for the console and markdown. */
export function machineRows(m) {
  const df = m.tmpFs.df;
  const mnt = m.tmpFs.findmnt;
  const disk = [
    df?.device ?? mnt?.source,
    df?.type ?? mnt?.fstype ?? m.tmpFs.statfs,
    df?.sizeGiB !== undefined ? `${df.sizeGiB} GiB` : undefined,
    mnt?.options ? `(${mnt.options})` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  return [
    ['Date', m.date],
    ['OS', `${m.os} (${m.platform})`],
    ['Kernel', m.kernel],
    ['CPU', `${m.cpuModel}, ${m.cores} cores`],
    ['Memory', `${m.memoryGiB} GiB`],
    ['Node', `${m.node} (V8 ${m.v8})`],
    ['Temp dir', `${m.tmpDir} -- ${m.tmpDirReason}`],
    ['Disk / FS', disk || m.tmpFs.statfs],
    ['fdatasync (4 KiB append)', `p50 ${m.fdatasync.p50Ms.toFixed(3)} ms, p99 ${m.fdatasync.p99Ms.toFixed(3)} ms`],
  ];
}
