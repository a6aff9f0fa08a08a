/**
 * The checkpointer: turns the durable prefix of a WAL into a signed transparency log. It runs in
 * its own worker thread (`src/workers/checkpointer/entry.ts`), off the producer's path: it reads
 * newly durable entries back from the segment files, appends their leaf hashes to the C2SP hash
 * tiles under `<dir>/tlog/`, and signs a checkpoint (C2SP tlog-checkpoint body as a signed note)
 * plus a signed time note at every open, seal, interval tick, `prove` that needs it, and close.
 * With witnesses, each checkpoint is then sent for cosigning and the cosignatures are appended to
 * its stored note.
 *
 * Every operation runs one at a time, in arrival order (a promise queue).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { debuglog } from 'node:util';
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { formatCheckpoint } from './checkpoint.js';
import { listLogSegments, readLogEntries } from './entries.js';
import { leafHash } from './merkle.js';
import { type NoteSigner, parseNote, parseSignerKey, signNote } from './note.js';
import { buildRecordProof, type RecordProof } from './prove.js';
import { SeqIndex } from './seq-index.js';
import { TileLog } from './tiles.js';
import { type CheckpointEvent, formatTimeNote, parseTimeNote, textHash } from './time-note.js';
import {
  checkpointFiles,
  counterName,
  ensureDirDurably,
  kCheckpointsDirName,
  kLatestCheckpointName,
  listCheckpointFiles,
  readTlogFile,
  tlogDirOf,
  writeFilesDurably,
} from './tlog-store.js';
import { WitnessPool, type WitnessStatus } from './witness-pool.js';

const debug = debuglog('ironlog');

/** Leaf hashes buffered before the index and the tiles are committed during a long catch-up. */
const kCommitEveryEntries = 64 * 1024;

/** What the checkpointer needs (resolved options, plus the durable seq from shared memory). */
export interface CheckpointerConfig {
  readonly dir: string;
  readonly signerKey: string;
  readonly origin: string;
  readonly checkpointIntervalMs: number;
  readonly witnesses: readonly { readonly url: string; readonly key: string }[];
  readonly witnessQuorum: number;
  readonly witnessTimeoutMs: number;
  /** The last durable seq (the worker reads it from the ring's shared memory). */
  readonly durableSeq: () => number;
  /** Told of every checkpoint signed and stored (after its cosignatures were collected). */
  readonly onCheckpoint?: (checkpoint: CheckpointInfo, status: CheckpointerStatus) => void;
  /** Told of every witness failure (one witness, or a missed quorum). */
  readonly onWitnessError?: (error: IronlogError, url: string | undefined) => void;
}

/** One signed checkpoint, as reported to the sink. */
export interface CheckpointInfo {
  readonly counter: number;
  readonly event: CheckpointEvent;
  /** Entries (leaves) the checkpoint covers. */
  readonly size: number;
  /** Last seq covered (0 for an empty log). */
  readonly throughSeq: number;
  /** Root hash, base64. */
  readonly rootHash: string;
  readonly timeMs: number;
  /** On an `open`: the previous run did not close cleanly. */
  readonly uncleanStart: boolean;
}

/** State of the checkpointer, for `sink.checkpointStatus()`. */
export interface CheckpointerStatus {
  readonly origin: string;
  readonly last: CheckpointInfo | undefined;
  readonly witnesses: readonly WitnessStatus[];
  readonly witnessQuorum: number;
}

/** Serialises async operations: each starts after the previous one settled. */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  /** True while an operation runs or waits. */
  get busy(): boolean {
    return this.#pending > 0;
  }
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#pending++;
    const p = this.#tail.then(fn, fn).finally(() => {
      this.#pending--;
    });
    this.#tail = p.catch(() => undefined);
    return p;
  }
}

/** The transparency log of one WAL directory, being written. Create with {@link Checkpointer.open}. */
export class Checkpointer {
  readonly #cfg: CheckpointerConfig;
  readonly #tlogDir: string;
  readonly #signer: NoteSigner;
  readonly #tiles: TileLog;
  readonly #index: SeqIndex;
  readonly #queue = new Queue();
  readonly #witnesses: WitnessPool;
  #counter: number;
  #prevHash: Buffer;
  #uncleanStart: boolean;
  #last: CheckpointInfo | undefined;
  #lastNote: string | undefined;
  /** Last seq in the tiles (0 before the first entry). */
  #tiledThroughSeq: number;
  #closed = false;
  /** An interval checkpoint queued but not started yet. */
  #waitingTick: Promise<CheckpointInfo> | undefined;

  private constructor(cfg: CheckpointerConfig, tiles: TileLog, index: SeqIndex) {
    this.#cfg = cfg;
    this.#tlogDir = tlogDirOf(cfg.dir);
    this.#signer = parseSignerKey(cfg.signerKey);
    this.#tiles = tiles;
    this.#index = index;
    this.#tiledThroughSeq = index.nextSeq > 0 ? index.nextSeq - 1 : 0;
    this.#counter = 0;
    this.#prevHash = Buffer.alloc(32);
    this.#uncleanStart = false;
    this.#witnesses = new WitnessPool(cfg.witnesses, cfg.witnessQuorum, cfg.witnessTimeoutMs);
    if (cfg.onWitnessError) this.#witnesses.onError = cfg.onWitnessError;
  }

  /**
   * Opens the tlog of `cfg.dir` (creating it), checks that its tiles agree with the WAL, appends
   * every durable entry the tiles lack, and signs the `open` checkpoint at `timeMs`.
   * Throws `ERR_IRONLOG_TLOG_STATE` when the tiles hold entries the WAL does not.
   */
  static async open(cfg: CheckpointerConfig, timeMs: number): Promise<Checkpointer> {
    const tlogDir = tlogDirOf(cfg.dir);
    ensureDirDurably(tlogDir);
    ensureDirDurably(path.join(tlogDir, kCheckpointsDirName));
    const tiles = TileLog.open(tlogDir);
    const index = SeqIndex.open(tlogDir, tiles.size, true);
    const cp = new Checkpointer(cfg, tiles, index);
    cp.#loadHistory();
    await cp.#checkTiledTail();
    await cp.#catchUp();
    await cp.#sign('open', timeMs, undefined);
    return cp;
  }

  /** The last checkpoint and the witnesses' state. */
  status(): CheckpointerStatus {
    return {
      origin: this.#cfg.origin,
      last: this.#last,
      witnesses: this.#witnesses.status(),
      witnessQuorum: this.#cfg.witnessQuorum,
    };
  }

  /** Appends what became durable and signs a checkpoint for `event` at `timeMs`. */
  checkpoint(
    event: CheckpointEvent,
    timeMs: number,
    segment?: { firstSeq: number; lastSeq: number },
  ): Promise<CheckpointInfo> {
    // Interval ticks that pile up behind a slow checkpoint (a long catch-up, a slow witness)
    // collapse into the one already waiting: signing them back to back would attest nothing more.
    if (event === 'interval' && this.#waitingTick !== undefined) return this.#waitingTick;
    const p = this.#queue.run(async () => {
      if (event === 'interval') this.#waitingTick = undefined;
      this.#assertOpen();
      await this.#catchUp();
      return this.#sign(event, timeMs, segment);
    });
    if (event === 'interval') this.#waitingTick = p;
    return p;
  }

  /**
   * Appends what became durable to the tiles without signing, so the hashing is spread over
   * time instead of piling up until the next checkpoint (which keeps `close` and seal checkpoints
   * quick). Skipped while another operation is queued or running: that one catches up anyway.
   */
  advance(): Promise<void> {
    if (this.#queue.busy || this.#closed) return Promise.resolve();
    return this.#queue.run(async () => {
      if (!this.#closed) await this.#catchUp();
    });
  }

  /**
   * The inclusion proof of `seq` against the latest checkpoint; signs a `prove` checkpoint first
   * when the latest one does not cover `seq` yet. `ERR_IRONLOG_NOT_CHECKPOINTED` when `seq` is not
   * durable (or not in the WAL).
   */
  prove(seq: number, timeMs: number): Promise<RecordProof> {
    return this.#queue.run(async () => {
      this.#assertOpen();
      const last = this.#last;
      if (last === undefined || this.#index.locate(seq, last.size) === undefined) {
        await this.#catchUp();
        if (this.#index.locate(seq, this.#tiles.size) === undefined) {
          throw new IronlogError(
            ErrorCodes.NOT_CHECKPOINTED,
            `seq ${seq} is not in the log (durable through seq ${this.#tiledThroughSeq})`,
          );
        }
        await this.#sign('prove', timeMs, undefined);
      }
      const cp = this.#last as CheckpointInfo;
      return buildRecordProof(this.#cfg.dir, this.#tiles, this.#index, seq, this.#lastNote as string, cp.size);
    });
  }

  /** Signs the `close` checkpoint (after the writer stopped) and closes the tiles. */
  close(timeMs: number): Promise<CheckpointInfo | undefined> {
    return this.#queue.run(async () => {
      if (this.#closed) return this.#last;
      let info: CheckpointInfo | undefined;
      try {
        await this.#catchUp();
        info = await this.#sign('close', timeMs, undefined);
      } finally {
        this.#closed = true;
        this.#tiles.close();
      }
      return info;
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new IronlogError(ErrorCodes.CLOSED, 'the checkpointer is closed');
  }

  /** Reads the last complete checkpoint (counter, time-note chain, whether the last run closed). */
  #loadHistory(): void {
    const files = listCheckpointFiles(this.#tlogDir);
    // A crash between writing a checkpoint's two files leaves the last counter half written:
    // nothing refers to it yet, so it is removed.
    let last = files[files.length - 1];
    while (last !== undefined && (last.note === undefined || last.time === undefined)) {
      for (const f of [last.note, last.time]) if (f !== undefined) fs.rmSync(f, { force: true });
      debug('tlog: removed half-written checkpoint %d', last.counter);
      files.pop();
      last = files[files.length - 1];
    }
    if (last === undefined) return;
    const timeNote = readTlogFile(last.time as string);
    const note = readTlogFile(last.note as string);
    if (timeNote === undefined || note === undefined) return;
    const text = parseNote(timeNote).text;
    const t = parseTimeNote(text);
    this.#counter = t.counter;
    this.#prevHash = textHash(text);
    this.#uncleanStart = t.event !== 'close';
    this.#lastNote = note;
  }

  /** The tiles must not hold more than the WAL, and their last leaf must be the WAL's entry. */
  async #checkTiledTail(): Promise<void> {
    const size = this.#tiles.size;
    if (size === 0) return;
    const want = this.#tiles.subtreeHash(0, size - 1);
    const fromSeq = this.#index.seqOf(size - 1);
    const segments = await listLogSegments(this.#cfg.dir);
    const first = segments[0];
    if (first !== undefined && first.firstSeq > fromSeq) {
      // The segment was deleted after replication (local retention): nothing left to compare.
      debug('tlog: entry %d (seq %d) is no longer in a local segment; tail check skipped', size - 1, fromSeq);
      return;
    }
    for await (const batch of readLogEntries(this.#cfg.dir, { fromSeq, startIndex: size - 1 })) {
      const e = batch[0];
      if (e === undefined) break;
      if (!leafHash(e.bytes).equals(want)) {
        throw new IronlogError(
          ErrorCodes.TLOG_STATE,
          `entry ${size - 1} (seq ${e.seq}) in the WAL differs from the leaf hash in ${this.#tlogDir}: the WAL was changed after it was logged`,
        );
      }
      this.#tiledThroughSeq = e.toSeq;
      return;
    }
    throw new IronlogError(
      ErrorCodes.TLOG_STATE,
      `${this.#tlogDir} holds ${size} entries, but the WAL ends before entry ${size - 1} (seq ${fromSeq}): segments were removed or truncated`,
    );
  }

  /** Appends every durable entry the tiles lack (index rows first, then the tiles). */
  async #catchUp(): Promise<void> {
    const through = this.#cfg.durableSeq();
    if (through <= this.#tiledThroughSeq) return;
    const startIndex = this.#tiles.size;
    const fromSeq = startIndex === 0 ? undefined : this.#tiledThroughSeq + 1;
    let pending: Buffer[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      this.#tiles.append(pending);
      this.#index.commit();
      this.#tiles.commit();
      pending = [];
    };
    for await (const batch of readLogEntries(this.#cfg.dir, { fromSeq, startIndex, throughSeq: through })) {
      for (const e of batch) {
        pending.push(leafHash(e.bytes));
        this.#index.append(e.index, e.seq, e.toSeq);
        this.#tiledThroughSeq = e.toSeq;
      }
      if (pending.length >= kCommitEveryEntries) flush();
    }
    flush();
  }

  /** Signs and stores a checkpoint of the tiles as they are, with its time note. */
  async #sign(
    event: CheckpointEvent,
    timeMs: number,
    segment: { firstSeq: number; lastSeq: number } | undefined,
  ): Promise<CheckpointInfo> {
    const size = this.#tiles.size;
    const rootHash = this.#tiles.root(size);
    const body = formatCheckpoint({ origin: this.#cfg.origin, size, rootHash, extensions: [] });
    const note = signNote(body, [this.#signer]);
    const counter = this.#counter + 1;
    const uncleanStart = event === 'open' && this.#uncleanStart;
    const timeText = formatTimeNote({
      origin: this.#cfg.origin,
      counter,
      timeMs: Math.max(0, Math.floor(timeMs)),
      event,
      size,
      checkpointHash: textHash(body),
      prevHash: this.#prevHash,
      intervalMs: this.#cfg.checkpointIntervalMs,
      uncleanStart,
      segment,
    });
    const timeNote = signNote(timeText, [this.#signer]);
    const name = counterName(counter);
    writeFilesDurably(path.join(this.#tlogDir, kCheckpointsDirName), [
      [`${name}.note`, note],
      [`${name}.time`, timeNote],
    ]);
    writeFilesDurably(this.#tlogDir, [[kLatestCheckpointName, note]]);
    this.#counter = counter;
    this.#prevHash = textHash(timeText);
    this.#lastNote = note;
    const info: CheckpointInfo = {
      counter,
      event,
      size,
      throughSeq: this.#tiledThroughSeq,
      rootHash: rootHash.toString('base64'),
      timeMs: Math.floor(timeMs),
      uncleanStart,
    };
    this.#last = info;
    if (this.#witnesses.size > 0) await this.#cosign(counter, note, size);
    this.#cfg.onCheckpoint?.(info, this.status());
    return info;
  }

  /** Asks the witnesses to cosign and appends their cosignatures to the stored note. */
  async #cosign(counter: number, note: string, size: number): Promise<void> {
    const lines = await this.#witnesses.cosign(note, size, (oldSize) =>
      oldSize === 0 || oldSize >= size ? [] : this.#tiles.consistencyProof(oldSize, size),
    );
    if (lines.length === 0) return;
    const cosigned = `${note}${lines.map((l) => `${l}\n`).join('')}`;
    const files = checkpointFiles(this.#tlogDir, counter);
    try {
      writeFilesDurably(path.dirname(files.note), [[path.basename(files.note), cosigned]]);
      if (this.#counter === counter) {
        writeFilesDurably(this.#tlogDir, [[kLatestCheckpointName, cosigned]]);
        this.#lastNote = cosigned;
      }
    } catch (err) {
      this.#witnesses.reportStoreError(isIronlogError(err) ? err : new IronlogError(ErrorCodes.IO, String(err)));
    }
  }
}
