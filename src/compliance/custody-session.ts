/**
 * One custody record per action: {@link beginCustody} resolves where the custody log goes and
 * checks that it can be written *before* the action runs (a read-only target fails with
 * `ERR_IRONLOG_CUSTODY_READ_ONLY` and nothing is done); `finish(result)` appends the one entry.
 * {@link recordCustody} does both for an action that has already happened.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import {
  appendCustodyEntry,
  assertCustodyAppendable,
  type CustodyAction,
  type CustodyDetails,
  type CustodyEntry,
  type CustodyRange,
  type CustodyResult,
  ensureCustodyDir,
  errorResult,
  kCustodyDirName,
  loadCustodySigner,
  osUserName,
} from './custody.js';
import type { Ed25519NoteSigner } from './note.js';

/** Where custody entries go and how they are made (library option `custody`). */
export interface CustodyOptions {
  /**
   * Directory of the custody log (`custody.log` inside it; created if missing). Default
   * `<walDir>/custody`; for a replicated source (no local directory)
   * `$XDG_STATE_HOME/ironlog/custody` (`~/.local/state/ironlog/custody`). Give it for a read-only
   * WAL such as a mounted WORM copy.
   */
  dir?: string;
  /** Who acts (recorded as `actor`; the OS user is recorded beside it as `osUser`). Default: the OS user. */
  actor?: string;
  /** Sign every entry with this Ed25519 log signer key (text or `{ file }`). Default: a sink's signing key, else unsigned. */
  key?: string | { file: string };
}

/** `custody` of the library calls: options, or `false` to turn custody off (noted in the log where possible). */
export type CustodyOption = CustodyOptions | false | undefined;

/** What an action tells about itself. */
export interface CustodyContext {
  readonly action: CustodyAction;
  /** A local WAL directory, or a source URL (then `walDir` is absent). */
  readonly target: string;
  /** The local WAL directory the action works on; its `custody/` subdirectory is the default log. */
  readonly walDir?: string;
  readonly range?: CustodyRange;
  readonly details?: CustodyDetails;
  readonly via: 'cli' | 'library';
  readonly option: CustodyOption;
  /** A key to sign with when `option.key` is not given (the sink's signing key). */
  readonly defaultKey?: string;
  /**
   * Called when custody is off and the note saying so could not be written (a read-only
   * target): the CLI prints it, the library emits a process warning. Never silent.
   */
  readonly onNoteFailed?: (err: unknown) => void;
}

/** An action in progress. */
export interface CustodySession {
  /** False when custody is off, or the target directory does not exist (nothing to record custody of). */
  readonly enabled: boolean;
  /** Directory of the custody log, when enabled. */
  readonly dir: string | undefined;
  /**
   * Appends the action's one entry (once; later calls do nothing). `details` are added to those
   * given at the start (facts learnt while acting, such as an erasure's subject pseudonym).
   */
  finish(result: CustodyResult, details?: CustodyDetails): Promise<CustodyEntry | undefined>;
}

/** The custody range of read options (`fromSeq`, `toSeq`, `from`, `to`), the fields given only. */
export function custodyRangeOf(o: {
  readonly fromSeq?: number | undefined;
  readonly toSeq?: number | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
}): CustodyRange {
  const r: { -readonly [K in keyof CustodyRange]?: CustodyRange[K] } = {};
  if (o.fromSeq !== undefined) r.fromSeq = o.fromSeq;
  if (o.toSeq !== undefined) r.toSeq = o.toSeq;
  if (o.from instanceof Date) r.from = o.from.toISOString();
  if (o.to instanceof Date) r.to = o.to.toISOString();
  return r;
}

/** The custody directory for actions on replicated sources: `$XDG_STATE_HOME/ironlog/custody`. */
export function userCustodyDir(): string {
  const state = process.env['XDG_STATE_HOME'] || path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'ironlog', 'custody');
}

/** A printable target: absolute path, or the URL with secret-looking query values masked. */
export function custodyTarget(target: string, isUrl: boolean): string {
  if (!isUrl) return path.resolve(target);
  try {
    const u = new URL(target);
    for (const k of [...u.searchParams.keys()]) {
      if (/connectionstring|secret|token|password|key|sig|credential/i.test(k)) u.searchParams.set(k, '***');
    }
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return target;
  }
}

function checkActor(actor: unknown): string {
  if (
    typeof actor !== 'string' ||
    actor.trim() === '' ||
    actor.length > 256 ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(actor)
  ) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'the custody actor must be a non-empty string of at most 256 characters without control characters',
    );
  }
  return actor;
}

/** Validates a `custody` option (`ERR_IRONLOG_INVALID_OPTION`); the key is read when an entry is signed. */
export function resolveCustodyOption(option: unknown): CustodyOptions | false | undefined {
  if (option === undefined || option === false) return option;
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      'options.custody must be false or an object { dir?, actor?, key? }',
    );
  }
  for (const k of Object.keys(option)) {
    if (k !== 'dir' && k !== 'actor' && k !== 'key') {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `options.custody.${k} is not a known option`);
    }
  }
  const o = option as CustodyOptions;
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir === '')) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.custody.dir must be a non-empty path');
  }
  return o;
}

interface Resolved {
  readonly dir: string;
  /** The default `<walDir>/custody`: never creates the WAL directory itself. */
  readonly underWal: boolean;
}

function resolveDir(ctx: CustodyContext, o: CustodyOptions | undefined): Resolved {
  if (o?.dir !== undefined) return { dir: path.resolve(o.dir), underWal: false };
  if (ctx.walDir !== undefined) return { dir: path.join(path.resolve(ctx.walDir), kCustodyDirName), underWal: true };
  return { dir: userCustodyDir(), underWal: false };
}

const kDisabled: CustodySession = Object.freeze({
  enabled: false,
  dir: undefined,
  finish: () => Promise.resolve(undefined),
});

/**
 * Starts the custody record of one action. Throws before anything is done when the log cannot
 * be written (`ERR_IRONLOG_CUSTODY_READ_ONLY`), the key is bad (`ERR_IRONLOG_KEY_INVALID`) or an
 * option is bad. With `option: false`, writes the note "custody off for <action>" now (where
 * possible: else `onNoteFailed`) and returns a session that records nothing more.
 */
export async function beginCustody(ctx: CustodyContext): Promise<CustodySession> {
  const option = resolveCustodyOption(ctx.option);
  const o = option === false ? undefined : option;
  const actor = checkActor(o?.actor ?? osUserName());
  const loc = resolveDir(ctx, o);
  if (loc.underWal && !fs.existsSync(path.dirname(loc.dir))) {
    // No such WAL directory: the action fails on its own; there is nothing whose custody to record.
    return kDisabled;
  }
  const keyInput = o?.key ?? ctx.defaultKey;
  const signer: Ed25519NoteSigner | undefined =
    keyInput === undefined ? undefined : loadCustodySigner(keyInput, 'custody key');
  const base = { actor, target: ctx.target, via: ctx.via } as const;
  if (option === false) {
    try {
      await appendCustodyEntry(
        loc.dir,
        {
          ...base,
          action: 'custody-off',
          ...(ctx.range ? { range: ctx.range } : {}),
          details: { ...ctx.details, of: ctx.action, note: `custody off for ${ctx.action}` },
          result: { status: 'off' },
        },
        signer,
      );
    } catch (err) {
      if (ctx.onNoteFailed) ctx.onNoteFailed(err);
      else
        process.emitWarning(
          `custody off for ${ctx.action}; the note could not be written: ${String(err)}`,
          'IronlogCustodyWarning',
        );
    }
    return kDisabled;
  }
  ensureCustodyDir(loc.dir, !loc.underWal);
  assertCustodyAppendable(loc.dir);
  let done = false;
  return {
    enabled: true,
    dir: loc.dir,
    async finish(result: CustodyResult, more?: CustodyDetails): Promise<CustodyEntry | undefined> {
      if (done) return undefined;
      done = true;
      const details = more === undefined ? ctx.details : { ...ctx.details, ...more };
      return appendCustodyEntry(
        loc.dir,
        {
          ...base,
          action: ctx.action,
          ...(ctx.range ? { range: ctx.range } : {}),
          ...(details ? { details } : {}),
          result,
        },
        signer,
      );
    },
  };
}

/**
 * Records one action that has already happened (or fails with a typed error): the one-call hook
 * for hold, erase and deletion code. `result` defaults to `{ status: 'ok' }`.
 */
export async function recordCustody(
  ctx: Omit<CustodyContext, 'via'> & { via?: 'cli' | 'library' },
  result: CustodyResult = { status: 'ok' },
): Promise<CustodyEntry | undefined> {
  const session = await beginCustody({ via: 'library', ...ctx });
  return session.finish(result);
}

/**
 * Runs `action` under custody: begins (throwing before `action` when the log cannot be
 * written), runs it, appends one entry with `describe(value)` or the error. When the action
 * fails, its error is what the caller gets; a custody failure after a failed action is emitted
 * as a process warning rather than hiding the action's error.
 */
export async function withCustody<T>(
  ctx: CustodyContext,
  action: () => Promise<T>,
  describe: (value: T) => CustodyResult = () => ({ status: 'ok' }),
): Promise<T> {
  const session = await beginCustody(ctx);
  let value: T;
  try {
    value = await action();
  } catch (err) {
    await session.finish(errorResult(err)).catch((custodyErr: unknown) => {
      process.emitWarning(
        `the custody entry of a failed ${ctx.action} could not be written: ${String(custodyErr)}`,
        'IronlogCustodyWarning',
      );
    });
    throw err;
  }
  await session.finish(describe(value));
  return value;
}

/**
 * Wraps an async generator (replay) under custody: the entry is appended when the iteration
 * ends, by completion, `break`/`return()` or an error, with the number of records yielded.
 */
export async function* generateWithCustody<T>(ctx: CustodyContext, source: () => AsyncGenerator<T>): AsyncGenerator<T> {
  const session = await beginCustody(ctx);
  let records = 0;
  let failure: unknown;
  let failed = false;
  try {
    for await (const item of source()) {
      records++;
      yield item;
    }
  } catch (err) {
    failed = true;
    failure = err;
    throw err;
  } finally {
    if (failed) {
      await session.finish({ ...errorResult(failure), records }).catch((custodyErr: unknown) => {
        process.emitWarning(
          `the custody entry of a failed ${ctx.action} could not be written: ${String(custodyErr)}`,
          'IronlogCustodyWarning',
        );
      });
    } else {
      await session.finish({ status: 'ok', records });
    }
  }
}
