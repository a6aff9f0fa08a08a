/**
 * `rollAt` on the real path (issue 14): a sink, its writer worker thread and real files. Event
 * times come from the sink's `clock` option (the test seam for timestamps); the writer's idle
 * seal runs on its own real clock.
 */
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readWal, type SealedSegment, verifyWal } from '../dist/main/index.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.dispose());

const kHour = 3_600_000;

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort();
}

describe('rollAt through openSink', () => {
  it('hourly: events stamped on both sides of an hour boundary go to two segments, one hour each', async () => {
    // A boundary a day ahead of the real clock: only the batches' times can cross it here.
    const boundary = (Math.floor(Date.now() / kHour) + 25) * kHour;
    let t = boundary - 600;
    const sink = await openSink({ dir: tmp.path, rollAt: 'hourly', clock: () => t });
    const sealed: SealedSegment[] = [];
    sink.events.on('sealed', (s) => sealed.push(s));
    for (let i = 0; i < 3; i++) await sink.emit({ i, side: 'before' });
    expect(sealed).toEqual([]);
    t = boundary + 100;
    await sink.emitBatch([{ side: 'after' }, { side: 'after' }]);
    await sink.emit({ side: 'after' });
    expect(sealed).toEqual([expect.objectContaining({ firstSeq: 1, lastSeq: 3, records: 3 })]);
    await sink.close();
    expect(segmentFiles(tmp.path)).toEqual(['00000000000000000001.wal', '00000000000000000004.wal']);
    const hours = new Map<number, Set<number>>();
    for await (const r of readWal(tmp.path)) {
      const segment = r.seq <= 3 ? 1 : 4;
      const set = hours.get(segment) ?? new Set<number>();
      set.add(Math.floor(r.timeUs / 1000 / kHour));
      hours.set(segment, set);
    }
    expect([...(hours.get(1) ?? [])]).toEqual([boundary / kHour - 1]);
    expect([...(hours.get(4) ?? [])]).toEqual([boundary / kHour]);
    expect((await verifyWal(tmp.path)).valid).toBe(true);
  });

  it('an idle open segment is sealed once the real clock is past its period (no new events, long before its age)', async () => {
    // Events stamped in the previous hour: the writer's clock is already past their boundary.
    const t = (Math.floor(Date.now() / kHour) - 1) * kHour + 1_000;
    const sink = await openSink({ dir: tmp.path, rollAt: 'daily', clock: () => t - 24 * kHour });
    const sealedOnce = new Promise<SealedSegment>((resolve) => sink.events.once('sealed', resolve));
    await sink.emit({ idle: true });
    // segmentMaxAgeMs is 60 s: only the calendar boundary can seal this within the test.
    expect(sink.options.segmentMaxAgeMs).toBe(60_000);
    const seg = await sealedOnce;
    expect(seg).toMatchObject({ firstSeq: 1, lastSeq: 1, records: 1 });
    await sink.close();
  });

  it('time zones and bad values: validated when the sink opens', async () => {
    await expect(openSink({ dir: tmp.path, rollAt: { every: 'daily', timeZone: 'Not/AZone' } })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
      message: expect.stringContaining('Not/AZone'),
    });
    await expect(openSink({ dir: tmp.path, rollAt: 'weekly' as 'daily' })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
    });
    const sink = await openSink({ dir: tmp.path, rollAt: { every: 'daily', timeZone: 'America/New_York' } });
    expect(sink.options.rollAt).toEqual({ every: 'daily', timeZone: 'America/New_York' });
    await sink.close();
  });
});
