/**
 * ironlog: durable, tamper-evident event ingest for Node.
 *
 * ```ts
 * import { openSink } from 'ironlog';
 * const sink = await openSink({ dir: './audit' });
 * const { seq } = await sink.emit({ user: 'u1', action: 'login' }); // durable (fdatasync'd)
 * await sink.close();
 * ```
 * @packageDocumentation
 */

// Types that public signatures refer to (so the API reference and users can name them).
export type {
  AzureBackendConfig,
  Backend,
  BackendConfig,
  FsBackendConfig,
  GcsBackendConfig,
  ObjectInfo,
  PutOptions,
  PutResult,
  S3BackendConfig,
  S3Credentials,
  VerifyMode,
  VersioningState,
} from '../backends/types.js';
export type { CheckpointerStatus, CheckpointInfo } from '../compliance/checkpointer.js';
// ---- compliance profiles, retention and legal hold, reports (issue 12) ----
export type { ComplianceOptions, ResolvedComplianceOptions } from '../compliance/compliance-options.js';
export {
  type CustodyAction,
  type CustodyDetails,
  type CustodyEntry,
  type CustodyHead,
  type CustodyProblem,
  type CustodyRange,
  type CustodyResult,
  type CustodyVerifyReport,
  kCustodyGenesis,
  kCustodyGenesisText,
  listCustodyEntries,
  verifyCustodyLog,
} from '../compliance/custody.js';
export {
  type CustodyContext,
  type CustodyOption,
  type CustodyOptions,
  recordCustody,
} from '../compliance/custody-session.js';
export { type LogEntry, type ReadLogEntriesOptions, readLogEntries } from '../compliance/entries.js';
export { type EraseSubjectOptions, type EraseSubjectResult, eraseSubject } from '../compliance/erasure.js';
export {
  type ClearHoldOptions,
  clearHold,
  type HoldRange,
  type LegalHold,
  listHolds,
  type SetHoldOptions,
  setHold,
} from '../compliance/holds.js';
export type { LocalKeyProvider, ResolvedKeyProvider } from '../compliance/keys.js';
// ---- data protection (issue 11) ----
export {
  type AwsKmsOptions,
  awsKmsKeyProvider,
  envKeyProvider,
  fileKeyProvider,
  type GeneratedDataKey,
  type KeyContext,
  type KeyProvider,
  type KeyProviderSpec,
  parseKeysText,
  type StaticKeysOptions,
  staticKeyProvider,
} from '../compliance/keys.js';
export { kErased } from '../compliance/keystore.js';
export type { FieldMaskRule, MaskAction, MaskingOptions, PatternMaskRule } from '../compliance/mask.js';
export type { BackendFact, ComplianceFacts, ComplianceRetention, RequirementCheck } from '../compliance/profiles.js';
export {
  type ClauseResult,
  type ClauseStatus,
  type ComplianceProfile,
  getProfile,
  kProfileNames,
  type ProfileClause,
  type ProfileName,
} from '../compliance/profiles.js';
export type { RecordOpener } from '../compliance/protected-read.js';
export {
  checkDecryption,
  type DecryptionReport,
  type DecryptOptions,
  readProtectedWal,
} from '../compliance/protected-read.js';
export type {
  EncryptionOptions,
  ProtectionConfig,
  ProtectionDescriptor,
  SubjectEncryptionOptions,
} from '../compliance/protection.js';
export {
  type ConsistencyProof,
  formatConsistencyProof,
  formatRecordProof,
  type RecordProof,
  type VerifiedProof,
  verifyProofText,
} from '../compliance/prove.js';
export type { PseudonymKey } from '../compliance/pseudonymize.js';
export type { BackendStatus, RemoteHistory, SeqGap } from '../compliance/report-model.js';
export {
  buildReportModel,
  parsePeriod,
  type ReportInput,
  type ReportModel,
  type ReportPeriod,
} from '../compliance/report-model.js';
export type { ResolvedSigningOptions, SigningOptions, WitnessOptions } from '../compliance/signing-options.js';
export type { CheckpointEvent } from '../compliance/time-note.js';
export type {
  LogProblem,
  LogProblemKind,
  TimePeriod,
  VerifyLogOptions,
  VerifyLogReport,
} from '../compliance/verify-log.js';
export type { WitnessStatus } from '../compliance/witness-pool.js';
export { type ErrorCode, ErrorCodes, IronlogError, isIronlogError, type WireError } from '../core/errors.js';
export type { WriterStatsSnapshot } from '../groupcommit/writer-stats.js';
export type { HealthOptions, HealthReport, IntegrityStatus } from '../monitoring/health.js';
export type { SinkMetrics } from '../monitoring/sink-metrics.js';
export type {
  BackendReplicationStatus,
  ReplicationEvents,
  ReplicationStatus,
} from '../replication/manager.js';
export type {
  BreakerOptions,
  LocalRetentionOptions,
  ReplicationOptions,
  RetryOptions,
} from '../replication/options.js';
export {
  parseRemoteUrl,
  proveRemoteConsistency,
  proveRemoteRecord,
  type RemoteLogNodeReport,
  type RemoteLogVerifyOptions,
  type RemoteLogVerifyReport,
  type RemoteNodeReport,
  type RemoteProveOptions,
  type RemoteReadOptions,
  type RemoteRecord,
  type RemoteSource,
  type RemoteVerifyReport,
  verifyRemoteLog,
} from '../replication/readback.js';
// failure policy and calendar rotation (issue 14)
export type { ResolvedRollAt, RollAt, RollPeriod } from '../wal/calendar-roll.js';
export type { WalFs } from '../wal/fs.js';
export type {
  RecoverWalOptions,
  RecoveryReport,
  ShadowComparison,
  ShadowContribution,
  VerifyProblem,
  VerifyReport,
  VerifyWalOptions,
  WalProgress,
  WalRecord,
} from '../wal/index.js';
export type { SealedSegment } from '../wal/sealed-segment.js';
export { SealedValue } from '../wal/sealed-value.js';
// The offline entry points with the chain of custody (one custody entry per call).
export {
  type CustodialOptions,
  proveConsistency,
  proveRecord,
  readRemoteWal,
  readWal,
  recoverWal,
  verifyLog,
  verifyRemoteWal,
  verifyWal,
} from './custodial.js';
export { FAIL_STOP_EXIT_CODE } from './failure-policy.js';
export {
  type AckLevel,
  kDefaultSinkOptions,
  type OnFull,
  type ResolvedSinkOptions,
  resolveSinkOptions,
  type SinkOptions,
  type SyncMode,
} from './options.js';
export { type Ack, connectProducer, Producer, type ProducerDescriptor } from './producer.js';
export { type PruneOptions, type PruneResult, pruneSegments } from './prune.js';
export type {
  ShadowDirStatus,
  ShadowFailureEvent,
  ShadowFailurePolicy,
  ShadowStatus,
} from './shadows.js';
export { openSink, type ReplayOptions, Sink, type SinkEvents } from './sink.js';
// ---- multi-tenant sink groups (issue 14) ----
export {
  openSinkGroup,
  SinkGroup,
  type SinkGroupHealth,
  type SinkGroupOptions,
  type SinkGroupStats,
  type TenantOptions,
  type TenantSpec,
  type TenantStats,
} from './sink-group.js';
export { isTenantId, kTenantIdPattern } from './tenant-dir.js';
