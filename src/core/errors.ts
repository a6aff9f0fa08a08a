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
  // WAL readers, verify and recover (issue 9)
  /** A WAL directory or replicated source holds no segments where a WAL was expected (`allowEmpty` / `--allow-empty` accept it). */
  WAL_EMPTY: 'ERR_IRONLOG_WAL_EMPTY',
  /** A directory entry named like a segment is not a regular file (a symbolic link, directory, FIFO, socket or device). */
  SEGMENT_NOT_FILE: 'ERR_IRONLOG_SEGMENT_NOT_FILE',
  /** A segment file is larger than 4 GiB, the largest segment ironlog writes: it is not read. */
  SEGMENT_TOO_LARGE: 'ERR_IRONLOG_SEGMENT_TOO_LARGE',
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
