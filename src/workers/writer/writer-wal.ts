/**
 * What the single writer (`entry.ts`) and the group writer (`group-entry.ts`) do alike for one
 * WAL: open (and recover) it with the sink's options, create its ring, and the commit loop's
 * hooks that report to the sink. One place, so the two writers cannot drift apart when the WAL's
 * open options change.
 */
import { pathToFileURL } from 'node:url';
import { receiveMessageOnPort } from 'node:worker_threads';
import { RecordEncryptor } from '../../compliance/record-crypto.js';
import { ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import type { CommitLoopDeps } from '../../groupcommit/commit-loop.js';
import { CommitState } from '../../groupcommit/commit-state.js';
import { WriterStats } from '../../groupcommit/writer-stats.js';
import { frameBytesFor } from '../../ringbuffer/layout.js';
import { createRingSab, RingConsumer } from '../../ringbuffer/ring.js';
import { nodeWalFs, type WalFs } from '../../wal/fs.js';
import { WalWriter } from '../../wal/writer.js';
import type { DataKeyMessage, WriterInit, WriterToMain } from '../messages.js';
import { ThreadZeroFiller } from './zero-fill-thread.js';

/** Any error as an {@link IronlogError} the main thread can rebuild (`toWire`). */
export function toIronlog(err: unknown): IronlogError {
  return isIronlogError(err)
    ? err
    : new IronlogError(ErrorCodes.INTERNAL, `writer worker failed: ${(err as Error)?.stack ?? String(err)}`, {
        cause: err,
      });
}

/** The WAL's file system: `node:fs`, or the injected module of `options.walFsModule` (tests, faults). */
async function loadWalFs(init: WriterInit): Promise<WalFs> {
  if (init.walFsModule === undefined) return nodeWalFs;
  const mod = (await import(pathToFileURL(init.walFsModule).href)) as {
    createWalFs?: (base: WalFs, data: unknown) => WalFs;
  };
  if (typeof mod.createWalFs !== 'function') {
    throw new IronlogError(
      ErrorCodes.INVALID_OPTION,
      `options.walFsModule ${init.walFsModule} does not export createWalFs()`,
    );
  }
  return mod.createWalFs(nodeWalFs, init.walFsModuleData);
}

/** Record encryption (issue 11): data keys come from the main thread, read without the event loop. */
function recordEncryptor(init: WriterInit): RecordEncryptor | undefined {
  const enc = init.encryption;
  if (enc === undefined) return undefined;
  return new RecordEncryptor(init.nodeId, enc.recordsPerDataKey, enc.waitMs, () => {
    const m = receiveMessageOnPort(enc.port)?.message as DataKeyMessage | undefined;
    if (m === undefined) return undefined;
    // Ask for the next one now, so a key is ready before it is needed.
    enc.port.postMessage({ type: 'data-key-used' });
    return { kid: m.kid, key: Buffer.from(m.key) };
  });
}

/** An open WAL and its ring, ready for a commit loop. */
export interface WriterWal {
  readonly wal: WalWriter;
  readonly sab: SharedArrayBuffer;
  readonly state: CommitState;
  readonly consumer: RingConsumer;
}

/**
 * Opens (and recovers) the WAL of `init` and creates its ring. Seals and shadow failures are
 * reported through `post`. Throws what the open threw (nothing is left open then).
 */
export async function openWriterWal(init: WriterInit, post: (msg: WriterToMain) => void): Promise<WriterWal> {
  // Every seal counts, by size (inside an append) or by age; the ring (and its stats block) only
  // exists once the WAL is open, and a seal finished during open is not this run's.
  let stats: WriterStats | undefined;
  // Zero-filling ahead runs on a helper thread (never between drains on this one), except on an
  // injected file system (tests, fault injection): there it must go through that fs, inline.
  // The helper reopens the segment through /proc/self/fd (see zero-fill-helper.ts): Linux only.
  const zeroFiller =
    init.walFsModule === undefined && process.platform === 'linux' ? new ThreadZeroFiller() : undefined;
  let wal: WalWriter;
  try {
    wal = WalWriter.open({
      dir: init.dir,
      nodeId: init.nodeId,
      segmentBytes: init.segmentBytes,
      segmentMaxAgeMs: init.segmentMaxAgeMs,
      rollAt: init.rollAt,
      fs: await loadWalFs(init),
      ...(zeroFiller ? { zeroFiller } : {}),
      onSealed: (segment) => {
        stats?.recordSeal();
        post({ type: 'sealed', segment });
      },
      ...(init.shadowDirs && init.shadowDirs.length > 0
        ? {
            shadows: {
              dirs: init.shadowDirs,
              onFailure: init.onShadowFailure ?? 'fail',
              report: (f) =>
                post({
                  type: 'shadow-failure',
                  dir: f.dir,
                  op: f.op,
                  error: f.error.toWire(),
                  dropped: f.dropped,
                  active: f.active,
                }),
            },
          }
        : {}),
    });
  } catch (err) {
    zeroFiller?.close();
    throw err;
  }
  const sab = createRingSab(init.ringBytes, frameBytesFor(init.maxEventBytes), wal.lastSeq);
  stats = new WriterStats(sab);
  return { wal, sab, state: new CommitState(sab), consumer: new RingConsumer(sab, wal.lastSeq) };
}

/** The commit loop's dependencies for `w`: its WAL and ring, fault reports through `post`, encryption. */
export function commitLoopDeps(init: WriterInit, w: WriterWal, post: (msg: WriterToMain) => void): CommitLoopDeps {
  return {
    consumer: w.consumer,
    wal: w.wal,
    sab: w.sab,
    init,
    onFault: (error, rejecting) => post({ type: 'fault', error: error.toWire(), rejecting }),
    onFaultCleared: (gapFromSeq, gapToSeq) => post({ type: 'fault-cleared', gapFromSeq, gapToSeq }),
    sealer: recordEncryptor(init),
  };
}
