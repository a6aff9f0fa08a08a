/**
 * Declarative filters for log records (pino's log object, winston's info): what a filter is
 * when it must cross a thread (a pino transport's options are structured-cloned, so a function
 * cannot be passed), and the function form where it need not.
 */
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import type { EventFilter } from './sink-source.js';

/**
 * Keeps a record when ANY of the given rules matches (e.g. `{ minLevel: 'error', hasField:
 * 'audit' }`: errors and audit events). An empty spec keeps everything.
 */
export interface LogFilterSpec {
  /** Keep records at or above this level: a number, or a level name of the logger's levels. */
  minLevel?: number | string;
  /** Keep records that have this field (or one of these fields), at the top level, not undefined. */
  hasField?: string | readonly string[];
}

/** A filter option: a function `(record) => boolean`, or a {@link LogFilterSpec}. */
export type LogFilter<E> = EventFilter<E> | LogFilterSpec;

/** How a record's level is read, for `minLevel`. */
export interface LevelReader<E> {
  /** The record's level as a number (undefined: unknown, never kept by `minLevel`). */
  levelOf(record: E): number | undefined;
  /** A level name's number (undefined: not a level of this logger). */
  levelValue(name: string): number | undefined;
}

/** Compiles `value` (the `filter` option) into a function, or undefined for "keep all". */
export function compileLogFilter<E>(value: unknown, levels: LevelReader<E>): EventFilter<E> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as EventFilter<E>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      'options.filter must be a function (record) => boolean or { minLevel?, hasField? }',
    );
  }
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (key !== 'minLevel' && key !== 'hasField') {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `options.filter.${key} is not a filter rule (minLevel, hasField)`,
      );
    }
  }
  let minLevel: number | undefined;
  const ml = spec['minLevel'];
  if (typeof ml === 'number' && Number.isFinite(ml)) {
    minLevel = ml;
  } else if (typeof ml === 'string') {
    minLevel = levels.levelValue(ml);
    if (minLevel === undefined) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `options.filter.minLevel '${ml}' is not a level name`);
    }
  } else if (ml !== undefined) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.filter.minLevel must be a number or a level name');
  }
  const hf = spec['hasField'];
  let fields: string[] = [];
  if (typeof hf === 'string' && hf.length > 0) fields = [hf];
  else if (Array.isArray(hf) && hf.length > 0 && hf.every((f) => typeof f === 'string' && f.length > 0)) fields = hf;
  else if (hf !== undefined) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.filter.hasField must be a field name or a list of them');
  }
  if (minLevel === undefined && fields.length === 0) return undefined;
  const min = minLevel;
  return (record: E): boolean => {
    if (min !== undefined) {
      const level = levels.levelOf(record);
      if (level !== undefined && level >= min) return true;
    }
    if (typeof record === 'object' && record !== null) {
      for (const f of fields) {
        if ((record as Record<string, unknown>)[f] !== undefined) return true;
      }
    }
    return false;
  };
}
