/**
 * Reading a replicated history back from a backend: every node under a prefix, each node's
 * segments in seq order, each object checked against its SHA-256 metadata and its key's seq range,
 * each node's chain verified across segments (`verifyWal` over the downloaded copies), and the
 * records of all nodes merged by time with a stable tie-break (time, then nodeId, then seq).
 *
 * Segments are downloaded into a private temp directory (removed afterwards), so the same reader
 * and verifier as for a local WAL do the work; disk use is the size of the history read.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../backends/common.js';
import { createBackend } from '../backends/index.js';
import type { Backend, BackendConfig } from '../backends/types.js';
import { type ConsistencyProof, proveConsistency, proveRecord, type RecordProof } from '../compliance/prove.js';
import { kTlogDirName } from '../compliance/tlog-store.js';
import { type VerifyLogOptions, type VerifyLogReport, verifyLog } from '../compliance/verify-log.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { readWal, type WalRecord } from '../wal/reader.js';
import { segmentFileName } from '../wal/segment.js';
import { type VerifyProblem, type VerifyReport, verifyWal } from '../wal/verify.js';
import { parseSegmentObjectKey } from './naming.js';
import { kMutableTlogObjects } from './tlog-sync.js';

/** Object paths under `{nodeId}/tlog/` that belong to a replicated transparency log. */
const kTlogRel =
  /^(checkpoint|tiles-state|index|checkpoints\/\d{20}\.(note|time)|tile\/\d+\/(x\d{3}\/)*\d{3}(\.p\/\d{1,3})?)$/;

/** A record of a replicated history, with the node that wrote it. */
export interface RemoteRecord extends WalRecord {
  readonly nodeId: string;
}

/** Where a history lives: a backend and the prefix its nodes are under. */
export interface RemoteSource {
  readonly config: BackendConfig;
  /** Prefix of the node directories (`{prefix}/{nodeId}/...`). */
  readonly prefix: string;
}

/** Options of {@link readRemoteWal} and {@link verifyRemoteWal}. */
export interface RemoteReadOptions {
  /** Only these nodes (default: every node found under the prefix). */
  nodes?: readonly string[];
  /** Only records stamped at or after this time. */
  from?: Date;
  /** Only records stamped before this time. */
  to?: Date;
  /**
   * Accept a node history that does not start at seq 1 (older segments expired from the bucket by
   * a lifecycle rule). Default false: a missing start is a `missing-segment` problem.
   */
  allowPrunedStart?: boolean;
  /** Merged into the configuration parsed from a URL (credentials, endpoint, ...). */
  overrides?: Partial<BackendConfig>;
  /**
   * A source with no node under its prefix is an empty history. Default false: it throws
   * `ERR_IRONLOG_WAL_EMPTY` (a mistyped bucket path or prefix must not read as an empty, valid
   * log). A `nodes` entry that is not under the prefix throws the same way, unless this is set.
   */
  allowEmpty?: boolean;
}

/** Per-node result of {@link verifyRemoteWal}. */
export interface RemoteNodeReport extends VerifyReport {
  readonly nodeId: string;
  /** Objects read for this node. */
  readonly objects: number;
}

/** Result of {@link verifyRemoteWal}. */
export interface RemoteVerifyReport {
  readonly valid: boolean;
  readonly nodes: readonly RemoteNodeReport[];
  /** Objects under the prefix that are not segment objects (reported, not fatal). */
  readonly foreignKeys: readonly string[];
}

const kAzureEnv = 'AZURE_STORAGE_CONNECTION_STRING';

function usage(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_ARGUMENT, message);
}

/**
 * Parses `s3://bucket/prefix`, `azure://container/prefix`, `gs://bucket/prefix` or
 * `file:///dir` (prefix `''`) into a backend configuration. Settings come from query parameters
 * (`endpoint`, `region`, `forcePathStyle`, `apiEndpoint`, `projectId`) and the environment
 * (`AZURE_STORAGE_CONNECTION_STRING` for Azure; the AWS and Google SDKs read their own
 * credentials from the environment). Throws `ERR_IRONLOG_INVALID_ARGUMENT`.
 */
export function parseRemoteUrl(url: string, env: NodeJS.ProcessEnv = process.env): RemoteSource {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage(
      `not a URL: ${url} (expected s3://bucket/prefix, azure://container/prefix, gs://bucket/prefix, file:///dir)`,
    );
  }
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  const q = u.searchParams;
  const opt = (k: string): string | undefined => q.get(k) ?? undefined;
  switch (u.protocol) {
    case 's3:': {
      if (!u.hostname) throw usage(`${url}: missing bucket`);
      const endpoint = opt('endpoint');
      const region = opt('region');
      return {
        prefix,
        config: {
          type: 's3',
          bucket: u.hostname,
          ...(endpoint !== undefined ? { endpoint } : {}),
          ...(region !== undefined ? { region } : {}),
          forcePathStyle: q.get('forcePathStyle') === 'true',
        },
      };
    }
    case 'azure:': {
      const connectionString = opt('connectionString') ?? env[kAzureEnv];
      if (!connectionString) throw usage(`${url}: set AZURE_STORAGE_CONNECTION_STRING`);
      if (!u.hostname) throw usage(`${url}: missing container`);
      return { prefix, config: { type: 'azure', container: u.hostname, connectionString } };
    }
    case 'gs:': {
      if (!u.hostname) throw usage(`${url}: missing bucket`);
      const apiEndpoint = opt('apiEndpoint');
      const projectId = opt('projectId');
      return {
        prefix,
        config: {
          type: 'gcs',
          bucket: u.hostname,
          ...(apiEndpoint !== undefined ? { apiEndpoint } : {}),
          ...(projectId !== undefined ? { projectId } : {}),
        },
      };
    }
    case 'file:':
      return { prefix: opt('prefix') ?? '', config: { type: 'fs', dir: decodeURIComponent(u.pathname) } };
    default:
      throw usage(`${url}: unsupported scheme ${u.protocol} (s3:, azure:, gs:, file:)`);
  }
}

interface NodeObjects {
  readonly nodeId: string;
  readonly objects: { key: string; firstSeq: number; lastSeq: number }[];
  /** Objects of the node's replicated transparency log: key, and path relative to `tlog/`. */
  readonly tlog: { key: string; rel: string }[];
}

/** Lists the nodes under `prefix` and their segment objects in seq order. */
export async function listRemoteNodes(
  backend: Backend,
  prefix: string,
): Promise<{ nodes: NodeObjects[]; foreignKeys: string[] }> {
  const base = prefix === '' ? '' : `${prefix.replace(/\/+$/, '')}/`;
  const keys = await backend.list(base);
  const byNode = new Map<string, NodeObjects>();
  const foreignKeys: string[] = [];
  const nodeOf = (nodeId: string): NodeObjects => {
    let n = byNode.get(nodeId);
    if (!n) {
      n = { nodeId, objects: [], tlog: [] };
      byNode.set(nodeId, n);
    }
    return n;
  };
  for (const key of keys) {
    const rel = key.slice(base.length);
    const parts = rel.split('/');
    if (parts.length >= 3 && parts[1] === kTlogDirName && kTlogRel.test(parts.slice(2).join('/'))) {
      nodeOf(parts[0] as string).tlog.push({ key, rel: parts.slice(2).join('/') });
      continue;
    }
    const parsed = parseSegmentObjectKey(rel);
    if (!parsed || parts.length !== 2) {
      foreignKeys.push(key);
      continue;
    }
    nodeOf(parsed.nodeId).objects.push({ key, firstSeq: parsed.firstSeq, lastSeq: parsed.lastSeq });
  }
  const nodes = [...byNode.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  for (const n of nodes) n.objects.sort((a, b) => a.firstSeq - b.firstSeq || a.lastSeq - b.lastSeq);
  return { nodes, foreignKeys };
}

/**
 * Downloads one node's segments into `dir` as a WAL directory. Returns problems found in the
 * objects themselves (SHA-256 metadata mismatch, two objects for one first seq).
 */
async function downloadNode(backend: Backend, node: NodeObjects, dir: string): Promise<VerifyProblem[]> {
  await fsp.mkdir(dir, { recursive: true });
  const problems: VerifyProblem[] = [];
  let prevFirst = -1;
  for (const o of node.objects) {
    if (o.firstSeq === prevFirst) {
      problems.push({
        kind: 'duplicate',
        segment: o.key,
        offset: 0,
        seqFrom: o.firstSeq,
        message: `two objects start at seq ${o.firstSeq}; ${o.key} ignored`,
      });
      continue;
    }
    prevFirst = o.firstSeq;
    const [info, body] = await Promise.all([backend.head(o.key), backend.get(o.key)]);
    if (info?.sha256 !== undefined && info.sha256 !== sha256Hex(body)) {
      problems.push({
        kind: 'seal',
        segment: o.key,
        offset: 0,
        message: `object bytes do not match its ironlog-sha256 metadata (${info.sha256})`,
      });
    }
    await fsp.writeFile(path.join(dir, segmentFileName(o.firstSeq)), body);
  }
  return problems;
}

function open(
  source: string | RemoteSource | Backend,
  overrides?: Partial<BackendConfig>,
): {
  backend: Backend;
  prefix: string;
  owned: boolean;
} {
  if (typeof source === 'string') {
    const s = parseRemoteUrl(source);
    return { backend: createBackend({ ...s.config, ...overrides } as BackendConfig), prefix: s.prefix, owned: true };
  }
  if ('config' in source) {
    return {
      backend: createBackend({ ...source.config, ...overrides } as BackendConfig),
      prefix: source.prefix,
      owned: true,
    };
  }
  return { backend: source, prefix: '', owned: false };
}

/** Where a source points, for messages (no query string: it may hold a secret). */
function describeSource(source: string | RemoteSource | Backend, prefix: string): string {
  if (typeof source === 'string') {
    try {
      const u = new URL(source);
      return `${u.protocol}//${u.host}${u.pathname}${prefix !== '' && u.protocol === 'file:' ? ` (prefix "${prefix}")` : ''}`;
    } catch {
      return source;
    }
  }
  return prefix === '' ? 'the backend' : `prefix "${prefix}"`;
}

/** The directory a `file://` source names must exist: a missing one is a wrong path, not an empty log. */
function checkSourceExists(source: string | RemoteSource | Backend, overrides?: Partial<BackendConfig>): void {
  const config =
    typeof source === 'string' ? parseRemoteUrl(source).config : 'config' in source ? source.config : undefined;
  if (!config) return;
  const merged = { ...config, ...overrides } as BackendConfig;
  if (merged.type !== 'fs') return;
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(merged.dir, { throwIfNoEntry: false });
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read the source directory ${merged.dir}: ${String(err)}`, {
      cause: err,
    });
  }
  if (!st?.isDirectory()) {
    throw new IronlogError(
      ErrorCodes.IO,
      `the source directory ${merged.dir} ${st ? 'is not a directory' : 'does not exist'}`,
    );
  }
}

/**
 * The nodes to read: every node listed, or the ones asked for. Nothing found (or a node asked for
 * that is not there) throws `ERR_IRONLOG_WAL_EMPTY` unless `allowEmpty`.
 */
function selectNodes(
  listed: { nodes: NodeObjects[]; foreignKeys: string[] },
  opts: RemoteReadOptions,
  where: string,
): NodeObjects[] {
  const wanted = opts.nodes ? listed.nodes.filter((n) => opts.nodes?.includes(n.nodeId)) : listed.nodes;
  if (opts.allowEmpty === true) return wanted;
  const found = listed.nodes.map((n) => n.nodeId);
  if (listed.nodes.length === 0) {
    const foreign = listed.foreignKeys.length > 0 ? `, only ${listed.foreignKeys.length} other object(s)` : '';
    throw new IronlogError(
      ErrorCodes.WAL_EMPTY,
      `no ironlog segments under ${where}${foreign} (wrong bucket, path or prefix?); --allow-empty accepts an empty history`,
    );
  }
  const missing = (opts.nodes ?? []).filter((id) => !found.includes(id));
  if (missing.length > 0) {
    throw new IronlogError(
      ErrorCodes.WAL_EMPTY,
      `no segments of node(s) ${missing.join(', ')} under ${where} (nodes found: ${found.join(', ')})`,
    );
  }
  return wanted;
}

async function withHistory<T>(
  source: string | RemoteSource | Backend,
  opts: RemoteReadOptions,
  fn: (
    nodes: { nodeId: string; dir: string; objects: number; problems: VerifyProblem[] }[],
    foreign: string[],
  ) => Promise<T>,
): Promise<T> {
  checkSourceExists(source, opts.overrides);
  const { backend, prefix, owned } = open(source, opts.overrides);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-readback-'));
  try {
    const listed = await listRemoteNodes(backend, prefix);
    const wanted = selectNodes(listed, opts, describeSource(source, prefix));
    const out: { nodeId: string; dir: string; objects: number; problems: VerifyProblem[] }[] = [];
    for (const n of wanted) {
      const dir = path.join(tmp, n.nodeId);
      out.push({ nodeId: n.nodeId, dir, objects: n.objects.length, problems: await downloadNode(backend, n, dir) });
    }
    return await fn(out, listed.foreignKeys);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (owned) await backend.close();
  }
}

/**
 * Verifies a replicated history: per node, every object against its SHA-256 metadata, then every
 * frame, batch, seal and the chain across segments (as `verifyWal`). `source` is a URL (see
 * {@link parseRemoteUrl}), a {@link RemoteSource}, or a {@link Backend} (prefix `''`).
 */
export async function verifyRemoteWal(
  source: string | RemoteSource | Backend,
  opts: RemoteReadOptions = {},
): Promise<RemoteVerifyReport> {
  return withHistory(source, opts, async (nodes, foreignKeys) => {
    const reports: RemoteNodeReport[] = [];
    for (const n of nodes) {
      // A node listed has at least one object: its directory is never empty.
      const r = await verifyWal(n.dir, { allowPrunedStart: opts.allowPrunedStart === true, allowEmpty: true });
      const problems = [...n.problems, ...r.problems];
      reports.push({ ...r, problems, valid: problems.length === 0, nodeId: n.nodeId, objects: n.objects });
    }
    return { valid: reports.every((r) => r.valid), nodes: reports, foreignKeys };
  });
}

/**
 * Reads a replicated multi-node history: each node's records in seq order (checked as `readWal`
 * checks them: CRCs, chain across segments, seals, continuity), merged across nodes by record time
 * with a stable tie-break (time, then nodeId, then seq). A node's own order is never changed, even
 * when its clock went backwards. Objects whose bytes do not match their SHA-256 metadata raise
 * `ERR_IRONLOG_REPLICATION_TAMPER`; damage raises `ERR_IRONLOG_WAL_CORRUPT`.
 */
export async function* readRemoteWal(
  source: string | RemoteSource | Backend,
  opts: RemoteReadOptions = {},
): AsyncGenerator<RemoteRecord> {
  // The history is downloaded first; records are then merged from per-node readers.
  checkSourceExists(source, opts.overrides);
  const { backend, prefix, owned } = open(source, opts.overrides);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-readback-'));
  const heads: { nodeId: string; it: AsyncGenerator<WalRecord>; rec: WalRecord | undefined }[] = [];
  try {
    const listed = await listRemoteNodes(backend, prefix);
    const wanted = selectNodes(listed, opts, describeSource(source, prefix));
    for (const n of wanted) {
      const dir = path.join(tmp, n.nodeId);
      const problems = await downloadNode(backend, n, dir);
      const p = problems[0];
      if (p) throw new IronlogError(ErrorCodes.REPLICATION_TAMPER, `${p.segment}: ${p.message}`);
      const it = readWal(dir, {
        ...(opts.from ? { from: opts.from } : {}),
        ...(opts.to ? { to: opts.to } : {}),
      });
      const first = await it.next();
      heads.push({ nodeId: n.nodeId, it, rec: first.done ? undefined : first.value });
    }
    for (;;) {
      let best: (typeof heads)[number] | undefined;
      for (const h of heads) {
        if (h.rec === undefined) continue;
        if (
          best?.rec === undefined ||
          h.rec.timeUs < best.rec.timeUs ||
          (h.rec.timeUs === best.rec.timeUs && h.nodeId < best.nodeId)
        ) {
          best = h;
        }
      }
      if (best?.rec === undefined) return;
      yield { ...best.rec, nodeId: best.nodeId };
      const next = await best.it.next();
      best.rec = next.done ? undefined : next.value;
    }
  } finally {
    for (const h of heads) await h.it.return(undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
    if (owned) await backend.close();
  }
}

/** How many tlog objects are downloaded at once. */
const kTlogDownloadConcurrency = 8;

/**
 * Downloads one node's replicated transparency log into `dir/tlog/`. Returns what is wrong with
 * the immutable objects (bytes that differ from their `ironlog-sha256` metadata); the mutable ones
 * (`checkpoint`, `tiles-state`, `index`) are checked by what they hold (signatures, tile hashes).
 */
async function downloadTlog(
  backend: Backend,
  node: NodeObjects,
  dir: string,
  only?: (rel: string) => boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const items = only ? node.tlog.filter((o) => only(o.rel)) : node.tlog;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const o = items[next++] as { key: string; rel: string };
      const mutable = kMutableTlogObjects.includes(o.rel);
      const [info, body] = await Promise.all([mutable ? undefined : backend.head(o.key), backend.get(o.key)]);
      if (info?.sha256 !== undefined && info.sha256 !== sha256Hex(body)) {
        problems.push(`${o.key}: the object's bytes do not match its ironlog-sha256 metadata (${info.sha256})`);
      }
      const file = path.join(dir, kTlogDirName, ...o.rel.split('/'));
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(file, body);
    }
  };
  await Promise.all(Array.from({ length: Math.min(kTlogDownloadConcurrency, items.length) }, lane));
  return problems.sort();
}

/** Options of {@link verifyRemoteLog}: those of `verifyLog` plus the source selection. */
export interface RemoteLogVerifyOptions extends VerifyLogOptions {
  /** Only these nodes (default: every node found under the prefix). */
  nodes?: readonly string[];
  /** Merged into the configuration parsed from a URL (credentials, endpoint, ...). */
  overrides?: Partial<BackendConfig>;
}

/** Per-node result of {@link verifyRemoteLog}. */
export interface RemoteLogNodeReport extends VerifyLogReport {
  readonly nodeId: string;
  /** Segment objects read. */
  readonly objects: number;
  /** Transparency-log objects read (`{nodeId}/tlog/...`). */
  readonly tlogObjects: number;
}

/** Result of {@link verifyRemoteLog}. */
export interface RemoteLogVerifyReport {
  readonly valid: boolean;
  readonly nodes: readonly RemoteLogNodeReport[];
  /** Objects under the prefix that are neither segments nor tlog objects (reported, not fatal). */
  readonly foreignKeys: readonly string[];
}

/**
 * Verifies a replicated signed history with the log's verifier key: per node, the segments and
 * the transparency log (`{nodeId}/tlog/`: tiles, every checkpoint and time note, index) are
 * downloaded and checked exactly as `verifyLog` checks a local WAL directory (signatures, the
 * checkpoint and time-note sequence, every checkpoint's root against the records, witness
 * cosignatures, uncovered periods, and the WAL checks), plus every immutable object against its
 * SHA-256 metadata. `allowPrunedStart` accepts a history whose oldest segments expired from the
 * bucket (their records are then checked only through the tiles: see `verifyLog`).
 */
export async function verifyRemoteLog(
  source: string | RemoteSource | Backend,
  opts: RemoteLogVerifyOptions,
): Promise<RemoteLogVerifyReport> {
  const { nodes, overrides, ...logOpts } = opts;
  const { backend, prefix, owned } = open(source, overrides);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-readback-'));
  try {
    const listed = await listRemoteNodes(backend, prefix);
    const wanted = nodes ? listed.nodes.filter((n) => nodes.includes(n.nodeId)) : listed.nodes;
    const reports: RemoteLogNodeReport[] = [];
    for (const n of wanted) {
      const dir = path.join(tmp, n.nodeId);
      const segProblems = await downloadNode(backend, n, dir);
      const tlogProblems = await downloadTlog(backend, n, dir);
      const r = await verifyLog(dir, logOpts);
      const problems = [
        ...tlogProblems.map((message) => ({ kind: 'replica' as const, message })),
        ...segProblems.map((p) => ({ kind: 'replica' as const, message: `${p.segment}: ${p.message}` })),
        ...r.problems,
      ];
      reports.push({
        ...r,
        problems,
        valid: problems.length === 0,
        nodeId: n.nodeId,
        objects: n.objects.length,
        tlogObjects: n.tlog.length,
      });
    }
    return { valid: reports.every((r) => r.valid), nodes: reports, foreignKeys: listed.foreignKeys };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (owned) await backend.close();
  }
}

/**
 * Runs `fn` on a local copy of what a proof of `seq` needs from one node's replicated history:
 * its transparency log, and the segment object holding `seq` (not the whole history). `node` may
 * be omitted when the prefix holds one node only.
 */
export async function withRemoteProofCopy<T>(
  source: string | RemoteSource | Backend,
  opts: { node?: string; seq?: number; overrides?: Partial<BackendConfig> },
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const { backend, prefix, owned } = open(source, opts.overrides);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-readback-'));
  try {
    const listed = await listRemoteNodes(backend, prefix);
    const signed = listed.nodes.filter((n) => n.tlog.length > 0);
    let node: NodeObjects | undefined;
    if (opts.node !== undefined) node = listed.nodes.find((n) => n.nodeId === opts.node);
    else if (signed.length === 1) node = signed[0];
    else if (signed.length > 1) {
      throw usage(
        `the source holds ${signed.length} signed nodes (${signed.map((n) => n.nodeId).join(', ')}): name one`,
      );
    }
    if (node === undefined || node.tlog.length === 0) {
      throw new IronlogError(
        ErrorCodes.NOT_CHECKPOINTED,
        opts.node !== undefined
          ? `node ${opts.node} has no replicated transparency log under the source`
          : 'the source holds no replicated transparency log (tlog/checkpoint)',
      );
    }
    const dir = path.join(tmp, node.nodeId);
    const seq = opts.seq;
    const wantedSegs = seq === undefined ? [] : node.objects.filter((o) => o.firstSeq <= seq && seq <= o.lastSeq);
    const problems = [
      ...(await downloadNode(backend, { ...node, objects: wantedSegs }, dir)).map((p) => `${p.segment}: ${p.message}`),
      ...(await downloadTlog(backend, node, dir)),
    ];
    if (problems[0] !== undefined) throw new IronlogError(ErrorCodes.REPLICATION_TAMPER, problems[0]);
    return await fn(dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (owned) await backend.close();
  }
}

/** Options of {@link proveRemoteRecord} and {@link proveRemoteConsistency}. */
export interface RemoteProveOptions {
  /** The node whose log to prove from (needed when the source holds several signed nodes). */
  node?: string;
  /** Merged into the configuration parsed from a URL (credentials, endpoint, ...). */
  overrides?: Partial<BackendConfig>;
}

/**
 * `proveRecord` on a replicated history: the inclusion proof of `seq` against the node's latest
 * replicated checkpoint. Downloads the node's `tlog/` and the one segment holding `seq`.
 */
export async function proveRemoteRecord(
  source: string | RemoteSource | Backend,
  seq: number,
  opts: RemoteProveOptions = {},
): Promise<RecordProof> {
  return withRemoteProofCopy(source, { ...opts, seq }, (dir) => proveRecord(dir, seq));
}

/** `proveConsistency` on a replicated history (downloads the node's `tlog/` only). */
export async function proveRemoteConsistency(
  source: string | RemoteSource | Backend,
  fromSize: number,
  toSize: number | undefined,
  opts: RemoteProveOptions = {},
): Promise<ConsistencyProof> {
  return withRemoteProofCopy(source, opts, (dir) => proveConsistency(dir, fromSize, toSize));
}
