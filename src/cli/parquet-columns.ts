/**
 * `export --format parquet --columns ...`: parsing the column list, inferring a column's type from
 * the data, and converting event values to the column's Parquet type. Pure functions; the file
 * writing is in `parquet-writer.ts`. The rules are documented in `docs/cli.md` ("Parquet").
 */
import type { ParquetWriter } from 'hyparquet-writer';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { toJson } from './record-output.js';

/** A Parquet schema element, as hyparquet-writer takes it (the type lives in its `hyparquet` dependency). */
export type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

/** The types an extracted column can have (`--columns path:type`). */
export const kParquetColumnTypes = ['string', 'int64', 'double', 'boolean', 'timestamp', 'json'] as const;
/** One of {@link kParquetColumnTypes}. */
export type ParquetColumnType = (typeof kParquetColumnTypes)[number];

/** The columns every Parquet export has; an extracted column may not take one of these names. */
export const kFixedParquetColumns = ['seq', 'time', 'nodeId', 'event'] as const;

/** One `--columns` entry: `[name=]path[:type]`. */
export interface ColumnSpec {
  /** The entry as typed, for messages. */
  readonly source: string;
  /** Column name in the file: the alias, else the dotted path as written. */
  readonly name: string;
  /** The path inside the event, split at the dots. */
  readonly path: readonly string[];
  /** Declared type; undefined: inferred from every value in the exported range. */
  readonly type: ParquetColumnType | undefined;
}

function badColumns(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_ARGUMENT, `--columns: ${message}`);
}

const kMaxColumnNameChars = 255;

/**
 * Parses `--columns` for Parquet: comma-separated `[name=]path[:type]` entries, e.g.
 * `user.id,amount:double,who=actor.name:string`. Throws `ERR_IRONLOG_INVALID_ARGUMENT` for an
 * empty entry, an empty path segment, an unknown type, or a name used twice or taken by a fixed
 * column (`seq`, `time`, `nodeId`, `event`; compared without case, as SQL engines do).
 */
export function parseColumnSpecs(text: string): ColumnSpec[] {
  const entries = text.split(',').map((e) => e.trim());
  if (entries.length === 1 && entries[0] === '') throw badColumns('no column given');
  const taken = new Map<string, string>(kFixedParquetColumns.map((c) => [c.toLowerCase(), `the fixed column ${c}`]));
  const specs: ColumnSpec[] = [];
  for (const [i, source] of entries.entries()) {
    if (source === '') throw badColumns(`entry ${i + 1} is empty (in ${JSON.stringify(text)})`);
    let rest = source;
    let type: ParquetColumnType | undefined;
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      const t = rest.slice(colon + 1).trim();
      if (!(kParquetColumnTypes as readonly string[]).includes(t)) {
        throw badColumns(
          `${JSON.stringify(source)}: unknown type ${JSON.stringify(t)} (one of ${kParquetColumnTypes.join(', ')})`,
        );
      }
      type = t as ParquetColumnType;
      rest = rest.slice(0, colon).trim();
    }
    let name: string | undefined;
    const eq = rest.indexOf('=');
    if (eq >= 0) {
      name = rest.slice(0, eq).trim();
      rest = rest.slice(eq + 1).trim();
      if (name === '') throw badColumns(`${JSON.stringify(source)}: the name before '=' is empty`);
    }
    const path = rest.split('.');
    if (rest === '' || path.some((p) => p === '')) {
      throw badColumns(`${JSON.stringify(source)}: the path must be dotted names such as user.id, with no empty part`);
    }
    name ??= rest;
    if (name.length > kMaxColumnNameChars || /[\p{Cc}]/u.test(name)) {
      throw badColumns(`${JSON.stringify(source)}: a column name is 1-${kMaxColumnNameChars} printable characters`);
    }
    const clash = taken.get(name.toLowerCase());
    if (clash !== undefined) {
      throw badColumns(
        `${JSON.stringify(source)}: the column name ${JSON.stringify(name)} is already ${clash}; name it with name=path`,
      );
    }
    taken.set(name.toLowerCase(), `the column of ${JSON.stringify(source)}`);
    specs.push({ source, name, path, type });
  }
  return specs;
}

/** The value at a path (`['user', 'id']`, `['tags', '0']`) in an event; undefined when absent. */
export function pickPath(event: unknown, path: readonly string[]): unknown {
  let v: unknown = event;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

const kInt64Min = -(2n ** 63n);
const kInt64Max = 2n ** 63n - 1n;

/** Kinds of values seen by {@link TypeInference}. */
const Kind = { BOOLEAN: 1, INT: 2, BIG_INT: 4, FLOAT: 8, STRING: 16, OTHER: 32 } as const;

/**
 * Infers a column type from every value it will hold: booleans -> `boolean`; integers -> `int64`;
 * numbers with a fraction (or integers and fractions mixed) -> `double`; strings -> `string`;
 * objects, arrays, bytes, dates, or a mix of kinds -> `json`; no value at all -> `string`.
 * Strings are never guessed to be timestamps: declare `:timestamp` for those.
 */
export class TypeInference {
  #kinds = 0;

  observe(v: unknown): void {
    if (v === undefined || v === null) return;
    if (typeof v === 'boolean') this.#kinds |= Kind.BOOLEAN;
    else if (typeof v === 'number') this.#kinds |= Number.isSafeInteger(v) ? Kind.INT : Kind.FLOAT;
    else if (typeof v === 'bigint') this.#kinds |= v >= kInt64Min && v <= kInt64Max ? Kind.BIG_INT : Kind.OTHER;
    else if (typeof v === 'string') this.#kinds |= Kind.STRING;
    else this.#kinds |= Kind.OTHER;
  }

  result(): ParquetColumnType {
    switch (this.#kinds) {
      case 0:
        return 'string';
      case Kind.BOOLEAN:
        return 'boolean';
      case Kind.INT:
      case Kind.BIG_INT:
      case Kind.INT | Kind.BIG_INT:
        return 'int64';
      case Kind.FLOAT:
      case Kind.INT | Kind.FLOAT:
        return 'double';
      case Kind.STRING:
        return 'string';
      default:
        // A bigint beyond 2^53 next to fractions would be rounded as a double: keep the text.
        return 'json';
    }
  }
}

/** A JSON value as `JSON.parse` returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A value ready for hyparquet-writer in a column of the given type (null for a missing value). */
export type ParquetCell = string | bigint | number | boolean | JsonValue | null;

/**
 * The JSON form of a value as ironlog writes it everywhere (`replay`, `export --format ndjson`):
 * bytes as `{"$base64": ...}`, bigints as strings. Parsed back, because hyparquet-writer
 * serialises a JSON column's values itself; `JSON.stringify` of the result is the same text.
 */
export function jsonCell(v: unknown): JsonValue {
  return JSON.parse(toJson(v) ?? 'null') as JsonValue;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `the ${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'binary data';
  if (v instanceof Date) return 'a date';
  return `a ${typeof v}`;
}

/**
 * Converts an event value to its column's type. A value that does not fit a declared type is an
 * error (`ERR_IRONLOG_INVALID_ARGUMENT`) naming the record, rather than a silent null: the export
 * is an audit copy. `string` also takes numbers, bigints and booleans (as their text);
 * `double` takes integers and bigints; `timestamp` takes a Date, an ISO 8601 string or a number of
 * milliseconds since the epoch, and stores microseconds.
 */
export function convertCell(v: unknown, spec: ColumnSpec, type: ParquetColumnType, seq: number): ParquetCell {
  if (v === undefined || v === null) return null;
  const mismatch = (): IronlogError =>
    badColumns(
      `${JSON.stringify(spec.source)}: the record with seq ${seq} has ${describe(v)} there, not a ${type}; declare the column :json or :string to keep any value`,
    );
  switch (type) {
    case 'json':
      return jsonCell(v);
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
      throw mismatch();
    case 'boolean':
      if (typeof v === 'boolean') return v;
      throw mismatch();
    case 'int64':
      if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
      if (typeof v === 'bigint' && v >= kInt64Min && v <= kInt64Max) return v;
      throw mismatch();
    case 'double':
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      throw mismatch();
    case 'timestamp': {
      const ms =
        v instanceof Date
          ? v.getTime()
          : typeof v === 'string'
            ? Date.parse(v)
            : typeof v === 'number'
              ? v
              : Number.NaN;
      if (!Number.isFinite(ms)) throw mismatch();
      return BigInt(Math.round(ms * 1000));
    }
  }
}

/** The Parquet schema element of an extracted column (always OPTIONAL: a missing field is null). */
export function columnSchemaElement(name: string, type: ParquetColumnType): SchemaElement {
  const repetition_type = 'OPTIONAL';
  switch (type) {
    case 'string':
      return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type };
    case 'int64':
      return { name, type: 'INT64', repetition_type };
    case 'double':
      return { name, type: 'DOUBLE', repetition_type };
    case 'boolean':
      return { name, type: 'BOOLEAN', repetition_type };
    case 'timestamp':
      return timestampElement(name, repetition_type);
    case 'json':
      return jsonElement(name, repetition_type);
  }
}

/** INT64 microseconds since the epoch, UTC (`TIMESTAMP(isAdjustedToUTC=true, MICROS)`). */
export function timestampElement(name: string, repetition_type: 'REQUIRED' | 'OPTIONAL'): SchemaElement {
  return {
    name,
    type: 'INT64',
    converted_type: 'TIMESTAMP_MICROS',
    logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
    repetition_type,
  };
}

/** UTF-8 JSON text (`JSON` logical type). */
export function jsonElement(name: string, repetition_type: 'REQUIRED' | 'OPTIONAL'): SchemaElement {
  return { name, type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' }, repetition_type };
}
