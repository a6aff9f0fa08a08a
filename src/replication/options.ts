/** The `replication` option of `openSink`: its contract, defaults and validation. */
import { backendName, validateBackendConfig } from '../backends/common.js';
import type { BackendConfig } from '../backends/types.js';
import { invalidOption } from '../core/errors.js';

/** Retry policy per backend: full-jitter exponential backoff. */
export interface RetryOptions {
  /** First backoff ceiling in ms. Default 200. The n-th retry waits a uniform random time in `[0, min(capMs, baseMs * 2^n))`. */
  baseMs?: number;
  /** Largest backoff ceiling in ms. Default 30,000. */
  capMs?: number;
}

/** Circuit breaker per backend. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long an open breaker rejects work before one trial request (half-open). Default 10,000 ms. */
  cooldownMs?: number;
}

/** Deletion of local sealed segments once they are safely replicated. */
export interface LocalRetentionOptions {
  /**
   * Delete a local sealed segment this many ms after it was sealed, once it is stored and verified
   * on at least `quorum` backends and no backend is still retrying it. The newest segment file is
   * always kept (the writer links the next segment to it).
   */
  deleteAfterMs: number;
  /** Legal hold: while true nothing is ever deleted locally. Default false. */
  legalHold?: boolean;
}

/** `openSink({ replication })`: sealed segments are uploaded to every backend. See `docs/replication.md`. */
export interface ReplicationOptions {
  /**
   * Backends that must hold a verified copy of a segment before it counts as replicated (for
   * `ack: 'replicated'` and for local deletion). 1..backends.length; default: all of them.
   */
  quorum?: number;
  /** Where to replicate: S3, Azure Blob, GCS, a directory. At least one; names must be unique. */
  backends: BackendConfig[];
  /** Upload worker threads (piscina). Default 2. */
  threads?: number;
  retry?: RetryOptions;
  breaker?: BreakerOptions;
  /** Local deletion after replication. Default: never delete. */
  localRetention?: LocalRetentionOptions;
  /** How long `close()` waits for uploads in flight before abandoning them (they resume on the next open). Default 5,000 ms. */
  closeTimeoutMs?: number;
}

/** {@link ReplicationOptions} after validation and defaults. */
export interface ResolvedReplicationOptions {
  readonly quorum: number;
  readonly backends: readonly BackendConfig[];
  readonly threads: number;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly breaker: Readonly<Required<BreakerOptions>>;
  readonly localRetention: Readonly<Required<LocalRetentionOptions>> | undefined;
  readonly closeTimeoutMs: number;
}

export const kDefaultReplicationOptions = Object.freeze({
  threads: 2,
  retry: Object.freeze({ baseMs: 200, capMs: 30_000 }),
  breaker: Object.freeze({ failureThreshold: 5, cooldownMs: 10_000 }),
  closeTimeoutMs: 5_000,
});

function int(name: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidOption(`options.replication.${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

const kKnown = new Set(['quorum', 'backends', 'threads', 'retry', 'breaker', 'localRetention', 'closeTimeoutMs']);

/**
 * `options.replication.<name>`: undefined, or an object whose keys are all in `known`. Returns it
 * (`{}` when undefined), so a misspelt nested field fails instead of silently keeping a default.
 */
function section<K extends string>(name: string, v: unknown, known: readonly K[]): { readonly [P in K]?: unknown } {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null) throw invalidOption(`options.replication.${name} must be an object`);
  for (const key of Object.keys(v)) {
    if (!(known as readonly string[]).includes(key)) {
      throw invalidOption(`options.replication.${name}.${key} is not a known option`);
    }
  }
  return v as { readonly [P in K]?: unknown };
}

/** Validates `options.replication` (throws `ERR_IRONLOG_INVALID_OPTION`). */
export function resolveReplicationOptions(input: unknown): ResolvedReplicationOptions {
  if (typeof input !== 'object' || input === null) {
    throw invalidOption('options.replication must be an object { quorum, backends: [...] }');
  }
  const r = input as {
    quorum?: unknown;
    backends?: unknown;
    threads?: unknown;
    retry?: unknown;
    breaker?: unknown;
    localRetention?: unknown;
    closeTimeoutMs?: unknown;
  };
  for (const key of Object.keys(r)) {
    if (!kKnown.has(key)) throw invalidOption(`options.replication.${key} is not a known option`);
  }
  const list = r.backends;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidOption('options.replication.backends must be a non-empty array');
  }
  const backends = list.map((b, i) => validateBackendConfig(`options.replication.backends[${i}]`, b));
  const names = new Set<string>();
  for (const b of backends) {
    const n = backendName(b);
    if (names.has(n)) throw invalidOption(`options.replication.backends names must be unique: ${n} appears twice`);
    names.add(n);
  }
  const quorum = int('quorum', r.quorum, 1, backends.length, backends.length);
  const threads = int('threads', r.threads, 1, 64, kDefaultReplicationOptions.threads);
  const retryIn = section('retry', r.retry, ['baseMs', 'capMs']);
  const retry = {
    baseMs: int('retry.baseMs', retryIn.baseMs, 1, 3_600_000, kDefaultReplicationOptions.retry.baseMs),
    capMs: int('retry.capMs', retryIn.capMs, 1, 86_400_000, kDefaultReplicationOptions.retry.capMs),
  };
  if (retry.capMs < retry.baseMs) throw invalidOption('options.replication.retry.capMs must be at least retry.baseMs');
  const brIn = section('breaker', r.breaker, ['failureThreshold', 'cooldownMs']);
  const breaker = {
    failureThreshold: int(
      'breaker.failureThreshold',
      brIn.failureThreshold,
      1,
      1000,
      kDefaultReplicationOptions.breaker.failureThreshold,
    ),
    cooldownMs: int(
      'breaker.cooldownMs',
      brIn.cooldownMs,
      1,
      86_400_000,
      kDefaultReplicationOptions.breaker.cooldownMs,
    ),
  };
  let localRetention: Required<LocalRetentionOptions> | undefined;
  if (r.localRetention !== undefined) {
    const lr = section('localRetention', r.localRetention, ['deleteAfterMs', 'legalHold']);
    const deleteAfterMs = int('localRetention.deleteAfterMs', lr.deleteAfterMs, 0, Number.MAX_SAFE_INTEGER, -1);
    if (deleteAfterMs < 0) throw invalidOption('options.replication.localRetention.deleteAfterMs must be given');
    if (lr.legalHold !== undefined && typeof lr.legalHold !== 'boolean') {
      throw invalidOption('options.replication.localRetention.legalHold must be a boolean');
    }
    localRetention = { deleteAfterMs, legalHold: lr.legalHold === true };
  }
  const closeTimeoutMs = int(
    'closeTimeoutMs',
    r.closeTimeoutMs,
    0,
    3_600_000,
    kDefaultReplicationOptions.closeTimeoutMs,
  );
  return { quorum, backends, threads, retry, breaker, localRetention, closeTimeoutMs };
}
