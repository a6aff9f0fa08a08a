/**
 * `ironlog/winston`: a winston transport whose `'logged'` means durable.
 *
 * ```ts
 * import winston from 'winston';
 * import IronlogTransport from 'ironlog/winston';
 * const audit = new IronlogTransport({ dir: './audit' });
 * const logger = winston.createLogger({ transports: [audit] });
 * logger.info('login', { user: 'u1' });
 * audit.on('logged', (info) => {});   // this info is fdatasync'd
 * logger.end(); audit.on('finish', () => {});  // everything logged is durable, the sink closed
 * ```
 * See `docs/integrations/winston.md`.
 * @packageDocumentation
 */
import TransportStream from 'winston-transport';
import { ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import type { Sink } from '../../main/sink.js';
import { compileLogFilter, type LevelReader, type LogFilter } from '../common/log-filter.js';
import { acquireSink, type EventFilter, passes, type SinkSource, splitSinkOptions } from '../common/sink-source.js';

export type { LogFilter, LogFilterSpec } from '../common/log-filter.js';
export type { EventFilter, SharedSinkOptions, SinkSource } from '../common/sink-source.js';

/** A winston `info` object: `level`, `message` and the metadata fields. */
export type WinstonInfo = Record<string, unknown> & { level: string; message?: unknown };

/** Options of {@link IronlogTransport} besides the sink's (`{ dir, ... }` or `{ sink }`). */
export interface IronlogTransportAdapterOptions {
  /**
   * Only infos this keeps go to the WAL: a function, or `{ minLevel, hasField }` where `minLevel`
   * is a level name (`'error'`: error and more severe). Default: all. Runs after winston's own
   * `level` filtering.
   */
  filter?: LogFilter<WinstonInfo>;
  /** winston's transport `level` (most verbose level this transport takes). */
  level?: string;
  /** winston's `silent`. */
  silent?: boolean;
  /** winston's `handleExceptions`. */
  handleExceptions?: boolean;
  /** winston's `handleRejections`. */
  handleRejections?: boolean;
  /** A winston format for this transport only. */
  format?: TransportStream.TransportStreamOptions['format'];
  /**
   * Infos that may queue in the transport while earlier ones wait for their fsync; they then go
   * to the WAL together (one group commit). Default 1024 (winston's own default, 16, caps every
   * fsync at ~16 infos: a 5-10x lower throughput). Bounds the transport's memory.
   */
  highWaterMark?: number;
}

/** `new IronlogTransport({ dir, ...openSink options, ...adapter options })` or `({ sink, ... })`. */
export type IronlogTransportOptions = SinkSource & IronlogTransportAdapterOptions;

const kAdapterKeys = [
  'filter',
  'level',
  'silent',
  'handleExceptions',
  'handleRejections',
  'format',
  'highWaterMark',
] as const;
const kDefaultHighWaterMark = 1024;

/** npm levels (winston's default), most severe = 0. */
const kNpmLevels: Readonly<Record<string, number>> = Object.freeze({
  error: 0,
  warn: 1,
  info: 2,
  http: 3,
  verbose: 4,
  debug: 5,
  silly: 6,
});

/** Compiles the `filter` option; `levels()` is the logger's level table (set when piped). */
function compileWinstonFilter(
  value: unknown,
  levels: () => Record<string, number> | undefined,
): EventFilter<WinstonInfo> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return compileLogFilter<WinstonInfo>(value, kNoLevels);
  }
  const { minLevel, ...rest } = value as { minLevel?: unknown };
  if (minLevel !== undefined && (typeof minLevel !== 'string' || minLevel.length === 0)) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, "options.filter.minLevel must be a level name (e.g. 'error')");
  }
  const byField = compileLogFilter<WinstonInfo>(rest, kNoLevels);
  if (minLevel === undefined) return byField;
  const name = minLevel;
  return (info) => {
    // winston counts severity downwards: error 0 ... silly 6 (npm levels).
    const table = levels() ?? kNpmLevels;
    const limit = table[name];
    const level = table[info.level];
    if (limit !== undefined && level !== undefined && level <= limit) return true;
    return byField ? byField(info) : false;
  };
}

const kNoLevels: LevelReader<WinstonInfo> = { levelOf: () => undefined, levelValue: () => undefined };

/**
 * A `winston-transport` whose `log(info, callback)` calls back only after the info is durable,
 * so `'logged'` is emitted for durable infos only, and `logger.end()` + this transport's
 * `'finish'` mean every info logged is durable (and an owned sink is closed).
 *
 * A failed info (disk full, closed sink, an unencodable field) is reported as this transport's
 * `'error'` (winston re-emits it on the logger and pipes the transport again); the stream itself
 * never errors, so winston never drops the transport.
 */
export class IronlogTransport extends TransportStream {
  readonly #ready: Promise<Sink>;
  #sink: Sink | undefined;
  #owned = false;
  readonly #filter: EventFilter<WinstonInfo> | undefined;
  /** The loggers piping into this transport now (winston-transport's `parent` is set only once). */
  readonly #sources = new Set<NodeJS.ReadableStream & { _readableState?: { length?: number } }>();

  constructor(options: IronlogTransportOptions) {
    const { source, adapter } = splitSinkOptions('IronlogTransport', options, kAdapterKeys);
    const hwm = adapter.highWaterMark ?? kDefaultHighWaterMark;
    if (!Number.isSafeInteger(hwm) || (hwm as number) < 1) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.highWaterMark must be a positive integer');
    }
    // winston-transport passes highWaterMark on to the Writable; its typings omit it.
    super({
      highWaterMark: hwm as number,
      level: adapter.level as string | undefined,
      silent: adapter.silent as boolean | undefined,
      handleExceptions: adapter.handleExceptions as boolean | undefined,
      handleRejections: adapter.handleRejections as boolean | undefined,
      format: adapter.format as TransportStream.TransportStreamOptions['format'],
    } as TransportStream.TransportStreamOptions);
    this.#filter = compileWinstonFilter(
      adapter.filter,
      () => (this as unknown as { levels?: Record<string, number> }).levels,
    );
    this.#ready = acquireSink(source).then(({ sink, owned }) => {
      this.#sink = sink;
      this.#owned = owned;
      return sink;
    });
    // The open error is reported at the first log; keep it from being an unhandled rejection.
    this.#ready.catch(() => {});
    this.on('pipe', (src) => this.#sources.add(src));
    this.on('unpipe', (src) => this.#sources.delete(src));
  }

  /** The sink written to (undefined while it opens). */
  get sink(): Sink | undefined {
    return this.#sink;
  }

  /** Resolves once the sink is open (rejects with its open error). */
  ready(): Promise<Sink> {
    return this.#ready;
  }

  /** winston's entry point: calls back once `info` is durable (or failed, reported as `'error'`). */
  override log(info: WinstonInfo, callback: () => void): void {
    this.#write([info]).then(callback, callback);
  }

  /**
   * winston's batch entry point: the write requests that queued while an earlier log waited for
   * its ack (already level-filtered by winston-transport, which leaves the format to us).
   */
  override logv(requests: readonly { chunk: WinstonInfo }[], callback: () => void): void {
    const infos: WinstonInfo[] = [];
    for (const request of requests) {
      let info: WinstonInfo | false = request.chunk;
      if (this.format) {
        try {
          info = this.format.transform(
            { ...info } as Parameters<typeof this.format.transform>[0],
            this.format.options,
          ) as WinstonInfo | false;
        } catch (err) {
          this.#report(err);
          continue;
        }
      }
      if (info) infos.push(info);
    }
    this.#write(infos).then(callback, callback);
  }

  /**
   * winston's `logger.end()` ends its transports from the logger's `_final`, while infos a slow
   * transport has not taken yet still sit in the logger's readable buffer: ending at once would
   * drop them ("write after end"). So the end waits until that buffer is empty, i.e. every info
   * logged before `logger.end()` was handed to this transport.
   */
  override end(...args: unknown[]): this {
    const pending = (): boolean => {
      if (this.destroyed) return false;
      for (const src of this.#sources) if ((src._readableState?.length ?? 0) > 0) return true;
      return false;
    };
    const end = (): void => {
      (super.end as (...a: unknown[]) => unknown).apply(this, args);
    };
    if (!pending()) {
      end();
      return this;
    }
    const retry = (): void => {
      if (pending()) setImmediate(retry);
      else end();
    };
    setImmediate(retry);
    return this;
  }

  /** Runs when the stream ends (after every pending log called back): closes an owned sink. */
  override _final(callback: (err?: Error | null) => void): void {
    this.#ready
      .then(async (sink) => {
        await sink.flush();
        if (this.#owned) await sink.close();
      })
      .then(
        () => callback(),
        (err: unknown) => {
          // The stream must still finish: the error goes to listeners, not to the stream state.
          this.#report(err);
          callback();
        },
      );
  }

  /**
   * winston-transport calls `close()` at the first `'unpipe'` from its logger. That also happens
   * when the logger briefly unpipes a transport that reported an `'error'` and pipes it again at
   * once (winston #1364), so an owned sink is closed only if no logger pipes into the transport a
   * moment later; `logger.end()` closes it through `'finish'` anyway.
   */
  override close(): void {
    if (!this.#owned) return;
    setImmediate(() => {
      if (this.#sources.size > 0 || this.destroyed) return;
      void this.#ready.then((sink) => sink.close()).catch((err: unknown) => this.#report(err));
    });
  }

  async #write(infos: WinstonInfo[]): Promise<void> {
    let sink: Sink;
    try {
      sink = await this.#ready;
    } catch (err) {
      this.#report(err);
      return;
    }
    const kept = infos.filter((info) => passes(this.#filter, info, (err) => this.#report(err)));
    // One emit per info (group commit batches them): a bad info fails alone, not its neighbours.
    const results = await Promise.allSettled(kept.map((info) => sink.emit(info)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') this.emit('logged', kept[i]);
      else this.#report(r.reason);
    });
  }

  #report(err: unknown): void {
    const error = isIronlogError(err)
      ? err
      : new IronlogError(ErrorCodes.INTERNAL, String((err as Error)?.message ?? err), { cause: err });
    this.emit('error', error);
  }
}

export default IronlogTransport;
