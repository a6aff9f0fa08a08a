/**
 * Legal holds of a WAL directory (`legal-holds.json`): while a hold covers a record, no local
 * deletion touches its segment (pruning, local retention), and no erasure destroys the key of a
 * subject the record belongs to (`eraseSubject`, see `erasure.ts`). Set and cleared holds stay in the file
 * (a cleared hold keeps who cleared it, when and why), every change is written durably (temp,
 * fsync, rename, directory fsync) and leaves a custody entry (`hold` / `release-hold`).
 *
 * A time range is turned into a seq range when the hold is set (the first record stamped at or
 * after `from`; the last stamped before `to`, or open-ended when `to` is in the future), so that
 * deletion decides by seq alone.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { readWal } from '../wal/reader.js';
import { osUserName } from './custody.js';
import { beginCustody, type CustodyOption } from './custody-session.js';
import { writeFileDurable } from './durable-file.js';

/** File name inside the WAL directory. */
export const kHoldsFile = 'legal-holds.json';
const kVersion = 1;

/** The records a hold covers. Absent bounds are open (no `fromSeq`: from the start). */
export interface HoldRange {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** The time range it was given as (ISO 8601, `to` exclusive), kept for the record. */
  readonly from?: string;
  readonly to?: string;
}

/** One hold. */
export interface LegalHold {
  /** `hold-<hex>`. */
  readonly id: string;
  readonly reason: string;
  readonly actor: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly range: HoldRange;
  /** Set when cleared. */
  readonly clearedAt?: string;
  readonly clearedBy?: string;
  readonly clearReason?: string;
}

interface HoldsFile {
  readonly version: 1;
  readonly holds: LegalHold[];
}

function holdsPath(dir: string): string {
  return path.join(dir, kHoldsFile);
}

/** Every hold of `dir` (active and cleared), in the order they were set. */
export function listHolds(dir: string): LegalHold[] {
  const file = holdsPath(dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw new IronlogError(ErrorCodes.IO, `cannot read ${file}: ${String(err)}`, { cause: err });
  }
  let parsed: HoldsFile;
  try {
    parsed = JSON.parse(text) as HoldsFile;
  } catch (err) {
    throw new IronlogError(ErrorCodes.WAL_FORMAT, `${file} is not valid JSON: ${String(err)}`, { cause: err });
  }
  if (parsed.version !== kVersion || !Array.isArray(parsed.holds)) {
    throw new IronlogError(ErrorCodes.WAL_FORMAT, `${file} is not a legal-hold file of version ${kVersion}`);
  }
  return parsed.holds;
}

/** The holds not cleared. */
export function activeHolds(dir: string): LegalHold[] {
  return listHolds(dir).filter((h) => h.clearedAt === undefined);
}

function save(dir: string, holds: LegalHold[]): void {
  const body: HoldsFile = { version: kVersion, holds };
  writeFileDurable(holdsPath(dir), Buffer.from(`${JSON.stringify(body, null, 2)}\n`));
}

/** True when `hold` covers any seq of `[firstSeq, lastSeq]`. */
export function holdCovers(hold: LegalHold, firstSeq: number, lastSeq: number): boolean {
  const from = hold.range.fromSeq ?? 1;
  const to = hold.range.toSeq ?? Number.MAX_SAFE_INTEGER;
  return from <= lastSeq && to >= firstSeq;
}

/** The active holds of `holds` covering `[firstSeq, lastSeq]`. */
export function holdsCovering(holds: readonly LegalHold[], firstSeq: number, lastSeq: number): LegalHold[] {
  return holds.filter((h) => h.clearedAt === undefined && holdCovers(h, firstSeq, lastSeq));
}

/** Arguments of {@link setHold}. */
export interface SetHoldOptions {
  /** Why (the matter, the request, the legal ground). Required. */
  reason: string;
  fromSeq?: number;
  toSeq?: number;
  /** Records stamped at or after this time. */
  from?: Date;
  /** Records stamped before this time. */
  to?: Date;
  /** Custody options (actor, key, directory) or `false`. */
  custody?: CustodyOption;
  /** `cli` when the CLI calls. Default `library`. */
  via?: 'cli' | 'library';
  /** Clock, for tests. */
  nowMs?: number;
}

function seqArg(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `${name} must be a positive integer seq, got ${String(v)}`);
  }
  return v;
}

function dateArg(name: string, v: unknown): Date | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `${name} must be a valid Date`);
  }
  return v;
}

async function resolveTimeRange(
  dir: string,
  from: Date | undefined,
  to: Date | undefined,
  nowMs: number,
): Promise<HoldRange> {
  let fromSeq: number | undefined;
  let lastBefore: number | undefined;
  let lastSeq = 0;
  for await (const r of readWal(dir, { live: true })) {
    lastSeq = r.seq;
    const t = r.time.getTime();
    if (fromSeq === undefined && (from === undefined || t >= from.getTime())) fromSeq = r.seq;
    if (to === undefined || t < to.getTime()) lastBefore = r.seq;
  }
  const openEnded = to === undefined || to.getTime() > nowMs;
  return {
    ...(from !== undefined ? { fromSeq: fromSeq ?? lastSeq + 1, from: from.toISOString() } : {}),
    ...(openEnded ? {} : { toSeq: lastBefore ?? 0 }),
    ...(to !== undefined ? { to: to.toISOString() } : {}),
  };
}

function actorOf(custody: CustodyOption): string {
  return custody !== undefined && custody !== false && custody.actor !== undefined ? custody.actor : osUserName();
}

/**
 * Sets a legal hold on records of the WAL in `dir` (all of them when no range is given) and
 * records it in the custody log. Returns the hold.
 */
export async function setHold(dir: string, opts: SetHoldOptions): Promise<LegalHold> {
  if (typeof opts.reason !== 'string' || opts.reason.trim() === '') {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'a legal hold needs a reason (--reason)');
  }
  if (!fs.existsSync(dir)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `no WAL directory at ${dir}`);
  }
  const fromSeq = seqArg('fromSeq', opts.fromSeq);
  const toSeq = seqArg('toSeq', opts.toSeq);
  const from = dateArg('from', opts.from);
  const to = dateArg('to', opts.to);
  if ((fromSeq !== undefined || toSeq !== undefined) && (from !== undefined || to !== undefined)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'give a seq range (fromSeq/toSeq) or a time range (from/to), not both',
    );
  }
  if (fromSeq !== undefined && toSeq !== undefined && toSeq < fromSeq) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `toSeq (${toSeq}) is below fromSeq (${fromSeq})`);
  }
  if (from !== undefined && to !== undefined && to.getTime() <= from.getTime()) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'to must be after from');
  }
  const nowMs = opts.nowMs ?? Date.now();
  const range: HoldRange =
    from !== undefined || to !== undefined
      ? await resolveTimeRange(dir, from, to, nowMs)
      : { ...(fromSeq !== undefined ? { fromSeq } : {}), ...(toSeq !== undefined ? { toSeq } : {}) };
  const hold: LegalHold = {
    id: `hold-${randomBytes(6).toString('hex')}`,
    reason: opts.reason,
    actor: actorOf(opts.custody),
    createdAt: new Date(nowMs).toISOString(),
    range,
  };
  // Custody first (it checks the log is writable and throws before anything is stored).
  const holds = listHolds(dir);
  const session = await beginCustody({
    action: 'hold',
    target: path.resolve(dir),
    walDir: dir,
    range: custodyRange(range),
    details: { hold: hold.id, reason: hold.reason.slice(0, 200) },
    via: opts.via ?? 'library',
    option: opts.custody,
  });
  save(dir, [...holds, hold]);
  await session.finish({ status: 'ok' });
  return hold;
}

/** Arguments of {@link clearHold}. */
export interface ClearHoldOptions {
  /** Why the hold ends. Required. */
  reason: string;
  custody?: CustodyOption;
  via?: 'cli' | 'library';
  nowMs?: number;
}

/** Clears the active hold `id` (kept in the file as cleared) and records it in the custody log. */
export async function clearHold(dir: string, id: string, opts: ClearHoldOptions): Promise<LegalHold> {
  if (typeof opts.reason !== 'string' || opts.reason.trim() === '') {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'clearing a legal hold needs a reason (--reason)');
  }
  const holds = listHolds(dir);
  const i = holds.findIndex((h) => h.id === id);
  const old = holds[i];
  if (old === undefined) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `no legal hold ${id} in ${dir}`);
  if (old.clearedAt !== undefined) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `legal hold ${id} was already cleared at ${old.clearedAt}`);
  }
  const cleared: LegalHold = {
    ...old,
    clearedAt: new Date(opts.nowMs ?? Date.now()).toISOString(),
    clearedBy: actorOf(opts.custody),
    clearReason: opts.reason,
  };
  const next = [...holds];
  next[i] = cleared;
  const session = await beginCustody({
    action: 'release-hold',
    target: path.resolve(dir),
    walDir: dir,
    range: custodyRange(old.range),
    details: { hold: id, reason: opts.reason.slice(0, 200) },
    via: opts.via ?? 'library',
    option: opts.custody,
  });
  save(dir, next);
  await session.finish({ status: 'ok' });
  return cleared;
}

function custodyRange(r: HoldRange): { fromSeq?: number; toSeq?: number; from?: string; to?: string } {
  return {
    ...(r.fromSeq !== undefined ? { fromSeq: r.fromSeq } : {}),
    ...(r.toSeq !== undefined ? { toSeq: r.toSeq } : {}),
    ...(r.from !== undefined ? { from: r.from } : {}),
    ...(r.to !== undefined ? { to: r.to } : {}),
  };
}
