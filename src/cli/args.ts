/**
 * Argument parsers shared by the commands (commander `argParser`s): they throw
 * `InvalidArgumentError`, which commander turns into a usage error (exit code 2).
 */
import { InvalidArgumentError } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** A positive integer seq. */
export function seqArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** A non-negative integer. */
export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** A TCP port, 0-65535 (0: any free port). */
export function portArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

/**
 * An ISO 8601 date-time with an explicit offset: `2026-11-22T10:00:00Z`,
 * `2026-11-22T11:00:00.5+01:00`. A time without an offset (`2026-11-22T10:00:00`) or a bare
 * date is refused rather than guessed: JavaScript would read it as the local time zone of
 * whoever runs the command, and an audit query must not change with the machine it runs on.
 */
export function dateArg(value: string): Date {
  const m = kIsoWithOffset.exec(value.trim());
  if (!m) {
    const hint = kIsoWithoutOffset.test(value.trim())
      ? ` (no offset: add Z for UTC, e.g. ${value.trim()}${/T/i.test(value) ? '' : 'T00:00:00'}Z, or +01:00)`
      : '';
    throw new InvalidArgumentError(`must be an ISO 8601 time with an offset, e.g. 2026-11-22T10:00:00Z${hint}`);
  }
  const d = new Date(value.trim());
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('is not a valid date (e.g. 2026-11-22T10:00:00Z)');
  return d;
}

const kIsoWithOffset = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;
const kIsoWithoutOffset = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?$/i;

/**
 * Sizes: a number and a unit, decimal (`KB` = 1000, `MB`, `GB`) or binary (`KiB` = 1024,
 * `MiB`, `GiB`), case-insensitive; `B` or a bare integer is bytes (a count of bytes cannot be
 * misread). Single letters (`k`, `m`) are refused: `m` reads as minutes or mega, and `k` as
 * 1000 or 1024.
 */
const kSizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** A byte size: `1024`, `1024B`, `1KB` (1000), `1KiB` (1024), `64MiB`, `1.5GB`. */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = kSizeUnits[(m?.[2] ?? 'x').toLowerCase()];
  if (!m || unit === undefined) {
    throw new InvalidArgumentError('must be a size: bytes (1024, 1024B), KB/MB/GB (x1000) or KiB/MiB/GiB (x1024)');
  }
  const n = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('size out of range');
  if (m[2] === '' && !Number.isInteger(Number(m[1]))) throw new InvalidArgumentError('a byte count must be an integer');
  return n;
}

const kDurationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in ms: `500ms`, `10s`, `1.5s`, `2m`, `1h`. The unit is required: a bare number is
 * refused, because `--interval 1000` could mean ms or s (it meant s once, and waited 17 minutes).
 */
export function parseDurationMs(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (m && m[2] === '') {
    throw new InvalidArgumentError(`needs a unit: ${m[1]}ms or ${m[1]}s (ms, s, m, h)`);
  }
  const unit = kDurationUnits[(m?.[2] ?? 'x').toLowerCase()];
  if (!m || unit === undefined) throw new InvalidArgumentError('must be a duration such as 500ms, 10s, 2m or 1h');
  const ms = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError('duration out of range');
  return ms;
}

/** `parseDurationMs`, and more than zero. */
export function positiveDurationMs(value: string): number {
  const ms = parseDurationMs(value);
  if (ms < 1) throw new InvalidArgumentError('must be at least 1ms');
  return ms;
}

/** A SIGINT/SIGTERM listener: `promise` resolves on the first one; `dispose()` removes the handlers. */
export interface StopSignal {
  readonly promise: Promise<NodeJS.Signals>;
  readonly stopped: boolean;
  dispose(): void;
}

/** Listens for SIGINT or SIGTERM (instead of dying on them). */
export function listenForStop(): StopSignal {
  let stopped = false;
  let on: (sig: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    on = (sig: NodeJS.Signals): void => {
      stopped = true;
      dispose();
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  const dispose = (): void => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
  return {
    promise,
    get stopped() {
      return stopped;
    },
    dispose,
  };
}

/** Sleeps `ms`, or less when `stop` fires. */
export function sleepUnlessStopped(ms: number, stop: StopSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void stop.promise.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * A backend URL (`s3://`, `azure://`, `gs://`, `file://`, ...): a scheme followed by `://`.
 * `replay --from` takes either this (a source) or an ISO time; an ISO time never matches.
 */
export const kSourceUrlPattern = /^[a-z][a-z0-9+.-]*:\/\//;

/** True when `value` is a backend URL rather than a time or a path. */
export function isSourceUrl(value: string): boolean {
  return kSourceUrlPattern.test(value);
}

/** `--from` of `replay`: a backend URL (kept as the string) or an ISO 8601 start time. */
export function dateOrSourceArg(value: string): Date | string {
  return isSourceUrl(value) ? value : dateArg(value);
}

/** Where a reading command reads from: a local WAL directory or a replicated history. */
export type ReadTarget =
  | { readonly kind: 'dir'; readonly dir: string }
  | { readonly kind: 'remote'; readonly url: string };

/**
 * Resolves `--dir`, `--source` and a URL given as `--from` into one target. Exactly one is
 * required; `--dir` and a source together, or two sources, are a usage error
 * (`ERR_IRONLOG_INVALID_ARGUMENT`, exit code 2).
 */
export function resolveReadTarget(opts: { dir?: string; source?: string; fromUrl?: string }): ReadTarget {
  const { dir, source, fromUrl } = opts;
  const usage = (message: string): IronlogError => new IronlogError(ErrorCodes.INVALID_ARGUMENT, message);
  if (source !== undefined && !isSourceUrl(source)) {
    throw usage(`--source must be a URL such as s3://bucket/prefix or file:///dir, not ${JSON.stringify(source)}`);
  }
  if (source !== undefined && fromUrl !== undefined) {
    throw usage('give the source once: --source <url> or --from <url>, not both');
  }
  const url = source ?? fromUrl;
  if (dir !== undefined && url !== undefined) {
    throw usage('--dir and a source URL (--source / --from <url>) are mutually exclusive');
  }
  if (url !== undefined) return { kind: 'remote', url };
  if (dir !== undefined) return { kind: 'dir', dir };
  throw usage(
    "required option '--dir <dir>' or '--source <url>' not specified (a local WAL directory, or a replicated history such as s3://bucket/prefix)",
  );
}

/** A comma-separated list of node ids (`--nodes a,b`). */
export function nodeListArg(value: string): string[] {
  const nodes = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (nodes.length === 0) throw new InvalidArgumentError('must be a comma-separated list of node ids');
  return nodes;
}

/** Collects a repeatable option's values (commander `argParser`). */
export function collectArg(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
