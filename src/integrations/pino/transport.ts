/**
 * The pino transport, run by pino in its transport worker thread:
 * `pino.transport({ target: 'ironlog/pino', options: { dir, ...openSink options } })`.
 *
 * Each log line is parsed (pino-abstract-transport) and its object is the record's event. The
 * worker's stream has its own `flush(cb)`: thread-stream (>= 4.1) first waits until the worker
 * has read every byte written before `logger.flush(cb)`, then posts FLUSH, which lands here; we
 * wait until every line of those bytes reached the ring, then until all of them are durable.
 */
import build from 'pino-abstract-transport';
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import type { SinkOptions } from '../../main/options.js';
import { DurableQueue } from '../common/durable-queue.js';
import { compileLogFilter, type LogFilterSpec } from '../common/log-filter.js';
import { acquireSink, passes, splitSinkOptions } from '../common/sink-source.js';
import { pinoLevels } from './levels.js';

/**
 * Options of the transport (`pino.transport({ target: 'ironlog/pino', options })`). They cross a
 * thread (structured clone), so everything here must be plain data: the filter is a
 * {@link LogFilterSpec}, not a function, and a `sink` cannot be passed (the transport opens its
 * own in its worker thread).
 */
export interface IronlogPinoTransportOptions extends Omit<SinkOptions, 'clock' | 'metrics'> {
  /** Only lines matching this spec go to the WAL (e.g. `{ minLevel: 'error', hasField: 'audit' }`). Default: all. */
  filter?: LogFilterSpec;
  /**
   * Bytes of encoded lines that may wait for ring space before the transport stops reading (then
   * pino's own buffer fills and pino blocks). Default 4 MiB.
   */
  maxBufferedBytes?: number;
}

type TransportStream = ReturnType<typeof build>;

/** Resolves once every line written to `stream` so far was handed to its 'data' listener. */
function whenIdle(stream: TransportStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (stream.destroyed) {
        reject(new IronlogError(ErrorCodes.CLOSED, 'the ironlog pino transport is closed'));
      } else if (stream.writableLength === 0 && stream.readableLength === 0) {
        resolve();
      } else {
        setImmediate(check);
      }
    };
    check();
  });
}

/**
 * The transport factory (pino calls it in its worker with `options`). Opens the sink, and returns
 * the stream pino writes lines to.
 */
export default async function ironlogTransport(options: IronlogPinoTransportOptions): Promise<TransportStream> {
  // pino adds `$context`, `pinoWillSendConfig` (and `levels`, `dedupe` when set) to the options.
  const { source, adapter } = splitSinkOptions('ironlog/pino', options, [
    'filter',
    'maxBufferedBytes',
    '$context',
    'pinoWillSendConfig',
    'levels',
    'dedupe',
  ] as const);
  if (source.sink !== undefined) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      'options.sink cannot cross to the transport thread: pass { dir }',
    );
  }
  const filter = compileLogFilter<unknown>(adapter.filter, pinoLevels);
  const maxBufferedBytes = adapter.maxBufferedBytes;
  if (maxBufferedBytes !== undefined && !(Number.isSafeInteger(maxBufferedBytes) && (maxBufferedBytes as number) > 0)) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.maxBufferedBytes must be a positive integer');
  }
  const { sink } = await acquireSink(source);
  const queue = new DurableQueue(sink, { maxBufferedBytes: maxBufferedBytes as number | undefined });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        // Everything read so far is made durable before the sink closes (close drains too).
        await queue.flush().catch(() => {});
      } finally {
        queue.dispose();
        await sink.close();
      }
    })();
    return closing;
  };
  const stream = build(
    (source) => {
      const accept = (event: unknown): void => {
        if (!passes(filter, event, (err) => stream.emit('warning', err))) return;
        if (!queue.push(event)) {
          source.pause();
          queue.once('drain', () => source.resume());
        }
      };
      source.on('data', accept);
      // A line that is not JSON is kept as its text: an audit log does not drop what it got.
      source.on('unknown', (line: string) => accept(line));
    },
    { close: () => close() },
  );
  // A line that cannot be made durable ends the transport (fail closed): thread-stream reports
  // the error on the main thread's transport stream, and later log calls fail loudly.
  queue.on('error', (err) => stream.destroy(err));
  Object.defineProperty(stream, 'flush', {
    value(cb: (err?: Error | null) => void): void {
      whenIdle(stream)
        .then(() => queue.flush())
        .then(
          () => cb(),
          (err: unknown) => cb(err as Error),
        );
    },
  });
  return stream;
}
