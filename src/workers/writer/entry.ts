/**
 * The writer worker: opens (and recovers) the WAL, creates the ring, and runs the group-commit
 * loop until the sink closes. Wiring only; the logic lives in groupcommit/ and wal/.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { RecordEncryptor } from '../../compliance/record-crypto.js';
import { ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import { runCommitLoop } from '../../groupcommit/commit-loop.js';
import { CommitState, RingState } from '../../groupcommit/commit-state.js';
import { WriterStats } from '../../groupcommit/writer-stats.js';
import { frameBytesFor } from '../../ringbuffer/layout.js';
import { createRingSab, RingConsumer } from '../../ringbuffer/ring.js';
import { nodeWalFs, type WalFs } from '../../wal/fs.js';
import { WalWriter } from '../../wal/writer.js';
import type { DataKeyMessage, WriterInit, WriterToMain } from '../messages.js';
import { ThreadZeroFiller } from './zero-fill-thread.js';

const init = workerData as WriterInit;

function post(msg: WriterToMain): void {
  parentPort?.postMessage(msg);
}

function toIronlog(err: unknown): IronlogError {
  return isIronlogError(err)
    ? err
    : new IronlogError(ErrorCodes.INTERNAL, `writer worker failed: ${(err as Error)?.stack ?? String(err)}`, {
        cause: err,
      });
}

async function loadFs(): Promise<WalFs> {
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
function encryptor(): RecordEncryptor | undefined {
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

async function main(): Promise<void> {
  let wal: WalWriter;
  // Every seal counts, by size (inside an append) or by age; the ring (and its stats block) only
  // exists once the WAL is open, and a seal finished during open is not this run's.
  let stats: WriterStats | undefined;
  // Zero-filling ahead runs on a helper thread (never between drains on this one), except on an
  // injected file system (tests, fault injection): there it must go through that fs, inline.
  // The helper reopens the segment through /proc/self/fd (see zero-fill-helper.ts): Linux only.
  const zeroFiller =
    init.walFsModule === undefined && process.platform === 'linux' ? new ThreadZeroFiller() : undefined;
  try {
    wal = WalWriter.open({
      dir: init.dir,
      nodeId: init.nodeId,
      segmentBytes: init.segmentBytes,
      segmentMaxAgeMs: init.segmentMaxAgeMs,
      rollAt: init.rollAt,
      fs: await loadFs(),
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
    post({ type: 'fatal', error: toIronlog(err).toWire() });
    return;
  }
  const sab = createRingSab(init.ringBytes, frameBytesFor(init.maxEventBytes), wal.lastSeq);
  const state = new CommitState(sab);
  stats = new WriterStats(sab);
  post({ type: 'ready', sab, lastSeq: wal.lastSeq });
  try {
    runCommitLoop({
      consumer: new RingConsumer(sab, wal.lastSeq),
      wal,
      sab,
      init,
      onFault: (error, rejecting) => post({ type: 'fault', error: error.toWire(), rejecting }),
      onFaultCleared: (gapFromSeq, gapToSeq) => post({ type: 'fault-cleared', gapFromSeq, gapToSeq }),
      sealer: encryptor(),
    });
    wal.close();
    const lastSeq = wal.lastSeq;
    state.setState(RingState.CLOSED);
    post({ type: 'closed', lastSeq });
  } catch (err) {
    // Every producer must hear of it: their acks would otherwise wait forever.
    state.setState(RingState.DEAD);
    post({ type: 'fatal', error: toIronlog(err).toWire() });
  }
}

void main();
