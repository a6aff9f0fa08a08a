/**
 * Compliance profiles (HIPAA, PCI-DSS, SOX, GDPR): each a preset of requirements, every one tied
 * to the clause it comes from (id, title and the clause's text), and the pure evaluation of a
 * profile against what a sink is configured with ({@link ComplianceFacts}) and, for an existing
 * log, what is found on disk ({@link ComplianceEvidence}). Data and pure functions only: the
 * option wiring is in `compliance-options.ts`, the disk side in `report-model.ts`.
 *
 * The clause texts are quoted from the regulations (45 CFR Part 164; PCI DSS v4.0.1; 17 CFR
 * 240.17a-4 as amended in 2022 and 17 CFR 210.2-06; Regulation (EU) 2016/679). They are here so a
 * report can print them beside the verdict; they are not legal advice, and which clauses apply to
 * a system remains the operator's (and their assessor's) call: see `docs/compliance/<profile>.md`.
 */

/** The profiles ironlog knows. */
export type ProfileName = 'HIPAA' | 'PCI-DSS' | 'SOX' | 'GDPR';

/** The names, in a fixed order (for usage messages and loops). */
export const kProfileNames: readonly ProfileName[] = Object.freeze(['HIPAA', 'PCI-DSS', 'SOX', 'GDPR']);

/**
 * What a requirement checks. `operator`: nothing ironlog can check (what to log, who reviews
 * it); `builtin`: served by ironlog whatever the options (timestamps, export); the others are
 * checked against the options at `openSink` and against the log by `compliance check`.
 */
export type RequirementCheck =
  | 'signing'
  | 'replication'
  | 'worm-or-audit-trail'
  | 'retention-min'
  | 'immediate-min'
  | 'retention-max'
  | 'pseudonymization-or-encryption'
  | 'erasure'
  | 'alerting'
  | 'custody'
  | 'file-permissions'
  | 'builtin'
  | 'operator';

/** One clause of a regulation and how ironlog serves it. */
export interface ProfileClause {
  /** The clause id as the regulation numbers it, e.g. `45 CFR 164.312(b)`, `PCI DSS 10.5.1`. */
  readonly id: string;
  /** Short title. */
  readonly title: string;
  /** The clause's text (quoted, shortened with "..." where it lists other systems). */
  readonly text: string;
  /** What is checked; every check must pass for the clause to be met. */
  readonly checks: readonly RequirementCheck[];
  /** The ironlog feature that serves it. */
  readonly feature: string;
  /** What remains the operator's job. */
  readonly operator: string;
}

/** A profile: its clauses and retention bounds. */
export interface ComplianceProfile {
  readonly name: ProfileName;
  readonly title: string;
  /** Minimum retention in days (from the seal of a segment), when the profile has one. */
  readonly minRetentionDays: number | undefined;
  /** Minimum days the records must stay immediately available (on the local disk), when set. */
  readonly minImmediateDays: number | undefined;
  /** Default upper bound of the retention in days (storage limitation), when the profile has one. */
  readonly defaultMaxRetentionDays: number | undefined;
  /** `compliance.retentionDays` must be given (the purpose decides it; no default makes sense). */
  readonly retentionRequired: boolean;
  readonly clauses: readonly ProfileClause[];
}

/** Days in `years` calendar years, counting the leap days a period that long can contain. */
function yearsInDays(years: number): number {
  return years * 365 + Math.ceil(years / 4);
}

const kHipaa: ComplianceProfile = {
  name: 'HIPAA',
  title: 'HIPAA Security Rule (45 CFR Part 164, Subpart C)',
  minRetentionDays: yearsInDays(6),
  minImmediateDays: undefined,
  defaultMaxRetentionDays: undefined,
  retentionRequired: false,
  clauses: [
    {
      id: '45 CFR 164.312(b)',
      title: 'Audit controls',
      text: 'Implement hardware, software, and/or procedural mechanisms that record and examine activity in information systems that contain or use electronic protected health information.',
      checks: ['signing', 'custody'],
      feature:
        'durable WAL (record), signed checkpoints and verify --public-key (examine: tamper evidence), custody log of every examination',
      operator: 'decide which activity is recorded (what the application emits); run verify on a schedule',
    },
    {
      id: '45 CFR 164.316(b)(2)(i)',
      title: 'Documentation: time limit (6 years)',
      text: 'Retain the documentation required by paragraph (b)(1) of this section for 6 years from the date of its creation or the date when it last was in effect, whichever is later.',
      checks: ['retention-min'],
      feature:
        'compliance.retentionDays (>= 2,192 days); local deletion refused before the retention end; object lock / immutability retention on the backends',
      operator: 'keep the backends (and their keys) for the whole period; set bucket lifecycle rules no shorter',
    },
    {
      id: '45 CFR 164.308(a)(1)(ii)(D)',
      title: 'Information system activity review',
      text: 'Implement procedures to regularly review records of information system activity, such as audit logs, access reports, and security incident tracking reports.',
      checks: ['operator'],
      feature: 'ironlog compliance report (records by day, integrity, custody entries) for each review period',
      operator: 'review the reports on a documented schedule and act on findings',
    },
  ],
};

const kPci: ComplianceProfile = {
  name: 'PCI-DSS',
  title: 'PCI DSS v4.0.1, Requirement 10',
  minRetentionDays: 366,
  minImmediateDays: 92,
  defaultMaxRetentionDays: undefined,
  retentionRequired: false,
  clauses: [
    {
      id: 'PCI DSS 10.2.1',
      title: 'Audit logs are enabled and active',
      text: 'Audit logs are enabled and active for all system components and cardholder data.',
      checks: ['operator'],
      feature: 'the sink (durable acknowledged writes)',
      operator: 'send the logs of every in-scope system component to the sink',
    },
    {
      id: 'PCI DSS 10.2.1.1',
      title: 'Individual user access to cardholder data',
      text: 'Audit logs capture all individual user access to cardholder data.',
      checks: ['operator'],
      feature: 'the sink; masking keeps the PAN out of the log (Req. 3.4.1)',
      operator: 'emit one event per access',
    },
    {
      id: 'PCI DSS 10.2.1.2',
      title: 'Administrative actions',
      text: 'Audit logs capture all actions taken by any individual with administrative access, including any interactive use of application or system accounts.',
      checks: ['operator'],
      feature: 'the sink',
      operator: 'emit one event per administrative action',
    },
    {
      id: 'PCI DSS 10.2.1.3',
      title: 'Access to audit logs',
      text: 'Audit logs capture all access to audit logs.',
      checks: ['custody'],
      feature: 'custody log: every verify, replay, export, recover, prove, hold, erase and deletion leaves an entry',
      operator: 'restrict access to the WAL directory and buckets to ironlog and the custody-recording tools',
    },
    {
      id: 'PCI DSS 10.2.1.4',
      title: 'Invalid logical access attempts',
      text: 'Audit logs capture all invalid logical access attempts.',
      checks: ['operator'],
      feature: 'the sink',
      operator: 'emit one event per failed access attempt',
    },
    {
      id: 'PCI DSS 10.2.1.5',
      title: 'Changes to identification and authentication credentials',
      text: 'Audit logs capture all changes to identification and authentication credentials including, but not limited to: creation of new accounts; elevation of privileges; all changes, additions, or deletions to accounts with administrative access.',
      checks: ['operator'],
      feature: 'the sink',
      operator: 'emit one event per credential change',
    },
    {
      id: 'PCI DSS 10.2.1.6',
      title: 'Initialization, stopping or pausing of audit logs',
      text: 'Audit logs capture the following: all initialization of new audit logs, and all starting, stopping, or pausing of the existing audit logs.',
      checks: ['signing'],
      feature:
        'signed time notes record every open and clean close; verify reports every uncovered period (crash, stall)',
      operator: 'investigate every uncovered period verify reports',
    },
    {
      id: 'PCI DSS 10.2.1.7',
      title: 'Creation and deletion of system-level objects',
      text: 'Audit logs capture all creation and deletion of system-level objects.',
      checks: ['operator'],
      feature: 'the sink',
      operator: 'emit one event per creation or deletion of a system-level object',
    },
    {
      id: 'PCI DSS 10.2.2',
      title: 'Details recorded for each event',
      text: 'Audit logs record the following details for each auditable event: user identification; type of event; date and time; success and failure indication; origin of event; identity or name of affected data, system component, resource, or service (for example, name and protocol).',
      checks: ['operator'],
      feature: 'every record carries the producer timestamp (date and time) and a seq',
      operator: 'put user, event type, outcome, origin and affected resource in every event',
    },
    {
      id: 'PCI DSS 10.3.1',
      title: 'Read access limited',
      text: 'Read access to audit logs files is limited to those with a job-related need.',
      checks: ['file-permissions'],
      feature: 'compliance check reports a WAL directory readable by others',
      operator: 'grant read access (OS, bucket IAM) to the people with a job-related need only',
    },
    {
      id: 'PCI DSS 10.3.2',
      title: 'Protected from modification',
      text: 'Audit log files are protected to prevent modifications by individuals.',
      checks: ['signing'],
      feature: 'signed checkpoints over an RFC 6962 Merkle tree: any modification fails verify --public-key',
      operator: 'keep the signer key away from the people who can write the log files',
    },
    {
      id: 'PCI DSS 10.3.3',
      title: 'Promptly backed up',
      text: 'Audit log files, including those for external-facing technologies, are promptly backed up to a secure, central, internal log server(s) or other media that is difficult to modify.',
      checks: ['replication'],
      feature:
        'replication of every sealed segment (segmentMaxAgeMs bounds the delay); S3 Object Lock / Azure immutability / GCS retention make the copy difficult to modify',
      operator: 'enable Object Lock / immutability on the bucket; keep segmentMaxAgeMs small',
    },
    {
      id: 'PCI DSS 10.3.4',
      title: 'Change detection',
      text: 'File integrity monitoring or change-detection mechanisms is used on audit logs to ensure that existing log data cannot be changed without generating alerts.',
      checks: ['signing'],
      feature: 'verify --public-key (exit 1 on any change), witnesses against split views',
      operator: 'run verify on a schedule and alert on a non-zero exit',
    },
    {
      id: 'PCI DSS 10.5.1',
      title: 'Retention: 12 months, 3 immediately available',
      text: 'Retain audit log history for at least 12 months, with at least the most recent three months immediately available for analysis.',
      checks: ['retention-min', 'immediate-min'],
      feature:
        'compliance.retentionDays (>= 366) and compliance.localRetentionDays (>= 92: kept on the local disk); local deletion refused before either ends',
      operator: 'keep the backends for the whole period',
    },
    {
      id: 'PCI DSS 10.7.2',
      title: 'Failures of audit logging detected and alerted',
      text: 'Failures of critical security control systems are detected, alerted, and addressed promptly, including but not limited to failure of the following critical security control systems: ... audit logging mechanisms ...',
      checks: ['alerting'],
      feature:
        'metrics (ironlog_* gauges: WAL faulted, replication lag and failures, checkpointer errors) and sink events',
      operator: 'alert on the metrics (docs/monitoring.md has the rules) and respond',
    },
  ],
};

const kSox: ComplianceProfile = {
  name: 'SOX',
  title: 'SOX section 802 / SEC Rule 17a-4(f) (as amended 2022)',
  minRetentionDays: yearsInDays(7),
  minImmediateDays: undefined,
  defaultMaxRetentionDays: undefined,
  retentionRequired: false,
  clauses: [
    {
      id: '17 CFR 240.17a-4(f)(2)(i)',
      title: 'Audit-trail alternative or WORM',
      text: 'Preserve a record for the duration of its applicable retention period in a manner that maintains a complete time-stamped audit trail that includes: all modifications to and deletions of the record or any part thereof; the date and time of actions that create, modify, or delete the record; if applicable, the identity of the individual creating, modifying, or deleting the record; and any other information needed to maintain an audit trail of the record ...; or preserve the record exclusively in a non-rewriteable, non-erasable format.',
      checks: ['worm-or-audit-trail'],
      feature:
        'WORM: a backend with S3 Object Lock COMPLIANCE / Azure Locked immutability / GCS Locked retention of at least the retention period; or the audit trail: append-only signed log plus the custody log of every deletion, hold and erasure',
      operator:
        'for WORM, create the bucket with Object Lock (or a locked policy); keep the custody log with the records',
    },
    {
      id: '17 CFR 240.17a-4(f)(2)(ii)',
      title: 'Automatic verification',
      text: 'Verify automatically the completeness and accuracy of the processes for storing and retaining records electronically.',
      checks: ['signing'],
      feature:
        'read-back / checksum verification of every upload; verify --public-key (CRCs, chain, seals, checkpoints)',
      operator: 'run verify on a schedule',
    },
    {
      id: '17 CFR 240.17a-4(f)(2)(iii)',
      title: 'Serialization and time-date',
      text: 'If applicable, serialize the original and duplicate units of storage media, and time-date for the required period of retention the information placed on such electronic storage media.',
      checks: ['builtin'],
      feature: 'every record has a seq and a timestamp; segments are named by their first seq; signed time notes',
      operator: 'none beyond keeping the clocks in sync (NTP)',
    },
    {
      id: '17 CFR 240.17a-4(f)(2)(iv)',
      title: 'Download and transfer',
      text: 'Have the capacity to readily download and transfer copies of a record and its audit trail (if applicable) in both a human readable format and in a reasonably usable electronic format ...',
      checks: ['builtin'],
      feature:
        'ironlog replay / export (JSON lines, CSV) from the directory or a replicated source; compliance report --evidence',
      operator: 'answer the regulator within the time asked',
    },
    {
      id: '17 CFR 240.17a-4(f)(2)(v)',
      title: 'Backup recordkeeping system',
      text: 'Include a backup electronic recordkeeping system that meets the other requirements of this paragraph (f) and that retains the records ... in a manner that will serve as a redundant set of records if the original electronic recordkeeping system is temporarily or permanently inaccessible.',
      checks: ['replication'],
      feature: 'replication to one or more backends with a quorum',
      operator: 'use a backend in another location (region, provider)',
    },
    {
      id: '17 CFR 210.2-06(a)',
      title: 'Retention: 7 years',
      text: 'The accountant shall retain records relevant to the audit or review, including workpapers and other documents that form the basis of the audit or review, ... for seven years after the accountant concludes the audit or review of the financial statements.',
      checks: ['retention-min'],
      feature: 'compliance.retentionDays (>= 2,557 days); local deletion refused before the retention end',
      operator: 'count the period from the end of the audit, not from the record (lengthen retentionDays accordingly)',
    },
  ],
};

const kGdpr: ComplianceProfile = {
  name: 'GDPR',
  title: 'GDPR (Regulation (EU) 2016/679)',
  minRetentionDays: undefined,
  minImmediateDays: undefined,
  defaultMaxRetentionDays: yearsInDays(6),
  retentionRequired: true,
  clauses: [
    {
      id: 'GDPR Art. 5(1)(e)',
      title: 'Storage limitation',
      text: 'Personal data shall be kept in a form which permits identification of data subjects for no longer than is necessary for the purposes for which the personal data are processed ...',
      checks: ['retention-max'],
      feature:
        'compliance.retentionDays is required and at most compliance.maxRetentionDays; the retention end is in every report',
      operator: 'document the purpose and the period; delete (or erase the subjects of) records past it',
    },
    {
      id: 'GDPR Art. 17(1)',
      title: 'Right to erasure',
      text: 'The data subject shall have the right to obtain from the controller the erasure of personal data concerning him or her without undue delay ...',
      checks: ['erasure'],
      feature:
        'subjectEncryption: per-subject keys; ironlog erase --subject destroys the key (crypto-shredding), proofs stay valid',
      operator: 'handle requests; destroy key backups too (encrypted data stays personal data while a key copy exists)',
    },
    {
      id: 'GDPR Art. 17(3)(b),(e)',
      title: 'Erasure exemptions: legal obligation, legal claims',
      text: 'Paragraphs 1 and 2 shall not apply to the extent that processing is necessary: ... (b) for compliance with a legal obligation which requires processing by Union or Member State law to which the controller is subject ...; (e) for the establishment, exercise or defence of legal claims.',
      checks: ['builtin'],
      feature: 'legal holds (ironlog hold set --reason) with custody entries; the report lists them as the ground',
      operator: 'decide when an exemption applies and record the reason in the hold',
    },
    {
      id: 'GDPR Art. 32(1)(a)',
      title: 'Pseudonymisation and encryption',
      text: 'Taking into account the state of the art, ... the controller and the processor shall implement appropriate technical and organisational measures to ensure a level of security appropriate to the risk, including inter alia as appropriate: (a) the pseudonymisation and encryption of personal data.',
      checks: ['pseudonymization-or-encryption'],
      feature: 'pseudonymization (keyed HMAC-SHA-256 tokens) and/or subjectEncryption (AES-256-GCM), masking',
      operator: 'choose the fields; protect the keys (KMS)',
    },
  ],
};

const kProfiles: Readonly<Record<ProfileName, ComplianceProfile>> = Object.freeze({
  HIPAA: kHipaa,
  'PCI-DSS': kPci,
  SOX: kSox,
  GDPR: kGdpr,
});

/** The profile called `name`. */
export function getProfile(name: ProfileName): ComplianceProfile {
  return kProfiles[name];
}

/** True when `v` names a profile. */
export function isProfileName(v: unknown): v is ProfileName {
  return typeof v === 'string' && (kProfileNames as readonly string[]).includes(v);
}

/** One backend as far as compliance is concerned. */
export interface BackendFact {
  readonly name: string;
  readonly type: 's3' | 'azure' | 'gcs' | 'fs';
  /** Object Lock / immutability / retention on every object, when configured. */
  readonly lock: { readonly mode: string; readonly retainDays: number } | undefined;
  /** The lock cannot be shortened or removed by anyone (S3 COMPLIANCE, Azure/GCS Locked). */
  readonly worm: boolean;
  /** A legal hold (S3, Azure) or event-based hold (GCS) on every object. */
  readonly legalHold: boolean;
}

/** What a sink is configured with, as far as the profiles look (plain data: stored in `compliance.json`). */
export interface ComplianceFacts {
  /** Signing, when on: the origin and the verifier key (public). */
  readonly signing: { readonly origin: string; readonly verifierKey: string; readonly witnesses: number } | undefined;
  readonly masking: boolean;
  readonly pseudonymization: boolean;
  readonly subjectEncryption: boolean;
  /** Record payload encryption in the writer (`openSink({ encryption })`); absent in older records. */
  readonly recordEncryption?: boolean;
  readonly replication: { readonly quorum: number; readonly backends: readonly BackendFact[] } | undefined;
  /** `replication.localRetention.deleteAfterMs`, when local retention deletes at all. */
  readonly localDeleteAfterMs: number | undefined;
  readonly metrics: boolean;
  /** The custody log is written (always true for a sink; false when a check finds it disabled). */
  readonly custody: boolean;
}

/** The retention settings of a profile, resolved (days from the seal of a segment). */
export interface ComplianceRetention {
  readonly retentionDays: number | undefined;
  readonly localRetentionDays: number | undefined;
  readonly maxRetentionDays: number | undefined;
}

/** What `compliance check` finds on disk (absent fields: not looked at, e.g. at `openSink`). */
export interface ComplianceEvidence {
  /** `verifyWal`: CRCs, chain, seals, continuity. */
  readonly walValid?: boolean;
  /** `verifyLog` with the verifier key: signatures, roots, coverage; with its first problems. */
  readonly signatures?: { readonly valid: boolean; readonly checkpoints: number; readonly problems: readonly string[] };
  /** `verifyCustodyLog`: undefined valid when there is no custody log yet. */
  readonly custodyValid?: boolean;
  /** Mode bits of the WAL directory. */
  readonly dirMode?: number;
}

/** Verdict of one clause. */
export type ClauseStatus = 'met' | 'unmet' | 'waived' | 'operator';

/** One clause's verdict. */
export interface ClauseResult {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  readonly status: ClauseStatus;
  /** Why: what was found, or what is missing and which option serves it. */
  readonly detail: string;
  readonly feature: string;
  readonly operator: string;
}

interface CheckOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

const kDayMs = 86_400_000;

function lockCovers(b: BackendFact, days: number | undefined): boolean {
  return b.lock !== undefined && (days === undefined || b.lock.retainDays >= days);
}

function checkOne(
  check: RequirementCheck,
  profile: ComplianceProfile,
  facts: ComplianceFacts,
  retention: ComplianceRetention,
  evidence: ComplianceEvidence,
): CheckOutcome {
  switch (check) {
    case 'signing': {
      if (facts.signing === undefined) {
        return { ok: false, detail: 'needs options.signing (an Ed25519 signer key from ironlog keygen)' };
      }
      if (evidence.walValid === false) return { ok: false, detail: 'verify finds the WAL damaged' };
      const s = evidence.signatures;
      if (s !== undefined && !s.valid) {
        return { ok: false, detail: `signed checkpoints do not verify: ${s.problems.slice(0, 2).join('; ')}` };
      }
      return {
        ok: true,
        detail:
          s === undefined
            ? `signed checkpoints (origin ${facts.signing.origin})`
            : `${s.checkpoints} signed checkpoint(s) verify with ${facts.signing.verifierKey.split('+')[0]}`,
      };
    }
    case 'custody':
      if (!facts.custody) return { ok: false, detail: 'the custody log is turned off' };
      if (evidence.custodyValid === false)
        return { ok: false, detail: 'ironlog custody verify finds the custody log edited' };
      return { ok: true, detail: 'custody log written by every examining command (hash-chained)' };
    case 'replication': {
      const r = facts.replication;
      if (r === undefined || r.backends.length === 0) {
        return { ok: false, detail: 'needs options.replication (at least one backend)' };
      }
      const locked = r.backends.filter((b) => b.lock !== undefined).map((b) => b.name);
      return {
        ok: true,
        detail: `${r.backends.length} backend(s), quorum ${r.quorum}${locked.length > 0 ? `; locked: ${locked.join(', ')}` : '; no backend has object lock / immutability'}`,
      };
    }
    case 'worm-or-audit-trail': {
      const worm = facts.replication?.backends.find((b) => b.worm && lockCovers(b, retention.retentionDays));
      if (worm !== undefined) {
        return { ok: true, detail: `WORM: ${worm.name} (${worm.lock?.mode}, ${worm.lock?.retainDays} days)` };
      }
      if (facts.signing !== undefined && facts.custody && evidence.custodyValid !== false) {
        if (evidence.signatures !== undefined && !evidence.signatures.valid) {
          return { ok: false, detail: 'audit-trail alternative: the signed checkpoints do not verify' };
        }
        return { ok: true, detail: 'audit-trail alternative: signed append-only log and custody log' };
      }
      return {
        ok: false,
        detail:
          'needs a WORM backend (S3 objectLock COMPLIANCE, Azure immutability Locked, GCS retention Locked) with retainDays >= the retention, or options.signing (the audit-trail alternative)',
      };
    }
    case 'retention-min': {
      const min = profile.minRetentionDays ?? 0;
      const days = retention.retentionDays;
      if (days === undefined || days < min) {
        return { ok: false, detail: `compliance.retentionDays is ${String(days)}, the minimum is ${min} days` };
      }
      const local = retention.localRetentionDays ?? days;
      if (local < days && facts.replication === undefined) {
        return {
          ok: false,
          detail: `compliance.localRetentionDays (${local}) is below retentionDays (${days}) and nothing is replicated`,
        };
      }
      return { ok: true, detail: `retention ${days} days (minimum ${min}); local copies kept ${local} days` };
    }
    case 'immediate-min': {
      const min = profile.minImmediateDays ?? 0;
      const local = retention.localRetentionDays ?? retention.retentionDays ?? 0;
      if (local < min) {
        return {
          ok: false,
          detail: `compliance.localRetentionDays is ${local}, the minimum immediately available is ${min} days`,
        };
      }
      if (facts.localDeleteAfterMs !== undefined && facts.localDeleteAfterMs < min * kDayMs) {
        // Not a violation: deletion is refused before the local retention end. Said, so nobody is surprised.
        return { ok: true, detail: `${local} days on the local disk (local retention waits for that end)` };
      }
      return { ok: true, detail: `${local} days on the local disk (minimum ${min})` };
    }
    case 'retention-max': {
      const max = retention.maxRetentionDays;
      const days = retention.retentionDays;
      if (days === undefined) {
        return { ok: false, detail: 'compliance.retentionDays must be given: the period the purpose needs' };
      }
      if (max !== undefined && days > max) {
        return { ok: false, detail: `compliance.retentionDays (${days}) is above the maximum (${max} days)` };
      }
      return { ok: true, detail: `retention ${days} days${max !== undefined ? ` (maximum ${max})` : ''}` };
    }
    case 'pseudonymization-or-encryption': {
      const on = [
        facts.pseudonymization ? 'pseudonymization' : '',
        facts.subjectEncryption ? 'subject encryption' : '',
        facts.recordEncryption === true ? 'record encryption' : '',
        facts.masking ? 'masking' : '',
      ].filter((s) => s !== '');
      if (!facts.pseudonymization && !facts.subjectEncryption && facts.recordEncryption !== true) {
        return {
          ok: false,
          detail: 'needs options.pseudonymization, options.subjectEncryption or options.encryption',
        };
      }
      return { ok: true, detail: on.join(', ') };
    }
    case 'erasure':
      return facts.subjectEncryption
        ? { ok: true, detail: 'per-subject keys: ironlog erase --subject crypto-shreds' }
        : { ok: false, detail: 'needs options.subjectEncryption (per-subject keys for crypto-shredding)' };
    case 'alerting':
      return facts.metrics
        ? { ok: true, detail: 'metrics on (alert on the ironlog_* gauges)' }
        : { ok: false, detail: 'needs options.metrics (true or a prom-client Registry) to alert on logging failures' };
    case 'file-permissions': {
      const mode = evidence.dirMode;
      if (mode === undefined) return { ok: true, detail: 'checked against the directory by compliance check' };
      if ((mode & 0o007) !== 0) {
        return { ok: false, detail: `the WAL directory is accessible to others (mode ${(mode & 0o777).toString(8)})` };
      }
      return { ok: true, detail: `WAL directory mode ${(mode & 0o777).toString(8)}` };
    }
    case 'builtin':
      return { ok: true, detail: 'built in' };
    case 'operator':
      return { ok: true, detail: "the operator's job" };
  }
}

/**
 * Evaluates every clause of `profile`. `waivers` (clause id -> reason) turn an unmet clause into
 * `waived`. Pure: the same inputs give the same verdicts.
 */
export function evaluateProfile(
  profile: ComplianceProfile,
  facts: ComplianceFacts,
  retention: ComplianceRetention,
  evidence: ComplianceEvidence = {},
  waivers: Readonly<Record<string, string>> = {},
): ClauseResult[] {
  return profile.clauses.map((c) => {
    const outcomes = c.checks.map((k) => checkOne(k, profile, facts, retention, evidence));
    const operatorOnly = c.checks.every((k) => k === 'operator');
    const failed = outcomes.filter((o) => !o.ok);
    let status: ClauseStatus = operatorOnly ? 'operator' : failed.length === 0 ? 'met' : 'unmet';
    let detail = (failed.length > 0 ? failed : outcomes).map((o) => o.detail).join('; ');
    const waiver = waivers[c.id];
    if (status === 'unmet' && waiver !== undefined) {
      status = 'waived';
      detail = `waived: ${waiver} (${detail})`;
    }
    return { id: c.id, title: c.title, text: c.text, status, detail, feature: c.feature, operator: c.operator };
  });
}

/** The unmet clauses, one line each (`<id> (<title>): <detail>`), for an error message. */
export function describeUnmet(results: readonly ClauseResult[]): string[] {
  return results.filter((r) => r.status === 'unmet').map((r) => `${r.id} (${r.title}): ${r.detail}`);
}
