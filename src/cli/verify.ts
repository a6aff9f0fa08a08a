/**
 * `ironlog verify`: checks a local WAL directory (`--dir`) or a replicated multi-node history in a
 * backend (`--source s3://...`, also accepted as `--from s3://...`).
 * Exit codes: 0 valid, 1 corruption found, 2 usage, I/O or backend error, or nothing to verify
(no segments in the directory, no node under the source's prefix: ERR_IRONLOG_WAL_EMPTY, unless
--allow-empty). Lost seqs are listed as "lost" problems: the same ranges recover reports.
 */
import type { Command } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import type { RemoteNodeReport } from '../replication/readback.js';
import { type VerifyProblem, verifyWal } from '../wal/verify.js';
import { collectArg, intArg, isSourceUrl, nodeListArg, parseDurationMs, resolveReadTarget } from './args.js';
import { type KeyCliOptions, keyProviderFromCli } from './master-key-options.js';
import { segmentProgress } from './progress.js';
import { addTenantOption, applyTenant } from './tenant-arg.js';
import { verifyLogLocal, verifyLogRemote } from './verify-log.js';

interface VerifyOptions extends KeyCliOptions {
  dir?: string;
  /** With --dir <root>: one tenant of a sink group. */
  tenant?: string;
  source?: string;
  from?: string;
  nodes?: string[];
  allowPrunedStart?: boolean;
  allowEmpty?: boolean;
  json?: boolean;
  progress?: boolean;
  publicKey?: string;
  witnessKey?: string[];
  witnesses?: number;
  timeSlack?: number;
  shadow?: string[];
}

/** One problem of a replicated history, located by node and object key. */
export interface RemoteProblem extends VerifyProblem {
  readonly node: string;
  /** The object the problem is in, or the object name a missing seq range would have had. */
  readonly object: string;
}

/** What `verify --source ... --json` prints. */
export interface RemoteVerifyOutput {
  readonly valid: boolean;
  readonly source: string;
  readonly records: number;
  readonly objects: number;
  readonly nodes: readonly (Omit<RemoteNodeReport, 'problems'> & { readonly problems: readonly RemoteProblem[] })[];
  /** Every problem of every node, each naming its node and object. */
  readonly problems: readonly RemoteProblem[];
  readonly foreignKeys: readonly string[];
}

function seqRange(p: VerifyProblem): string {
  return p.seqFrom !== undefined ? ` seqs ${p.seqFrom}-${p.seqTo ?? p.seqFrom}` : '';
}

/** A URL fit to print: no query parameters that may hold a secret (Azure `connectionString`). */
function printableSource(url: string): string {
  try {
    const u = new URL(url);
    if (u.searchParams.has('connectionString')) u.searchParams.set('connectionString', '***');
    return u.toString();
  } catch {
    return url;
  }
}

async function verifyLocal(
  dir: string,
  json: boolean,
  progress: boolean | undefined,
  allowEmpty: boolean,
  shadowDirs?: readonly string[],
): Promise<number> {
  const bar = segmentProgress('verify', progress);
  let report: Awaited<ReturnType<typeof verifyWal>>;
  try {
    report = await verifyWal(dir, {
      allowEmpty,
      ...(bar ? { onProgress: bar.onProgress } : {}),
      ...(shadowDirs ? { shadowDirs } : {}),
    });
  } finally {
    bar?.stop();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${report.valid ? 'valid' : 'CORRUPT'}: ${report.records} records, seqs ${report.firstSeq}-${report.lastSeq}, ${report.segments} segments\n`,
    );
    for (const p of report.problems) {
      process.stdout.write(`  ${p.kind} in ${p.segment} at offset ${p.offset}${seqRange(p)}: ${p.message}\n`);
    }
    for (const sh of report.shadows ?? []) {
      process.stdout.write(
        sh.identical
          ? `  shadow ${sh.dir}: identical\n`
          : `  shadow ${sh.dir}: DIFFERS (${sh.missing.length} missing, ${sh.extra.length} extra, ${sh.differing.length} differing segment(s))\n`,
      );
    }
  }
  return report.valid ? 0 : 1;
}

/**
 * Verifies a replicated history and maps each problem to the object it is in: the verifier
 * works on downloaded copies named by their first seq, so a listing of the same prefix turns
 * those file names back into object keys (and names the object a missing seq range would have).
 */
export async function verifyRemote(
  url: string,
  opts: { nodes?: readonly string[]; allowPrunedStart?: boolean; allowEmpty?: boolean },
): Promise<RemoteVerifyOutput> {
  // Loaded only here: the storage SDKs stay out of a local verify.
  const [{ verifyRemoteWal, parseRemoteUrl, listRemoteNodes }, { createBackend }, { segmentObjectKey }, seg] =
    await Promise.all([
      import('../replication/readback.js'),
      import('../backends/index.js'),
      import('../replication/naming.js'),
      import('../wal/segment.js'),
    ]);
  const readOpts = {
    ...(opts.nodes ? { nodes: opts.nodes } : {}),
    allowPrunedStart: opts.allowPrunedStart === true,
    allowEmpty: opts.allowEmpty === true,
  };
  const report = await verifyRemoteWal(url, readOpts);
  const { config, prefix } = parseRemoteUrl(url);
  const keyOf = new Map<string, string>();
  if (!report.valid) {
    const backend = createBackend(config);
    try {
      const listed = await listRemoteNodes(backend, prefix);
      for (const n of listed.nodes) {
        for (const o of n.objects) keyOf.set(`${n.nodeId}/${seg.segmentFileName(o.firstSeq)}`, o.key);
      }
    } finally {
      await backend.close();
    }
  }
  const nodes = report.nodes.map((n) => ({
    ...n,
    problems: n.problems.map((p): RemoteProblem => {
      let object = keyOf.get(`${n.nodeId}/${p.segment}`) ?? p.segment;
      if (p.kind === 'missing-segment' && p.seqFrom !== undefined && p.seqTo !== undefined) {
        object = segmentObjectKey(prefix, n.nodeId, p.seqFrom, p.seqTo);
      }
      return { ...p, node: n.nodeId, object, segment: object };
    }),
  }));
  return {
    valid: report.valid,
    source: printableSource(url),
    records: nodes.reduce((s, n) => s + n.records, 0),
    objects: nodes.reduce((s, n) => s + n.objects, 0),
    nodes,
    problems: nodes.flatMap((n) => n.problems),
    foreignKeys: report.foreignKeys,
  };
}

function printRemote(out: RemoteVerifyOutput): void {
  const w = (line: string): boolean => process.stdout.write(`${line}\n`);
  w(
    `${out.valid ? 'valid' : 'CORRUPT'}: ${out.nodes.length} node(s), ${out.records} records, ${out.objects} objects in ${out.source}`,
  );
  for (const n of out.nodes) {
    w(
      `  ${n.nodeId}: ${n.valid ? 'valid' : 'CORRUPT'}, ${n.records} records, seqs ${n.firstSeq}-${n.lastSeq}, ${n.objects} objects`,
    );
    for (const p of n.problems) {
      const missing = p.kind === 'missing-segment' ? ' (no such object)' : '';
      w(`    ${p.kind} in ${p.object}${missing} at offset ${p.offset}${seqRange(p)}: ${p.message}`);
    }
  }
  if (out.foreignKeys.length > 0) {
    w(`  ignored ${out.foreignKeys.length} object(s) that are not segments, e.g. ${out.foreignKeys[0]}`);
  }
}

/** `verify --key-file`: opens every protected record; exit 1 when one fails to authenticate, 2 when a key is missing. */
async function verifyDecryption(dir: string, opts: VerifyOptions): Promise<number> {
  const { checkDecryption } = await import('../compliance/protected-read.js');
  const keyProvider = keyProviderFromCli(opts);
  const report = await checkDecryption(dir, keyProvider === undefined ? {} : { keyProvider });
  // The integrity report above is the JSON document on stdout; this summary goes to stderr then.
  const w = (line: string): void => {
    (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  w(
    `decryption: ${report.protectedRecords} protected records, ${report.failures.length === 0 ? 'all authentic' : `${report.failures.length} failed`}`,
  );
  for (const f of report.failures.slice(0, 20)) w(`  seq ${f.seq}: ${f.code}: ${f.message}`);
  if (report.failures.some((f) => f.code === ErrorCodes.DECRYPT)) return 1;
  return report.failures.length > 0 ? 2 : 0;
}

/** `ironlog verify`. */
export function registerVerify(program: Command): void {
  const verify = program
    .command('verify')
    .description(
      'check every checksum, the hash chain, seals and seq continuity of a WAL directory or of a replicated history',
    )
    .option('--dir <dir>', 'the WAL directory')
    .option('--source <url>', 'a replicated history: s3://bucket/prefix, azure://container/prefix, gs://, file://')
    .option('--from <url>', 'same as --source')
    .option('--nodes <ids>', 'with a source: only these nodes (comma-separated)', nodeListArg)
    .option(
      '--allow-pruned-start',
      'accept a history whose oldest segments were deleted (retention): with --public-key, its remaining records are checked through the hash tiles',
    )
    .option(
      '--allow-empty',
      'accept a directory without segments (or a source without nodes) as a valid, empty log; without it that is an error (exit 2)',
    )
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar (it is only drawn when stderr is a terminal anyway)')
    .option(
      '--public-key <key>',
      "signed log: also check checkpoints, roots and time coverage with the log's verifier key (or a file)",
    )
    .option('--witness-key <key>', 'with --public-key: a witness verifier key (repeatable)', collectArg)
    .option(
      '--witnesses <k>',
      'with --witness-key: cosignatures required on the latest checkpoint (default: all)',
      intArg,
    )
    .option(
      '--time-slack <duration>',
      'with --public-key: delay allowed beyond the checkpoint interval (default max(5s, interval))',
      parseDurationMs,
    )
    .option(
      '--shadow <dir>',
      'with --dir: also compare this shadow copy (openSink shadowDirs) segment by segment, byte for byte (repeatable); exit 1 when it differs',
      collectArg,
    )
    .option('--key-file <path>', 'also decrypt every encrypted record and sealed field with these master keys')
    .option('--kms-key-id <id>', 'same, with master keys in AWS KMS')
    .option('--kms-region <region>', 'with --kms-key-id: the AWS region')
    .option('--kms-endpoint <url>', 'with --kms-key-id: a KMS endpoint URL');
  addTenantOption(verify);
  verify
    .addHelpText(
      'after',
      `
Exit codes: 0 valid, 1 corruption found (or, with keys, a record that fails authentication),
2 usage, I/O or backend error (or, with keys, a key that is not available), or nothing to verify
(no segments in the directory, no node under the source's prefix: ERR_IRONLOG_WAL_EMPTY, unless
--allow-empty). Lost seqs are listed as "lost" problems: the same ranges recover reports.

A source is read with the storage SDK's usual credentials (AWS default chain, Google ADC,
AZURE_STORAGE_CONNECTION_STRING for azure://). S3 settings go in the query string:
endpoint, region, forcePathStyle=true; GCS: apiEndpoint, projectId; file://: prefix.

Examples:
  $ ironlog verify --dir ./audit --json
  $ ironlog verify --dir ./group-root --tenant acme
  $ ironlog verify --dir /data/audit --shadow /backup1/audit --shadow /backup2/audit
  $ ironlog verify --dir ./audit --public-key audit.pub --witness-key w1.pub --witnesses 1
  $ ironlog verify --source 's3://audit-prod/audit?region=eu-west-1' --public-key audit.pub
  $ ironlog verify --source 's3://audit-prod/audit?region=eu-west-1'
  $ ironlog verify --source 'file:///mnt/nfs/audit?prefix=audit' --nodes node-a,node-b`,
    )
    .action(async (opts: VerifyOptions) => {
      applyTenant(opts);
      const target = resolveReadTarget({
        dir: opts.dir,
        source: opts.source,
        fromUrl: opts.from !== undefined ? requireUrl(opts.from) : undefined,
      });
      const logOpts = (publicKey: string) => ({
        publicKey,
        witnessKey: opts.witnessKey,
        witnesses: opts.witnesses,
        timeSlackMs: opts.timeSlack,
        allowPrunedStart: opts.allowPrunedStart === true,
      });
      if (opts.publicKey === undefined && (opts.witnessKey !== undefined || opts.witnesses !== undefined)) {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--witness-key and --witnesses go with --public-key');
      }
      if (opts.shadow !== undefined && (target.kind !== 'dir' || opts.publicKey !== undefined)) {
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--shadow goes with --dir (and not with --public-key)');
      }
      if (target.kind === 'dir') {
        if (opts.nodes !== undefined || (opts.allowPrunedStart && opts.publicKey === undefined)) {
          throw new IronlogError(
            ErrorCodes.INVALID_ARGUMENT,
            '--nodes applies to a source (--source <url>), and --allow-pruned-start to a source or to --dir with --public-key',
          );
        }
        if (opts.publicKey !== undefined) {
          process.exitCode = await verifyLogLocal(target.dir, logOpts(opts.publicKey), opts.json === true);
          return;
        }
        process.exitCode = await verifyLocal(
          target.dir,
          opts.json === true,
          opts.progress,
          opts.allowEmpty === true,
          opts.shadow,
        );
        // With keys (issue 11): every encrypted record and sealed field must also authenticate.
        if (process.exitCode === 0 && (opts.keyFile !== undefined || opts.kmsKeyId !== undefined)) {
          process.exitCode = await verifyDecryption(target.dir, opts);
        }
        return;
      }
      if (opts.publicKey !== undefined) {
        process.exitCode = await verifyLogRemote(
          target.url,
          { ...logOpts(opts.publicKey), ...(opts.nodes ? { nodes: opts.nodes } : {}) },
          opts.json === true,
        );
        return;
      }
      const out = await verifyRemote(target.url, {
        ...(opts.nodes ? { nodes: opts.nodes } : {}),
        allowPrunedStart: opts.allowPrunedStart === true,
        allowEmpty: opts.allowEmpty === true,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else printRemote(out);
      process.exitCode = out.valid ? 0 : 1;
    });
}

function requireUrl(value: string): string {
  if (isSourceUrl(value)) return value;
  // verify has no time range: --from is only the source spelling that replay also accepts.
  throw new IronlogError(
    ErrorCodes.INVALID_ARGUMENT,
    `verify --from takes a source URL (e.g. s3://bucket/prefix), not ${JSON.stringify(value)}`,
  );
}
