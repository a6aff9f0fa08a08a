/**
 * What every adapter takes to find its sink: either the options of {@link openSink} (the adapter
 * opens the sink and closes it when it ends) or an open {@link Sink} (the caller owns it, the
 * adapter never closes it), plus the `filter` every adapter has.
 */
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import type { SinkOptions } from '../../main/options.js';
import { openSink, Sink } from '../../main/sink.js';

/**
 * Selective audit routing: called with the adapter's event (pino's log object, winston's info,
 * the request's audit event); only events for which it returns true go to ironlog. Default: all.
 * A filter that throws counts as `true` (an audit log keeps what it cannot classify) and its
 * error is reported as the adapter's `'error'`.
 */
export type EventFilter<E> = (event: E) => boolean;

/** The adapter opens (and later closes) a sink of its own with these {@link SinkOptions}. */
export type OwnSinkOptions = SinkOptions & { sink?: undefined };

/** The adapter writes to a sink the caller opened, and never closes it. */
export interface SharedSinkOptions {
  sink: Sink;
}

/** `{ dir, ...openSink options }` or `{ sink }`. */
export type SinkSource = OwnSinkOptions | SharedSinkOptions;

/** Keys of an adapter's own options, taken out before the rest goes to {@link openSink}. */
export function splitSinkOptions<K extends string>(
  where: string,
  input: unknown,
  adapterKeys: readonly K[],
): { source: SinkSource; adapter: Partial<Record<K, unknown>> } {
  if (typeof input !== 'object' || input === null) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where} options must be an object: { dir } or { sink }`);
  }
  const rest: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  const adapter: Partial<Record<K, unknown>> = {};
  for (const k of adapterKeys) {
    if (k in rest) {
      adapter[k] = rest[k];
      delete rest[k];
    }
  }
  const sink = rest['sink'];
  if (sink !== undefined) {
    if (!(sink instanceof Sink)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `options.sink must be a Sink returned by openSink()`);
    }
    const extra = Object.keys(rest).filter((k) => k !== 'sink' && rest[k] !== undefined);
    if (extra.length > 0) {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `options.sink and options.${extra[0]} conflict: sink options go to openSink(), pass either { sink } or { dir, ... }`,
      );
    }
    return { source: { sink }, adapter };
  }
  if (typeof rest['dir'] !== 'string' || rest['dir'].length === 0) {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      `options.dir must be a non-empty string (the WAL directory), or pass an open sink as options.sink`,
    );
  }
  return { source: rest as unknown as OwnSinkOptions, adapter };
}

/** Opens the sink of `source` (or returns the caller's); `owned` says whether the adapter must close it. */
export async function acquireSink(source: SinkSource): Promise<{ sink: Sink; owned: boolean }> {
  if (source.sink !== undefined) return { sink: source.sink, owned: false };
  return { sink: await openSink(source), owned: true };
}

/** Validates a `filter` option. */
export function resolveFilter<E>(value: unknown): EventFilter<E> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.filter must be a function (event) => boolean');
  }
  return value as EventFilter<E>;
}

/** Runs `filter`; a throwing filter keeps the event and hands the error to `onError`. */
export function passes<E>(filter: EventFilter<E> | undefined, event: E, onError: (err: unknown) => void): boolean {
  if (filter === undefined) return true;
  try {
    return filter(event) === true;
  } catch (err) {
    onError(err);
    return true;
  }
}
