/**
 * The background check of a sink's sealed segments after open: a worker thread reads every
 * sealed segment once and recomputes its CRCs, chain hashes and seal (`wal/sealed-check.ts`), so
 * that a WAL damaged while the sink was not running (a flipped byte in a sealed segment) is
 * noticed without slowing `openSink` down: opening only checks headers, seals and links, and
 * the sink takes events while the worker reads.
 *
 * The result goes to the sink's health (`degraded`, with the reasons), to
 * `ironlog_corruptions_total` and to the sink's `corruption` event.
 */

import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { workerExecArgv } from '../core/worker-exec-argv.js';
import type { IntegrityStatus } from '../monitoring/health.js';
import { listSegmentFiles } from '../wal/segment.js';
import type { VerifyProblem } from '../wal/verify.js';
import type { SealedCheckInit, SealedCheckToMain } from '../workers/sealed-check/messages.js';

/** One background check of the sealed segments of a WAL directory. */
export class SealedSegmentAudit {
  #status: IntegrityStatus;
  #worker: Worker | undefined;
  #stopped = false;
  /** Resolves with the final status (never rejects). */
  readonly done: Promise<IntegrityStatus>;

  private constructor(dir: string, onDone: (status: IntegrityStatus) => void) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      // The writer opened this directory a moment ago; a listing failure shows up as `error` below.
    }
    const { segments } = listSegmentFiles(dir, names);
    if (segments.length < 2) {
      this.#status = { state: 'none', segmentsChecked: 0, bytesChecked: 0, problems: [] };
      this.done = Promise.resolve(this.#status);
      return;
    }
    this.#status = { state: 'pending', segmentsChecked: 0, bytesChecked: 0, problems: [] };
    const init: SealedCheckInit = { dir };
    this.done = new Promise<IntegrityStatus>((resolve) => {
      const finish = (status: IntegrityStatus): void => {
        if (this.#status.state !== 'pending' || this.#stopped) {
          resolve(this.#status);
          return;
        }
        this.#status = status;
        this.#worker = undefined;
        try {
          onDone(status);
        } finally {
          resolve(status);
        }
      };
      const failed = (message: string): void =>
        finish({ state: 'error', segmentsChecked: 0, bytesChecked: 0, problems: [], error: message });
      let worker: Worker;
      try {
        worker = new Worker(new URL('../workers/sealed-check/entry.js', import.meta.url), {
          execArgv: workerExecArgv(),
          workerData: init,
        });
      } catch (err) {
        failed(`cannot start the sealed-segment check: ${(err as Error).message}`);
        return;
      }
      this.#worker = worker;
      // The check must never keep a process alive that has nothing else to do.
      worker.unref();
      worker.once('message', (msg: SealedCheckToMain) => {
        if (msg.type === 'result') {
          const r = msg.result;
          finish({
            state: r.problems.length > 0 ? 'damaged' : 'ok',
            segmentsChecked: r.segments,
            bytesChecked: r.bytes,
            problems: r.problems,
            durationMs: r.durationMs,
          });
        } else {
          failed(`${msg.error.code}: ${msg.error.message}`);
        }
      });
      worker.once('error', (err) => failed(`the sealed-segment check failed: ${err.message}`));
      worker.once('exit', (code) => failed(`the sealed-segment check exited (code ${code}) before reporting`));
    });
  }

  /** Starts the check of `dir` (nothing to do without sealed segments). `onDone` gets the result once. */
  static start(dir: string, onDone: (status: IntegrityStatus) => void): SealedSegmentAudit {
    return new SealedSegmentAudit(dir, onDone);
  }

  /** The current status. */
  status(): IntegrityStatus {
    return this.#status;
  }

  /** Stops a check still running (on close); its status stays `pending`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await w.terminate();
  }
}

/** The error a `corruption` event carries for a damaged sealed segment. */
export function sealedDamageError(dir: string, problems: readonly VerifyProblem[]): IronlogError {
  const first = problems[0];
  const where = first ? `${first.segment} at offset ${first.offset}: ${first.message}` : 'unknown';
  return new IronlogError(
    ErrorCodes.WAL_CORRUPT,
    `sealed segments of ${dir} are damaged (${problems.length} problem(s); first: ${where}). New events are still written; run \`ironlog verify --dir ${dir}\`, then \`ironlog recover\``,
  );
}
