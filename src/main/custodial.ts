/**
 * The public offline entry points (`readWal`, `verifyWal`, `recoverWal`, `readRemoteWal`,
 * `verifyRemoteWal`, `proveRecord`, `proveConsistency`, `verifyLog`) with the chain of custody: each call appends exactly one entry to the
 * custody log (see `docs/compliance/integrity.md`, "Chain of custody"). `src/wal` and
 * `src/replication` stay free of custody; the wrapping happens here, at the package's edge.
 *
 * Every function takes `custody` in its options: `{ dir?, actor?, key? }`, or `false` to turn
 * custody off (noted in the custody log where possible).
 */

import type { Backend } from '../backends/types.js';
import {
  type CustodyOption,
  custodyRangeOf,
  custodyTarget,
  generateWithCustody,
  withCustody,
} from '../compliance/custody-session.js';
import {
  type ConsistencyProof,
  proveConsistency as proveConsistencyRaw,
  proveRecord as proveRecordRaw,
  type RecordProof,
} from '../compliance/prove.js';
import { type VerifyLogOptions, type VerifyLogReport, verifyLog as verifyLogRaw } from '../compliance/verify-log.js';
import {
  type RemoteReadOptions,
  type RemoteRecord,
  type RemoteSource,
  type RemoteVerifyReport,
  readRemoteWal as readRemoteWalRaw,
  verifyRemoteWal as verifyRemoteWalRaw,
} from '../replication/readback.js';
import { type ReadWalOptions, readWal as readWalRaw, type WalRecord } from '../wal/reader.js';
import { type RecoverWalOptions, type RecoveryReport, recoverWal as recoverWalRaw } from '../wal/recovery.js';
import { type VerifyReport, type VerifyWalOptions, verifyWal as verifyWalRaw } from '../wal/verify.js';

/** The `custody` option of the offline functions. */
export interface CustodialOptions {
  /**
   * Chain of custody of this call: `{ dir?, actor?, key? }` (default: `<walDir>/custody`, the OS
   * user, unsigned), or `false` to run without an entry (itself noted where possible). A
   * read-only directory fails with `ERR_IRONLOG_CUSTODY_READ_ONLY` before anything is read.
   */
  custody?: CustodyOption;
}

function sourceTarget(source: string | RemoteSource | Backend): string {
  if (typeof source === 'string') return custodyTarget(source, true);
  if ('config' in source && 'prefix' in source) return `${source.config.type}:${source.prefix}`;
  return 'backend object';
}

/**
 * Reads the records of the WAL in `dir` in seq order (see the `src/wal` reader); appends one
 * custody entry (`replay`, with the range and the number of records read) when the iteration
 * ends: completion, `break`, or an error.
 */
export function readWal(dir: string, opts: ReadWalOptions & CustodialOptions = {}): AsyncGenerator<WalRecord> {
  const { custody, ...rest } = opts;
  return generateWithCustody(
    {
      action: 'replay',
      target: custodyTarget(dir, false),
      walDir: dir,
      range: custodyRangeOf(rest),
      via: 'library',
      option: custody,
    },
    () => readWalRaw(dir, rest),
  );
}

/** Verifies the WAL in `dir` (see the `src/wal` verifier); appends one custody entry (`verify`). */
export function verifyWal(dir: string, opts: VerifyWalOptions & CustodialOptions = {}): Promise<VerifyReport> {
  const { custody, ...rest } = opts;
  return withCustody(
    { action: 'verify', target: custodyTarget(dir, false), walDir: dir, via: 'library', option: custody },
    () => verifyWalRaw(dir, rest),
    (r) => (r.valid ? { status: 'ok' } : { status: 'problems', problems: r.problems.length }),
  );
}

/**
 * Copies every intact record of `input` into `output` (see the `src/wal` recovery); appends one
 * custody entry (`recover`) to the custody log of `input` (or `custody.dir`).
 */
export function recoverWal(
  input: string,
  output: string,
  opts: RecoverWalOptions & CustodialOptions = {},
): Promise<RecoveryReport> {
  const { custody, ...rest } = opts;
  return withCustody(
    {
      action: 'recover',
      target: custodyTarget(input, false),
      walDir: input,
      details: { output: custodyTarget(output, false) },
      via: 'library',
      option: custody,
    },
    () => recoverWalRaw(input, output, rest),
    (r) => ({ status: 'ok', records: r.recordsRecovered, ...(r.lostSeqs > 0 ? { problems: r.lost.length } : {}) }),
  );
}

/**
 * Verifies a replicated history (see `src/replication/readback.ts`); appends one custody entry
 * (`verify`) to `custody.dir`, default `$XDG_STATE_HOME/ironlog/custody`.
 */
export function verifyRemoteWal(
  source: string | RemoteSource | Backend,
  opts: RemoteReadOptions & CustodialOptions = {},
): Promise<RemoteVerifyReport> {
  const { custody, ...rest } = opts;
  return withCustody(
    { action: 'verify', target: sourceTarget(source), via: 'library', option: custody },
    () => verifyRemoteWalRaw(source, rest),
    (r) => (r.valid ? { status: 'ok' } : { status: 'problems' }),
  );
}

/**
 * Reads a replicated history merged by time (see `src/replication/readback.ts`); appends one
 * custody entry (`replay`) when the iteration ends, to `custody.dir` (default
 * `$XDG_STATE_HOME/ironlog/custody`).
 */
export function readRemoteWal(
  source: string | RemoteSource | Backend,
  opts: RemoteReadOptions & CustodialOptions = {},
): AsyncGenerator<RemoteRecord> {
  const { custody, ...rest } = opts;
  return generateWithCustody(
    { action: 'replay', target: sourceTarget(source), range: custodyRangeOf(rest), via: 'library', option: custody },
    () => readRemoteWalRaw(source, rest),
  );
}

/**
 * The inclusion proof of record `seq` of a signed WAL, offline (see `src/compliance/prove.ts`);
 * appends one custody entry (`prove`, range `{ seq }`).
 */
export function proveRecord(dir: string, seq: number, opts: CustodialOptions = {}): Promise<RecordProof> {
  return withCustody(
    {
      action: 'prove',
      target: custodyTarget(dir, false),
      walDir: dir,
      range: { seq },
      via: 'library',
      option: opts.custody,
    },
    () => proveRecordRaw(dir, seq),
  );
}

/**
 * The consistency proof between tree sizes `fromSize` and `toSize` (default: the latest
 * checkpoint), offline (see `src/compliance/prove.ts`); appends one custody entry (`prove`).
 */
export function proveConsistency(
  dir: string,
  fromSize: number,
  toSize?: number,
  opts: CustodialOptions = {},
): Promise<ConsistencyProof> {
  return withCustody(
    {
      action: 'prove',
      target: custodyTarget(dir, false),
      walDir: dir,
      range: toSize === undefined ? { fromSize } : { fromSize, toSize },
      details: { consistency: true },
      via: 'library',
      option: opts.custody,
    },
    () => proveConsistencyRaw(dir, fromSize, toSize),
  );
}

/**
 * The transparency-log checks of a signed WAL (see `src/compliance/verify-log.ts`); appends one
 * custody entry (`verify`, `details.publicKey: true`).
 */
export function verifyLog(dir: string, options: VerifyLogOptions & CustodialOptions): Promise<VerifyLogReport> {
  const { custody, ...rest } = options;
  return withCustody(
    {
      action: 'verify',
      target: custodyTarget(dir, false),
      walDir: dir,
      details: { publicKey: true },
      via: 'library',
      option: custody,
    },
    () => verifyLogRaw(dir, rest),
    (r) => (r.valid ? { status: 'ok' } : { status: 'problems', problems: r.problems.length }),
  );
}
