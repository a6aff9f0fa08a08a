/**
 * Several commit loops on one thread: the scheduler of a sink group's shared writer worker
 * (`workers/writer/group-entry.ts`). Each member is one tenant's ring + WAL + loop, exactly as a
 * single sink's writer has them; only the waiting differs.
 *
 * A single sink's writer sleeps in `Atomics.wait` on its one ring. One thread cannot block on
 * several words at once, so here every ring is armed (`RingConsumer.armWait`, the same Dekker
 * pair with the producers) and the thread sleeps in `Atomics.waitAsync` on all of them, plus a
 * timer for the nearest deadline. Members take turns round-robin, one batch each, so a busy
 * tenant cannot starve another; a tenant's fdatasync does hold the thread for its duration (the
 * price of one writer thread: see `docs/multi-tenant.md`).
 *
 * Isolation: a member's I/O faults stay inside its own loop (its acks reject, its ring goes
 * FAULTED); a member whose loop throws (a bug) is dropped and reported through `onFatal`, and the
 * others go on.
 */
import type { RingConsumer } from '../ringbuffer/ring.js';
import { wakeConsumer } from '../ringbuffer/ring.js';
import type { SteppedCommitLoop } from './commit-loop.js';

/** One WAL served by a {@link CommitGroup}. */
export interface CommitGroupMember {
  readonly consumer: RingConsumer;
  /** The ring's SAB (to wake this member's own kept waiter when it leaves). */
  readonly sab: SharedArrayBuffer;
  readonly loop: SteppedCommitLoop;
  /** The loop finished (closing, everything resolved): close the WAL and report. */
  onDone(): void;
  /** The loop threw: mark the ring DEAD and report. */
  onFatal(err: unknown): void;
}

interface Slot {
  readonly member: CommitGroupMember;
  /** A kept `Atomics.waitAsync` on DATA_SIGNAL, and the value it waits on. */
  waiter: Promise<unknown> | undefined;
  waiterSignal: number;
}

/** When every member is busy, the thread still yields to its event loop this often (control messages). */
const kYieldEveryMs = 10;
/** Longest sleep when no member named a nearer deadline. */
const kMaxSleepMs = 250;

/** Runs members' loops round-robin on the calling thread; see the module comment. */
export class CommitGroup {
  readonly #slots: Slot[] = [];
  #stopping = false;
  /** Resolves the current sleep (a waiter fired, the timer ran out, or a member/stop arrived). */
  #wake: (() => void) | undefined;
  readonly #now: () => number;

  constructor(nowMs: () => number = Date.now) {
    this.#now = nowMs;
  }

  /** Members being served. */
  get size(): number {
    return this.#slots.length;
  }

  /** Adds a member (its loop starts at the next turn). */
  add(member: CommitGroupMember): void {
    this.#slots.push({ member, waiter: undefined, waiterSignal: 0 });
    this.#wake?.();
  }

  /** {@link run} returns once every member is done (members still closing are served to the end). */
  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  /** Serves the members until {@link stop} was called and none is left. */
  async run(): Promise<void> {
    let lastYield = this.#now();
    for (;;) {
      let again = false;
      let sleepMs = kMaxSleepMs;
      // A copy: members leave the list during the pass.
      for (const slot of [...this.#slots]) {
        let r: number;
        try {
          r = slot.member.loop.step();
        } catch (err) {
          this.#remove(slot);
          slot.member.onFatal(err);
          continue;
        }
        if (r < 0) {
          this.#remove(slot);
          slot.member.onDone();
        } else if (r === 0) again = true;
        else sleepMs = Math.min(sleepMs, r);
      }
      if (this.#stopping && this.#slots.length === 0) return;
      if (again) {
        const t = this.#now();
        if (t - lastYield >= kYieldEveryMs) {
          lastYield = t;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        continue;
      }
      await this.#sleep(sleepMs);
      lastYield = this.#now();
    }
  }

  /** Arms every ring, then sleeps until one has data, a member or stop arrives, or `ms` pass. */
  async #sleep(ms: number): Promise<void> {
    const slots = this.#slots;
    const armed: RingConsumer[] = [];
    let ready = false;
    for (const slot of slots) {
      const signal = slot.member.consumer.armWait();
      if (signal === undefined) {
        ready = true;
        break;
      }
      armed.push(slot.member.consumer);
      if (slot.waiter === undefined || slot.waiterSignal !== signal) {
        // One kept waiter per ring, reused while the signal is unchanged: a fresh one per sleep
        // would pile up unresolved waiters on quiet rings.
        const waiter = slot.member.consumer.dataSignalWaiter(signal);
        slot.waiter = waiter;
        slot.waiterSignal = signal;
        void waiter.then(() => {
          if (slot.waiter === waiter) slot.waiter = undefined;
          this.#wake?.();
        });
      }
    }
    if (!ready && !(this.#stopping && slots.length === 0)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
    for (const consumer of armed) consumer.disarmWait();
  }

  #remove(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    // Settle its kept waiter, so no Atomics.waitAsync outlives the member (and the thread can end).
    if (slot.waiter !== undefined) wakeConsumer(slot.member.sab);
  }
}
