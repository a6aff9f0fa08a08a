import type { Registry } from 'prom-client';
import {
  type ComplianceOptions,
  type ResolvedComplianceOptions,
  resolveComplianceOptions,
} from '../compliance/compliance-options.js';
import { type CustodyOption, type CustodyOptions, resolveCustodyOption } from '../compliance/custody-session.js';
// ---- data protection (issue 11) ----
import type { KeyProvider, KeyProviderSpec } from '../compliance/keys.js';
import type { MaskingOptions } from '../compliance/mask.js';
import {
  type EncryptionOptions,
  type ProtectionConfig,
  resolveProtectionOptions,
  type SubjectEncryptionOptions,
} from '../compliance/protection.js';
import type { PseudonymKey } from '../compliance/pseudonymize.js';
import {
  type ResolvedSigningOptions,
  resolveSigningOptions,
  type SigningOptions,
} from '../compliance/signing-options.js';
import { type IronlogError, invalidOption } from '../core/errors.js';
import type { SyncMode } from '../core/sync-mode.js';
// ---- end data protection ----
import {
  type ReplicationOptions,
  type ResolvedReplicationOptions,
  resolveReplicationOptions,
} from '../replication/options.js';
import { type ResolvedRollAt, type RollAt, resolveRollAt } from '../wal/calendar-roll.js';
import { resolveShadowOptions, type ShadowFailurePolicy } from './shadows.js';

/** How the writer makes a batch durable. See `docs/durability.md`. */
export type { SyncMode };
/** When `emit()` resolves. */
export type AckLevel = 'durable' | 'written' | 'replicated';
/** What `emit()` does when the ring buffer has no room. */
export type OnFull = 'wait' | 'reject';

/** Options of {@link openSink}. Every option but `dir` is optional; defaults are the safe ones. */
export interface SinkOptions {
  /** Directory of the write-ahead log. Created if missing. Only one sink may hold it at a time. */
  dir: string;
  /**
   * Identifies this writer in segment headers (and, with replication, in object names).
   * 1-24 bytes of `[A-Za-z0-9._-]`. Default: `'node'`.
   */
  nodeId?: string;
  /**
   * `'batch'` (default): group commit, one `fdatasync` for everything the writer drained at once.
   * `'always'`: one `fdatasync` per record (slow, same guarantee, lower batching).
   * `'interval'`: `fdatasync` every `syncIntervalMs`; acks still wait for it.
   * `'none'`: acks after `write()`, no `fdatasync` at all. **Loses acknowledged data on power
   * loss.** For benchmarks only.
   */
  syncMode?: SyncMode;
  /** Milliseconds between fsyncs with `syncMode: 'interval'`. Default 10. Range 1-60,000. */
  syncIntervalMs?: number;
  /**
   * `'durable'` (default): resolve after `fdatasync`. `'written'`: resolve once the record is in
   * the page cache (survives a process crash, not a power loss). `'replicated'`: resolve once the
   * event is durable **and** its segment is sealed and stored, verified, on `replication.quorum`
   * backends. Needs `replication`. A segment is sealed when it is full or `segmentMaxAgeMs` old, so
   * that age bounds the ack latency: pick a small `segmentMaxAgeMs` (e.g. 1,000) with this level.
   * Producers on other threads (`sink.producer()`) get `'durable'` acks. See `docs/replication.md`.
   */
  ack?: AckLevel;
  /** `'wait'` (default): an emit waits for room in the ring. `'reject'`: fail fast with `ERR_IRONLOG_BACKPRESSURE`. */
  onFull?: OnFull;
  /**
   * Size of the shared ring buffer in bytes (power of two, 64 KiB - 1 GiB). Default 8 MiB.
   * Bigger rides out longer disk stalls before producers wait; it is memory, not durability.
   */
  ringBytes?: number;
  /** Largest encoded (msgpack) event in bytes. Default 1 MiB. Must fit in a quarter of `ringBytes`. */
  maxEventBytes?: number;
  /**
   * Upper bound of one group-commit batch in bytes. Default 1 MiB. The writer drains everything
   * published up to this bound; capping batches lower costs throughput (a 64-event cap measured
   * -29% durable events/s).
   */
  maxBatchBytes?: number;
  /** Roll to a new segment at this size. Default 64 MiB. Range 64 KiB - 4 GiB. */
  segmentBytes?: number;
  /**
   * Seal the open segment once it is this old, even with no new events, so that replication lag
   * is bounded. Default 60,000 ms.
   */
  segmentMaxAgeMs?: number;
  /**
   * Calendar rotation, in addition to `segmentBytes` and `segmentMaxAgeMs`: a segment never holds
   * records of two calendar hours (`'hourly'`) or days (`'daily'`). `'hourly'` and `'daily'` use
   * UTC; `{ every, timeZone }` takes an IANA time zone (e.g. `'America/New_York'`), whose days are
   * 23 or 25 hours long across a DST change and whose hours follow the local clock. The writer
   * seals the open segment before a batch whose time falls in a later period than the segment's
   * first record, and a timer seals it at the boundary even when no events arrive. The period of
   * a record is that of its timestamp (the `clock`). Default: off (size and age only). The cost
   * is one comparison per batch. See `docs/wal-format.md` ("Rolling").
   */
  rollAt?: RollAt;
  /**
   * Called once per fault episode, never once per rejected ack: a WAL write or fdatasync failure
   * or a full disk (the episode ends when the writer has written the gap record and commits
   * again), the writer worker's death (terminal), and, with `ack: 'replicated'`, the replication
   * quorum lost (ends when it is regained). A new fault after the end is a new episode. The
   * handler runs on the main thread, synchronously, before any fail-stop. Some acks of the
   * episode may already be rejected when it runs: producers learn of a fault through shared
   * memory, the handler through the writer's message. One that throws (or
   * returns a rejected promise) does not harm the sink: the first such error is reported with
   * `process.emitWarning` (type `IronlogFailureHandlerWarning`), later ones only to
   * `NODE_DEBUG=ironlog`. Default: none (the `fault` event and `health()` report faults anyway).
   * See `docs/durability.md#failure-policy`.
   */
  onFailure?: (error: IronlogError) => void;
  /**
   * Fail-stop: on the first fault episode (see `onFailure`) the sink calls `onFailure`, refuses
   * new emits, waits up to one second for the writer to settle what it holds, rejects every ack
   * still pending with the typed error, prints one line to stderr (`ironlog: fail-stop: <code> in WAL
   * <dir>: <message>`) and ends the process with exit code 70 (`FAIL_STOP_EXIT_CODE`,
   * `EX_SOFTWARE`) a few milliseconds later, so that rejection handlers run first. Nothing acked
   * is lost: an ack means durable, and the WAL reopens as after a crash.
   *
   * Default `false`, because a library must not end its host process unasked: without it the sink
   * rejects the affected acks, refuses emits while faulted and resumes by itself once the disk
   * recovers. **Regulated services should turn it on**: then a service never goes on serving
   * requests that it can no longer audit, and the orchestrator restarts it (or pages someone).
   */
  failStop?: boolean;
  /**
   * Clock for event timestamps, in milliseconds since the epoch (fractions allowed). Default
   * `performance.timeOrigin + performance.now()`. For tests.
   */
  clock?: () => number;
  /**
   * Advanced, for fault-injection tests and the torture suite: absolute path of an ES module
   * exporting `createWalFs(base: WalFs, data: unknown): WalFs`, loaded by the writer worker.
   */
  walFsModule?: string;
  /** Structured-cloneable data handed to `createWalFs` (e.g. a SharedArrayBuffer of fault switches). */
  walFsModuleData?: unknown;
  /**
   * Upload every sealed segment to object stores / a directory: `{ quorum, backends: [...] }`.
   * Default: no replication. See {@link ReplicationOptions} and `docs/replication.md`.
   */
  replication?: ReplicationOptions;
  /**
   * A compliance profile (`'HIPAA'`, `'PCI-DSS'`, `'SOX'`, `'GDPR'`) and its retention: the
   * other options are checked against the profile's requirements and `openSink` fails with
   * `ERR_IRONLOG_COMPLIANCE_UNMET` naming each unmet clause. Stored in `<dir>/compliance.json`
   * for `ironlog compliance check|report` and local deletion. See `docs/compliance/<profile>.md`.
   */
  compliance?: ComplianceOptions;
  /**
   * Make the WAL a signed transparency log (RFC 6962 tree over every entry, C2SP checkpoints and
   * hash tiles under `<dir>/tlog/`): `{ key, origin?, checkpointIntervalMs?, witnesses? }`. A
   * worker thread of its own hashes and signs, off the emit path. Default: off. See
   * {@link SigningOptions} and `docs/compliance/integrity.md`.
   */
  signing?: SigningOptions;
  /**
   * Chain of custody of `sink.replay()` and `sink.verify()`: one entry per call in the custody
   * log, `{ dir?, actor?, key? }` (default `<dir>/custody`, the OS user, signed with the
   * `signing` key when there is one), or `false` (each call then writes only the note "custody
   * off for <action>"). See `docs/compliance/integrity.md#chain-of-custody`.
   */
  custody?: CustodyOption;
  /**
   * Prometheus metrics (prom-client), read from shared memory at scrape time; see
   * `docs/monitoring.md`. `true`: the sink creates a Registry of its own (`sink.metrics.registry`).
   * A `Registry`: the sink registers its metrics there (one sink per registry; they are removed on
   * close). Never the global default registry. Default `false`: no metrics, and `emit()` runs no
   * extra code at all; with metrics on, each emit call costs a timestamp and a few additions more.
   */
  metrics?: Registry | boolean;
  // ---- data protection (issue 11; docs/compliance/data-protection.md) ----
  /** Masking rules (field paths, patterns, card preset, Luhn scan), applied in the producer before encoding. Default: none. */
  masking?: MaskingOptions;
  /** Key of the `pseudonymize` masking action: `{ keyId, key }` (at least 32 bytes). Default: none. */
  pseudonymization?: PseudonymKey;
  /** Crypto-shredding: a subject's personal fields sealed under a per-subject key (needs `keyProvider`). Default: off. */
  subjectEncryption?: SubjectEncryptionOptions;
  /** Master keys that wrap data and subject keys: `{ type: 'static' | 'env' | 'file' | 'aws-kms', ... }` or a KeyProvider object. */
  keyProvider?: KeyProviderSpec | KeyProvider;
  /**
   * Record payload encryption with AES-256-GCM in the writer (envelope: data keys wrapped by
   * `keyProvider`, rotated per writer start, per segment and per `recordsPerDataKey`). Default off.
   */
  encryption?: boolean | EncryptionOptions;
  // ---- end data protection ----
  /**
   * Shadow copies (the seed's `WithRedundancy`): directories, meant for other disks, that receive
   * every segment, batch and seal byte for byte as the primary `dir` does; each is `fdatasync`'d
   * before an ack resolves, so an ack means durable on the primary and on every shadow still in
   * the set. Relative paths are resolved; each must be outside `dir` and the others, and is locked
   * like `dir`. On open each shadow is reconciled with the primary before emits are accepted.
   * Costs one more write and fdatasync per batch and shadow (done one after the other). Default:
   * none. See `docs/durability.md#shadow-copies`.
   */
  shadowDirs?: readonly string[];
  /**
   * What a failed write or fdatasync of a shadow does. `'fail'` (default, maximum durability):
   * the affected emits are rejected with `ERR_IRONLOG_SHADOW_FAILED`, as after a WAL write
   * failure (the sink retries, writes a gap record and goes on once the shadow works again).
   * `'drop'`: the shadow leaves the set and acks go on from the primary and the other shadows.
   * Either way: a `shadowFailure` event, health `degraded`, `ironlog_shadow_failures_total`.
   */
  onShadowFailure?: ShadowFailurePolicy;
}

/** {@link SinkOptions} after validation and defaults. */
export interface ResolvedSinkOptions {
  readonly dir: string;
  readonly nodeId: string;
  readonly syncMode: SyncMode;
  readonly syncIntervalMs: number;
  readonly ack: AckLevel;
  readonly onFull: OnFull;
  readonly ringBytes: number;
  readonly maxEventBytes: number;
  readonly maxBatchBytes: number;
  readonly segmentBytes: number;
  readonly segmentMaxAgeMs: number;
  /** Calendar rotation, validated; undefined when off. */
  readonly rollAt: ResolvedRollAt | undefined;
  /** The failure handler; undefined when none. */
  readonly onFailure: ((error: IronlogError) => void) | undefined;
  readonly failStop: boolean;
  readonly walFsModule: string | undefined;
  readonly walFsModuleData: unknown;
  /** Replication, validated; undefined when off. */
  readonly replication: ResolvedReplicationOptions | undefined;
  /** `false` (off), `true` (a registry of the sink's own) or the user's registry. */
  readonly metrics: Registry | boolean;
  /** Signing, validated (the private key is kept out of this object); undefined when off. */
  readonly signing: ResolvedSigningOptions | undefined;
  /** The `custody` option, validated (undefined: the defaults). */
  readonly custody: CustodyOptions | false | undefined;
  /** Masking / pseudonymization / subject encryption, validated; undefined when none is set. */
  readonly protection: ProtectionConfig | undefined;
  /** The compliance profile, checked; undefined when none is set. */
  readonly compliance: ResolvedComplianceOptions | undefined;
  /** Shadow directories, absolute (empty: none). */
  readonly shadowDirs: readonly string[];
  readonly onShadowFailure: ShadowFailurePolicy;
}

/** The defaults of {@link SinkOptions} (every option but `dir`, `clock`, `walFsModule`, `replication` and `metrics`). */
export const kDefaultSinkOptions = Object.freeze({
  nodeId: 'node',
  syncMode: 'batch' as SyncMode,
  syncIntervalMs: 10,
  ack: 'durable' as const,
  onFull: 'wait' as OnFull,
  ringBytes: 8 * 1024 * 1024,
  maxEventBytes: 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
  segmentMaxAgeMs: 60_000,
});

/** Room kept in every segment for its header, a batch's frame overhead and the seal. */
const kSegmentReserveBytes = 8 * 1024;
const kNodeIdPattern = /^[A-Za-z0-9._-]{1,24}$/;
const kSyncModes: readonly SyncMode[] = ['batch', 'always', 'interval', 'none'];
const kOnFull: readonly OnFull[] = ['wait', 'reject'];

function integerIn(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidOption(
      `options.${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`,
    );
  }
  return value as T;
}

const kKnownOptions = new Set([
  'dir',
  'nodeId',
  'syncMode',
  'syncIntervalMs',
  'ack',
  'onFull',
  'ringBytes',
  'maxEventBytes',
  'maxBatchBytes',
  'segmentBytes',
  'segmentMaxAgeMs',
  'rollAt',
  'onFailure',
  'failStop',
  'clock',
  'walFsModule',
  'walFsModuleData',
  'replication',
  'compliance',
  'metrics',
  'signing',
  'custody',
  'masking',
  'pseudonymization',
  'subjectEncryption',
  'keyProvider',
  'encryption',
  'shadowDirs',
  'onShadowFailure',
]);

/** Validates `input` once, at the edge, and fills in defaults. Throws `ERR_IRONLOG_INVALID_OPTION`. */
export function resolveSinkOptions(input: SinkOptions): ResolvedSinkOptions {
  if (typeof input !== 'object' || input === null) {
    throw invalidOption('options must be an object with at least { dir }');
  }
  for (const key of Object.keys(input)) {
    if (!kKnownOptions.has(key)) throw invalidOption(`options.${key} is not a known option`);
  }
  const { dir } = input;
  if (typeof dir !== 'string' || dir.length === 0) {
    throw invalidOption('options.dir must be a non-empty string (the WAL directory)');
  }
  const nodeId = input.nodeId ?? kDefaultSinkOptions.nodeId;
  if (typeof nodeId !== 'string' || !kNodeIdPattern.test(nodeId)) {
    throw invalidOption(`options.nodeId must be 1-24 characters of [A-Za-z0-9._-], got ${JSON.stringify(nodeId)}`);
  }
  const syncMode = oneOf('syncMode', input.syncMode, kSyncModes, kDefaultSinkOptions.syncMode);
  const syncIntervalMs = integerIn(
    'syncIntervalMs',
    input.syncIntervalMs,
    1,
    60_000,
    kDefaultSinkOptions.syncIntervalMs,
  );
  const ack = oneOf<AckLevel>('ack', input.ack, ['durable', 'written', 'replicated'], kDefaultSinkOptions.ack);
  if (ack === 'replicated' && input.replication === undefined) {
    throw invalidOption("options.ack 'replicated' needs options.replication");
  }
  const onFull = oneOf('onFull', input.onFull, kOnFull, kDefaultSinkOptions.onFull);
  const ringBytes = integerIn(
    'ringBytes',
    input.ringBytes,
    64 * 1024,
    1024 * 1024 * 1024,
    kDefaultSinkOptions.ringBytes,
  );
  if ((ringBytes & (ringBytes - 1)) !== 0) {
    throw invalidOption(`options.ringBytes must be a power of two, got ${ringBytes}`);
  }
  const segmentBytes = integerIn(
    'segmentBytes',
    input.segmentBytes,
    64 * 1024,
    4 * 1024 * 1024 * 1024,
    kDefaultSinkOptions.segmentBytes,
  );
  // Defaults shrink to fit a small ring or segment; explicit values are checked, never shrunk.
  const maxEventBytes = integerIn(
    'maxEventBytes',
    input.maxEventBytes,
    1,
    256 * 1024 * 1024,
    Math.min(kDefaultSinkOptions.maxEventBytes, ringBytes / 4 - 64, segmentBytes / 4),
  );
  if (maxEventBytes > ringBytes / 4 - 64) {
    throw invalidOption(
      `options.maxEventBytes must be at most ringBytes/4 - 64 (${ringBytes / 4 - 64}), got ${maxEventBytes}`,
    );
  }
  const maxBatchBytes = integerIn(
    'maxBatchBytes',
    input.maxBatchBytes,
    4 * 1024,
    256 * 1024 * 1024,
    Math.min(kDefaultSinkOptions.maxBatchBytes, segmentBytes / 4),
  );
  // A batch may overshoot maxBatchBytes by one event; it must always fit in an empty segment
  // with its header and seal, or it could never be written.
  if (segmentBytes < maxBatchBytes + maxEventBytes + kSegmentReserveBytes) {
    throw invalidOption(
      `options.segmentBytes (${segmentBytes}) must be at least maxBatchBytes + maxEventBytes + ${kSegmentReserveBytes} (${maxBatchBytes + maxEventBytes + kSegmentReserveBytes})`,
    );
  }
  const segmentMaxAgeMs = integerIn(
    'segmentMaxAgeMs',
    input.segmentMaxAgeMs,
    10,
    365 * 24 * 3600 * 1000,
    kDefaultSinkOptions.segmentMaxAgeMs,
  );
  const rollAt = resolveRollAt(input.rollAt);
  if (input.onFailure !== undefined && typeof input.onFailure !== 'function') {
    throw invalidOption('options.onFailure must be a function (error) => void');
  }
  if (input.failStop !== undefined && typeof input.failStop !== 'boolean') {
    throw invalidOption(`options.failStop must be a boolean, got ${String(input.failStop)}`);
  }
  if (input.clock !== undefined && typeof input.clock !== 'function') {
    throw invalidOption('options.clock must be a function returning milliseconds since the epoch');
  }
  if (
    input.walFsModule !== undefined &&
    (typeof input.walFsModule !== 'string' || !input.walFsModule.startsWith('/'))
  ) {
    throw invalidOption('options.walFsModule must be an absolute path to an ES module');
  }
  const replication = input.replication === undefined ? undefined : resolveReplicationOptions(input.replication);
  const signing = input.signing === undefined ? undefined : resolveSigningOptions(input.signing, nodeId);
  const metrics = input.metrics ?? false;
  if (typeof metrics !== 'boolean' && !isRegistryLike(metrics)) {
    throw invalidOption('options.metrics must be a boolean or a prom-client Registry');
  }
  const protection = resolveProtectionOptions(input);
  const shadows = resolveShadowOptions(dir, input.shadowDirs, input.onShadowFailure);
  // Last: a profile is checked against the other options, validated.
  const compliance =
    input.compliance === undefined
      ? undefined
      : resolveComplianceOptions(input.compliance, {
          signing,
          masking: protection?.masking,
          pseudonymization: protection?.pseudonymization,
          subjectEncryption: protection?.subjectEncryption,
          encryption: protection?.encryption,
          replication,
          metrics: metrics === false ? undefined : metrics,
        });
  return {
    dir,
    nodeId,
    syncMode,
    syncIntervalMs,
    ack,
    onFull,
    ringBytes,
    maxEventBytes,
    maxBatchBytes,
    segmentBytes,
    segmentMaxAgeMs,
    rollAt,
    onFailure: input.onFailure,
    failStop: input.failStop ?? false,
    walFsModule: input.walFsModule,
    walFsModuleData: input.walFsModuleData,
    replication,
    metrics,
    signing,
    custody: resolveCustodyOption(input.custody),
    protection,
    compliance,
    shadowDirs: shadows.shadowDirs,
    onShadowFailure: shadows.onShadowFailure,
  };
}

/** Duck-typed prom-client Registry check (a second copy of prom-client has its own class). */
function isRegistryLike(value: unknown): value is Registry {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as {
    registerMetric?: unknown;
    getSingleMetric?: unknown;
    removeSingleMetric?: unknown;
    metrics?: unknown;
  };
  return (
    typeof r.registerMetric === 'function' &&
    typeof r.getSingleMetric === 'function' &&
    typeof r.removeSingleMetric === 'function' &&
    typeof r.metrics === 'function'
  );
}
