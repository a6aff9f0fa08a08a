/**
 * Every option rule of `openSink` (src/main/options.ts), of `options.replication`
 * (src/replication/options.ts) and of each `replication.backends[i]` (src/backends/common.ts):
 * each bad input fails with exactly `ERR_IRONLOG_INVALID_OPTION` and exactly the message below,
 * and the edges of every range are accepted (so an off-by-one in either direction fails here).
 * Table-driven, in the manner of piscina's option-validation tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/core/errors.js';
import { kDefaultSinkOptions, resolveSinkOptions, type SinkOptions } from '../src/main/options.js';
import { openSink } from '../src/main/sink.js';
import { kDefaultReplicationOptions } from '../src/replication/options.js';
import { TempDir } from './helpers/tmp.js';

const kDir = '/tmp/ironlog-options-never-created';
const kFs = { type: 'fs', dir: '/tmp/ironlog-options-replica' } as const;

/** What `resolveSinkOptions(input)` throws, as `{ code, message }` (fails the test if it returns). */
function rejectionOf(input: unknown): { code: unknown; message: unknown } {
  try {
    resolveSinkOptions(input as SinkOptions);
  } catch (err) {
    return { code: (err as { code?: unknown }).code, message: (err as Error).message };
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

type Row = readonly [what: string, input: unknown, message: string];

/** Options with `dir` and `extra`. */
const sink = (extra: Record<string, unknown>): unknown => ({ dir: kDir, ...extra });
/** Options with one replication setting. */
const repl = (replication: unknown): unknown => sink({ replication });
/** Options with one backend. */
const backend = (config: unknown): unknown => repl({ backends: [config] });

const kSinkRules: readonly Row[] = [
  ['options not an object', null, 'options must be an object with at least { dir }'],
  ['options a string', './audit', 'options must be an object with at least { dir }'],
  ['options undefined', undefined, 'options must be an object with at least { dir }'],
  ['an unknown option', sink({ segmentSize: 1 }), 'options.segmentSize is not a known option'],
  // rollAt, onFailure, failStop (issue 14)
  [
    'rollAt unknown',
    sink({ rollAt: 'weekly' }),
    `options.rollAt must be 'hourly', 'daily' or { every: 'hourly' | 'daily', timeZone }, got "weekly"`,
  ],
  [
    'rollAt not a string',
    sink({ rollAt: 24 }),
    `options.rollAt must be 'hourly', 'daily' or { every: 'hourly' | 'daily', timeZone }, got 24`,
  ],
  [
    'rollAt without every',
    sink({ rollAt: { timeZone: 'UTC' } }),
    `options.rollAt must be 'hourly', 'daily' or { every: 'hourly' | 'daily', timeZone }, got {"timeZone":"UTC"}`,
  ],
  ['rollAt an unknown key', sink({ rollAt: { every: 'daily', tz: 'UTC' } }), 'options.rollAt.tz is not a known option'],
  [
    'rollAt.timeZone unknown',
    sink({ rollAt: { every: 'daily', timeZone: 'Mars/Olympus_Mons' } }),
    `options.rollAt.timeZone must be an IANA time zone name (e.g. 'Europe/Berlin'), got "Mars/Olympus_Mons"`,
  ],
  [
    'rollAt.timeZone not a string',
    sink({ rollAt: { every: 'hourly', timeZone: 5 } }),
    'options.rollAt.timeZone must be an IANA time zone name, got 5',
  ],
  ['onFailure not a function', sink({ onFailure: 'log' }), 'options.onFailure must be a function (error) => void'],
  ['failStop not a boolean', sink({ failStop: 'yes' }), 'options.failStop must be a boolean, got yes'],
  ['dir missing', {}, 'options.dir must be a non-empty string (the WAL directory)'],
  ['dir empty', { dir: '' }, 'options.dir must be a non-empty string (the WAL directory)'],
  ['dir not a string', { dir: 5 }, 'options.dir must be a non-empty string (the WAL directory)'],
  ['nodeId empty', sink({ nodeId: '' }), 'options.nodeId must be 1-24 characters of [A-Za-z0-9._-], got ""'],
  [
    'nodeId with a slash',
    sink({ nodeId: 'a/b' }),
    'options.nodeId must be 1-24 characters of [A-Za-z0-9._-], got "a/b"',
  ],
  [
    'nodeId of 25 characters',
    sink({ nodeId: 'n'.repeat(25) }),
    `options.nodeId must be 1-24 characters of [A-Za-z0-9._-], got "${'n'.repeat(25)}"`,
  ],
  ['nodeId not a string', sink({ nodeId: 7 }), 'options.nodeId must be 1-24 characters of [A-Za-z0-9._-], got 7'],
  [
    'syncMode unknown',
    sink({ syncMode: 'sometimes' }),
    "options.syncMode must be one of 'batch', 'always', 'interval', 'none', got sometimes",
  ],
  [
    'syncMode not a string',
    sink({ syncMode: 1 }),
    "options.syncMode must be one of 'batch', 'always', 'interval', 'none', got 1",
  ],
  ['syncIntervalMs 0', sink({ syncIntervalMs: 0 }), 'options.syncIntervalMs must be an integer from 1 to 60000, got 0'],
  [
    'syncIntervalMs above 60,000',
    sink({ syncIntervalMs: 60_001 }),
    'options.syncIntervalMs must be an integer from 1 to 60000, got 60001',
  ],
  [
    'syncIntervalMs a fraction',
    sink({ syncIntervalMs: 1.5 }),
    'options.syncIntervalMs must be an integer from 1 to 60000, got 1.5',
  ],
  [
    'syncIntervalMs a string',
    sink({ syncIntervalMs: '10' }),
    'options.syncIntervalMs must be an integer from 1 to 60000, got 10',
  ],
  ['ack unknown', sink({ ack: 'quorum' }), "options.ack must be one of 'durable', 'written', 'replicated', got quorum"],
  [
    'ack replicated without replication',
    sink({ ack: 'replicated' }),
    "options.ack 'replicated' needs options.replication",
  ],
  ['onFull unknown', sink({ onFull: 'drop' }), "options.onFull must be one of 'wait', 'reject', got drop"],
  [
    'ringBytes below 64 KiB',
    sink({ ringBytes: 32_768 }),
    'options.ringBytes must be an integer from 65536 to 1073741824, got 32768',
  ],
  [
    'ringBytes above 1 GiB',
    sink({ ringBytes: 2 ** 31 }),
    'options.ringBytes must be an integer from 65536 to 1073741824, got 2147483648',
  ],
  [
    'ringBytes not a power of two',
    sink({ ringBytes: 100_000 }),
    'options.ringBytes must be a power of two, got 100000',
  ],
  [
    'segmentBytes below 64 KiB',
    sink({ segmentBytes: 65_535 }),
    'options.segmentBytes must be an integer from 65536 to 4294967296, got 65535',
  ],
  [
    'segmentBytes above 4 GiB',
    sink({ segmentBytes: 2 ** 32 + 1 }),
    'options.segmentBytes must be an integer from 65536 to 4294967296, got 4294967297',
  ],
  [
    'maxEventBytes 0',
    sink({ maxEventBytes: 0 }),
    'options.maxEventBytes must be an integer from 1 to 268435456, got 0',
  ],
  [
    'maxEventBytes above 256 MiB',
    sink({ maxEventBytes: 2 ** 28 + 1 }),
    'options.maxEventBytes must be an integer from 1 to 268435456, got 268435457',
  ],
  [
    'maxEventBytes over a quarter of the ring',
    sink({ ringBytes: 65_536, maxEventBytes: 16_321 }),
    'options.maxEventBytes must be at most ringBytes/4 - 64 (16320), got 16321',
  ],
  [
    'maxBatchBytes below 4 KiB',
    sink({ maxBatchBytes: 4_095 }),
    'options.maxBatchBytes must be an integer from 4096 to 268435456, got 4095',
  ],
  [
    'maxBatchBytes above 256 MiB',
    sink({ maxBatchBytes: 2 ** 28 + 1 }),
    'options.maxBatchBytes must be an integer from 4096 to 268435456, got 268435457',
  ],
  [
    'a batch that cannot fit in an empty segment',
    sink({ segmentBytes: 65_536, maxBatchBytes: 65_536 }),
    'options.segmentBytes (65536) must be at least maxBatchBytes + maxEventBytes + 8192 (90112)',
  ],
  [
    'segmentMaxAgeMs below 10',
    sink({ segmentMaxAgeMs: 9 }),
    'options.segmentMaxAgeMs must be an integer from 10 to 31536000000, got 9',
  ],
  [
    'segmentMaxAgeMs above a year',
    sink({ segmentMaxAgeMs: 31_536_000_001 }),
    'options.segmentMaxAgeMs must be an integer from 10 to 31536000000, got 31536000001',
  ],
  [
    'clock not a function',
    sink({ clock: 5 }),
    'options.clock must be a function returning milliseconds since the epoch',
  ],
  [
    'walFsModule relative',
    sink({ walFsModule: 'fault-fs.js' }),
    'options.walFsModule must be an absolute path to an ES module',
  ],
  [
    'walFsModule not a string',
    sink({ walFsModule: 5 }),
    'options.walFsModule must be an absolute path to an ES module',
  ],
  [
    'compliance without a profile',
    sink({ compliance: {} }),
    "options.compliance.profile must be one of 'HIPAA', 'PCI-DSS', 'SOX', 'GDPR', got undefined",
  ],
  [
    'compliance with an unknown field',
    sink({ compliance: { profile: 'SOX', retention: 7 } }),
    'options.compliance.retention is not a known option',
  ],
  [
    'compliance retentionDays not an integer',
    sink({ compliance: { profile: 'SOX', retentionDays: 1.5 } }),
    'options.compliance.retentionDays must be an integer from 1 to 36600 (days), got 1.5',
  ],
  ['metrics a string', sink({ metrics: 'yes' }), 'options.metrics must be a boolean or a prom-client Registry'],
  [
    'metrics an object that is no Registry',
    sink({ metrics: { registerMetric() {} } }),
    'options.metrics must be a boolean or a prom-client Registry',
  ],
];

const kReplicationRules: readonly Row[] = [
  ['replication not an object', repl(5), 'options.replication must be an object { quorum, backends: [...] }'],
  ['replication null', repl(null), 'options.replication must be an object { quorum, backends: [...] }'],
  ['an unknown key', repl({ backends: [kFs], pool: 2 }), 'options.replication.pool is not a known option'],
  ['backends missing', repl({}), 'options.replication.backends must be a non-empty array'],
  ['backends empty', repl({ backends: [] }), 'options.replication.backends must be a non-empty array'],
  ['backends not an array', repl({ backends: kFs }), 'options.replication.backends must be a non-empty array'],
  [
    'two backends of one name',
    repl({ backends: [kFs, { ...kFs }] }),
    'options.replication.backends names must be unique: fs:/tmp/ironlog-options-replica appears twice',
  ],
  [
    'quorum 0',
    repl({ backends: [kFs], quorum: 0 }),
    'options.replication.quorum must be an integer from 1 to 1, got 0',
  ],
  [
    'quorum above the backend count',
    repl({ backends: [kFs, { ...kFs, name: 'b' }], quorum: 3 }),
    'options.replication.quorum must be an integer from 1 to 2, got 3',
  ],
  [
    'threads 0',
    repl({ backends: [kFs], threads: 0 }),
    'options.replication.threads must be an integer from 1 to 64, got 0',
  ],
  [
    'threads above 64',
    repl({ backends: [kFs], threads: 65 }),
    'options.replication.threads must be an integer from 1 to 64, got 65',
  ],
  ['retry not an object', repl({ backends: [kFs], retry: 5 }), 'options.replication.retry must be an object'],
  [
    'retry with an unknown key',
    repl({ backends: [kFs], retry: { base: 1 } }),
    'options.replication.retry.base is not a known option',
  ],
  [
    'retry.baseMs 0',
    repl({ backends: [kFs], retry: { baseMs: 0 } }),
    'options.replication.retry.baseMs must be an integer from 1 to 3600000, got 0',
  ],
  [
    'retry.baseMs above an hour',
    repl({ backends: [kFs], retry: { baseMs: 3_600_001, capMs: 86_400_000 } }),
    'options.replication.retry.baseMs must be an integer from 1 to 3600000, got 3600001',
  ],
  [
    'retry.capMs above a day',
    repl({ backends: [kFs], retry: { capMs: 86_400_001 } }),
    'options.replication.retry.capMs must be an integer from 1 to 86400000, got 86400001',
  ],
  [
    'retry.capMs below retry.baseMs',
    repl({ backends: [kFs], retry: { baseMs: 500, capMs: 499 } }),
    'options.replication.retry.capMs must be at least retry.baseMs',
  ],
  ['breaker not an object', repl({ backends: [kFs], breaker: 'on' }), 'options.replication.breaker must be an object'],
  [
    'breaker with an unknown key',
    repl({ backends: [kFs], breaker: { threshold: 3 } }),
    'options.replication.breaker.threshold is not a known option',
  ],
  [
    'breaker.failureThreshold 0',
    repl({ backends: [kFs], breaker: { failureThreshold: 0 } }),
    'options.replication.breaker.failureThreshold must be an integer from 1 to 1000, got 0',
  ],
  [
    'breaker.failureThreshold above 1000',
    repl({ backends: [kFs], breaker: { failureThreshold: 1001 } }),
    'options.replication.breaker.failureThreshold must be an integer from 1 to 1000, got 1001',
  ],
  [
    'breaker.cooldownMs 0',
    repl({ backends: [kFs], breaker: { cooldownMs: 0 } }),
    'options.replication.breaker.cooldownMs must be an integer from 1 to 86400000, got 0',
  ],
  [
    'localRetention not an object',
    repl({ backends: [kFs], localRetention: 5 }),
    'options.replication.localRetention must be an object',
  ],
  [
    'localRetention null',
    repl({ backends: [kFs], localRetention: null }),
    'options.replication.localRetention must be an object',
  ],
  [
    'localRetention with an unknown key',
    repl({ backends: [kFs], localRetention: { deleteAfterMs: 0, keepDays: 1 } }),
    'options.replication.localRetention.keepDays is not a known option',
  ],
  [
    'localRetention without deleteAfterMs',
    repl({ backends: [kFs], localRetention: {} }),
    'options.replication.localRetention.deleteAfterMs must be given',
  ],
  [
    'localRetention.deleteAfterMs negative',
    repl({ backends: [kFs], localRetention: { deleteAfterMs: -1 } }),
    'options.replication.localRetention.deleteAfterMs must be an integer from 0 to 9007199254740991, got -1',
  ],
  [
    'localRetention.legalHold not a boolean',
    repl({ backends: [kFs], localRetention: { deleteAfterMs: 0, legalHold: 'yes' } }),
    'options.replication.localRetention.legalHold must be a boolean',
  ],
  [
    'closeTimeoutMs negative',
    repl({ backends: [kFs], closeTimeoutMs: -1 }),
    'options.replication.closeTimeoutMs must be an integer from 0 to 3600000, got -1',
  ],
  [
    'closeTimeoutMs above an hour',
    repl({ backends: [kFs], closeTimeoutMs: 3_600_001 }),
    'options.replication.closeTimeoutMs must be an integer from 0 to 3600000, got 3600001',
  ],
];

const b0 = 'options.replication.backends[0]';
const kS3 = { type: 's3', bucket: 'audit' } as const;
const kAzure = { type: 'azure', connectionString: 'UseDevelopmentStorage=true', container: 'audit' } as const;
const kGcs = { type: 'gcs', bucket: 'audit' } as const;

const kBackendRules: readonly Row[] = [
  ['a backend not an object', backend('s3://audit'), `${b0} must be an object`],
  ['a backend null', backend(null), `${b0} must be an object`],
  ['type unknown', backend({ type: 'ftp' }), `${b0}.type must be one of 's3', 'azure', 'gcs', 'fs', got ftp`],
  ['type missing', backend({ dir: '/x' }), `${b0}.type must be one of 's3', 'azure', 'gcs', 'fs', got undefined`],
  ['name empty', backend({ ...kFs, name: '' }), `${b0}.name must be a non-empty string`],
  ['prefix not a string', backend({ ...kFs, prefix: 5 }), `${b0}.prefix must be a string`],
  [
    'requestTimeoutMs 0',
    backend({ ...kFs, requestTimeoutMs: 0 }),
    `${b0}.requestTimeoutMs must be an integer of at least 1, got 0`,
  ],
  [
    'requestTimeoutMs a fraction',
    backend({ ...kFs, requestTimeoutMs: 1.5 }),
    `${b0}.requestTimeoutMs must be an integer of at least 1, got 1.5`,
  ],
  ['verify unknown', backend({ ...kFs, verify: 'md5' }), `${b0}.verify must be one of 'checksum', 'read-back'`],
  ['fs without dir', backend({ type: 'fs' }), `${b0}.dir must be a non-empty string`],
  ['s3 without bucket', backend({ type: 's3' }), `${b0}.bucket must be a non-empty string`],
  ['s3 region empty', backend({ ...kS3, region: '' }), `${b0}.region must be a non-empty string`],
  ['s3 endpoint not a string', backend({ ...kS3, endpoint: 5 }), `${b0}.endpoint must be a non-empty string`],
  [
    's3 forcePathStyle not a boolean',
    backend({ ...kS3, forcePathStyle: 'yes' }),
    `${b0}.forcePathStyle must be a boolean`,
  ],
  ['s3 legalHold not a boolean', backend({ ...kS3, legalHold: 1 }), `${b0}.legalHold must be a boolean`],
  [
    's3 multipartThresholdBytes below 64 KiB',
    backend({ ...kS3, multipartThresholdBytes: 65_535 }),
    `${b0}.multipartThresholdBytes must be an integer of at least 65536, got 65535`,
  ],
  [
    's3 multipartPartBytes below 64 KiB',
    backend({ ...kS3, multipartPartBytes: 1 }),
    `${b0}.multipartPartBytes must be an integer of at least 65536, got 1`,
  ],
  [
    's3 objectLock mode unknown',
    backend({ ...kS3, objectLock: { mode: 'STRICT', retainDays: 1 } }),
    `${b0}.objectLock.mode must be one of 'GOVERNANCE', 'COMPLIANCE'`,
  ],
  [
    's3 objectLock not an object',
    backend({ ...kS3, objectLock: 'COMPLIANCE' }),
    `${b0}.objectLock.mode must be one of 'GOVERNANCE', 'COMPLIANCE'`,
  ],
  [
    's3 objectLock without retainDays',
    backend({ ...kS3, objectLock: { mode: 'GOVERNANCE' } }),
    `${b0}.objectLock.retainDays must be an integer of at least 1`,
  ],
  [
    's3 objectLock retainDays 0',
    backend({ ...kS3, objectLock: { mode: 'COMPLIANCE', retainDays: 0 } }),
    `${b0}.objectLock.retainDays must be an integer of at least 1, got 0`,
  ],
  ['s3 credentials not an object', backend({ ...kS3, credentials: 'key' }), `${b0}.credentials must be an object`],
  [
    's3 credentials without accessKeyId',
    backend({ ...kS3, credentials: { secretAccessKey: 's' } }),
    `${b0}.credentials.accessKeyId must be a non-empty string`,
  ],
  [
    's3 credentials without secretAccessKey',
    backend({ ...kS3, credentials: { accessKeyId: 'a' } }),
    `${b0}.credentials.secretAccessKey must be a non-empty string`,
  ],
  [
    'azure without connectionString',
    backend({ type: 'azure', container: 'c' }),
    `${b0}.connectionString must be a non-empty string`,
  ],
  [
    'azure without container',
    backend({ type: 'azure', connectionString: 'x' }),
    `${b0}.container must be a non-empty string`,
  ],
  ['azure legalHold not a boolean', backend({ ...kAzure, legalHold: 'no' }), `${b0}.legalHold must be a boolean`],
  [
    'azure immutability mode unknown',
    backend({ ...kAzure, immutability: { mode: 'Forever', retainDays: 1 } }),
    `${b0}.immutability.mode must be one of 'Unlocked', 'Locked'`,
  ],
  [
    'azure immutability without retainDays',
    backend({ ...kAzure, immutability: { mode: 'Locked' } }),
    `${b0}.immutability.retainDays must be an integer of at least 1`,
  ],
  ['gcs without bucket', backend({ type: 'gcs' }), `${b0}.bucket must be a non-empty string`],
  ['gcs projectId empty', backend({ ...kGcs, projectId: '' }), `${b0}.projectId must be a non-empty string`],
  [
    'gcs apiEndpoint not a string',
    backend({ ...kGcs, apiEndpoint: 1 }),
    `${b0}.apiEndpoint must be a non-empty string`,
  ],
  ['gcs keyFilename empty', backend({ ...kGcs, keyFilename: '' }), `${b0}.keyFilename must be a non-empty string`],
  [
    'gcs eventBasedHold not a boolean',
    backend({ ...kGcs, eventBasedHold: 1 }),
    `${b0}.eventBasedHold must be a boolean`,
  ],
  [
    'gcs temporaryHold not a boolean',
    backend({ ...kGcs, temporaryHold: 'y' }),
    `${b0}.temporaryHold must be a boolean`,
  ],
  [
    'gcs retention mode unknown',
    backend({ ...kGcs, retention: { mode: 'locked', retainDays: 1 } }),
    `${b0}.retention.mode must be one of 'Unlocked', 'Locked'`,
  ],
  [
    'gcs retention retainDays 0',
    backend({ ...kGcs, retention: { mode: 'Locked', retainDays: 0 } }),
    `${b0}.retention.retainDays must be an integer of at least 1, got 0`,
  ],
  [
    'the second backend is named by its index',
    repl({ backends: [kFs, { type: 'fs', dir: '' }] }),
    'options.replication.backends[1].dir must be a non-empty string',
  ],
];

describe.each([
  ['openSink options', kSinkRules],
  ['options.replication', kReplicationRules],
  ['options.replication.backends[i]', kBackendRules],
] as const)('%s: each bad input fails with ERR_IRONLOG_INVALID_OPTION and its exact message', (_, rows) => {
  it.each(rows)('%s', (_what, input, message) => {
    expect(rejectionOf(input)).toEqual({ code: ErrorCodes.INVALID_OPTION, message });
  });
});

describe('the edges of every range are accepted', () => {
  it.each([
    ['nodeId of 24 characters', sink({ nodeId: 'n'.repeat(24) })],
    ['nodeId of every allowed character class', sink({ nodeId: 'Az09._-' })],
    ['syncIntervalMs 1', sink({ syncMode: 'interval', syncIntervalMs: 1 })],
    ['syncIntervalMs 60,000', sink({ syncIntervalMs: 60_000 })],
    ['ringBytes 64 KiB', sink({ ringBytes: 65_536 })],
    ['ringBytes 1 GiB', sink({ ringBytes: 2 ** 30 })],
    ['segmentBytes 4 GiB', sink({ segmentBytes: 2 ** 32 })],
    ['maxEventBytes 1', sink({ maxEventBytes: 1 })],
    ['maxEventBytes ringBytes/4 - 64', sink({ ringBytes: 65_536, maxEventBytes: 16_320 })],
    ['maxBatchBytes 4 KiB', sink({ maxBatchBytes: 4_096 })],
    ['a batch that just fits', sink({ segmentBytes: 65_536, maxBatchBytes: 40_960, maxEventBytes: 16_384 })],
    ['segmentMaxAgeMs 10', sink({ segmentMaxAgeMs: 10 })],
    ['segmentMaxAgeMs one year', sink({ segmentMaxAgeMs: 31_536_000_000 })],
    ['walFsModule absolute', sink({ walFsModule: '/opt/fault-fs.js' })],
    ['metrics true', sink({ metrics: true })],
    ['ack replicated with replication', sink({ ack: 'replicated', replication: { backends: [kFs] } })],
    ['quorum 1 of 2', repl({ backends: [kFs, { ...kFs, name: 'b' }], quorum: 1 })],
    ['threads 64', repl({ backends: [kFs], threads: 64 })],
    ['retry capMs = baseMs', repl({ backends: [kFs], retry: { baseMs: 7, capMs: 7 } })],
    ['retry at its maxima', repl({ backends: [kFs], retry: { baseMs: 3_600_000, capMs: 86_400_000 } })],
    ['breaker at its edges', repl({ backends: [kFs], breaker: { failureThreshold: 1000, cooldownMs: 1 } })],
    ['localRetention 0 ms', repl({ backends: [kFs], localRetention: { deleteAfterMs: 0 } })],
    ['closeTimeoutMs 0', repl({ backends: [kFs], closeTimeoutMs: 0 })],
    ['closeTimeoutMs one hour', repl({ backends: [kFs], closeTimeoutMs: 3_600_000 })],
    [
      'every backend type with its optional fields',
      repl({
        quorum: 4,
        backends: [
          { ...kFs, name: 'fs', prefix: '', verify: 'read-back', requestTimeoutMs: 1 },
          {
            ...kS3,
            region: 'us-east-1',
            endpoint: 'http://127.0.0.1:1',
            forcePathStyle: true,
            legalHold: false,
            multipartThresholdBytes: 65_536,
            multipartPartBytes: 65_536,
            objectLock: { mode: 'COMPLIANCE', retainDays: 1 },
            credentials: { accessKeyId: 'a', secretAccessKey: 's' },
          },
          { ...kAzure, legalHold: true, immutability: { mode: 'Unlocked', retainDays: 1 } },
          {
            ...kGcs,
            projectId: 'p',
            apiEndpoint: 'http://127.0.0.1:1',
            eventBasedHold: false,
            temporaryHold: true,
            retention: { mode: 'Locked', retainDays: 2 },
          },
        ],
      }),
    ],
  ] as const)('%s', (_what, input) => {
    expect(() => resolveSinkOptions(input as SinkOptions)).not.toThrow();
  });
});

describe('defaults', () => {
  it('fills every default, and an explicit undefined keeps the default', () => {
    const r = resolveSinkOptions({ dir: kDir, syncMode: undefined, ringBytes: undefined });
    expect(r).toEqual({
      dir: kDir,
      nodeId: kDefaultSinkOptions.nodeId,
      syncMode: 'batch',
      syncIntervalMs: 10,
      ack: 'durable',
      onFull: 'wait',
      ringBytes: 8 * 1024 * 1024,
      maxEventBytes: 1024 * 1024,
      maxBatchBytes: 1024 * 1024,
      segmentBytes: 64 * 1024 * 1024,
      segmentMaxAgeMs: 60_000,
      rollAt: undefined,
      onFailure: undefined,
      failStop: false,
      walFsModule: undefined,
      walFsModuleData: undefined,
      replication: undefined,
      metrics: false,
      shadowDirs: [],
      onShadowFailure: 'fail',
    });
  });

  it('default sizes shrink to fit a small ring or segment; explicit ones are never shrunk', () => {
    const small = resolveSinkOptions({ dir: kDir, ringBytes: 65_536, segmentBytes: 65_536 });
    expect(small.maxEventBytes).toBe(16_320); // ringBytes/4 - 64
    expect(small.maxBatchBytes).toBe(16_384); // segmentBytes/4
  });

  it('replication defaults: quorum = every backend, and the documented retry, breaker and close timeout', () => {
    const r = resolveSinkOptions({ dir: kDir, replication: { backends: [kFs, { ...kFs, name: 'b' }] } }).replication;
    expect(r).toEqual({
      quorum: 2,
      backends: [kFs, { ...kFs, name: 'b' }],
      threads: kDefaultReplicationOptions.threads,
      retry: { baseMs: 200, capMs: 30_000 },
      breaker: { failureThreshold: 5, cooldownMs: 10_000 },
      localRetention: undefined,
      closeTimeoutMs: 5_000,
    });
  });
});

describe('openSink validates before it touches the disk', () => {
  let tmp: TempDir;
  beforeEach(() => {
    tmp = new TempDir('ironlog-options-');
  });
  afterEach(() => tmp.dispose());

  it('rejects with the same code and message and creates no directory', async () => {
    const dir = path.join(tmp.path, 'wal');
    await expect(openSink({ dir, ringBytes: 100_000 })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: 'options.ringBytes must be a power of two, got 100000',
    });
    await expect(openSink({ dir, replication: { backends: [{ type: 'fs', dir: '' }] } })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: 'options.replication.backends[0].dir must be a non-empty string',
    });
    expect(fs.existsSync(dir)).toBe(false);
  });
});
