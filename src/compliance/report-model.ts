/**
 * The one data model of a compliance report (and of `ironlog compliance check`), built from the
 * library's own results: `verifyWal`, `verifyLog` (signed checkpoints, uncovered periods), the
 * custody log, the legal holds, the replication manifest and the compliance record. Rendered
 * twice, by `report-html.ts` and `report-pdf.ts`, so the two never disagree.
 *
 * A replicated source (`--source URL`) has no local tlog, custody log or manifest: the caller
 * passes a {@link RemoteHistory} (the CLI wires `replication/readback.ts` into it, which keeps
 * this folder free of the replication layer) and those sections say they were not available.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readWal, type WalRecord } from '../wal/reader.js';
import { type VerifyReport, verifyWal } from '../wal/verify.js';
import { readComplianceRecord } from './compliance-record.js';
import { type CustodyEntry, kCustodyDirName, listCustodyEntries, toolVersion, verifyCustodyLog } from './custody.js';
import { type LegalHold, listHolds } from './holds.js';
import {
  type ClauseResult,
  type ComplianceEvidence,
  type ComplianceFacts,
  type ComplianceRetention,
  evaluateProfile,
  getProfile,
  type ProfileName,
} from './profiles.js';
import { kLatestCheckpointName, tlogDirOf } from './tlog-store.js';
import { type TimePeriod, verifyLog } from './verify-log.js';

const kDayMs = 86_400_000;

/** The reporting period, `to` exclusive. */
export interface ReportPeriod {
  /** As given: `2026-Q4`, `2026-11`, `2026`, or `<from> .. <to>`. */
  readonly label: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * Parses a period: `YYYY` (a year), `YYYY-Qn` (a quarter), `YYYY-MM` (a month), all UTC.
 * Undefined when `text` is none of those.
 */
export function parsePeriod(text: string): ReportPeriod | undefined {
  let m = /^(\d{4})-Q([1-4])$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const q = Number(m[2]);
    return { label: text, fromMs: Date.UTC(y, (q - 1) * 3, 1), toMs: Date.UTC(y, q * 3, 1) };
  }
  m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    return { label: text, fromMs: Date.UTC(y, mo - 1, 1), toMs: Date.UTC(y, mo, 1) };
  }
  m = /^(\d{4})$/.exec(text);
  if (m) {
    const y = Number(m[1]);
    return { label: text, fromMs: Date.UTC(y, 0, 1), toMs: Date.UTC(y + 1, 0, 1) };
  }
  return undefined;
}

/** The period from two dates (`to` exclusive). */
export function periodBetween(from: Date, to: Date): ReportPeriod {
  return { label: `${from.toISOString()} .. ${to.toISOString()}`, fromMs: from.getTime(), toMs: to.getTime() };
}

/** A replicated history, read through the replication layer by the caller. */
export interface RemoteHistory {
  /** Printable URL (secrets removed). */
  readonly source: string;
  /** Verifies the downloaded history (CRCs, chain, seals, SHA-256 of each object). */
  verify(): Promise<{ readonly valid: boolean; readonly report: VerifyReport }>;
  /** The records of `period`, in seq order per node. */
  records(period: ReportPeriod): AsyncIterable<WalRecord>;
}

/** What the report is built from. */
export interface ReportInput {
  /** A local WAL directory, or `remote`. */
  readonly dir?: string;
  readonly remote?: RemoteHistory;
  readonly profile: ProfileName;
  readonly period: ReportPeriod;
  /** The log's verifier key; default: the one in `compliance.json`. */
  readonly publicKey?: string;
  /** Clock, for tests. */
  readonly nowMs?: number;
  /** Skip reading the records (no records by day, no gaps): `compliance check` needs none. */
  readonly skipRecords?: boolean;
}

/** One replication backend's state, from the manifest. */
export interface BackendStatus {
  readonly name: string;
  readonly type: string;
  readonly done: number;
  readonly pending: number;
  /** `tamper` or `verify-failed` segments. */
  readonly failed: number;
  /** Segments compacted out of the manifest (complete on every backend). */
  readonly compacted: number;
  readonly lastDoneAt: string | undefined;
  /** Object lock / immutability / retention, as configured. */
  readonly lock: string;
  readonly legalHold: boolean;
  /** Bucket versioning: not visible from the WAL directory (`Backend.versioning()`, `hold set --source` read it). */
  readonly versioning: string;
}

/** A run of seqs missing between two records of the period (or covered by GAP frames). */
export interface SeqGap {
  readonly fromSeq: number;
  readonly toSeq: number;
}

/** The report. Every field is plain data (JSON-serialisable). */
export interface ReportModel {
  readonly title: string;
  readonly generatedAt: string;
  readonly tool: string;
  readonly target: string;
  readonly profile: { readonly name: ProfileName; readonly title: string; readonly recorded: boolean };
  readonly period: { readonly label: string; readonly from: string; readonly to: string; readonly days: number };
  /** The first section: is the log intact? */
  readonly integrity: {
    readonly damaged: boolean;
    readonly summary: string;
    readonly problems: readonly string[];
    readonly records: number;
    readonly gapFrames: number;
    readonly gapSeqs: number;
    readonly firstSeq: number;
    readonly lastSeq: number;
    readonly segments: number;
    readonly sealedSegments: number;
    readonly bytes: number;
  };
  readonly signatures: {
    /** `valid`, `invalid`, or `unsigned` (no signing key) / `unavailable` (a replicated source). */
    readonly status: 'valid' | 'invalid' | 'unsigned' | 'unavailable';
    readonly origin: string | undefined;
    readonly verifierKey: string | undefined;
    readonly checkpoints: number;
    readonly latest: string | undefined;
    readonly problems: readonly string[];
    readonly uncoveredPeriods: readonly TimePeriod[];
    readonly downtimes: readonly TimePeriod[];
    readonly uncoveredRecords: string | undefined;
  };
  readonly records: {
    /** Records stamped inside the period. */
    readonly inPeriod: number;
    readonly firstInPeriod: string | undefined;
    readonly lastInPeriod: string | undefined;
    /** One entry per UTC day of the period, zeros included. */
    readonly byDay: readonly { readonly day: string; readonly records: number }[];
    readonly gaps: readonly SeqGap[];
  };
  readonly retention: {
    readonly retentionDays: number | undefined;
    readonly localRetentionDays: number | undefined;
    readonly maxRetentionDays: number | undefined;
    /** When the retention of the period's last record ends (seal time approximated by the record time). */
    readonly periodRetentionEnds: string | undefined;
    readonly holds: readonly LegalHold[];
  };
  readonly replication: { readonly configured: boolean; readonly backends: readonly BackendStatus[] };
  readonly keys: {
    readonly signingKeyIds: readonly string[];
    readonly erasures: readonly CustodyEntry[];
    readonly keyStore: { readonly present: boolean; readonly subjectKeys: number; readonly erasedKeys: number };
  };
  readonly custody: {
    readonly status: 'valid' | 'invalid' | 'absent' | 'unavailable';
    readonly problems: readonly string[];
    readonly total: number;
    /** Entries inside the period, by action. */
    readonly byAction: Readonly<Record<string, number>>;
    /** Entries inside the period (the last 50). */
    readonly entries: readonly CustodyEntry[];
  };
  readonly clauses: readonly ClauseResult[];
  readonly summary: {
    readonly met: number;
    readonly unmet: number;
    readonly waived: number;
    readonly operator: number;
  };
}

function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

interface ManifestJson {
  readonly compacted?: { readonly throughSeq: number; readonly segments: number; readonly backends: readonly string[] };
  readonly segments?: readonly {
    readonly backends: Readonly<Record<string, { readonly state: string; readonly doneAtMs?: number }>>;
  }[];
}

/** Reads `replication-manifest.json` as plain data (this folder does not import the replication layer). */
function readManifestJson(dir: string): ManifestJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'replication-manifest.json'), 'utf8')) as ManifestJson;
  } catch {
    return undefined;
  }
}

function backendStatuses(dir: string, facts: ComplianceFacts | undefined): BackendStatus[] {
  const manifest = readManifestJson(dir);
  const names = new Set<string>([
    ...(facts?.replication?.backends.map((b) => b.name) ?? []),
    ...(manifest?.compacted?.backends ?? []),
  ]);
  for (const s of manifest?.segments ?? []) for (const n of Object.keys(s.backends)) names.add(n);
  return [...names].sort().map((name) => {
    let done = 0;
    let pending = 0;
    let failed = 0;
    let last = 0;
    for (const s of manifest?.segments ?? []) {
      const r = s.backends[name];
      if (r === undefined) continue;
      if (r.state === 'done') {
        done++;
        last = Math.max(last, r.doneAtMs ?? 0);
      } else if (r.state === 'pending') pending++;
      else failed++;
    }
    const fact = facts?.replication?.backends.find((b) => b.name === name);
    const compacted = manifest?.compacted?.backends.includes(name) ? manifest.compacted.segments : 0;
    return {
      name,
      type: fact?.type ?? name.split(':')[0] ?? 'unknown',
      done,
      pending,
      failed,
      compacted,
      lastDoneAt: last > 0 ? new Date(last).toISOString() : undefined,
      lock: fact?.lock ? `${fact.lock.mode}, ${fact.lock.retainDays} days${fact.worm ? ' (WORM)' : ''}` : 'none',
      legalHold: fact?.legalHold ?? false,
      versioning:
        fact?.type === 'fs' ? 'n/a' : 'not visible from the WAL directory (ironlog hold set --source URL reads it)',
    };
  });
}

/** Counts of the key store (`keys/subjects/*.json`, `keys/erased/*` tombstones; see keystore.ts). */
function keyStoreCounts(dir: string): { present: boolean; subjectKeys: number; erasedKeys: number } {
  const root = path.join(dir, 'keys');
  if (!fs.existsSync(root)) return { present: false, subjectKeys: 0, erasedKeys: 0 };
  const count = (sub: string, keep: (n: string) => boolean): number => {
    try {
      return fs.readdirSync(path.join(root, sub)).filter((n) => !n.startsWith('.') && keep(n)).length;
    } catch {
      return 0;
    }
  };
  return {
    present: true,
    subjectKeys: count('subjects', (n) => n.endsWith('.json')),
    erasedKeys: count('erased', () => true),
  };
}

function walProblemLines(r: VerifyReport): string[] {
  return r.problems.slice(0, 20).map((p) => `${p.segment || 'WAL'}: ${p.kind}: ${p.message}`);
}

/** Builds the report model (also the input of `compliance check`). Never throws for damage it finds. */
export async function buildReportModel(input: ReportInput): Promise<ReportModel> {
  const nowMs = input.nowMs ?? Date.now();
  const profile = getProfile(input.profile);
  const { period } = input;
  const dir = input.dir !== undefined ? path.resolve(input.dir) : undefined;
  const record = dir !== undefined ? readComplianceRecord(dir) : undefined;
  const facts = record?.facts;
  const retention: ComplianceRetention = record?.retention ?? {
    retentionDays: profile.minRetentionDays,
    localRetentionDays: profile.minRetentionDays,
    maxRetentionDays: profile.defaultMaxRetentionDays,
  };

  // 1. Integrity (first section).
  let wal: VerifyReport;
  if (dir !== undefined) wal = await verifyWal(dir, { allowPrunedStart: true });
  else if (input.remote !== undefined) wal = (await input.remote.verify()).report;
  else throw new Error('buildReportModel needs dir or remote');

  // 2. Signatures.
  const publicKey = input.publicKey ?? facts?.signing?.verifierKey;
  let signatures: ReportModel['signatures'];
  if (dir === undefined) {
    signatures = {
      status: 'unavailable',
      origin: undefined,
      verifierKey: publicKey,
      checkpoints: 0,
      latest: undefined,
      problems: ['signed checkpoints are verified on a WAL directory (ironlog verify --dir D --public-key K)'],
      uncoveredPeriods: [],
      downtimes: [],
      uncoveredRecords: undefined,
    };
  } else if (publicKey === undefined) {
    const hasTlog = fs.existsSync(path.join(tlogDirOf(dir), kLatestCheckpointName));
    signatures = {
      status: 'unsigned',
      origin: undefined,
      verifierKey: undefined,
      checkpoints: 0,
      latest: undefined,
      problems: [
        hasTlog
          ? 'the log has signed checkpoints but no verifier key was given (--public-key) or recorded'
          : 'the log is not signed (no signing key)',
      ],
      uncoveredPeriods: [],
      downtimes: [],
      uncoveredRecords: undefined,
    };
  } else {
    const v = await verifyLog(dir, { publicKey, checkWal: false });
    signatures = {
      status: v.valid ? 'valid' : 'invalid',
      origin: v.origin,
      verifierKey: publicKey,
      checkpoints: v.checkpoints,
      latest: v.latest
        ? `#${v.latest.counter}: size ${v.latest.size}, ${new Date(v.latest.timeMs).toISOString()} (${v.latest.event})`
        : undefined,
      problems: v.problems.slice(0, 20).map((p) => `${p.kind}: ${p.message}`),
      uncoveredPeriods: v.uncoveredPeriods.filter((p) => p.toMs > period.fromMs && p.fromMs < period.toMs),
      downtimes: v.downtimes.filter((p) => p.toMs > period.fromMs && p.fromMs < period.toMs),
      uncoveredRecords: v.uncoveredRecords
        ? `seq ${v.uncoveredRecords.fromSeq}-${v.uncoveredRecords.toSeq} (${v.uncoveredRecords.entries} entries)`
        : undefined,
    };
  }

  // 3. Records in the period, by day, and the seq gaps between them.
  const byDay = new Map<string, number>();
  if (input.skipRecords !== true) for (let t = period.fromMs; t < period.toMs; t += kDayMs) byDay.set(dayKey(t), 0);
  let inPeriod = 0;
  let first: number | undefined;
  let last: number | undefined;
  const gaps: SeqGap[] = [];
  let prevSeq: number | undefined;
  let readError: string | undefined;
  if (input.skipRecords !== true)
    try {
      const source: AsyncIterable<WalRecord> =
        dir !== undefined
          ? readWal(dir, { from: new Date(period.fromMs), to: new Date(period.toMs), live: true })
          : (input.remote as RemoteHistory).records(period);
      for await (const r of source) {
        const t = r.time.getTime();
        if (t < period.fromMs || t >= period.toMs) continue;
        inPeriod++;
        first ??= t;
        last = t;
        const k = dayKey(t);
        byDay.set(k, (byDay.get(k) ?? 0) + 1);
        if (prevSeq !== undefined && r.seq > prevSeq + 1 && gaps.length < 1000) {
          gaps.push({ fromSeq: prevSeq + 1, toSeq: r.seq - 1 });
        }
        prevSeq = r.seq;
      }
    } catch (err) {
      readError = `reading the records stopped: ${(err as Error)?.message ?? String(err)}`;
    }

  const damaged = !wal.valid || signatures.status === 'invalid' || readError !== undefined;
  const integrityProblems = [
    ...walProblemLines(wal),
    ...(signatures.status === 'invalid' ? signatures.problems : []),
    ...(readError !== undefined ? [readError] : []),
  ];

  // 4. Custody.
  let custody: ReportModel['custody'];
  if (dir === undefined) {
    custody = { status: 'unavailable', problems: [], total: 0, byAction: {}, entries: [] };
  } else {
    const cdir = path.join(dir, kCustodyDirName);
    const listed = listCustodyEntries(cdir);
    const exists = fs.existsSync(path.join(cdir, 'custody.log'));
    const v = exists ? await verifyCustodyLog(cdir) : undefined;
    const inP = listed.entries.filter((e) => {
      const t = Date.parse(e.time);
      return t >= period.fromMs && t < period.toMs;
    });
    const byAction: Record<string, number> = {};
    for (const e of inP) byAction[e.action] = (byAction[e.action] ?? 0) + 1;
    custody = {
      status: v === undefined ? 'absent' : v.valid ? 'valid' : 'invalid',
      problems: v?.problems.slice(0, 10).map((p) => `line ${p.line}: ${p.message}`) ?? [],
      total: listed.entries.length,
      byAction,
      entries: inP.slice(-50),
    };
  }
  const allCustody = dir !== undefined ? listCustodyEntries(path.join(dir, kCustodyDirName)).entries : [];

  // 5. Holds, replication, keys.
  const holds = dir !== undefined ? listHolds(dir) : [];
  const backends = dir !== undefined ? backendStatuses(dir, facts) : [];
  const keyIds = publicKey !== undefined ? [publicKey.split('+').slice(0, 2).join('+')] : [];

  // 6. Clauses.
  const evidence: ComplianceEvidence = {
    walValid: wal.valid && readError === undefined,
    ...(signatures.status === 'valid' || signatures.status === 'invalid'
      ? {
          signatures: {
            valid: signatures.status === 'valid',
            checkpoints: signatures.checkpoints,
            problems: signatures.problems,
          },
        }
      : {}),
    ...(custody.status === 'valid' || custody.status === 'invalid' ? { custodyValid: custody.status === 'valid' } : {}),
    ...(dir !== undefined ? { dirMode: fs.statSync(dir).mode } : {}),
  };
  const factsForEval: ComplianceFacts = facts ?? {
    signing:
      signatures.status === 'valid' && publicKey !== undefined
        ? { origin: signatures.origin ?? '', verifierKey: publicKey, witnesses: 0 }
        : undefined,
    masking: false,
    pseudonymization: false,
    subjectEncryption: keyStoreCounts(dir ?? '/nonexistent').present,
    replication: backends.length > 0 ? { quorum: 1, backends: [] } : undefined,
    localDeleteAfterMs: undefined,
    metrics: false,
    custody: custody.status !== 'unavailable',
  };
  const clauses = evaluateProfile(profile, factsForEval, retention, evidence, record?.waivers ?? {});
  const count = (s: ClauseResult['status']): number => clauses.filter((c) => c.status === s).length;

  const summary = damaged
    ? `DAMAGED: ${integrityProblems.length} problem(s) found; the figures below cover what could be read`
    : `intact: ${wal.records} records in ${wal.segments} segment(s) verify (CRCs, chain, seals${signatures.status === 'valid' ? ', signed checkpoints' : ''})`;
  const lastRetention =
    last !== undefined && retention.retentionDays !== undefined
      ? new Date(last + retention.retentionDays * kDayMs).toISOString().slice(0, 10)
      : undefined;
  return {
    title: `Compliance report: ${profile.name}`,
    generatedAt: new Date(nowMs).toISOString(),
    tool: `ironlog ${toolVersion()}`,
    target: dir ?? input.remote?.source ?? '',
    profile: { name: profile.name, title: profile.title, recorded: record !== undefined },
    period: {
      label: period.label,
      from: new Date(period.fromMs).toISOString(),
      to: new Date(period.toMs).toISOString(),
      days: Math.round((period.toMs - period.fromMs) / kDayMs),
    },
    integrity: {
      damaged,
      summary,
      problems: integrityProblems,
      records: wal.records,
      gapFrames: wal.gaps,
      gapSeqs: wal.gapSeqs,
      firstSeq: wal.firstSeq,
      lastSeq: wal.lastSeq,
      segments: wal.segments,
      sealedSegments: wal.sealedSegments,
      bytes: wal.bytes,
    },
    signatures,
    records: {
      inPeriod,
      firstInPeriod: first !== undefined ? new Date(first).toISOString() : undefined,
      lastInPeriod: last !== undefined ? new Date(last).toISOString() : undefined,
      byDay: [...byDay.entries()].map(([day, records]) => ({ day, records })),
      gaps,
    },
    retention: {
      retentionDays: retention.retentionDays,
      localRetentionDays: retention.localRetentionDays,
      maxRetentionDays: retention.maxRetentionDays,
      periodRetentionEnds: lastRetention,
      holds,
    },
    replication: { configured: facts?.replication !== undefined || backends.length > 0, backends },
    keys: {
      signingKeyIds: keyIds,
      erasures: allCustody.filter((e) => e.action === 'erase'),
      keyStore: dir !== undefined ? keyStoreCounts(dir) : { present: false, subjectKeys: 0, erasedKeys: 0 },
    },
    custody,
    clauses,
    summary: { met: count('met'), unmet: count('unmet'), waived: count('waived'), operator: count('operator') },
  };
}
