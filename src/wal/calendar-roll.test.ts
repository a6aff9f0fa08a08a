/**
 * Calendar rotation (`rollAt`, issue 14): the boundaries (UTC, a DST time zone, a half-hour
 * zone) and the writer's use of them, on real files with an injected clock: records on both
 * sides of a boundary land in two segments, each within one period; an idle segment is sealed
 * when the clock passes the boundary; a reopened writer keeps the continued segment's period.
 */
import * as fs from 'node:fs';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../testing/temp-dir.js';
import { CalendarRoll, type ResolvedRollAt, resolveRollAt } from './calendar-roll.js';
import { readWal, type WalRecord } from './reader.js';
import type { SealedSegment } from './sealed-segment.js';
import { verifyWal } from './verify.js';
import { WalWriter } from './writer.js';

const dirs = new TempDirs();
afterEach(() => dirs.disposeAll());

const ms = (iso: string): number => Date.parse(iso);
const kHour = 3_600_000;

describe('CalendarRoll boundaries', () => {
  it('UTC: the next whole hour or day', () => {
    const hourly = new CalendarRoll({ every: 'hourly', timeZone: 'UTC' });
    const daily = new CalendarRoll({ every: 'daily', timeZone: 'UTC' });
    expect(hourly.nextBoundaryMs(ms('2026-05-04T10:59:59.999Z'))).toBe(ms('2026-05-04T11:00:00Z'));
    expect(hourly.nextBoundaryMs(ms('2026-05-04T11:00:00Z'))).toBe(ms('2026-05-04T12:00:00Z'));
    expect(daily.nextBoundaryMs(ms('2026-05-04T00:00:00Z'))).toBe(ms('2026-05-05T00:00:00Z'));
    expect(daily.nextBoundaryMs(ms('2026-12-31T23:59:59.999Z'))).toBe(ms('2027-01-01T00:00:00Z'));
    expect(daily.periodOf(ms('2026-05-04T23:59:59.999Z'))).not.toBe(daily.periodOf(ms('2026-05-05T00:00:00Z')));
  });

  it('America/New_York daily: local midnights, a 23-hour day in March and a 25-hour day in November', () => {
    const ny = new CalendarRoll({ every: 'daily', timeZone: 'America/New_York' });
    // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT.
    const march8 = ny.nextBoundaryMs(ms('2026-03-07T12:00:00Z'));
    expect(march8).toBe(ms('2026-03-08T05:00:00Z')); // 00:00 EST
    const march9 = ny.nextBoundaryMs(march8);
    expect(march9).toBe(ms('2026-03-09T04:00:00Z')); // 00:00 EDT
    expect(march9 - march8).toBe(23 * kHour);
    // 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST.
    const nov1 = ny.nextBoundaryMs(ms('2026-10-31T12:00:00Z'));
    expect(nov1).toBe(ms('2026-11-01T04:00:00Z'));
    expect(ny.nextBoundaryMs(nov1) - nov1).toBe(25 * kHour);
    // Any instant of the day maps to the same boundary.
    expect(ny.nextBoundaryMs(ms('2026-03-09T03:59:59.999Z'))).toBe(march9);
  });

  it('America/New_York hourly: the hour that does not exist (02:00 on 2026-03-08) is skipped', () => {
    const ny = new CalendarRoll({ every: 'hourly', timeZone: 'America/New_York' });
    // 01:30 EST -> the next local hour starts at 03:00 EDT, the instant of the transition.
    expect(ny.nextBoundaryMs(ms('2026-03-08T06:30:00Z'))).toBe(ms('2026-03-08T07:00:00Z'));
    expect(ny.nextBoundaryMs(ms('2026-03-08T07:00:00Z'))).toBe(ms('2026-03-08T08:00:00Z'));
  });

  it('a half-hour zone (Asia/Kolkata, UTC+05:30): hours begin at :30 UTC, days at 18:30 UTC', () => {
    const hourly = new CalendarRoll({ every: 'hourly', timeZone: 'Asia/Kolkata' });
    const daily = new CalendarRoll({ every: 'daily', timeZone: 'Asia/Kolkata' });
    expect(hourly.nextBoundaryMs(ms('2026-05-04T10:00:00Z'))).toBe(ms('2026-05-04T10:30:00Z'));
    expect(daily.nextBoundaryMs(ms('2026-05-04T10:00:00Z'))).toBe(ms('2026-05-04T18:30:00Z'));
  });

  it('resolveRollAt: UTC by default, canonical zone names, typed errors', () => {
    expect(resolveRollAt(undefined)).toBeUndefined();
    expect(resolveRollAt('daily')).toEqual({ every: 'daily', timeZone: 'UTC' });
    expect(resolveRollAt({ every: 'hourly' })).toEqual({ every: 'hourly', timeZone: 'UTC' });
    expect(resolveRollAt({ every: 'daily', timeZone: 'america/new_york' })).toEqual({
      every: 'daily',
      timeZone: 'America/New_York',
    });
    expect(resolveRollAt({ every: 'daily', timeZone: 'Etc/UTC' })).toEqual({ every: 'daily', timeZone: 'UTC' });
    expect(() => resolveRollAt({ every: 'daily', timeZone: 'Nowhere/Atlantis' })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION' }),
    );
    expect(() => resolveRollAt('minutely')).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION' }));
  });
});

/** A writer on a fresh directory with calendar rotation; size and age never roll here. */
function openWriter(rollAt: ResolvedRollAt, sealed: SealedSegment[], dir: string, nowUs: () => number): WalWriter {
  return WalWriter.open({
    dir,
    nodeId: 'roll-test',
    segmentBytes: 1 << 20,
    segmentMaxAgeMs: 365 * 24 * kHour,
    zeroFillAheadBytes: 0,
    rollAt,
    nowUs,
    onSealed: (s) => sealed.push(s),
  });
}

/** Appends one batch with one record per time (ms since the epoch) and syncs it. */
function append(w: WalWriter, timesMs: readonly number[]): void {
  for (const [i, t] of timesMs.entries()) {
    const seq = w.lastSeq + 1 + i;
    const payload = pack({ seq, t });
    w.batch.addRecord(seq, t * 1000, 0, payload, 0, payload.length);
  }
  w.appendBatch();
  w.sync();
}

async function readAll(dir: string): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const r of readWal(dir)) out.push(r);
  return out;
}

/** The seq range of every segment file, from the names (first seq) and the last seq. */
function segmentRanges(dir: string, lastSeq: number): Array<[number, number]> {
  const firsts = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()
    .map((f) => Number(f.slice(0, -4)));
  return firsts.map((first, i) => [first, (firsts[i + 1] ?? lastSeq + 1) - 1]);
}

/** Every segment's records fall in one period of `roll`. */
async function expectOnePeriodPerSegment(dir: string, roll: CalendarRoll): Promise<string[][]> {
  const records = await readAll(dir);
  const ranges = segmentRanges(dir, records[records.length - 1]?.seq ?? 0);
  const periods = ranges.map(([from, to]) => [
    ...new Set(records.filter((r) => r.seq >= from && r.seq <= to).map((r) => roll.periodOf(r.timeUs / 1000))),
  ]);
  for (const p of periods) expect(p).toHaveLength(1);
  return periods;
}

describe('WalWriter with rollAt (real files, injected clock)', () => {
  it('records spanning a UTC day boundary end up in two segments, each within one day', async () => {
    const dir = dirs.make('ironlog-roll-');
    const sealed: SealedSegment[] = [];
    let nowMs = ms('2026-06-30T23:59:58Z');
    const rollAt = { every: 'daily', timeZone: 'UTC' } as const;
    const w = openWriter(rollAt, sealed, dir, () => nowMs * 1000);
    append(w, [ms('2026-06-30T23:59:58.000Z'), ms('2026-06-30T23:59:58.500Z')]);
    append(w, [ms('2026-06-30T23:59:59.999Z')]);
    expect(sealed).toHaveLength(0);
    nowMs = ms('2026-07-01T00:00:00.001Z');
    // The first batch of the new day seals the open segment before it is appended.
    append(w, [ms('2026-07-01T00:00:00.000Z'), ms('2026-07-01T00:00:00.002Z')]);
    expect(sealed).toEqual([expect.objectContaining({ firstSeq: 1, lastSeq: 3, records: 3 })]);
    expect(w.segmentFirstSeq).toBe(4);
    append(w, [ms('2026-07-01T13:00:00Z')]);
    w.close();
    const periods = await expectOnePeriodPerSegment(dir, new CalendarRoll(rollAt));
    expect(periods).toHaveLength(2);
    expect(periods[0]).not.toEqual(periods[1]);
    expect(segmentRanges(dir, 6)).toEqual([
      [1, 3],
      [4, 6],
    ]);
    const report = await verifyWal(dir);
    expect(report.problems).toEqual([]);
    expect(report.records).toBe(6);
  });

  it('an idle segment is sealed when the clock passes the boundary (sealIfOlderThan), not before', () => {
    const dir = dirs.make('ironlog-roll-');
    const sealed: SealedSegment[] = [];
    const w = openWriter({ every: 'hourly', timeZone: 'UTC' }, sealed, dir, () => ms('2026-06-30T10:15:00Z') * 1000);
    append(w, [ms('2026-06-30T10:15:00Z')]);
    expect(w.sealIfOlderThan(ms('2026-06-30T10:59:59.999Z'))).toBe(false);
    expect(sealed).toHaveLength(0);
    expect(w.sealIfOlderThan(ms('2026-06-30T11:00:00Z'))).toBe(true);
    expect(sealed).toEqual([expect.objectContaining({ firstSeq: 1, lastSeq: 1 })]);
    // Nothing open: nothing to seal; the next record opens a segment of its own hour.
    expect(w.sealIfOlderThan(ms('2026-06-30T12:30:00Z'))).toBe(false);
    append(w, [ms('2026-06-30T12:30:00Z')]);
    expect(w.sealIfOlderThan(ms('2026-06-30T12:59:00Z'))).toBe(false);
    expect(w.sealIfOlderThan(ms('2026-06-30T13:00:00Z'))).toBe(true);
    w.close();
  });

  it('America/New_York daily across the 23-hour DST day: one local day per segment', async () => {
    const dir = dirs.make('ironlog-roll-');
    const sealed: SealedSegment[] = [];
    const rollAt = { every: 'daily', timeZone: 'America/New_York' } as const;
    let nowMs = ms('2026-03-08T04:30:00Z');
    const w = openWriter(rollAt, sealed, dir, () => nowMs * 1000);
    append(w, [ms('2026-03-08T04:30:00Z')]); // 2026-03-07 23:30 EST
    nowMs = ms('2026-03-08T05:30:00Z');
    append(w, [ms('2026-03-08T05:30:00Z')]); // 2026-03-08 00:30 EST: new day
    append(w, [ms('2026-03-08T06:59:00Z'), ms('2026-03-08T07:01:00Z')]); // 01:59 EST, 03:01 EDT
    append(w, [ms('2026-03-09T03:59:59Z')]); // 23:59:59 EDT, still 03-08
    expect(sealed.map((s) => [s.firstSeq, s.lastSeq])).toEqual([[1, 1]]);
    // The idle seal at the local midnight, 23 hours after the day began.
    expect(w.sealIfOlderThan(ms('2026-03-09T03:59:59.999Z'))).toBe(false);
    expect(w.sealIfOlderThan(ms('2026-03-09T04:00:00Z'))).toBe(true);
    nowMs = ms('2026-03-09T04:00:01Z');
    append(w, [ms('2026-03-09T04:00:01Z')]); // 2026-03-09 00:00:01 EDT
    w.close();
    const periods = await expectOnePeriodPerSegment(dir, new CalendarRoll(rollAt));
    expect(periods).toEqual([['03/07/2026'], ['03/08/2026'], ['03/09/2026']]);
    expect(segmentRanges(dir, 6)).toEqual([
      [1, 1],
      [2, 5],
      [6, 6],
    ]);
  });

  it('a reopened writer keeps the period of the segment it continues', async () => {
    const dir = dirs.make('ironlog-roll-');
    const sealed: SealedSegment[] = [];
    const rollAt = { every: 'hourly', timeZone: 'UTC' } as const;
    const now = () => ms('2026-06-30T10:20:00Z') * 1000;
    const w1 = openWriter(rollAt, sealed, dir, now);
    append(w1, [ms('2026-06-30T10:20:00Z')]);
    w1.close();
    const w2 = openWriter(rollAt, sealed, dir, now);
    expect(w2.segmentFirstSeq).toBe(1);
    expect(w2.sealIfOlderThan(ms('2026-06-30T10:59:00Z'))).toBe(false);
    append(w2, [ms('2026-06-30T11:00:00.500Z')]);
    expect(sealed.map((s) => [s.firstSeq, s.lastSeq])).toEqual([[1, 1]]);
    w2.close();
    await expectOnePeriodPerSegment(dir, new CalendarRoll(rollAt));
  });
});
