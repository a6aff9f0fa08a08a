import type { Command } from 'commander';
import { ratePoints, summarizeWal, type WalSummary } from '../monitoring/wal-summary.js';
import { readWal } from '../wal/reader.js';
import { intArg } from './args.js';
import { formatBytes, formatDuration, formatRate, isoFromUs } from './format.js';

/** One interval of the rate-over-time series. */
export interface RateBucket {
  readonly from: string;
  readonly to: string;
  readonly records: number;
  readonly perSecond: number;
}

/** Records per interval, estimated from the time index by linear interpolation (no record is read). */
function estimatedRates(summary: WalSummary, buckets: number): RateBucket[] {
  const pts = ratePoints(summary);
  const t0 = summary.minTimeUs;
  const t1 = summary.maxTimeUs;
  if (t0 === undefined || t1 === undefined || pts.length === 0) return [];
  const countAt = (t: number): number => {
    // Last point at or before t, first after: interpolate between them.
    let lo = pts[0] as { timeUs: number; count: number };
    if (t <= lo.timeUs) return lo.count;
    for (const p of pts) {
      if (p.timeUs <= t) {
        lo = p;
        continue;
      }
      const f = (t - lo.timeUs) / (p.timeUs - lo.timeUs);
      return lo.count + f * (p.count - lo.count);
    }
    return lo.count;
  };
  return series(t0, t1, buckets, (a, b) => countAt(b) - countAt(a));
}

function series(t0: number, t1: number, buckets: number, countIn: (a: number, b: number) => number): RateBucket[] {
  const span = Math.max(t1 - t0, 1);
  const out: RateBucket[] = [];
  for (let i = 0; i < buckets; i++) {
    const a = t0 + (span * i) / buckets;
    const b = i === buckets - 1 ? t1 : t0 + (span * (i + 1)) / buckets;
    const records = Math.round(countIn(a, b));
    out.push({ from: isoFromUs(a), to: isoFromUs(b), records, perSecond: records / (span / buckets / 1e6) });
  }
  return out;
}

/** Exact records per interval: reads every record's time. */
async function exactRates(dir: string, summary: WalSummary, buckets: number): Promise<RateBucket[]> {
  const t0 = summary.minTimeUs;
  const t1 = summary.maxTimeUs;
  if (t0 === undefined || t1 === undefined) return [];
  const span = Math.max(t1 - t0, 1);
  const counts = new Array<number>(buckets).fill(0);
  for await (const r of readWal(dir, { live: true })) {
    const i = Math.min(buckets - 1, Math.floor(((r.timeUs - t0) / span) * buckets));
    counts[Math.max(0, i)] = (counts[Math.max(0, i)] ?? 0) + 1;
  }
  let i = 0;
  return series(t0, t1, buckets, () => counts[i++] ?? 0);
}

/** `ironlog stats`: segments, records, bytes, time span, rate over time. */
export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('segments, records, bytes, time span and rate over time of a WAL (reads seals, not every record)')
    .requiredOption('--dir <dir>', 'the WAL directory')
    .option('--buckets <n>', 'intervals of the rate-over-time series', intArg, 10)
    .option('--exact', 'count the rate series from every record instead of estimating it from the time index')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Sealed segments are described by their seal alone; only the open segment is scanned. The rate
series is interpolated from the seals' sparse time index unless --exact is given.

Example:
  $ ironlog stats --dir ./audit --buckets 24`,
    )
    .action(async (opts: { dir: string; buckets: number; exact?: boolean; json?: boolean }) => {
      const summary = await summarizeWal(opts.dir);
      const buckets = Math.max(1, opts.buckets);
      const rates = opts.exact ? await exactRates(opts.dir, summary, buckets) : estimatedRates(summary, buckets);
      const spanSeconds =
        summary.minTimeUs !== undefined && summary.maxTimeUs !== undefined
          ? (summary.maxTimeUs - summary.minTimeUs) / 1e6
          : 0;
      const averagePerSecond = spanSeconds > 0 ? summary.records / spanSeconds : 0;
      if (opts.json) {
        const { segments, ...totals } = summary;
        process.stdout.write(
          `${JSON.stringify(
            {
              ...totals,
              segmentCount: segments.length,
              from: isoFromUs(summary.minTimeUs),
              to: isoFromUs(summary.maxTimeUs),
              spanSeconds,
              averagePerSecond,
              rateEstimated: !opts.exact,
              rates,
              segments: segments.map(({ index, ...s }) => ({
                ...s,
                from: isoFromUs(s.minTimeUs),
                to: isoFromUs(s.maxTimeUs),
                indexEntries: index.length,
              })),
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const w = (s: string): boolean => process.stdout.write(s);
      w(`WAL ${summary.dir}\n`);
      w(
        `  segments   ${summary.segments.length} (${summary.sealedSegments} sealed)\n  records    ${summary.records}\n  seqs       ${summary.firstSeq}-${summary.lastSeq}\n  bytes      ${formatBytes(summary.bytes)}\n`,
      );
      w(
        `  time span  ${isoFromUs(summary.minTimeUs)} .. ${isoFromUs(summary.maxTimeUs)} (${formatDuration(spanSeconds)})\n  avg rate   ${formatRate(averagePerSecond)} events/s\n\n`,
      );
      w(`${'segment'.padEnd(26)}${'seqs'.padEnd(24)}${'records'.padStart(10)}${'bytes'.padStart(12)}  sealed  from\n`);
      for (const s of summary.segments) {
        w(
          `${s.name.padEnd(26)}${`${s.firstSeq}-${s.lastSeq}`.padEnd(24)}${String(s.records).padStart(10)}${formatBytes(s.bytes).padStart(12)}  ${(s.sealed ? 'yes' : 'no').padEnd(6)}  ${isoFromUs(s.minTimeUs)}${s.problem ? `  DAMAGED: ${s.problem}` : ''}\n`,
        );
      }
      if (rates.length > 0) {
        w(`\nrate over time (${opts.exact ? 'exact' : 'estimated from the time index'}):\n`);
        const max = Math.max(...rates.map((r) => r.perSecond), 1);
        for (const r of rates) {
          const bar = '#'.repeat(Math.round((r.perSecond / max) * 40));
          w(`  ${r.from}  ${formatRate(r.perSecond).padStart(10)}/s  ${bar}\n`);
        }
      }
    });
}
