/**
 * The `compliance` option of `openSink`: validated once, at the edge. A profile's requirements
 * are checked against the other options; an unmet one fails with `ERR_IRONLOG_COMPLIANCE_UNMET`
 * naming every unmet clause. The resolved form (plain data) is what `compliance.json` stores.
 */
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import {
  type BackendFact,
  type ComplianceFacts,
  type ComplianceRetention,
  describeUnmet,
  evaluateProfile,
  getProfile,
  isProfileName,
  kProfileNames,
  type ProfileName,
} from './profiles.js';

/** `openSink({ compliance })`: switch on a profile and say how long records are kept. */
export interface ComplianceOptions {
  /** `'HIPAA'`, `'PCI-DSS'`, `'SOX'` or `'GDPR'`. Required. */
  profile: ProfileName;
  /**
   * How long every record is kept, in days from the seal of its segment: local deletion of a
   * segment is refused before then (unless `localRetentionDays` is shorter and the segment is
   * replicated). Default: the profile's minimum (HIPAA 2,192, PCI-DSS 366, SOX 2,557); GDPR has
   * no default (the purpose decides) and a maximum (`maxRetentionDays`).
   */
  retentionDays?: number;
  /**
   * Days a segment stays on the local disk ("immediately available", PCI DSS 10.5.1: >= 92)
   * before a replicated copy may be all that is left. Default `retentionDays`. Below
   * `retentionDays` needs `replication`.
   */
  localRetentionDays?: number;
  /** Upper bound of `retentionDays` (GDPR storage limitation). Default: GDPR 2,192 days; none for the others. */
  maxRetentionDays?: number;
  /**
   * Clauses knowingly not met, by clause id (e.g. `'PCI DSS 10.7.2'`), each with the reason (a
   * compensating control). A waived clause does not fail `openSink`; reports print the reason.
   */
  waivers?: Readonly<Record<string, string>>;
}

/** {@link ComplianceOptions} after validation, with the facts the profile was checked against. */
export interface ResolvedComplianceOptions {
  readonly profile: ProfileName;
  readonly retention: ComplianceRetention;
  readonly waivers: Readonly<Record<string, string>>;
  readonly facts: ComplianceFacts;
}

/** The other sink options a profile looks at (already validated by their own resolvers). */
export interface ComplianceInputs {
  readonly signing:
    | { readonly origin: string; readonly verifierKey: string; readonly witnesses: readonly unknown[] }
    | undefined;
  readonly masking: unknown;
  readonly pseudonymization: unknown;
  readonly subjectEncryption: unknown;
  /** Record payload encryption (`openSink({ encryption })`), resolved; undefined when off. */
  readonly encryption?: unknown;
  readonly replication:
    | {
        readonly quorum: number;
        readonly backends: readonly BackendSettings[];
        readonly localRetention: { readonly deleteAfterMs: number; readonly legalHold: boolean } | undefined;
      }
    | undefined;
  readonly metrics: unknown;
}

const kKnown = ['profile', 'retentionDays', 'localRetentionDays', 'maxRetentionDays', 'waivers'];
const kMaxDays = 100 * 366;

function days(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > kMaxDays) {
    throw invalidOption(`options.compliance.${name} must be an integer from 1 to ${kMaxDays} (days), got ${String(v)}`);
  }
  return v;
}

/**
 * The fields of a replication backend's configuration a profile looks at: structurally a
 * `BackendConfig` of `src/backends` (compliance sits below the backends layer, so it names only
 * what it reads).
 */
export interface BackendSettings {
  readonly type: 's3' | 'azure' | 'gcs' | 'fs';
  readonly name?: string | undefined;
  readonly dir?: string | undefined;
  readonly container?: string | undefined;
  readonly bucket?: string | undefined;
  readonly objectLock?: { readonly mode: string; readonly retainDays: number } | undefined;
  readonly immutability?: { readonly mode: string; readonly retainDays: number } | undefined;
  readonly retention?: { readonly mode: string; readonly retainDays: number } | undefined;
  readonly legalHold?: boolean | undefined;
  readonly eventBasedHold?: boolean | undefined;
}

/** The compliance view of one configured backend. */
export function backendFact(b: BackendSettings): BackendFact {
  const name = b.name ?? `${b.type}:${b.type === 'fs' ? b.dir : b.type === 'azure' ? b.container : b.bucket}`;
  switch (b.type) {
    case 's3':
      return {
        name,
        type: 's3',
        lock: b.objectLock ? { mode: b.objectLock.mode, retainDays: b.objectLock.retainDays } : undefined,
        worm: b.objectLock?.mode === 'COMPLIANCE',
        legalHold: b.legalHold === true,
      };
    case 'azure':
      return {
        name,
        type: 'azure',
        lock: b.immutability ? { mode: b.immutability.mode, retainDays: b.immutability.retainDays } : undefined,
        worm: b.immutability?.mode === 'Locked',
        legalHold: b.legalHold === true,
      };
    case 'gcs':
      return {
        name,
        type: 'gcs',
        lock: b.retention ? { mode: b.retention.mode, retainDays: b.retention.retainDays } : undefined,
        worm: b.retention?.mode === 'Locked',
        legalHold: b.eventBasedHold === true,
      };
    case 'fs':
      return { name, type: 'fs', lock: undefined, worm: false, legalHold: false };
  }
}

/** The facts a profile is checked against, from the validated sink options. */
export function complianceFacts(inputs: ComplianceInputs): ComplianceFacts {
  const r = inputs.replication;
  const lr = r?.localRetention;
  return {
    signing: inputs.signing
      ? {
          origin: inputs.signing.origin,
          verifierKey: inputs.signing.verifierKey,
          witnesses: inputs.signing.witnesses.length,
        }
      : undefined,
    masking: inputs.masking !== undefined,
    pseudonymization: inputs.pseudonymization !== undefined,
    subjectEncryption: inputs.subjectEncryption !== undefined,
    recordEncryption: inputs.encryption !== undefined,
    replication: r ? { quorum: r.quorum, backends: r.backends.map(backendFact) } : undefined,
    localDeleteAfterMs: lr !== undefined && !lr.legalHold ? lr.deleteAfterMs : undefined,
    metrics: inputs.metrics !== undefined && inputs.metrics !== false,
    custody: true,
  };
}

/**
 * Validates `options.compliance` and checks the profile against `inputs`. Throws
 * `ERR_IRONLOG_INVALID_OPTION` for a malformed option and `ERR_IRONLOG_COMPLIANCE_UNMET` (every
 * unmet clause named) when the configuration does not meet the profile.
 */
export function resolveComplianceOptions(input: unknown, inputs: ComplianceInputs): ResolvedComplianceOptions {
  if (typeof input !== 'object' || input === null) {
    throw invalidOption(
      `options.compliance must be an object { profile: ${kProfileNames.map((n) => `'${n}'`).join(' | ')} }`,
    );
  }
  for (const key of Object.keys(input)) {
    if (!kKnown.includes(key)) throw invalidOption(`options.compliance.${key} is not a known option`);
  }
  const c = input as Record<string, unknown>;
  if (!isProfileName(c['profile'])) {
    throw invalidOption(
      `options.compliance.profile must be one of ${kProfileNames.map((n) => `'${n}'`).join(', ')}, got ${String(c['profile'])}`,
    );
  }
  const profile = getProfile(c['profile']);
  const retentionDays = days('retentionDays', c['retentionDays']) ?? profile.minRetentionDays;
  const localRetentionDays = days('localRetentionDays', c['localRetentionDays']);
  const maxRetentionDays = days('maxRetentionDays', c['maxRetentionDays']) ?? profile.defaultMaxRetentionDays;
  if (localRetentionDays !== undefined && retentionDays !== undefined && localRetentionDays > retentionDays) {
    throw invalidOption(
      `options.compliance.localRetentionDays (${localRetentionDays}) must be at most retentionDays (${retentionDays})`,
    );
  }
  const waiversIn = c['waivers'];
  const waivers: Record<string, string> = {};
  if (waiversIn !== undefined) {
    if (typeof waiversIn !== 'object' || waiversIn === null || Array.isArray(waiversIn)) {
      throw invalidOption("options.compliance.waivers must be an object { '<clause id>': '<reason>' }");
    }
    const ids = new Set(profile.clauses.map((cl) => cl.id));
    for (const [id, reason] of Object.entries(waiversIn)) {
      if (!ids.has(id)) {
        throw invalidOption(`options.compliance.waivers: ${JSON.stringify(id)} is not a clause of ${profile.name}`);
      }
      if (typeof reason !== 'string' || reason.trim() === '') {
        throw invalidOption(`options.compliance.waivers[${JSON.stringify(id)}] must be a non-empty reason`);
      }
      waivers[id] = reason;
    }
  }
  const retention: ComplianceRetention = {
    retentionDays,
    localRetentionDays: localRetentionDays ?? retentionDays,
    maxRetentionDays,
  };
  const facts = complianceFacts(inputs);
  const unmet = describeUnmet(evaluateProfile(profile, facts, retention, {}, waivers));
  if (unmet.length > 0) {
    throw new IronlogError(
      ErrorCodes.COMPLIANCE_UNMET,
      `options.compliance: profile ${profile.name} is not met: ${unmet.join('; ')}`,
    );
  }
  return Object.freeze({ profile: profile.name, retention, waivers: Object.freeze(waivers), facts });
}
