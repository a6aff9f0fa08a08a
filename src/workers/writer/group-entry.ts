/**
 * The shared writer worker of a sink group: one thread, one commit loop per tenant (each with its
 * own ring, WAL, chain and data keys), run round-robin by `groupcommit/commit-group.ts`. Wiring
 * only, like `entry.ts`, whose per-WAL steps (open, ring, loop, close) this repeats per tenant:
 * keep the two in step when the WAL's open options change.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, receiveMessageOnPort, threadId } from 'node:worker_threads';
import { RecordEncryptor } from '../../compliance/record-crypto.js';
import { assertNever, ErrorCodes, IronlogError, isIronlogError } from '../../core/errors.js';
import { CommitGroup } from '../../groupcommit/commit-group.js';
import { createSteppedCommitLoop } from '../../groupcommit/commit-loop.js';
import { CommitState, RingState } from '../../groupcommit/commit-state.js';
import { WriterStats } from '../../groupcommit/writer-stats.js';
import { frameBytesFor } from '../../ringbuffer/layout.js';
import { createRingSab, RingConsumer } from '../../ringbuffer/ring.js';
import { nodeWalFs, type WalFs } from '../../wal/fs.js';
import { WalWriter } from '../../wal/writer.js';
import type { DataKeyMessage, GroupWriterToMain, MainToGroupWriter, WriterInit, WriterToMain } from '../messages.js';
import { ThreadZeroFiller } from './zero-fill-thread.js';

const port = parentPort;
if (port === null) throw new Error('group-entry.js runs as a worker thread');

function post(tenant: number, msg: WriterToMain): void {
  const out: GroupWriterToMain = msg.type === 'ready' ? { tenant, msg, writerThreadId: threadId } : { tenant, msg };
  port?.postMessage(out);
}

function toIronlog(err: unknown): IronlogError {
  return isIronlogError(err)
    ? err
    : new IronlogError(ErrorCodes.INTERNAL, `writer worker failed: ${(err as Error)?.stack ?? String(err)}`, {
        cause: err,
      });
}

async function loadFs(init: WriterInit): Promise<WalFs> {
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

/** Record encryption (issue 11), per tenant: that tenant's data keys, read without the event loop. */
function encryptor(init: WriterInit): RecordEncryptor | undefined {
  const enc = init.encryption;
  if (enc === undefined) return undefined;
  return new RecordEncryptor(init.nodeId, enc.recordsPerDataKey, enc.waitMs, () => {
    const m = receiveMessageOnPort(enc.port)?.message as DataKeyMessage | undefined;
    if (m === undefined) return undefined;
    enc.port.postMessage({ type: 'data-key-used' });
    return { kid: m.kid, key: Buffer.from(m.key) };
  });
}

const group = new CommitGroup();

/** Opens (and recovers) one tenant's WAL, creates its ring and adds its loop to the group. */
async function addTenant(tenant: number, init: WriterInit): Promise<void> {
  let wal: WalWriter;
  let stats: WriterStats | undefined;
  const zeroFiller =
    init.walFsModule === undefined && process.platform === 'linux' ? new ThreadZeroFiller() : undefined;
  try {
    wal = WalWriter.open({
      dir: init.dir,
      nodeId: init.nodeId,
      segmentBytes: init.segmentBytes,
      segmentMaxAgeMs: init.segmentMaxAgeMs,
      rollAt: init.rollAt,
      fs: await loadFs(init),
      ...(zeroFiller ? { zeroFiller } : {}),
      onSealed: (segment) => {
        stats?.recordSeal();
        post(tenant, { type: 'sealed', segment });
      },
      // As in entry.ts: the tenant's shadow copies (issue 14), each failure reported to its sink.
      ...(init.shadowDirs && init.shadowDirs.length > 0
        ? {
            shadows: {
              dirs: init.shadowDirs,
              onFailure: init.onShadowFailure ?? 'fail',
              report: (f) =>
                post(tenant, {
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
    post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
    return;
  }
  const sab = createRingSab(init.ringBytes, frameBytesFor(init.maxEventBytes), wal.lastSeq);
  const state = new CommitState(sab);
  stats = new WriterStats(sab);
  const consumer = new RingConsumer(sab, wal.lastSeq);
  const loop = createSteppedCommitLoop({
    consumer,
    wal,
    sab,
    init,
    onFault: (error, rejecting) => post(tenant, { type: 'fault', error: error.toWire(), rejecting }),
    onFaultCleared: (gapFromSeq, gapToSeq) => post(tenant, { type: 'fault-cleared', gapFromSeq, gapToSeq }),
    sealer: encryptor(init),
  });
  post(tenant, { type: 'ready', sab, lastSeq: wal.lastSeq });
  group.add({
    consumer,
    sab,
    loop,
    onDone: () => {
      try {
        wal.close();
      } catch (err) {
        state.setState(RingState.DEAD);
        post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
        return;
      }
      state.setState(RingState.CLOSED);
      post(tenant, { type: 'closed', lastSeq: wal.lastSeq });
    },
    onFatal: (err) => {
      // Only this tenant's producers hear of it; the other tenants' loops go on.
      state.setState(RingState.DEAD);
      try {
        wal.close();
      } catch {
        // The loop already failed; its error is the one to report.
      }
      post(tenant, { type: 'fatal', error: toIronlog(err).toWire() });
    },
  });
}

function onMessage(msg: MainToGroupWriter): void {
  switch (msg.type) {
    case 'add-tenant':
      void addTenant(msg.tenant, msg.init).catch((err: unknown) =>
        post(msg.tenant, { type: 'fatal', error: toIronlog(err).toWire() }),
      );
      return;
    case 'shutdown':
      group.stop();
      return;
    default:
      assertNever(msg, 'group writer message');
  }
}

port.on('message', onMessage);
await group.run();
// Every loop is done: without a 'message' listener the port no longer keeps the thread alive,
// so it ends once its last messages are out.
port.off('message', onMessage);
