/**
 * The producers' ack waiter, in one thread: the test plays the writer by publishing through
 * {@link CommitState} on a real ring SAB, and checks which acks settle, how, and with which
 * exact seq range in the error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { FAILURE_ENTRIES } from '../ringbuffer/layout.js';
import { createRingSab } from '../ringbuffer/ring.js';
import { type Ack, AckWaiter, stateError } from './ack-waiter.js';
import { CommitState, RingState, sharedErrorIndex } from './commit-state.js';

const waiters: AckWaiter[] = [];
afterEach(() => {
  for (const w of waiters.splice(0)) w.dispose();
});

function rig(ack: 'durable' | 'written' = 'durable', lastSeq = 0): { state: CommitState; waiter: AckWaiter } {
  const sab = createRingSab(64 * 1024, 1024, lastSeq);
  const waiter = new AckWaiter(sab, ack);
  waiters.push(waiter);
  return { state: new CommitState(sab), waiter };
}

type Outcome = { seq: number | number[] } | { code: string; message: string } | 'pending';

/** Observes a promise without awaiting it: `current()` is its outcome so far. */
function watch(p: Promise<Ack | Ack[]>): () => Outcome {
  let outcome: Outcome = 'pending';
  p.then(
    (v) => {
      outcome = { seq: Array.isArray(v) ? v.map((a) => a.seq) : v.seq };
    },
    (err: IronlogError) => {
      outcome = { code: err.code, message: err.message };
    },
  );
  return () => outcome;
}

/** Lets the waiter's waitAsync wake-ups and promise callbacks run. */
async function turn(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('AckWaiter', () => {
  it('resolves acks in seq order as RESOLVED_SEQ passes them, and no earlier', async () => {
    const { state, waiter } = rig();
    const a = [1, 2, 3].map((s) => watch(waiter.add(s, s, false)));
    expect(waiter.pending).toBe(3);
    await turn();
    expect(a.map((x) => x())).toEqual(['pending', 'pending', 'pending']);
    state.publishDurable(2);
    await turn();
    expect(a.map((x) => x())).toEqual([{ seq: 1 }, { seq: 2 }, 'pending']);
    expect(waiter.pending).toBe(1);
    state.publishDurable(3);
    await turn();
    expect(a[2]?.()).toEqual({ seq: 3 });
    expect(waiter.pending).toBe(0);
  });

  it('an emitBatch ack resolves with one Ack per seq', async () => {
    const { state, waiter } = rig();
    const b = watch(waiter.add(1, 4, true));
    state.publishDurable(3);
    await turn();
    expect(b()).toBe('pending');
    state.publishDurable(4);
    await turn();
    expect(b()).toEqual({ seq: [1, 2, 3, 4] });
  });

  it("'durable' ignores WRITTEN_SEQ; 'written' resolves on it", async () => {
    const durable = rig('durable');
    const d = watch(durable.waiter.add(1, 1, false));
    durable.state.publishWritten(1);
    await turn();
    expect(d()).toBe('pending');
    const written = rig('written');
    const w = watch(written.waiter.add(1, 1, false));
    written.state.publishWritten(1);
    await turn();
    expect(w()).toEqual({ seq: 1 });
  });

  for (const [code, message] of [
    [ErrorCodes.WAL_WRITE, 'seqs 3-5 not written: the WAL write failed; nothing of it is in the WAL'],
    [ErrorCodes.WAL_FSYNC, 'seqs 3-5 not durable: fdatasync failed; the records were removed from the WAL'],
    [ErrorCodes.DISK_FULL, 'seqs 3-5 not written: the disk is full (ENOSPC); nothing of it is in the WAL'],
    [ErrorCodes.WAL_FAULTED, 'seqs 3-5 rejected: the WAL is faulted by an earlier write or fsync error'],
  ] as const) {
    it(`a failure ${code} for seqs 3-5 rejects exactly the acks it covers, with that range`, async () => {
      const { state, waiter } = rig();
      const a = [1, 2, 3, 4, 5, 6].map((s) => watch(waiter.add(s, s, false)));
      state.publishDurable(2);
      state.publishFailure(3, 5, sharedErrorIndex(code));
      await turn();
      expect(a.map((x) => x())).toEqual([
        { seq: 1 },
        { seq: 2 },
        { code, message },
        { code, message },
        { code, message },
        'pending',
      ]);
      // The gap record is durable later; seq 6 comes after it.
      state.publishDurable(6);
      await turn();
      expect(a[5]?.()).toEqual({ seq: 6 });
    });
  }

  it('a batch ack that overlaps a failure rejects as a whole; a single seq is named alone', async () => {
    const { state, waiter } = rig();
    const batch = watch(waiter.add(1, 3, true));
    const one = watch(waiter.add(4, 4, false));
    state.publishFailure(3, 3, sharedErrorIndex(ErrorCodes.WAL_FSYNC));
    state.publishFailure(4, 4, sharedErrorIndex(ErrorCodes.WAL_FAULTED));
    await turn();
    expect(batch()).toEqual({
      code: ErrorCodes.WAL_FSYNC,
      message: 'seq 3 not durable: fdatasync failed; the records were removed from the WAL',
    });
    expect(one()).toEqual({
      code: ErrorCodes.WAL_FAULTED,
      message: 'seq 4 rejected: the WAL is faulted by an earlier write or fsync error',
    });
  });

  it('failures published before the waiter attached concern other threads and are skipped', async () => {
    const sab = createRingSab(64 * 1024, 1024, 0);
    const state = new CommitState(sab);
    state.publishFailure(1, 2, sharedErrorIndex(ErrorCodes.WAL_WRITE));
    const waiter = new AckWaiter(sab, 'durable');
    waiters.push(waiter);
    // A later ack for a seq in that old range (not possible in practice) is not rejected by it.
    const a = watch(waiter.add(2, 2, false));
    await turn();
    expect(a()).toEqual({ seq: 2 });
  });

  it('more failures than the table holds since the last look: the outcome is unknown, never durable', async () => {
    const { state, waiter } = rig();
    const a = watch(waiter.add(1, 1, false));
    // Fill the table past its size with failures of other seqs, without yielding to the waiter.
    for (let i = 0; i <= FAILURE_ENTRIES; i++) {
      state.publishFailure(100 + i, 100 + i, sharedErrorIndex(ErrorCodes.WAL_FAULTED));
    }
    await turn();
    expect(a()).toEqual({ code: ErrorCodes.WAL_FAULTED, message: 'seq 1: outcome unknown after repeated WAL faults' });
  });

  it('flush(target) resolves once every seq up to target is resolved, durable or failed', async () => {
    const { state, waiter } = rig();
    let flushed = false;
    void waiter.flush(3).then(() => {
      flushed = true;
    });
    state.publishDurable(2);
    await turn();
    expect(flushed).toBe(false);
    state.publishFailure(3, 3, sharedErrorIndex(ErrorCodes.WAL_WRITE));
    await turn();
    expect(flushed).toBe(true);
    await expect(waiter.flush(3)).resolves.toBeUndefined();
  });

  for (const [st, code] of [
    [RingState.CLOSED, ErrorCodes.CLOSED],
    [RingState.DEAD, ErrorCodes.WORKER_EXITED],
  ] as const) {
    it(`STATE ${st === RingState.CLOSED ? 'CLOSED' : 'DEAD'} settles every outstanding ack and flush, and every later add, with ${code}`, async () => {
      const { state, waiter } = rig();
      const done = watch(waiter.add(1, 1, false));
      const rest = watch(waiter.add(2, 3, true));
      const flush = waiter.flush(3).then(
        () => 'resolved',
        (err: IronlogError) => err.code,
      );
      state.publishDurable(1);
      state.setState(st);
      await turn();
      expect(done()).toEqual({ seq: 1 });
      expect(rest()).toMatchObject({ code });
      expect(await flush).toBe(code);
      await expect(waiter.add(4, 4, false)).rejects.toMatchObject({ code });
      expect(waiter.pending).toBe(0);
    });
  }

  it('terminate() rejects what is outstanding and every later add with its error', async () => {
    const { waiter } = rig();
    const a = waiter.add(1, 1, false);
    const err = new IronlogError(ErrorCodes.WORKER_EXITED, 'gone');
    waiter.terminate(err);
    await expect(a).rejects.toBe(err);
    await expect(waiter.add(2, 2, false)).rejects.toBe(err);
  });

  it('stateError names the reason a sink refuses work, by STATE', () => {
    expect(stateError(RingState.OPEN, ErrorCodes.INTERNAL)).toBeUndefined();
    expect(stateError(RingState.FAULTED, ErrorCodes.DISK_FULL)).toMatchObject({
      code: ErrorCodes.WAL_FAULTED,
      message: `the WAL is faulted (${ErrorCodes.DISK_FULL}); emits are refused until the writer clears the fault`,
    });
    expect(stateError(RingState.CLOSING, ErrorCodes.INTERNAL)).toMatchObject({ code: ErrorCodes.CLOSED });
    expect(stateError(RingState.CLOSED, ErrorCodes.INTERNAL)).toMatchObject({ code: ErrorCodes.CLOSED });
    expect(stateError(RingState.DEAD, ErrorCodes.INTERNAL)).toMatchObject({ code: ErrorCodes.WORKER_EXITED });
  });
});
