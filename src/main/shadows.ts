/**
 * Shadow copies on the sink's side (issue 14): the `shadowDirs` / `onShadowFailure` options
 * (validated once, here), one directory lock per shadow beside the primary's, and the state of
 * each shadow as the writer reports it (for `sink.shadowStatus()`, health and metrics).
 * The writing itself is `wal/shadow.ts`, in the writer worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import { acquireDirLock, type DirLock } from '../wal/dir-lock.js';
import type { ShadowDirStatus, ShadowFailurePolicy, ShadowStatus } from '../wal/shadow.js';

export type { ShadowDirStatus, ShadowFailurePolicy, ShadowStatus } from '../wal/shadow.js';

/** At most this many shadows (each costs one more write and fdatasync per batch). */
const kMaxShadows = 8;
const kPolicies: readonly ShadowFailurePolicy[] = ['fail', 'drop'];

/** One failure of a shadow, on `sink.events` (`'shadowFailure'`). */
export interface ShadowFailureEvent {
  /** The shadow directory (absolute). */
  readonly dir: string;
  /** The step that failed: `reconcile`, `create`, `write`, `sync`, `truncate`, `seal-flag`. */
  readonly op: string;
  /** `ERR_IRONLOG_SHADOW_FAILED`; `cause` carries the errno. */
  readonly error: IronlogError;
  /** True with `onShadowFailure: 'drop'`: the shadow left the set (acks go on without it). */
  readonly dropped: boolean;
  /** Shadow directories still in the set. */
  readonly active: readonly string[];
}

/** `isInside(a, b)`: `a` is `b` or below it. */
function isInside(a: string, b: string): boolean {
  const rel = path.relative(b, a);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Validates `shadowDirs` (an array of non-empty paths, resolved to absolute ones, distinct from
 * `dir` and from each other, none inside `dir` or another shadow, nor `dir` inside one) and
 * `onShadowFailure`. Throws `ERR_IRONLOG_INVALID_OPTION`.
 */
export function resolveShadowOptions(
  dir: string,
  shadowDirs: unknown,
  onShadowFailure: unknown,
): { shadowDirs: readonly string[]; onShadowFailure: ShadowFailurePolicy } {
  let policy: ShadowFailurePolicy = 'fail';
  if (onShadowFailure !== undefined) {
    if (typeof onShadowFailure !== 'string' || !(kPolicies as readonly string[]).includes(onShadowFailure)) {
      throw invalidOption(`options.onShadowFailure must be one of 'fail', 'drop', got ${String(onShadowFailure)}`);
    }
    policy = onShadowFailure as ShadowFailurePolicy;
  }
  if (shadowDirs === undefined) return { shadowDirs: Object.freeze([]), onShadowFailure: policy };
  if (!Array.isArray(shadowDirs)) {
    throw invalidOption('options.shadowDirs must be an array of directory paths');
  }
  if (shadowDirs.length > kMaxShadows) {
    throw invalidOption(`options.shadowDirs must hold at most ${kMaxShadows} directories, got ${shadowDirs.length}`);
  }
  const primary = path.resolve(dir);
  const resolved: string[] = [];
  for (const [i, d] of shadowDirs.entries()) {
    if (typeof d !== 'string' || d.length === 0) {
      throw invalidOption(`options.shadowDirs[${i}] must be a non-empty string`);
    }
    const abs = path.resolve(d);
    if (isInside(abs, primary) || isInside(primary, abs)) {
      throw invalidOption(
        `options.shadowDirs[${i}] must be a directory outside options.dir (and not containing it), got ${abs}`,
      );
    }
    for (const other of resolved) {
      if (isInside(abs, other) || isInside(other, abs)) {
        throw invalidOption(`options.shadowDirs[${i}] must be distinct from, and not nested in, ${other}`);
      }
    }
    resolved.push(abs);
  }
  return { shadowDirs: Object.freeze(resolved), onShadowFailure: policy };
}

/**
 * Creates each shadow directory and takes its lock, like the primary's (`dir-lock.ts`): one
 * `DirLock` whose `release()` releases `primary` and every shadow's. On failure every lock taken
 * here (and `primary`) is released and the error thrown.
 */
export function lockShadows(primary: DirLock, shadowDirs: readonly string[]): DirLock {
  if (shadowDirs.length === 0) return primary;
  const locks: DirLock[] = [];
  try {
    for (const d of shadowDirs) {
      try {
        fs.mkdirSync(d, { recursive: true });
      } catch (err) {
        throw new IronlogError(ErrorCodes.IO, `cannot create the shadow directory ${d}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      locks.push(acquireDirLock(d));
    }
  } catch (err) {
    for (const l of locks) l.release();
    primary.release();
    throw err;
  }
  return {
    path: primary.path,
    release() {
      for (const l of locks) l.release();
      primary.release();
    },
  };
}

/** The state of each shadow, kept from the writer's `shadow-failure` messages. */
export class ShadowTracker {
  readonly #policy: ShadowFailurePolicy;
  readonly #byDir = new Map<string, { state: ShadowDirStatus['state']; failures: number; lastError?: string }>();

  constructor(dirs: readonly string[], policy: ShadowFailurePolicy) {
    this.#policy = policy;
    for (const d of dirs) this.#byDir.set(d, { state: 'active', failures: 0 });
  }

  /** A failure the writer reported. */
  onFailure(e: ShadowFailureEvent): void {
    const s = this.#byDir.get(e.dir);
    if (!s) return;
    s.failures++;
    s.lastError = `${e.error.code}: ${e.error.message}`;
    if (e.dropped) s.state = 'dropped';
    else if (s.state !== 'dropped') s.state = 'failing';
  }

  /** The writer's fault cleared: every shadow in the set took the gap record and its sync. */
  onFaultCleared(): void {
    for (const s of this.#byDir.values()) if (s.state === 'failing') s.state = 'active';
  }

  status(): ShadowStatus {
    return {
      policy: this.#policy,
      shadows: [...this.#byDir].map(([dir, s]) => ({
        dir,
        state: s.state,
        failures: s.failures,
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      })),
    };
  }
}
