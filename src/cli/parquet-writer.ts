/**
 * `ironlog export --format parquet`: records to an Apache Parquet file with hyparquet-writer.
 *
 * Columns: `seq` INT64, `time` TIMESTAMP(MICROS, UTC), `nodeId` STRING (the writer id in the
 * record's segment header), `event` JSON text, then one typed column per `--columns` entry
 * (`parquet-columns.ts`). Memory is bounded: records are buffered one row group at a time
 * (`rowGroupRows`, or {@link kRowGroupJsonBytes} of event JSON, whichever comes first) and each
 * encoded row group is written out before the next is read. Durable: the file is written as
 * `<output>.partial`, fsync'd, renamed over `<output>`, and the directory is fsync'd, so a crash
 * leaves either the old file or the complete new one, never a torn Parquet file under the name.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { fsyncDir, nodeWalFs, writeFully } from '../wal/fs.js';
import { type ReadWalOptions, readWal, type WalRecord } from '../wal/reader.js';
import { decodeSegmentHeader, SEGMENT_HEADER_BYTES, type SegmentFile } from '../wal/segment.js';
import { listWalDir } from '../wal/wal-dir.js';
import type { RecordFilter } from './filter.js';
import {
  type ColumnSpec,
  columnSchemaElement,
  convertCell,
  type JsonValue,
  jsonElement,
  type ParquetCell,
  type ParquetColumnType,
  pickPath,
  type SchemaElement,
  TypeInference,
  timestampElement,
} from './parquet-columns.js';
import { recordJson, toJson } from './record-output.js';
import { packageVersion } from './version.js';

/** Default rows per row group. */
export const kDefaultRowGroupRows = 100_000;
/** A row group is also closed once its events' JSON text reaches this many bytes (UTF-16 units). */
export const kRowGroupJsonBytes = 16 * 1024 * 1024;

/** What {@link exportParquet} needs. */
export interface ParquetExportOptions {
  /** The WAL directory. */
  readonly dir: string;
  /** Output file, or `'-'` for stdout (not durable: a pipe). */
  readonly output: string;
  /**
   * Opens `<output>.partial` for writing and returns its fd; called before anything is read, so a
   * bad `--output` fails first. Not called for stdout.
   */
  readonly openOutput: () => number;
  /** Seq and time range. */
  readonly range: Pick<ReadWalOptions, 'fromSeq' | 'toSeq' | 'from' | 'to'>;
  readonly filter?: RecordFilter | undefined;
  /** Extracted columns (`--columns`). */
  readonly columns: readonly ColumnSpec[];
  /** Rows per row group. Default {@link kDefaultRowGroupRows}. */
  readonly rowGroupRows?: number | undefined;
  /** Called with each record's seq as it is read (the progress bar). */
  readonly onRecord?: ((seq: number) => void) | undefined;
  /**
   * Turns each record as stored into the record exported: decrypts sealed fields or marks them
   * (`--key-file`, `$IRONLOG_KEYS`, KMS, `--no-decrypt`), exactly as the other formats do. Applied
   * before the filter and the columns, so both see the clear event. Default: records as stored.
   */
  readonly open?: ((r: WalRecord) => Promise<WalRecord> | WalRecord) | undefined;
}

/** What was written. */
export interface ParquetExportResult {
  readonly rows: number;
  readonly rowGroups: number;
  readonly bytes: number;
}

function ioError(what: string, err: unknown): IronlogError {
  if (err instanceof IronlogError) return err;
  return new IronlogError(ErrorCodes.IO, `${what}: ${errnoCode(err) ?? String(err)}`, { cause: err });
}

/** Where the Parquet bytes go: a temp file renamed into place, or stdout. */
interface ParquetTarget {
  write(bytes: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Writes to an fd open on `<output>.partial`; commit = fsync, close, rename, fsync the directory. */
function fileTarget(output: string, fd: number): ParquetTarget {
  const partial = `${output}.partial`;
  let position = 0;
  let open = true;
  return {
    async write(bytes) {
      try {
        // Synchronous on purpose: one row group at a time, and a CLI command has nothing else to do.
        writeFully(nodeWalFs, fd, bytes, 0, bytes.length, position);
        position += bytes.length;
      } catch (err) {
        throw ioError(`cannot write ${partial}`, err);
      }
    },
    async commit() {
      try {
        fs.fsyncSync(fd);
        open = false;
        fs.closeSync(fd);
        fs.renameSync(partial, output);
        fsyncDir(path.dirname(path.resolve(output)));
      } catch (err) {
        throw ioError(`cannot make ${output} durable`, err);
      }
    },
    async abort() {
      if (open) {
        open = false;
        try {
          fs.closeSync(fd);
        } catch {
          // Already unusable: the file is removed next anyway.
        }
      }
      fs.rmSync(partial, { force: true });
    },
  };
}

function stdoutTarget(): ParquetTarget {
  return {
    async write(bytes) {
      if (!process.stdout.write(bytes)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            process.stdout.off('error', onError);
            resolve();
          };
          const onError = (err: Error): void => {
            process.stdout.off('drain', onDrain);
            reject(err);
          };
          process.stdout.once('drain', onDrain);
          process.stdout.once('error', onError);
        });
      }
    },
    async commit() {},
    async abort() {},
  };
}

/**
 * The nodeId (writer id in the segment header) of each record, by seq. `readWal` lists the
 * directory once when it starts; this lists it at the first record, so after `readWal` did, and
 * its listing holds every segment `readWal` reads. Records come in seq order: the cursor only
 * moves forward, and a header is read once per segment.
 */
class SegmentNodeIds {
  #segments: SegmentFile[] | undefined;
  #index = -1;
  #nodeId = '';
  constructor(readonly dir: string) {}

  async of(seq: number): Promise<string> {
    this.#segments ??= await listWalDir(this.dir);
    const segments = this.#segments;
    let i = Math.max(this.#index, 0);
    while (i + 1 < segments.length && (segments[i + 1] as SegmentFile).firstSeq <= seq) i++;
    const seg = segments[i];
    if (seg === undefined || seg.firstSeq > seq) {
      throw new IronlogError(
        ErrorCodes.IO,
        `no segment of ${this.dir} holds seq ${seq} any more (deleted during the export?)`,
      );
    }
    if (i !== this.#index) {
      this.#nodeId = await readWriterId(seg.path);
      this.#index = i;
    }
    return this.#nodeId;
  }
}

async function readWriterId(file: string): Promise<string> {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  let bytesRead: number;
  try {
    const fh = await fsp.open(file, 'r');
    try {
      ({ bytesRead } = await fh.read(buf, 0, SEGMENT_HEADER_BYTES, 0));
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError(`cannot read the header of ${file}`, err);
  }
  const hr = decodeSegmentHeader(buf, bytesRead);
  if (!hr.ok) throw new IronlogError(ErrorCodes.WAL_CORRUPT, `${file}: segment header: ${hr.message}`);
  return hr.header.writerId;
}

/** The records of `range` that pass the filter. */
async function* matching(
  opts: ParquetExportOptions,
  range: ReadWalOptions,
): AsyncGenerator<{ seq: number; timeUs: number; event: unknown }> {
  for await (const raw of readWal(opts.dir, range)) {
    const r = opts.open ? await opts.open(raw) : raw;
    if (opts.filter && !opts.filter(recordJson(r))) continue;
    yield r;
  }
}

/**
 * First pass, only when a column has no declared type: reads the range once to infer the types.
 * Returns them and the last seq read, which bounds the second pass to the same records even
 * while a writer appends.
 */
async function inferTypes(
  opts: ParquetExportOptions,
): Promise<{ types: ParquetColumnType[]; lastSeq: number | undefined }> {
  const pending = opts.columns.map((c) => (c.type === undefined ? new TypeInference() : undefined));
  let lastSeq: number | undefined;
  for await (const raw of readWal(opts.dir, opts.range)) {
    lastSeq = raw.seq;
    const r = opts.open ? await opts.open(raw) : raw;
    if (opts.filter && !opts.filter(recordJson(r))) continue;
    for (const [i, c] of opts.columns.entries()) pending[i]?.observe(pickPath(r.event, c.path));
  }
  const types = opts.columns.map((c, i) => c.type ?? (pending[i] as TypeInference).result());
  return { types, lastSeq };
}

/** Writes the export range of `opts.dir` as a Parquet file (see the module comment). */
export async function exportParquet(opts: ParquetExportOptions): Promise<ParquetExportResult> {
  const rowGroupRows = opts.rowGroupRows ?? kDefaultRowGroupRows;
  const target = opts.output === '-' ? stdoutTarget() : fileTarget(opts.output, opts.openOutput());
  try {
    return await writeParquet(opts, target, rowGroupRows);
  } catch (err) {
    await target.abort();
    throw err;
  }
}

async function writeParquet(
  opts: ParquetExportOptions,
  target: ParquetTarget,
  rowGroupRows: number,
): Promise<ParquetExportResult> {
  let range: ReadWalOptions = { ...opts.range };
  let types: ParquetColumnType[];
  let empty = false;
  if (opts.columns.some((c) => c.type === undefined)) {
    const inferred = await inferTypes(opts);
    types = inferred.types;
    if (inferred.lastSeq === undefined) empty = true;
    else range = { ...range, toSeq: inferred.lastSeq };
  } else {
    types = opts.columns.map((c) => c.type as ParquetColumnType);
  }

  const schema: SchemaElement[] = [
    { name: 'root', num_children: 4 + opts.columns.length },
    { name: 'seq', type: 'INT64', repetition_type: 'REQUIRED' },
    timestampElement('time', 'REQUIRED'),
    { name: 'nodeId', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    jsonElement('event', 'REQUIRED'),
    ...opts.columns.map((c, i) => columnSchemaElement(c.name, types[i] as ParquetColumnType)),
  ];

  const bytes = new ByteWriter();
  let flushed = 0;
  // hyparquet-writer appends to `bytes` as it encodes; this moves them out after each row group.
  const drain = async (): Promise<void> => {
    if (bytes.index === 0) return;
    await target.write(new Uint8Array(bytes.buffer, 0, bytes.index));
    flushed += bytes.index;
    bytes.index = 0;
  };
  const writer = new ParquetWriter({
    writer: bytes,
    schema,
    createdBy: `ironlog version ${packageVersion()}`,
    kvMetadata: [{ key: 'ironlog.export', value: JSON.stringify({ format: 1, dir: path.basename(opts.dir) }) }],
  });
  const nodeIds = new SegmentNodeIds(opts.dir);
  let seqs: bigint[] = [];
  let times: bigint[] = [];
  let nodes: string[] = [];
  let events: JsonValue[] = [];
  let extracted: ParquetCell[][] = opts.columns.map(() => []);
  let jsonBytes = 0;
  let rows = 0;
  let rowGroups = 0;
  const flushGroup = async (): Promise<void> => {
    if (seqs.length === 0) return;
    await writer.write({
      columnData: [
        { name: 'seq', data: seqs },
        { name: 'time', data: times },
        { name: 'nodeId', data: nodes },
        // Min/max of JSON text helps no reader, and events rarely repeat: no statistics, no dictionary.
        { name: 'event', data: events, encoding: 'PLAIN', statistics: false },
        ...opts.columns.map((c, i) => ({ name: c.name, data: extracted[i] as ParquetCell[] })),
      ],
      rowGroupSize: seqs.length,
    });
    rowGroups++;
    await drain();
    seqs = [];
    times = [];
    nodes = [];
    events = [];
    extracted = opts.columns.map(() => []);
    jsonBytes = 0;
  };
  if (!empty) {
    for await (const r of matching(opts, range)) {
      opts.onRecord?.(r.seq);
      seqs.push(BigInt(r.seq));
      times.push(BigInt(r.timeUs));
      nodes.push(await nodeIds.of(r.seq));
      // The text ironlog writes everywhere (bytes as {"$base64"}, bigints as strings), parsed back
      // because hyparquet-writer serialises JSON columns itself; it writes the same text again.
      const text = toJson(r.event) ?? 'null';
      events.push(JSON.parse(text) as JsonValue);
      jsonBytes += text.length;
      for (const [i, c] of opts.columns.entries()) {
        (extracted[i] as ParquetCell[]).push(
          convertCell(pickPath(r.event, c.path), c, types[i] as ParquetColumnType, r.seq),
        );
      }
      rows++;
      if (seqs.length >= rowGroupRows || jsonBytes >= kRowGroupJsonBytes) await flushGroup();
    }
  }
  await flushGroup();
  await writer.finish();
  await drain();
  await target.commit();
  return { rows, rowGroups, bytes: flushed };
}
