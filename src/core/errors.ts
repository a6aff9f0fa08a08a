/**
 * Every error ironlog raises is an {@link IronlogError} with a stable `code` from
 * {@link ErrorCodes}. Match on `err.code`, not on `instanceof`: errors that cross a thread are
 * rebuilt from their wire form and a second copy of the package would have its own class.
 *
 * The list of codes, what each means and what to do about it is in `docs/errors.md`.
 */
export const ErrorCodes = {
  /** An option passed to `openSink` (or another entry point) is missing, of the wrong type or out of range. */
  INVALID_OPTION: 'ERR_IRONLOG_INVALID_OPTION',
  /** An argument of a call (not an option) is invalid, e.g. `emitBatch` given something that is not an array. */
  INVALID_ARGUMENT: 'ERR_IRONLOG_INVALID_ARGUMENT',
  /** The event could not be encoded with msgpack (a function, a symbol, a cyclic structure, ...). */
  ENCODE: 'ERR_IRONLOG_ENCODE',
  /** The encoded event is larger than `maxEventBytes`. Nothing was written. */
  EVENT_TOO_LARGE: 'ERR_IRONLOG_EVENT_TOO_LARGE',
  /** `onFull: 'reject'` and the ring buffer had no room for the event. Nothing was written. */
  BACKPRESSURE: 'ERR_IRONLOG_BACKPRESSURE',
  /** The sink is closed (or closing): no more events are accepted. */
  CLOSED: 'ERR_IRONLOG_CLOSED',
  /** A `write` to the WAL failed (EIO, ...). The affected events are not durable. */
  WAL_WRITE: 'ERR_IRONLOG_WAL_WRITE',
  /** An `fdatasync`/`fsync` of the WAL failed. The affected events are not durable. */
  WAL_FSYNC: 'ERR_IRONLOG_WAL_FSYNC',
  /** The disk is full (ENOSPC). The affected events are not durable; emits resume when space returns. */
  DISK_FULL: 'ERR_IRONLOG_DISK_FULL',
  /** The sink refuses emits because an earlier write or fsync failed and has not cleared yet. */
  WAL_FAULTED: 'ERR_IRONLOG_WAL_FAULTED',
  /** The WAL on disk is damaged before its tail; `recoverWal` salvages it. */
  WAL_CORRUPT: 'ERR_IRONLOG_WAL_CORRUPT',
  /** The directory holds something that is not an ironlog WAL, or a format version this build cannot read. */
  WAL_FORMAT: 'ERR_IRONLOG_WAL_FORMAT',
  /** Another sink (process) holds the WAL directory open. */
  WAL_LOCKED: 'ERR_IRONLOG_WAL_LOCKED',
  /** An I/O error outside the write path (open, read, readdir, rename ...). */
  IO: 'ERR_IRONLOG_IO',
  /** The writer worker exited or crashed; every pending ack is rejected with this code. */
  WORKER_EXITED: 'ERR_IRONLOG_WORKER_EXITED',
  /** A message or shared-memory state that cannot happen did happen: a bug, please report it. */
  INTERNAL: 'ERR_IRONLOG_INTERNAL',
  /** A replication backend (S3, Azure, GCS, directory) failed a request; retried with backoff. */
  BACKEND: 'ERR_IRONLOG_BACKEND',
  /** A replica exists with a different SHA-256 than the local sealed segment: never overwritten, alert. */
  REPLICATION_TAMPER: 'ERR_IRONLOG_REPLICATION_TAMPER',
  /** An upload was acknowledged by the backend but its checksum or read-back does not match the local bytes. */
  REPLICATION_VERIFY: 'ERR_IRONLOG_REPLICATION_VERIFY',
  // compliance: Merkle proofs and hash tiles (issue 10)
  /** An inclusion or consistency proof does not verify, or its sizes, index or hashes are malformed. */
  PROOF_INVALID: 'ERR_IRONLOG_PROOF_INVALID',
  /** A hash tile or the tiled-size file under `tlog/` is missing, of the wrong length, or disagrees with the rest of the tree. */
  TLOG_CORRUPT: 'ERR_IRONLOG_TLOG_CORRUPT',
  // transparency log (checkpointer, proofs, verifyLog)
  /** A seq or tree size is not covered by a stored signed checkpoint (or the WAL has none at all). */
  NOT_CHECKPOINTED: 'ERR_IRONLOG_NOT_CHECKPOINTED',
  /** The `tlog/` directory disagrees with the WAL (tiles past the WAL's end, a leaf that differs, a bad index). */
  TLOG_STATE: 'ERR_IRONLOG_TLOG_STATE',
  /** The checkpointer worker failed: no more checkpoints are signed until the sink is reopened; emits go on. */
  CHECKPOINTER: 'ERR_IRONLOG_CHECKPOINTER',
  // Signed notes, checkpoints, cosignatures, proof files and witnesses (issue 10, engineer "note").
  /** A signer or verifier key string is malformed, of an unsupported type, or its key id does not match. */
  KEY_INVALID: 'ERR_IRONLOG_KEY_INVALID',
  /** A signed note, checkpoint body or cosignature is malformed (C2SP signed-note / tlog-checkpoint rules). */
  NOTE_FORMAT: 'ERR_IRONLOG_NOTE_FORMAT',
  /** No trusted key validly signed the note, or a signature from a trusted key does not verify. */
  SIGNATURE_INVALID: 'ERR_IRONLOG_SIGNATURE_INVALID',
  /** A C2SP tlog-proof file is malformed. */
  PROOF_FORMAT: 'ERR_IRONLOG_PROOF_FORMAT',
  /** A witness answered 409: the old size is not the size it last cosigned, or the same size has another root. */
  WITNESS_CONFLICT: 'ERR_IRONLOG_WITNESS_CONFLICT',
  /** A witness refused a checkpoint (400 bad request, 403 bad signature, 404 unknown log, 422 bad consistency proof). */
  WITNESS_REJECTED: 'ERR_IRONLOG_WITNESS_REJECTED',
  /** A witness could not be reached, timed out, failed (5xx) or answered something that is not a valid cosignature. */
  WITNESS_UNAVAILABLE: 'ERR_IRONLOG_WITNESS_UNAVAILABLE',
  /** Fewer witnesses than the quorum cosigned a checkpoint (when asking them, or when verifying it). */
  WITNESS_QUORUM: 'ERR_IRONLOG_WITNESS_QUORUM',
  // CLI (issue 9)
  /** The `ironlog` command line is wrong: unknown command or option, a missing or malformed value. */
  USAGE: 'ERR_IRONLOG_USAGE',
  // integrations (pino, winston, fastify, express) and optional peer dependencies
  /** A feature needs an optional peer dependency that is not installed; the message names the package to install. */
  MISSING_DEPENDENCY: 'ERR_IRONLOG_MISSING_DEPENDENCY',
  /** An adapter was asked for something that needs its sink open (e.g. `flushSync()`) before the sink finished opening. */
  NOT_READY: 'ERR_IRONLOG_NOT_READY',
  // Chain of custody (issue 10 item 5, engineer "custody").
  /** The custody log cannot be written where it would go (read-only WAL, e.g. a WORM mount): pass `--custody DIR` or `--no-custody`. */
  CUSTODY_READ_ONLY: 'ERR_IRONLOG_CUSTODY_READ_ONLY',
  /** Another process held the custody log's lock for longer than the wait allows. */
  CUSTODY_LOCKED: 'ERR_IRONLOG_CUSTODY_LOCKED',
  /** The custody log's last entry cannot be read, so no new entry can be chained to it: run `ironlog custody verify`. */
  CUSTODY_CORRUPT: 'ERR_IRONLOG_CUSTODY_CORRUPT',
  // data protection (issue 11: masking, key providers, encryption, crypto-shredding)
  /** A key needed to decrypt (a data key or a subject key) is not in the key store or the provider refused it. */
  KEY_UNAVAILABLE: 'ERR_IRONLOG_KEY_UNAVAILABLE',
  /** AES-256-GCM authentication failed: the ciphertext, its key id or its position was altered, or the key is wrong. */
  DECRYPT: 'ERR_IRONLOG_DECRYPT',
  /** A key provider (static, env, file, AWS KMS, custom) failed or refused a request. */
  KEY_PROVIDER: 'ERR_IRONLOG_KEY_PROVIDER',
  /** A key provider did not answer within its timeout; nothing was written. */
  KEY_PROVIDER_TIMEOUT: 'ERR_IRONLOG_KEY_PROVIDER_TIMEOUT',
  /** An event has no usable subject at the configured subject path (or is not an object). Nothing was written. */
  SUBJECT: 'ERR_IRONLOG_SUBJECT',
  // compliance profiles, retention and legal hold (issue 12)
  /** A compliance profile's requirement is not met by the options or the log (the message names each clause). */
  COMPLIANCE_UNMET: 'ERR_IRONLOG_COMPLIANCE_UNMET',
  /** A deletion was refused because a segment's retention period has not ended. Nothing was deleted. */
  RETENTION_ACTIVE: 'ERR_IRONLOG_RETENTION_ACTIVE',
  /** A local deletion or an erasure was refused because a legal hold covers the records. Nothing was deleted or erased. */
  LEGAL_HOLD: 'ERR_IRONLOG_LEGAL_HOLD',
  // WAL readers, verify and recover (issue 9)
  /** A WAL directory or replicated source holds no segments where a WAL was expected (`allowEmpty` / `--allow-empty` accept it). */
  WAL_EMPTY: 'ERR_IRONLOG_WAL_EMPTY',
  /** A directory entry named like a segment is not a regular file (a symbolic link, directory, FIFO, socket or device). */
  SEGMENT_NOT_FILE: 'ERR_IRONLOG_SEGMENT_NOT_FILE',
  /** A segment file is larger than 4 GiB, the largest segment ironlog writes: it is not read. */
  SEGMENT_TOO_LARGE: 'ERR_IRONLOG_SEGMENT_TOO_LARGE',
  // multi-tenant sink groups (issue 14)
  /** No such tenant: `group.tenant(id)` or `--tenant` names an id the group (or `<root>/tenants/`) does not have. */
  TENANT_NOT_FOUND: 'ERR_IRONLOG_TENANT_NOT_FOUND',
  // failure policy (issue 14: onFailure, failStop)
  /** With `ack: 'replicated'`: fewer backends than `quorum` are reachable (breakers not closed), so replicated acks cannot complete. */
  REPLICATION_QUORUM_LOST: 'ERR_IRONLOG_REPLICATION_QUORUM_LOST',
  // shadow copies (issue 14)
  /** A write, fdatasync or open-time reconcile of a shadow directory (`shadowDirs`) failed; the message names the directory. */
  SHADOW_FAILED: 'ERR_IRONLOG_SHADOW_FAILED',
} as const;

/** One of the stable error codes in {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const kKnownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** The structured-clone-safe form of an {@link IronlogError}, for `postMessage`. */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly stack?: string | undefined;
  /** errno code of the underlying system error (`EIO`, `ENOSPC`, ...), when there was one. */
  readonly causeCode?: string | undefined;
  readonly causeMessage?: string | undefined;
}

/** Base class of every error ironlog throws or rejects with. */
export class IronlogError extends Error {
  /** Stable, documented code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IronlogError';
    this.code = code;
  }

  /** Serialises the error for `postMessage` (structured clone drops the class). */
  toWire(): WireError {
    const cause = this.cause as { code?: unknown; message?: unknown } | undefined;
    return {
      code: this.code,
      message: this.message,
      stack: this.stack,
      causeCode: typeof cause?.code === 'string' ? cause.code : undefined,
      causeMessage: typeof cause?.message === 'string' ? cause.message : undefined,
    };
  }

  /** Rebuilds an error received from another thread. */
  static fromWire(wire: WireError): IronlogError {
    const code: ErrorCode = kKnownCodes.has(wire.code) ? wire.code : ErrorCodes.INTERNAL;
    let cause: Error | undefined;
    if (wire.causeCode !== undefined || wire.causeMessage !== undefined) {
      cause = Object.assign(new Error(wire.causeMessage ?? wire.causeCode ?? 'unknown cause'), {
        code: wire.causeCode,
      });
    }
    const err = new IronlogError(code, wire.message, cause ? { cause } : undefined);
    if (wire.stack !== undefined) err.stack = wire.stack;
    return err;
  }
}

/**
 * The error of a bad option: `ERR_IRONLOG_INVALID_OPTION` with a message in the fixed form
 * `options.<name> must be …` (the one helper every option validator uses).
 */
export function invalidOption(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

/** True when `err` is an ironlog error (by code, so it also works across package copies). */
export function isIronlogError(err: unknown): err is IronlogError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    kKnownCodes.has((err as { code: string }).code)
  );
}

/** The errno code (`EIO`, `ENOSPC`, ...) of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Exhaustiveness helper for `switch` over discriminated unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new IronlogError(ErrorCodes.INTERNAL, `unexpected ${what}: ${JSON.stringify(value)}`);
}
