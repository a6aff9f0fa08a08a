/**
 * Zero-filling ahead on a helper thread (`zero-fill-helper.ts`), so the writer thread never
 * writes or fdatasyncs zeros itself: it posts a request (fd, [from, to)) in a small shared block
 * and picks the result up later with a non-blocking load (`poll`), or blocks for it (`wait`) only
 * when it must write at or past `from`, truncate, seal or close the segment meanwhile
 * (`ZeroFillExecutor` in `wal/zero-fill.ts` states the contract). Worker threads share the
 * process's file descriptors, so the helper writes through the writer's own fd.
 *
 * The shared block (Int32 words, then two Float64):
 * ```
 *   i32[0] REQ     requests posted (the writer bumps it and notifies)
 *   i32[1] DONE    requests finished (the helper stores REQ's value and notifies)
 *   i32[2] RESULT  0 ok, 1 failed (errno code lost: the helper logs it with NODE_DEBUG=ironlog)
 *   i32[3] FD      the segment's fd
 *   i32[4] STOP    1: the helper exits
 *   i32[5] CANCEL  = REQ: stop that request after the write in progress (no fdatasync)
 *   f64[3] FROM, f64[4] TO, f64[5] DONE_TO  (byte offsets 24, 32, 40)
 * ```
 */

import { Worker } from 'node:worker_threads';
import { workerExecArgv } from '../../core/worker-exec-argv.js';
import type { ZeroFillExecutor, ZeroFillResult } from '../../wal/zero-fill.js';

export const ZeroFillSlot = {
  REQ: 0,
  DONE: 1,
  RESULT: 2,
  FD: 3,
  STOP: 4,
  CANCEL: 5,
  FROM_F64: 3,
  TO_F64: 4,
  DONE_TO_F64: 5,
} as const;
const kBlockBytes = 48;

/** Zero-filling on a helper thread; see the module comment. */
export class ThreadZeroFiller implements ZeroFillExecutor {
  /** Batches of up to 1 MiB past the end of data never wait for a fill in flight. */
  readonly headroomBytes = 1024 * 1024;
  readonly concurrent = true;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #worker: Worker;
  #inFlight = false;

  constructor() {
    const sab = new SharedArrayBuffer(kBlockBytes);
    this.#i32 = new Int32Array(sab);
    this.#f64 = new Float64Array(sab);
    this.#worker = new Worker(new URL('./zero-fill-helper.js', import.meta.url), {
      execArgv: workerExecArgv(),
      workerData: { sab },
    });
    // The helper never keeps the writer alive, and its errors only stop zero-filling.
    this.#worker.unref();
    this.#worker.on('error', () => {});
  }

  start(fd: number, from: number, to: number): void {
    this.#i32[ZeroFillSlot.FD] = fd;
    this.#f64[ZeroFillSlot.FROM_F64] = from;
    this.#f64[ZeroFillSlot.TO_F64] = to;
    this.#inFlight = true;
    Atomics.add(this.#i32, ZeroFillSlot.REQ, 1);
    Atomics.notify(this.#i32, ZeroFillSlot.REQ);
  }

  poll(): ZeroFillResult | undefined {
    if (!this.#inFlight) return undefined;
    if (Atomics.load(this.#i32, ZeroFillSlot.DONE) !== Atomics.load(this.#i32, ZeroFillSlot.REQ)) return undefined;
    return this.#take();
  }

  stop(): ZeroFillResult {
    if (!this.#inFlight) return { ok: false, code: 'ENOREQUEST', doneTo: 0 };
    const req = Atomics.load(this.#i32, ZeroFillSlot.REQ);
    Atomics.store(this.#i32, ZeroFillSlot.CANCEL, req);
    // No time-out, on purpose: giving up while the helper may still be writing zeros at `from`
    // and past would let the writer put data there first. A disk that stalls the helper stalls
    // the writer's own fdatasync just as well.
    for (;;) {
      const done = Atomics.load(this.#i32, ZeroFillSlot.DONE);
      if (done === req) return this.#take();
      Atomics.wait(this.#i32, ZeroFillSlot.DONE, done);
    }
  }

  close(): void {
    Atomics.store(this.#i32, ZeroFillSlot.STOP, 1);
    Atomics.add(this.#i32, ZeroFillSlot.REQ, 1);
    Atomics.notify(this.#i32, ZeroFillSlot.REQ);
  }

  #take(): ZeroFillResult {
    this.#inFlight = false;
    const doneTo = this.#f64[ZeroFillSlot.DONE_TO_F64] as number;
    return Atomics.load(this.#i32, ZeroFillSlot.RESULT) === 0
      ? { ok: true, code: '', doneTo }
      : { ok: false, code: 'EIO', doneTo };
  }
}
