/**
 * Calendar rotation (`rollAt`): where the next calendar hour or day begins, in UTC or an IANA
 * time zone. The writer asks once per segment (when its first batch goes in) and then compares
 * one number per batch, so the hot path stays a comparison.
 *
 * UTC is arithmetic. A time zone goes through `Intl.DateTimeFormat`: the period of an instant is
 * its local date (and hour) as the formatter prints it, and the next boundary is the first
 * instant whose period differs. Offsets and DST transitions fall on whole quarter hours of UTC
 * in every zone in use, so the search steps in quarter hours and then narrows down to the
 * millisecond inside the step where the period changed (for the odd historical offset). A DST
 * day thus gets its true length (23 or 25 hours), and a local hour that does not exist
 * (spring forward) is skipped.
 */
import { invalidOption } from '../core/errors.js';

/** The calendar periods a segment may span at most one of. */
export type RollPeriod = 'hourly' | 'daily';

/** `rollAt` of the sink options: a period in UTC, or a period in an IANA time zone. */
export type RollAt = RollPeriod | { readonly every: RollPeriod; readonly timeZone: string };

/** `rollAt` after validation: the time zone is the canonical IANA name (`'UTC'` by default). */
export interface ResolvedRollAt {
  readonly every: RollPeriod;
  readonly timeZone: string;
}

const kHourMs = 3_600_000;
const kDayMs = 86_400_000;
const kQuarterHourMs = 900_000;
const kPeriods: readonly RollPeriod[] = ['hourly', 'daily'];

/** Validates `rollAt`; throws `ERR_IRONLOG_INVALID_OPTION` (an unknown time zone included). */
export function resolveRollAt(input: unknown): ResolvedRollAt | undefined {
  if (input === undefined) return undefined;
  const every = typeof input === 'object' && input !== null ? (input as { every?: unknown }).every : input;
  if (typeof every !== 'string' || !(kPeriods as readonly string[]).includes(every)) {
    throw invalidOption(
      `options.rollAt must be 'hourly', 'daily' or { every: 'hourly' | 'daily', timeZone }, got ${describe(input)}`,
    );
  }
  if (typeof input === 'string') return { every: every as RollPeriod, timeZone: 'UTC' };
  const obj = input as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (key !== 'every' && key !== 'timeZone') throw invalidOption(`options.rollAt.${key} is not a known option`);
  }
  const tz = obj['timeZone'] ?? 'UTC';
  if (typeof tz !== 'string' || tz === '') {
    throw invalidOption(`options.rollAt.timeZone must be an IANA time zone name, got ${describe(tz)}`);
  }
  let timeZone: string;
  try {
    timeZone = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    throw invalidOption(
      `options.rollAt.timeZone must be an IANA time zone name (e.g. 'Europe/Berlin'), got ${JSON.stringify(tz)}`,
    );
  }
  return { every: every as RollPeriod, timeZone: isUtc(timeZone) ? 'UTC' : timeZone };
}

function describe(v: unknown): string {
  return typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'object' && v !== null
      ? JSON.stringify(v)
      : String(v);
}

function isUtc(tz: string): boolean {
  return tz === 'UTC' || tz === 'Etc/UTC' || tz === 'Etc/GMT' || tz === 'GMT' || tz === 'Etc/Universal';
}

/** Computes calendar boundaries for one {@link ResolvedRollAt}. */
export class CalendarRoll {
  readonly every: RollPeriod;
  readonly timeZone: string;
  /** Local date (and hour) of an instant; undefined in UTC (arithmetic). */
  readonly #format: Intl.DateTimeFormat | undefined;

  constructor(r: ResolvedRollAt) {
    this.every = r.every;
    this.timeZone = r.timeZone;
    this.#format = isUtc(r.timeZone)
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
          timeZone: r.timeZone,
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          ...(r.every === 'hourly' ? { hour: '2-digit', hourCycle: 'h23' as const } : {}),
        });
  }

  /** The period an instant (ms since the epoch) falls in, as a string: equal strings, same period. */
  periodOf(tMs: number): string {
    const t = Math.floor(tMs);
    if (this.#format) return this.#format.format(t);
    const step = this.every === 'hourly' ? kHourMs : kDayMs;
    return String(Math.floor(t / step));
  }

  /** The first instant (whole ms since the epoch) after `tMs` that falls in another period. */
  nextBoundaryMs(tMs: number): number {
    const t = Math.floor(tMs);
    const fmt = this.#format;
    if (!fmt) {
      const step = this.every === 'hourly' ? kHourMs : kDayMs;
      return (Math.floor(t / step) + 1) * step;
    }
    const start = fmt.format(t);
    // Quarter-hour steps, then bisect the step in which the period changed.
    let lo = t;
    let hi = (Math.floor(t / kQuarterHourMs) + 1) * kQuarterHourMs;
    const limit = t + (this.every === 'hourly' ? 3 * kHourMs : 2 * kDayMs);
    while (fmt.format(hi) === start) {
      lo = hi;
      hi += kQuarterHourMs;
      // A zone without such a boundary within reach cannot exist; fall back to a fixed length.
      if (hi > limit) return t + (this.every === 'hourly' ? kHourMs : kDayMs);
    }
    // Invariant: format(lo) === start, format(hi) !== start.
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (fmt.format(mid) === start) lo = mid;
      else hi = mid;
    }
    return hi;
  }
}
