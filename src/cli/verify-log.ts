/**
 * `ironlog verify --dir D --public-key K`: the transparency-log checks of `verifyLog` on top of
 * the WAL checks, printed for an auditor. Exit 1 on any bad signature, root mismatch,
 * inconsistent checkpoint sequence, missing cosignatures or uncovered period.
 */
import { parseVerifierKey } from '../compliance/note.js';
import { type VerifyLogReport, verifyLog } from '../compliance/verify-log.js';
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { readKeyArg } from './note-key-arg.js';

/** The tlog options of `ironlog verify`. */
export interface VerifyLogCliOptions {
  readonly publicKey: string;
  readonly witnessKey?: readonly string[];
  readonly witnesses?: number;
  readonly timeSlackMs?: number;
  readonly allowPrunedStart?: boolean;
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

function print(r: VerifyLogReport, indent = ''): void {
  const w = (line: string): boolean => process.stdout.write(`${indent}${line}\n`);
  const latest = r.latest
    ? `latest checkpoint ${r.latest.counter} (${r.latest.event}, size ${r.latest.size}, ${new Date(r.latest.timeMs).toISOString()})`
    : 'no valid checkpoint';
  // A pruned start is never reported as plain "valid": the records before it were not read.
  const verdict = !r.valid ? 'INVALID' : r.prunedStart ? 'valid (pruned start)' : 'valid';
  w(
    `${verdict}: ${r.entries} entries (${r.records} records) of ${r.origin ?? 'unknown origin'}, ${r.checkpoints} checkpoints, ${latest}`,
  );
  if (r.prunedStart) {
    w(
      `  pruned: seqs 1-${r.prunedStart.throughSeq} (${r.prunedStart.entries} entries) are not here; only their hashes in the tiles were checked against the signed checkpoints (verify --source for a full check)`,
    );
  }
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

function logOptions(opts: VerifyLogCliOptions): {
  publicKey: string;
  witnessKeys: string[];
  witnessQuorum?: number;
  timeSlackMs?: number;
  allowPrunedStart: boolean;
} {
  const publicKey = key(opts.publicKey, '--public-key');
  const witnessKeys = (opts.witnessKey ?? []).map((k) => key(k, '--witness-key'));
  if (opts.witnesses !== undefined && opts.witnesses > witnessKeys.length) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `--witnesses ${opts.witnesses} needs at least that many --witness-key options (got ${witnessKeys.length})`,
    );
  }
  return {
    publicKey,
    witnessKeys,
    ...(opts.witnesses !== undefined ? { witnessQuorum: opts.witnesses } : {}),
    ...(opts.timeSlackMs !== undefined ? { timeSlackMs: opts.timeSlackMs } : {}),
    allowPrunedStart: opts.allowPrunedStart === true,
  };
}

/** Runs the checks and prints them; returns the exit code (0 valid, 1 invalid). */
export async function verifyLogLocal(dir: string, opts: VerifyLogCliOptions, json: boolean): Promise<number> {
  const report = await verifyLog(dir, logOptions(opts));
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else print(report);
  return report.valid ? 0 : 1;
}

/**
 * The same checks on a replicated history (`--source URL`), per node; returns the exit code
 * (0 every node valid, 1 otherwise, also when the source holds no node at all).
 */
export async function verifyLogRemote(
  url: string,
  opts: VerifyLogCliOptions & { readonly nodes?: readonly string[] },
  json: boolean,
): Promise<number> {
  const logOpts = logOptions(opts);
  // Loaded only here: the storage SDKs stay out of a local verify.
  const { verifyRemoteLog } = await import('../replication/readback.js');
  const report = await verifyRemoteLog(url, { ...logOpts, ...(opts.nodes ? { nodes: opts.nodes } : {}) });
  const valid = report.valid && report.nodes.length > 0;
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, valid }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${valid ? 'valid' : 'INVALID'}: ${report.nodes.length} node(s) in ${printableUrl(url)}${report.nodes.length === 0 ? ' (no node found under the prefix)' : ''}\n`,
    );
    for (const n of report.nodes) {
      process.stdout.write(`  ${n.nodeId} (${n.objects} segment objects, ${n.tlogObjects} tlog objects):\n`);
      print(n, '    ');
    }
    if (report.foreignKeys.length > 0) {
      process.stdout.write(`  ignored ${report.foreignKeys.length} foreign object(s), e.g. ${report.foreignKeys[0]}\n`);
    }
  }
  return valid ? 0 : 1;
}

/** A URL fit to print: no query parameters that may hold a secret (Azure `connectionString`). */
function printableUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.searchParams.has('connectionString')) u.searchParams.set('connectionString', '***');
    return u.toString();
  } catch {
    return url;
  }
}
