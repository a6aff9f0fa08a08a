/**
 * The sink's failure policy (options `onFailure` and `failStop`, issue 14): turns the faults the
 * sink already hears of (the writer's `fault` / `fault-cleared` messages, the worker's death, the
 * replication manager's `quorumLost` / `quorumRegained`) into episodes, calls the handler once per
 * episode, and with `failStop` ends the process once every pending ack is settled.
 *
 * An episode has a kind: `wal` (write or fdatasync failure, disk full, no data key: the ring is
 * FAULTED until the writer wrote the gap record and commits again), `quorum` (with
 * `ack: 'replicated'`: fewer than `quorum` backends reachable, until they are again) and `writer`
 * (the worker died: terminal, so it is reported even while a `wal` episode is open). Kinds are
 * independent: a quorum loss during a WAL fault is an episode of its own.
 */
import { debuglog } from 'node:util';
import type { IronlogError } from '../core/errors.js';

const debug = debuglog('ironlog');

/** The exit code of a fail-stop (`failStop: true`): 70, `EX_SOFTWARE` of sysexits.h. */
export const FAIL_STOP_EXIT_CODE = 70;

/** How long a fail-stop waits for the writer to settle what it holds before rejecting the rest. */
const kFailStopDrainMs = 1_000;
/** Delay between the last rejection and `process.exit`: rejection handlers (and their logging) run first. */
const kFailStopExitDelayMs = 20;

/** The kinds of fault episodes (see the module comment). */
export type FaultEpisodeKind = 'wal' | 'quorum' | 'writer';

/** What a fail-stop does to the sink, supplied by the sink. */
export interface FailStopHooks {
  /** Refuse every later emit of this sink with `err`. */
  refuse(err: IronlogError): void;
  /** Resolves once everything emitted so far is durable or rejected (the writer's own verdicts). */
  drain(): Promise<void>;
  /** Rejects everything still pending, in every thread, with `err` (acks, replicated waits, flushes). */
  rejectPending(err: IronlogError): void;
}

/** Episode bookkeeping of one sink. */
export class FailurePolicy {
  readonly #handler: ((err: IronlogError) => void) | undefined;
  readonly #failStop: boolean;
  readonly #dir: string;
  readonly #hooks: FailStopHooks;
  readonly #open = new Set<FaultEpisodeKind>();
  #warned = false;
  #stopping = false;

  constructor(
    options: { onFailure: ((err: IronlogError) => void) | undefined; failStop: boolean; dir: string },
    hooks: FailStopHooks,
  ) {
    this.#handler = options.onFailure;
    this.#failStop = options.failStop;
    this.#dir = options.dir;
    this.#hooks = hooks;
  }

  /** True when there is anything to do (a handler or fail-stop): the sink skips the hooks otherwise. */
  get active(): boolean {
    return this.#handler !== undefined || this.#failStop;
  }

  /** True while an episode of `kind` is open. */
  isOpen(kind: FaultEpisodeKind): boolean {
    return this.#open.has(kind);
  }

  /** A fault of `kind`: the first one of an episode calls the handler (and starts a fail-stop). */
  fault(kind: FaultEpisodeKind, err: IronlogError): void {
    if (this.#open.has(kind)) return;
    this.#open.add(kind);
    if (this.#stopping) return;
    this.#call(err);
    if (this.#failStop) this.#stop(err);
  }

  /** The condition of `kind` cleared: the next fault of that kind starts a new episode. */
  recovered(kind: FaultEpisodeKind): void {
    if (kind !== 'writer') this.#open.delete(kind);
  }

  #call(err: IronlogError): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    try {
      const r: unknown = handler(err);
      // A handler typed `void` may still be async: its rejection is caught the same way.
      if (typeof (r as { then?: unknown } | undefined)?.then === 'function') {
        (r as PromiseLike<unknown>).then(undefined, (e: unknown) => this.#handlerFailed(e));
      }
    } catch (e) {
      this.#handlerFailed(e);
    }
  }

  /** A throwing handler must not break the sink: warn once, then only debug-log. */
  #handlerFailed(e: unknown): void {
    const what = e instanceof Error ? e.message : String(e);
    if (this.#warned) {
      debug('options.onFailure threw again: %s', what);
      return;
    }
    this.#warned = true;
    process.emitWarning(
      `options.onFailure threw (${what}); the sink goes on, later throws are only logged with NODE_DEBUG=ironlog`,
      'IronlogFailureHandlerWarning',
    );
  }

  /**
   * Fail-stop: refuse new emits, let the writer settle what it holds (bounded), reject the rest
   * with `err`, print one line and exit after the rejection handlers had their turn.
   */
  #stop(err: IronlogError): void {
    this.#stopping = true;
    const hooks = this.#hooks;
    hooks.refuse(err);
    // Not `unref`ed: the process must not end by itself with a zero code before this runs.
    process.exitCode = FAIL_STOP_EXIT_CODE;
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      hooks.drain().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, kFailStopDrainMs);
      }),
    ]);
    void bounded.then(() => {
      clearTimeout(timer);
      try {
        hooks.rejectPending(err);
      } finally {
        const message = err.message.replace(/\s+/g, ' ');
        process.stderr.write(`ironlog: fail-stop: ${err.code} in WAL ${this.#dir}: ${message}\n`);
        setTimeout(() => process.exit(FAIL_STOP_EXIT_CODE), kFailStopExitDelayMs);
      }
    });
  }
}
