/**
 * `ironlog verify --dir D --public-key K`: the transparency-log checks of `verifyLog` on top of
 * the WAL checks, printed for an auditor. Exit 1 on any bad signature, root mismatch,
 * inconsistent checkpoint sequence, missing cosignatures or uncovered period.
 */
import { parseVerifierKey } from '../compliance/note.js';
import { type VerifyLogReport, verifyLog } from '../compliance/verify-log.js';
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { readKeyArg } from './key-arg.js';

/** The tlog options of `ironlog verify`. */
export interface VerifyLogCliOptions {
  readonly publicKey: string;
  readonly witnessKey?: readonly string[];
  readonly witnesses?: number;
  readonly timeSlackMs?: number;
}

function key(value: string, flag: string): string {
  const k = readKeyArg(value, flag);
  try {
    parseVerifierKey(k);
  } catch (err) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `${flag} is not a verifier key: ${isIronlogError(err) ? err.message : String(err)}`,
    );
  }
  return k;
}

function print(r: VerifyLogReport): void {
  const w = (line: string): boolean => process.stdout.write(`${line}\n`);
  const latest = r.latest
    ? `latest checkpoint ${r.latest.counter} (${r.latest.event}, size ${r.latest.size}, ${new Date(r.latest.timeMs).toISOString()})`
    : 'no valid checkpoint';
  w(
    `${r.valid ? 'valid' : 'INVALID'}: ${r.entries} entries (${r.records} records) of ${r.origin ?? 'unknown origin'}, ${r.checkpoints} checkpoints, ${latest}`,
  );
  if (r.cosignatures) {
    w(
      `  cosignatures: ${r.cosignatures.valid} of ${r.cosignatures.required} required (${r.cosignatures.witnesses.join(', ') || 'none'})`,
    );
  }
  for (const p of r.uncoveredPeriods) {
    w(
      `  uncovered period ${p.from} - ${p.to} (${Math.round(p.durationMs / 1000)} s, ${p.reason}), between checkpoints ${p.afterCounter} and ${p.beforeCounter}`,
    );
  }
  for (const p of r.downtimes) w(`  closed ${p.from} - ${p.to} (clean close, then open)`);
  if (r.uncoveredRecords) {
    w(
      `  not yet covered by a checkpoint: seqs ${r.uncoveredRecords.fromSeq}-${r.uncoveredRecords.toSeq} (${r.uncoveredRecords.entries} entries)`,
    );
  }
  for (const p of r.problems)
    w(`  ${p.kind}${p.counter !== undefined ? ` (checkpoint ${p.counter})` : ''}: ${p.message}`);
}

/** Runs the checks and prints them; returns the exit code (0 valid, 1 invalid). */
export async function verifyLogLocal(dir: string, opts: VerifyLogCliOptions, json: boolean): Promise<number> {
  const publicKey = key(opts.publicKey, '--public-key');
  const witnessKeys = (opts.witnessKey ?? []).map((k) => key(k, '--witness-key'));
  if (opts.witnesses !== undefined && opts.witnesses > witnessKeys.length) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `--witnesses ${opts.witnesses} needs at least that many --witness-key options (got ${witnessKeys.length})`,
    );
  }
  const report = await verifyLog(dir, {
    publicKey,
    witnessKeys,
    ...(opts.witnesses !== undefined ? { witnessQuorum: opts.witnesses } : {}),
    ...(opts.timeSlackMs !== undefined ? { timeSlackMs: opts.timeSlackMs } : {}),
  });
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else print(report);
  return report.valid ? 0 : 1;
}
