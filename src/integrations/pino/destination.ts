/**
 * The in-thread pino destination: `pino(ironlogDestination({ dir }))` or
 * `pino(ironlogDestination(sink))`. No transport thread: pino's `write()` goes straight into the
 * sink's ring, `flush(cb)` and `flushSync()` mean durable.
 */
import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import { Sink } from '../../main/sink.js';
import { DurableQueue } from '../common/durable-queue.js';
import { compileLogFilter, type LogFilter } from '../common/log-filter.js';
import { acquireSink, type EventFilter, passes, type SinkSource, splitSinkOptions } from '../common/sink-source.js';
import { pinoLevels } from './levels.js';

/** Options of {@link ironlogDestination} besides the sink's. */
export interface IronlogDestinationAdapterOptions {
  /** Only log objects this keeps go to the WAL: a function or `{ minLevel, hasField }`. Default: all. */
  filter?: LogFilter<Record<string, unknown>>;
  /**
   * Bytes of encoded lines that may wait for ring space (`write()` has returned false) before
   * `write()` blocks the thread until the ring has room. Default 4 MiB.
   */
  maxBufferedBytes?: number;
}

/** `{ dir, ...openSink options, filter?, maxBufferedBytes? }` or `{ sink, filter?, maxBufferedBytes? }`. */
export type IronlogDestinationOptions = SinkSource & IronlogDestinationAdapterOptions;

/** Events of {@link IronlogDestination}. */
export interface IronlogDestinationEvents {
  /** The sink is open (at once for a sink passed in). */
  ready: [];
  /** A `write()` that returned false has its lines in the ring now. */
  drain: [];
  /** A line could not be made durable (or the sink failed to open). Attach a listener: without one, it throws. */
  error: [err: IronlogError];
  /** `end()` finished: everything written is durable and an owned sink is closed. */
  finish: [];
  close: [];
}

/**
 * A pino destination stream whose acknowledgements mean durable. Create it with
 * {@link ironlogDestination}. See `docs/integrations/pino.md` for what is durable when.
 */
export class IronlogDestination extends EventEmitter<IronlogDestinationEvents> {
  readonly #filter: EventFilter<Record<string, unknown>> | undefined;
  readonly #maxBufferedBytes: number | undefined;
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';
  #queue: DurableQueue | undefined;
  #sink: Sink | undefined;
  #owned = false;
  /** Lines written before the sink was open. */
  #early: string[] = [];
  #earlyBytes = 0;
  #openError: IronlogError | undefined;
  #ending: Promise<void> | undefined;
  readonly #opened: Promise<void>;

  /** Made by {@link ironlogDestination}; not meant to be called directly. */
  constructor(source: SinkSource, filter: unknown, maxBufferedBytes: number | undefined) {
    super();
    this.#filter = compileLogFilter<Record<string, unknown>>(filter, pinoLevels);
    this.#maxBufferedBytes = maxBufferedBytes;
    if (source.sink !== undefined) {
      this.#attach(source.sink, false);
      this.#opened = Promise.resolve();
      process.nextTick(() => this.emit('ready'));
    } else {
      this.#opened = acquireSink(source).then(
        ({ sink, owned }) => {
          this.#attach(sink, owned);
          for (const line of this.#early.splice(0)) this.#line(line);
          this.#earlyBytes = 0;
          this.emit('ready');
        },
        (err: unknown) => {
          this.#openError = err instanceof IronlogError ? err : new IronlogError(ErrorCodes.IO, String(err));
          this.#early = [];
          this.emit('error', this.#openError);
        },
      );
    }
  }

  /**
   * True until `end()` (or a failed open): a writable stream, as pino tells a destination from
   * an options object by this property (`pino(ironlogDestination(...))`).
   */
  get writable(): boolean {
    return this.#ending === undefined && this.#openError === undefined;
  }

  /** True once the sink is open. */
  get ready(): boolean {
    return this.#queue !== undefined;
  }

  /** The sink written to (undefined until ready). */
  get sink(): Sink | undefined {
    return this.#sink;
  }

  /**
   * Takes pino's output (one or more JSON lines). Returns false when the ring is full (or the
   * sink is not open yet): the lines wait in a bounded list and `'drain'` follows.
   */
  write(chunk: string | Uint8Array): boolean {
    const text = this.#partial + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    let start = 0;
    let ok = true;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const line = text.slice(start, nl);
      start = nl + 1;
      if (line.length > 0 && !this.#line(line)) ok = false;
    }
    this.#partial = text.slice(start);
    return ok;
  }

  /** Calls back (error first) once every line written before the call is durable. */
  flush(cb: (err?: Error | null) => void = () => {}): void {
    this.#flushAsync().then(
      () => cb(null),
      (err: unknown) => cb(err as Error),
    );
  }

  /**
   * Blocks until every line written before the call is durable. Throws the typed error of a line
   * that failed, and `ERR_IRONLOG_NOT_READY` before the sink is open (wait for `'ready'`).
   */
  flushSync(): void {
    if (this.#openError) throw this.#openError;
    if (!this.#queue) {
      throw new IronlogError(
        ErrorCodes.NOT_READY,
        "flushSync() before the sink is open: wait for the destination's 'ready' event, or pass an open sink",
      );
    }
    this.#flushPartial();
    this.#queue.flushSync();
  }

  /** Flushes, closes an owned sink (not one passed in), then emits `'finish'` and `'close'`. */
  end(cb?: (err?: Error | null) => void): void {
    this.#ending ??= (async () => {
      try {
        await this.#flushAsync();
      } finally {
        this.#queue?.dispose();
        if (this.#owned) await this.#sink?.close();
      }
    })();
    this.#ending.then(
      () => {
        this.emit('finish');
        this.emit('close');
        cb?.(null);
      },
      (err: unknown) => {
        this.emit('close');
        if (cb) cb(err as Error);
        else this.emit('error', err as IronlogError);
      },
    );
  }

  async #flushAsync(): Promise<void> {
    await this.#opened;
    if (this.#openError) throw this.#openError;
    this.#flushPartial();
    await this.#queue?.flush();
  }

  /** A last line without its newline (pino always ends lines; a hand-written caller may not). */
  #flushPartial(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest.length > 0) this.#line(rest);
  }

  #attach(sink: Sink, owned: boolean): void {
    this.#sink = sink;
    this.#owned = owned;
    const queue = new DurableQueue(sink, { maxBufferedBytes: this.#maxBufferedBytes });
    queue.on('error', (err) => this.emit('error', err));
    queue.on('drain', () => this.emit('drain'));
    this.#queue = queue;
  }

  /** One line; false when it had to wait. */
  #line(line: string): boolean {
    const queue = this.#queue;
    if (!queue) {
      if (this.#openError) return false;
      // Before the sink is open: keep the lines, within the same bound as the overflow list.
      if (this.#earlyBytes + line.length > (this.#maxBufferedBytes ?? 4 * 1024 * 1024)) {
        this.emit(
          'error',
          new IronlogError(
            ErrorCodes.NOT_READY,
            'the sink is not open yet and the early-line buffer is full; line not written',
          ),
        );
        return false;
      }
      this.#early.push(line);
      this.#earlyBytes += line.length;
      return false;
    }
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      // Not JSON: kept as its text (an audit log does not drop what it got).
      event = line;
    }
    if (
      typeof event === 'object' &&
      event !== null &&
      !passes(this.#filter, event as Record<string, unknown>, (err) =>
        this.emit('error', new IronlogError(ErrorCodes.INVALID_OPTION, `options.filter threw: ${String(err)}`)),
      )
    ) {
      return true;
    }
    return queue.push(event);
  }
}

/**
 * The in-thread destination: `pino(ironlogDestination({ dir }))` (opens a sink, closed by
 * `end()`) or `pino(ironlogDestination(sink))` / `ironlogDestination({ sink })` (your sink, never
 * closed by the destination). Returned at once; with `{ dir }`, lines written before `'ready'`
 * wait in memory (bounded by `maxBufferedBytes`).
 */
export function ironlogDestination(options: IronlogDestinationOptions | Sink): IronlogDestination {
  if (options instanceof Sink) return new IronlogDestination({ sink: options }, undefined, undefined);
  const { source, adapter } = splitSinkOptions('ironlogDestination', options, ['filter', 'maxBufferedBytes'] as const);
  const max = adapter.maxBufferedBytes;
  if (max !== undefined && !(Number.isSafeInteger(max) && (max as number) > 0)) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.maxBufferedBytes must be a positive integer');
  }
  return new IronlogDestination(source, adapter.filter, max as number | undefined);
}
