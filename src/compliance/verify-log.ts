/**
 * `verifyLog`: what an auditor runs against a WAL directory with the log's verifier key. It
 * recomputes the Merkle tree from the records (a streaming accumulator: O(log n) memory) and
 * checks every stored checkpoint against it, the signatures, the checkpoint and time-note
 * sequence, witness cosignatures when asked, and which periods no checkpoint covers.
 * `docs/compliance/integrity.md` says what each check proves.
 */
import * as path from 'node:path';
import { isIronlogError } from '../core/errors.js';
import { type VerifyReport, verifyWal } from '../wal/verify.js';
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import { verifyCosignedCheckpoint } from './cosignature.js';
import { listLogSegments, readLogEntries } from './entries.js';
import { kEmptyRoot, leafHash, MerkleAccumulator } from './merkle.js';
import { type NoteVerifier, openNote, parseNote, parseVerifierKey } from './note.js';
import { SeqIndex } from './seq-index.js';
import { TileLog } from './tiles.js';
import { parseTimeNote, type TimeNote, textHash } from './time-note.js';
import { kLatestCheckpointName, listCheckpointFiles, readTlogFile, tlogDirOf } from './tlog-store.js';

/** Options of {@link verifyLog}. */
export interface VerifyLogOptions {
  /** The log's verifier key (`name+keyid+base64`, from `ironlog keygen`). Required. */
  publicKey: string;
  /** Witness verifier keys; with them, the latest checkpoint must carry `witnessQuorum` valid cosignatures. */
  witnessKeys?: readonly string[];
  /** Cosignatures required on the latest checkpoint. Default: all of `witnessKeys`. */
  witnessQuorum?: number;
  /**
   * Extra time allowed between two consecutive time notes beyond the interval the first one
   * names, in ms. Default: the larger of 5,000 ms and that interval (so up to about two missed
   * ticks' worth of scheduling delay is tolerated).
   */
  timeSlackMs?: number;
  /** Also run `verifyWal` (CRCs, chain, seals, continuity) and report its problems. Default true. */
  checkWal?: boolean;
  /**
   * Accept a WAL whose oldest segments were deleted (local retention after replication, or a
   * bucket lifecycle rule). Its remaining records are checked against the stored hash tiles, and
   * the tiles against every signed checkpoint; the pruned records themselves cannot be checked
   * (see {@link VerifyLogReport.prunedStart}). Default false: a pruned start is a `pruned-start`
   * problem, so `valid` never covers records that were not read (verify the replicated history
   * with `verifyRemoteLog` for a full check).
   */
  allowPrunedStart?: boolean;
}

/** Kinds of problems {@link verifyLog} reports. Every one makes the log invalid. */
export type LogProblemKind =
  /** `verifyWal` found damage (CRC, chain, seal, continuity). */
  | 'wal'
  /** The entries could not be read back in order (damage, a missing or swapped segment). */
  | 'entries'
  /** A checkpoint or time note is not validly signed by the key (or not a signed note at all). */
  | 'signature'
  /** A checkpoint's root differs from the root recomputed from the records at its size. */
  | 'root-mismatch'
  /** Counters with holes, a shrinking size, a broken time-note chain, a note that does not match its checkpoint. */
  | 'checkpoint-sequence'
  /** `tlog/checkpoint` is not the last stored checkpoint. */
  | 'latest-checkpoint'
  /** Fewer valid witness cosignatures than required on the latest checkpoint. */
  | 'cosignature'
  /** A period between two time notes longer than interval + slack that no clean close explains. */
  | 'uncovered-period'
  /** Records after a clean close's checkpoint (nothing the key signed covers them). */
  | 'uncovered-records'
  /** No checkpoint at all. */
  | 'no-checkpoint'
  /** The oldest segments are gone (retention): their records were not checked (see `allowPrunedStart`). */
  | 'pruned-start'
  /** The hash tiles are damaged, or a record differs from its leaf hash in the tiles (pruned-start check). */
  | 'tiles'
  /** A replicated object's bytes differ from its `ironlog-sha256` metadata (`verifyRemoteLog`). */
  | 'replica';

/** One problem. */
export interface LogProblem {
  readonly kind: LogProblemKind;
  readonly message: string;
  /** The checkpoint counter it concerns, when there is one. */
  readonly counter?: number;
}

/** A period no checkpoint covers. */
export interface TimePeriod {
  /** ISO 8601 times of the two time notes around it. */
  readonly from: string;
  readonly to: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly durationMs: number;
  /** Counters of the time notes before and after it. */
  readonly afterCounter: number;
  readonly beforeCounter: number;
  /**
   * `clean-close`: the sink was closed and reopened (planned, not a problem). `crash`: the next
   * open says the previous run did not close. `missed`: the sink ran on (no close, no open) but
   * signed nothing for longer than allowed: a stalled or suspended process, a clock jump, or
   * removed checkpoints.
   */
  readonly reason: 'clean-close' | 'crash' | 'missed';
}

/** Result of {@link verifyLog}. */
export interface VerifyLogReport {
  /** True when `problems` is empty. */
  readonly valid: boolean;
  readonly origin: string | undefined;
  /** Entries (RECORD and GAP frames) recomputed from the segments. */
  readonly entries: number;
  readonly records: number;
  /** Stored checkpoints (counters found). */
  readonly checkpoints: number;
  /** The last valid checkpoint. */
  readonly latest:
    | {
        readonly counter: number;
        readonly size: number;
        readonly rootHash: string;
        readonly timeMs: number;
        readonly event: string;
      }
    | undefined;
  /** With witness keys: how many valid cosignatures the latest checkpoint has, and from whom. */
  readonly cosignatures:
    | { readonly required: number; readonly valid: number; readonly witnesses: readonly string[] }
    | undefined;
  /** Periods no checkpoint covers that are problems (crash, missed). */
  readonly uncoveredPeriods: readonly TimePeriod[];
  /** Planned downtimes (clean close, then open): listed, not problems. */
  readonly downtimes: readonly TimePeriod[];
  /**
   * Entries after the latest checkpoint: not (yet) covered by a signature. A problem after a
   * clean close; after a crash or on a live WAL they are covered by the next checkpoint.
   */
  readonly uncoveredRecords: { readonly fromSeq: number; readonly toSeq: number; readonly entries: number } | undefined;
  readonly problems: readonly LogProblem[];
  /** The `verifyWal` report (unless `checkWal: false`). */
  readonly wal: VerifyReport | undefined;
  /**
   * Set when the WAL's oldest segments are gone: entries `0 .. entries - 1` (seqs `1 .. throughSeq`)
   * were not read. Their leaf hashes are in the tiles, which every signed checkpoint's root was
   * checked against, but the records themselves were not checked here. A full check needs the
   * replicated history (`verifyRemoteLog` / `ironlog verify --source`).
   */
  readonly prunedStart: { readonly entries: number; readonly throughSeq: number } | undefined;
}

interface ValidCheckpoint {
  readonly counter: number;
  readonly checkpoint: Checkpoint;
  readonly body: string;
  readonly note: string;
  readonly time: TimeNote | undefined;
}

function describe(err: unknown): string {
  return isIronlogError(err) ? err.message : String(err);
}

/**
 * Verifies the transparency log of the WAL in `dir` with the log's verifier key. Never throws for
 * what it finds (every finding is a problem in the report); throws for unusable options or a
 * directory it cannot read.
 */
export async function verifyLog(dir: string, options: VerifyLogOptions): Promise<VerifyLogReport> {
  const verifier = parseVerifierKey(options.publicKey);
  const witnessVerifiers: NoteVerifier[] = (options.witnessKeys ?? []).map((k) => parseVerifierKey(k));
  const problems: LogProblem[] = [];
  const tlogDir = tlogDirOf(dir);
  const files = listCheckpointFiles(tlogDir);

  // 1. Every stored checkpoint and time note: signature, format, counters, the time-note chain.
  const valid: ValidCheckpoint[] = [];
  let prevCounter = 0;
  let prevTimeText: string | undefined;
  let prevSize = -1;
  let origin: string | undefined;
  for (const f of files) {
    const where = `checkpoint ${f.counter}`;
    if (f.counter !== prevCounter + 1) {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: f.counter,
        message:
          prevCounter + 1 === f.counter - 1
            ? `checkpoint ${prevCounter + 1} is missing (deleted?)`
            : `checkpoints ${prevCounter + 1}-${f.counter - 1} are missing (deleted?)`,
      });
      prevTimeText = undefined;
    }
    prevCounter = f.counter;
    const noteText = f.note === undefined ? undefined : readTlogFile(f.note);
    const timeText = f.time === undefined ? undefined : readTlogFile(f.time);
    if (noteText === undefined) {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: f.counter,
        message: `${where}: the .note file is missing`,
      });
      prevTimeText = undefined;
      continue;
    }
    let cp: Checkpoint;
    let body: string;
    try {
      body = openNote(noteText, [verifier]).text;
      cp = parseCheckpoint(body);
    } catch (err) {
      problems.push({ kind: 'signature', counter: f.counter, message: `${where}: ${describe(err)}` });
      prevTimeText = undefined;
      continue;
    }
    if (origin === undefined) origin = cp.origin;
    else if (cp.origin !== origin) {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: f.counter,
        message: `${where} names origin ${JSON.stringify(cp.origin)}, earlier ones ${JSON.stringify(origin)}`,
      });
    }
    if (cp.size < prevSize) {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: f.counter,
        message: `${where} has size ${cp.size}, smaller than the ${prevSize} before it`,
      });
    }
    prevSize = Math.max(prevSize, cp.size);
    let time: TimeNote | undefined;
    if (timeText === undefined) {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: f.counter,
        message: `${where}: the .time note is missing`,
      });
      prevTimeText = undefined;
    } else {
      let text: string | undefined;
      try {
        text = openNote(timeText, [verifier]).text;
      } catch (err) {
        problems.push({ kind: 'signature', counter: f.counter, message: `${where}: time note: ${describe(err)}` });
      }
      const problem = text === undefined ? 'unsigned' : timeNoteProblem(text, f.counter, body, cp, prevTimeText);
      if (text !== undefined && typeof problem !== 'string') {
        time = problem;
        prevTimeText = text;
      } else {
        if (problem !== 'unsigned')
          problems.push({ kind: 'checkpoint-sequence', counter: f.counter, message: `${where}: ${problem}` });
        prevTimeText = undefined;
      }
    }
    valid.push({ counter: f.counter, checkpoint: cp, body, note: noteText, time });
  }
  if (files.length === 0) {
    problems.push({ kind: 'no-checkpoint', message: `${path.join(dir, 'tlog')} holds no signed checkpoint` });
  }

  // 2. `tlog/checkpoint` must be the last stored one.
  const latestFile = readTlogFile(path.join(tlogDir, kLatestCheckpointName));
  const last = valid[valid.length - 1];
  if (files.length > 0) {
    if (latestFile === undefined) {
      problems.push({ kind: 'latest-checkpoint', message: 'tlog/checkpoint is missing' });
    } else if (
      last === undefined ||
      parseNoteText(latestFile) !== last.body ||
      last.counter !== files[files.length - 1]?.counter
    ) {
      problems.push({ kind: 'latest-checkpoint', message: 'tlog/checkpoint is not the last stored checkpoint' });
    }
  }

  // 3. Recompute the tree from the records; compare every checkpoint's root at its size. With a
  //    pruned start, the records left are compared with the tiles' leaf hashes instead, and the
  //    tiles with every checkpoint's root.
  const latestSize = last?.checkpoint.size ?? 0;
  const pruned = await prunedStartOf(dir);
  let entries = 0;
  let records = 0;
  let uncoveredFrom = -1;
  let uncoveredTo = -1;
  let prunedStart: VerifyLogReport['prunedStart'];
  if (pruned === undefined) {
    const r = await recomputeFromRecords(dir, valid, latestSize, problems);
    ({ entries, records, uncoveredFrom, uncoveredTo } = r);
  } else {
    const r = await checkAgainstTiles(dir, tlogDir, pruned.firstSeq, valid, latestSize, problems);
    ({ records, uncoveredFrom, uncoveredTo } = r);
    entries = r.entries;
    if (r.startIndex !== undefined) {
      prunedStart = { entries: r.startIndex, throughSeq: pruned.firstSeq - 1 };
      if (options.allowPrunedStart !== true) {
        problems.push({
          kind: 'pruned-start',
          message: `seqs 1-${pruned.firstSeq - 1} (entries 0-${r.startIndex - 1}) are no longer in ${dir} (local retention): their records were not checked, only their hashes in the tiles; verify the replicated history (--source) for a full check, or accept the partial check with --allow-pruned-start`,
        });
      }
    }
  }

  // 4. Witness cosignatures on the latest checkpoint.
  let cosignatures: VerifyLogReport['cosignatures'];
  if (witnessVerifiers.length > 0) {
    const required = options.witnessQuorum ?? witnessVerifiers.length;
    const by: string[] = [];
    if (last !== undefined) {
      try {
        // Quorum 0: the list is wanted even when it is short (the problem below says so).
        for (const w of verifyCosignedCheckpoint(last.note, [verifier], witnessVerifiers, 0).witnesses) by.push(w.name);
      } catch (err) {
        problems.push({ kind: 'cosignature', counter: last.counter, message: `latest checkpoint: ${describe(err)}` });
      }
    }
    cosignatures = { required, valid: by.length, witnesses: by };
    if (by.length < required) {
      problems.push({
        kind: 'cosignature',
        counter: last?.counter,
        message: `the latest checkpoint has ${by.length} valid witness cosignature(s), ${required} required`,
      });
    }
  }

  // 5. Time coverage between consecutive time notes.
  const uncoveredPeriods: TimePeriod[] = [];
  const downtimes: TimePeriod[] = [];
  let prev: ValidCheckpoint | undefined;
  for (const c of valid) {
    const a = prev?.time;
    const b = c.time;
    prev = c;
    if (a === undefined || b === undefined || b.counter !== a.counter + 1) continue;
    const gap = b.timeMs - a.timeMs;
    const slack = options.timeSlackMs ?? Math.max(5_000, a.intervalMs);
    if (a.event === 'close' && b.event !== 'open') {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: b.counter,
        message: `checkpoint ${b.counter} (${b.event}) follows a close without an open`,
      });
    }
    if (b.event === 'open' && !b.uncleanStart && a.event !== 'close') {
      problems.push({
        kind: 'checkpoint-sequence',
        counter: b.counter,
        message: `checkpoint ${b.counter} is a clean open, but checkpoint ${a.counter} before it is not a close`,
      });
    }
    if (gap <= a.intervalMs + slack) continue;
    const reason: TimePeriod['reason'] =
      a.event === 'close' && b.event === 'open' ? 'clean-close' : b.event === 'open' ? 'crash' : 'missed';
    const period: TimePeriod = {
      from: new Date(a.timeMs).toISOString(),
      to: new Date(b.timeMs).toISOString(),
      fromMs: a.timeMs,
      toMs: b.timeMs,
      durationMs: gap,
      afterCounter: a.counter,
      beforeCounter: b.counter,
      reason,
    };
    if (reason === 'clean-close') {
      downtimes.push(period);
      continue;
    }
    uncoveredPeriods.push(period);
    problems.push({
      kind: 'uncovered-period',
      counter: b.counter,
      message: `no checkpoint from ${period.from} to ${period.to} (${Math.round(gap / 1000)} s, allowed ${Math.round((a.intervalMs + slack) / 1000)} s): ${reason === 'crash' ? 'the sink stopped without a clean close' : 'the sink signed nothing while it ran'}`,
    });
  }

  // 6. Records no checkpoint covers.
  const firstIndex = prunedStart?.entries ?? 0;
  const uncoveredRecords =
    uncoveredFrom >= 0
      ? { fromSeq: uncoveredFrom, toSeq: uncoveredTo, entries: firstIndex + entries - Math.max(latestSize, firstIndex) }
      : undefined;
  if (uncoveredRecords && last?.time?.event === 'close') {
    problems.push({
      kind: 'uncovered-records',
      message: `seqs ${uncoveredRecords.fromSeq}-${uncoveredRecords.toSeq} follow the clean close's checkpoint ${last.counter}: no signature covers them (added after the sink closed)`,
    });
  }

  let wal: VerifyReport | undefined;
  if (options.checkWal !== false) {
    // An empty WAL is a valid answer only when a signed checkpoint vouches for it (its tree is
    // compared with the records above); without one, nothing is no clean bill of health.
    wal = await verifyWal(dir, {
      allowPrunedStart: prunedStart !== undefined && options.allowPrunedStart === true,
      allowEmpty: valid.length > 0,
    });
    for (const p of wal.problems) {
      problems.push({ kind: 'wal', message: `${p.kind} in ${p.segment} at offset ${p.offset}: ${p.message}` });
    }
  }

  return {
    valid: problems.length === 0,
    origin,
    entries,
    records,
    checkpoints: files.length,
    latest: last
      ? {
          counter: last.counter,
          size: last.checkpoint.size,
          rootHash: last.checkpoint.rootHash.toString('base64'),
          timeMs: last.time?.timeMs ?? 0,
          event: last.time?.event ?? 'unknown',
        }
      : undefined,
    cosignatures,
    uncoveredPeriods,
    downtimes,
    uncoveredRecords,
    problems,
    wal,
    prunedStart,
  };
}

/** The parsed time note, or what is wrong with it. */
function timeNoteProblem(
  text: string,
  counter: number,
  body: string,
  cp: Checkpoint,
  prevTimeText: string | undefined,
): TimeNote | string {
  let time: TimeNote;
  try {
    time = parseTimeNote(text);
  } catch (err) {
    return describe(err);
  }
  if (time.counter !== counter) return `the time note says counter ${time.counter}`;
  if (!time.checkpointHash.equals(textHash(body))) return 'the time note attests a different checkpoint';
  if (time.size !== cp.size || time.origin !== cp.origin) return 'the time note names another size or origin';
  if (prevTimeText !== undefined && !time.prevHash.equals(textHash(prevTimeText))) {
    return 'the time note does not chain to the one before it (a checkpoint was replaced or removed)';
  }
  if (counter === 1 && !time.prevHash.equals(Buffer.alloc(32))) {
    return 'the first time note chains to an earlier one (the start of the history was removed)';
  }
  return time;
}

function parseNoteText(note: string): string | undefined {
  try {
    return parseNote(note).text;
  } catch {
    return undefined;
  }
}

interface TreeCheck {
  entries: number;
  records: number;
  uncoveredFrom: number;
  uncoveredTo: number;
}

/** The full check: the tree recomputed from every record, compared with each checkpoint at its size. */
async function recomputeFromRecords(
  dir: string,
  valid: readonly ValidCheckpoint[],
  latestSize: number,
  problems: LogProblem[],
): Promise<TreeCheck> {
  const targets = [...valid].sort((a, b) => a.checkpoint.size - b.checkpoint.size || a.counter - b.counter);
  let t = 0;
  const acc = new MerkleAccumulator();
  let entries = 0;
  let records = 0;
  let uncoveredFrom = -1;
  let uncoveredTo = -1;
  const check = (size: number, root: Buffer): void => {
    while (t < targets.length && (targets[t] as ValidCheckpoint).checkpoint.size === size) {
      const c = targets[t] as ValidCheckpoint;
      if (!c.checkpoint.rootHash.equals(root)) {
        problems.push({
          kind: 'root-mismatch',
          counter: c.counter,
          message: `checkpoint ${c.counter} (size ${size}) signs root ${c.checkpoint.rootHash.toString('base64')}, the records give ${root.toString('base64')}: the WAL differs from what the key signed`,
        });
      }
      t++;
    }
  };
  check(0, kEmptyRoot);
  try {
    for await (const batch of readLogEntries(dir)) {
      for (const e of batch) {
        acc.push(leafHash(e.bytes));
        entries++;
        if (!e.gap) records++;
        if (entries > latestSize) {
          if (uncoveredFrom < 0) uncoveredFrom = e.seq;
          uncoveredTo = e.toSeq;
        }
        if (t < targets.length && (targets[t] as ValidCheckpoint).checkpoint.size === entries)
          check(entries, acc.root());
      }
    }
  } catch (err) {
    problems.push({
      kind: 'entries',
      message: `the records cannot be read back in order after entry ${entries}: ${describe(err)}`,
    });
  }
  for (; t < targets.length; t++) {
    const c = targets[t] as ValidCheckpoint;
    problems.push({
      kind: 'root-mismatch',
      counter: c.counter,
      message: `checkpoint ${c.counter} covers ${c.checkpoint.size} entries, the WAL yields only ${entries}: records were removed or cut off`,
    });
  }
  return { entries, records, uncoveredFrom, uncoveredTo };
}

/** The first seq of the WAL's oldest segment when it is past seq 1 (a pruned start), else undefined. */
async function prunedStartOf(dir: string): Promise<{ firstSeq: number } | undefined> {
  let first: number | undefined;
  try {
    first = (await listLogSegments(dir))[0]?.firstSeq;
  } catch {
    return undefined; // reported by the entry reader
  }
  return first !== undefined && first > 1 ? { firstSeq: first } : undefined;
}

/**
 * The check of a WAL whose oldest segments are gone: the stored tiles (each tile checked against
 * its parent, the rightmost ones against `tiles-state`) give each checkpoint's root at its size,
 * which must equal the signed one; every record left must equal its leaf hash in the tiles, so it
 * is included in each signed tree that covers it. Returns `startIndex` undefined when the tiles
 * or the index cannot place the first record left (then nothing was verified: a problem says so).
 */
async function checkAgainstTiles(
  dir: string,
  tlogDir: string,
  firstSeq: number,
  valid: readonly ValidCheckpoint[],
  latestSize: number,
  problems: LogProblem[],
): Promise<TreeCheck & { startIndex: number | undefined }> {
  let tiles: TileLog;
  try {
    tiles = TileLog.open(tlogDir, { readOnly: true });
  } catch (err) {
    problems.push({
      kind: 'pruned-start',
      message: `seqs before ${firstSeq} are no longer in ${dir} and the hash tiles cannot be read (${describe(err)}): nothing could be checked against the signed checkpoints; verify the replicated history (--source)`,
    });
    return { entries: 0, records: 0, uncoveredFrom: -1, uncoveredTo: -1, startIndex: undefined };
  }
  try {
    let startIndex: number | undefined;
    try {
      const loc = SeqIndex.open(tlogDir, tiles.size, false).locate(firstSeq, tiles.size);
      if (loc !== undefined && loc.entrySeq === firstSeq) startIndex = loc.index;
    } catch {
      startIndex = undefined;
    }
    if (startIndex === undefined) {
      problems.push({
        kind: 'pruned-start',
        message: `seqs before ${firstSeq} are no longer in ${dir}, and tlog/index does not place seq ${firstSeq} among the ${tiles.size} tiled entries: the records left could not be checked; verify the replicated history (--source)`,
      });
      return { entries: 0, records: 0, uncoveredFrom: -1, uncoveredTo: -1, startIndex: undefined };
    }
    for (const c of valid) {
      const size = c.checkpoint.size;
      if (size > tiles.size) {
        problems.push({
          kind: 'root-mismatch',
          counter: c.counter,
          message: `checkpoint ${c.counter} covers ${size} entries, the tiles hold only ${tiles.size}: entries were removed or the tiles cut off`,
        });
        continue;
      }
      let root: Buffer;
      try {
        root = tiles.root(size);
      } catch (err) {
        problems.push({ kind: 'tiles', counter: c.counter, message: `checkpoint ${c.counter}: ${describe(err)}` });
        continue;
      }
      if (!c.checkpoint.rootHash.equals(root)) {
        problems.push({
          kind: 'root-mismatch',
          counter: c.counter,
          message: `checkpoint ${c.counter} (size ${size}) signs root ${c.checkpoint.rootHash.toString('base64')}, the stored tiles give ${root.toString('base64')}: the tiles (or the history they hash) differ from what the key signed`,
        });
      }
    }
    let index = startIndex;
    let records = 0;
    let uncoveredFrom = -1;
    let uncoveredTo = -1;
    let mismatches = 0;
    try {
      for await (const batch of readLogEntries(dir, { fromSeq: firstSeq, startIndex })) {
        for (const e of batch) {
          if (!e.gap) records++;
          if (index < tiles.size) {
            let want: Buffer | undefined;
            try {
              want = tiles.subtreeHash(0, index);
            } catch (err) {
              problems.push({ kind: 'tiles', message: `entry ${index} (seq ${e.seq}): ${describe(err)}` });
            }
            if (want !== undefined && !leafHash(e.bytes).equals(want) && mismatches++ < 10) {
              problems.push({
                kind: 'root-mismatch',
                message: `entry ${index} (seq ${e.seq}) differs from its leaf hash in the tiles that the checkpoints sign: the WAL differs from what the key signed`,
              });
            }
          }
          index++;
          if (index > latestSize) {
            if (uncoveredFrom < 0) uncoveredFrom = e.seq;
            uncoveredTo = e.toSeq;
          }
        }
      }
    } catch (err) {
      problems.push({
        kind: 'entries',
        message: `the records cannot be read back in order after entry ${index}: ${describe(err)}`,
      });
    }
    if (mismatches > 10) {
      problems.push({
        kind: 'root-mismatch',
        message: `${mismatches - 10} more entries differ from their leaf hashes`,
      });
    }
    for (const c of valid) {
      if (c.checkpoint.size > index && c.checkpoint.size <= tiles.size) {
        problems.push({
          kind: 'root-mismatch',
          counter: c.counter,
          message: `checkpoint ${c.counter} covers ${c.checkpoint.size} entries, the WAL yields only ${index}: records were removed or cut off`,
        });
      }
    }
    return { entries: index - startIndex, records, uncoveredFrom, uncoveredTo, startIndex };
  } finally {
    tiles.close();
  }
}
