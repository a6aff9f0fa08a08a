/**
 * The episode bookkeeping of `onFailure` (failure-policy.ts) without a process to end: kinds are
 * independent, a writer death is terminal, a handler that throws or rejects is reported once.
 * The whole path (faults in a writer worker, fail-stop's exit) is test/failure-policy.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { FailurePolicy } from './failure-policy.js';

const noHooks = {
  refuse: () => {
    throw new Error('no fail-stop here');
  },
  drain: () => Promise.resolve(),
  rejectPending: () => {
    throw new Error('no fail-stop here');
  },
};
const err = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes]) => new IronlogError(code, code);

const warnings: Error[] = [];
const onWarning = (w: Error): void => {
  warnings.push(w);
};
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

describe('FailurePolicy episodes', () => {
  it('one call per episode and kind; a recovery starts a new episode; writer death is terminal', () => {
    const calls: string[] = [];
    const p = new FailurePolicy({ onFailure: (e) => calls.push(e.code), failStop: false, dir: '/wal' }, noHooks);
    expect(p.active).toBe(true);
    p.fault('wal', err(ErrorCodes.WAL_FSYNC));
    p.fault('wal', err(ErrorCodes.WAL_WRITE));
    p.fault('quorum', err(ErrorCodes.REPLICATION_QUORUM_LOST));
    p.fault('quorum', err(ErrorCodes.REPLICATION_QUORUM_LOST));
    expect(calls).toEqual([ErrorCodes.WAL_FSYNC, ErrorCodes.REPLICATION_QUORUM_LOST]);
    p.recovered('wal');
    expect(p.isOpen('wal')).toBe(false);
    expect(p.isOpen('quorum')).toBe(true);
    p.fault('wal', err(ErrorCodes.DISK_FULL));
    p.fault('writer', err(ErrorCodes.WORKER_EXITED));
    p.recovered('writer');
    p.fault('writer', err(ErrorCodes.WORKER_EXITED));
    expect(calls).toEqual([
      ErrorCodes.WAL_FSYNC,
      ErrorCodes.REPLICATION_QUORUM_LOST,
      ErrorCodes.DISK_FULL,
      ErrorCodes.WORKER_EXITED,
    ]);
  });

  it('without a handler or failStop it is inactive', () => {
    expect(new FailurePolicy({ onFailure: undefined, failStop: false, dir: '/wal' }, noHooks).active).toBe(false);
  });

  it('a throwing and a rejecting handler: the first error warns once, the policy goes on', async () => {
    let n = 0;
    const p = new FailurePolicy(
      {
        onFailure: (() => {
          n++;
          if (n === 1) throw new Error('sync bug');
          return Promise.reject(new Error('async bug'));
        }) as (e: IronlogError) => void,
        failStop: false,
        dir: '/wal',
      },
      noHooks,
    );
    p.fault('wal', err(ErrorCodes.WAL_FSYNC));
    p.recovered('wal');
    p.fault('wal', err(ErrorCodes.WAL_FSYNC));
    await new Promise((r) => setImmediate(r));
    expect(n).toBe(2);
    const ours = warnings.filter((w) => w.name === 'IronlogFailureHandlerWarning');
    expect(ours.map((w) => w.message)).toEqual([expect.stringContaining('sync bug')]);
  });
});
