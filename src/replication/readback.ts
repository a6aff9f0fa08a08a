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
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { readWal, type WalRecord } from '../wal/reader.js';
import { segmentFileName } from '../wal/segment.js';
import { type VerifyProblem, type VerifyReport, verifyWal } from '../wal/verify.js';
import { parseSegmentObjectKey } from './naming.js';

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
  for (const key of keys) {
    const rel = key.slice(base.length);
    const parsed = parseSegmentObjectKey(rel);
    if (!parsed || rel.split('/').length !== 2) {
      foreignKeys.push(key);
      continue;
    }
    let n = byNode.get(parsed.nodeId);
    if (!n) {
      n = { nodeId: parsed.nodeId, objects: [] };
      byNode.set(parsed.nodeId, n);
    }
    n.objects.push({ key, firstSeq: parsed.firstSeq, lastSeq: parsed.lastSeq });
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
