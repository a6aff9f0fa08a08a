/**
 * Proofs of a node's transparency log: the inclusion of one record (or gap) and the consistency
 * of two tree sizes, offline from a WAL directory (`proveRecord`, `proveConsistency`) or from a
 * running sink (`sink.prove`), in two encodings:
 *
 * - JSON: `{ seq, index, treeSize, leafData, leafHash, proof: [...], checkpoint }` (bytes base64,
 *   `checkpoint` the signed note text) for an inclusion proof;
 *   `{ fromSize, toSize, fromRoot, toRoot, proof, checkpoint, fromCheckpoint? }` for consistency.
 * - Text: a C2SP `tlog-proof@v1` file for inclusion (its `extra` line carries the entry bytes, so
 *   the file alone proves the record), and the C2SP tlog-witness `add-checkpoint` body
 *   (`old <size>`, proof lines, blank line, checkpoint) for consistency.
 *
 * {@link verifyProofText} checks either form against the log's verifier key.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { align8, readU64 } from '../wal/bytes.js';
import { FrameType } from '../wal/frame-layout.js';
import { checkFrame, FrameCheck } from '../wal/record.js';
import { parseCheckpoint } from './checkpoint.js';
import { readLogEntries } from './entries.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { openNote, parseNote, parseVerifierKey } from './note.js';
import { formatTlogProof, parseTlogProof } from './proof-file.js';
import { SeqIndex } from './seq-index.js';
import { TileLog } from './tiles.js';
import { listCheckpointFiles, readLatestCheckpointNote, readTlogFile, tlogDirOf } from './tlog-store.js';

/** An inclusion proof of one record (the JSON contract of `ironlog prove --seq N --json`). */
export interface RecordProof {
  /** The seq asked for. */
  readonly seq: number;
  /** Index of the entry holding it (a GAP entry when the seq was lost). */
  readonly index: number;
  /** Size of the tree the proof is for (the checkpoint's size). */
  readonly treeSize: number;
  /** The entry bytes (the stored WAL frame), base64. */
  readonly leafData: string;
  /** SHA-256(0x00 || entry), base64. */
  readonly leafHash: string;
  /** The audit path, base64 hashes, leaf to root (RFC 9162 §2.1.3). */
  readonly proof: readonly string[];
  /** The signed checkpoint note the proof leads to. */
  readonly checkpoint: string;
}

/** A consistency proof between two tree sizes (`ironlog prove --consistency --json`). */
export interface ConsistencyProof {
  readonly fromSize: number;
  readonly toSize: number;
  /** Root of the tree at `fromSize`, base64 (compare it with the checkpoint you hold). */
  readonly fromRoot: string;
  /** Root of the tree at `toSize`, base64 (the one in `checkpoint`). */
  readonly toRoot: string;
  /** RFC 9162 §2.1.4 consistency proof, base64 hashes. */
  readonly proof: readonly string[];
  /** The signed checkpoint note of size `toSize`. */
  readonly checkpoint: string;
  /** The stored signed checkpoint of size `fromSize`, when the log signed one at that size. */
  readonly fromCheckpoint?: string;
}

/** Hashes and proofs of the first `size` leaves (what both the checkpointer and offline callers have). */
export interface ProofSource {
  inclusionProof(index: number, treeSize?: number): Buffer[];
  consistencyProof(size1: number, size2?: number): Buffer[];
  root(treeSize?: number): Buffer;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function notCheckpointed(message: string): IronlogError {
  return new IronlogError(ErrorCodes.NOT_CHECKPOINTED, message);
}

function seqArg(seq: unknown, what: string): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `${what} must be a positive integer, got ${String(seq)}`);
  }
  return seq;
}

/** Builds the inclusion proof of `seq` against the checkpoint `note` of size `treeSize`. */
export async function buildRecordProof(
  dir: string,
  tiles: ProofSource,
  index: SeqIndex,
  seq: number,
  note: string,
  treeSize: number,
): Promise<RecordProof> {
  const loc = index.locate(seq, treeSize);
  if (loc === undefined) {
    throw notCheckpointed(`seq ${seq} is not covered by the checkpoint of size ${treeSize}`);
  }
  let entry: Buffer | undefined;
  for await (const batch of readLogEntries(dir, { fromSeq: loc.entrySeq, startIndex: loc.index })) {
    const e = batch[0];
    if (e !== undefined && e.seq === loc.entrySeq) entry = Buffer.from(e.bytes);
    break;
  }
  if (entry === undefined) {
    throw new IronlogError(
      ErrorCodes.TLOG_STATE,
      `entry ${loc.index} (seq ${loc.entrySeq}) is in the tlog index but not in the WAL segments of ${dir}`,
    );
  }
  return {
    seq,
    index: loc.index,
    treeSize,
    leafData: b64(entry),
    leafHash: b64(leafHash(entry)),
    proof: tiles.inclusionProof(loc.index, treeSize).map(b64),
    checkpoint: note,
  };
}

function checkpointSizeOf(note: string): number {
  return parseCheckpoint(parseNote(note).text).size;
}

/**
 * The inclusion proof of record `seq` of the WAL in `dir` against its latest signed checkpoint,
 * offline (works beside a running sink). `ERR_IRONLOG_NOT_CHECKPOINTED` when no checkpoint covers
 * `seq` yet.
 */
export async function proveRecord(dir: string, seq: number): Promise<RecordProof> {
  seqArg(seq, 'seq');
  const note = readLatestCheckpointNote(dir);
  const size = checkpointSizeOf(note);
  const tlogDir = tlogDirOf(dir);
  const tiles = TileLog.open(tlogDir, { readOnly: true });
  try {
    const index = SeqIndex.open(tlogDir, Math.min(tiles.size, size), false);
    return await buildRecordProof(dir, tiles, index, seq, note, size);
  } finally {
    tiles.close();
  }
}

/**
 * Finds the stored signed checkpoint of tree size `size`: sizes never decrease with the counter,
 * so a binary search reads O(log n) notes. Undefined when the log signed none at that size.
 */
export function findCheckpointOfSize(dir: string, size: number): string | undefined {
  const files = listCheckpointFiles(tlogDirOf(dir)).filter((f) => f.note !== undefined);
  let lo = 0;
  let hi = files.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const note = readTlogFile((files[mid] as { note: string }).note);
    if (note === undefined) return undefined;
    const s = checkpointSizeOf(note);
    if (s === size) return note;
    if (s < size) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * The consistency proof between tree sizes `fromSize` and `toSize` (default: the latest
 * checkpoint's size) of the WAL in `dir`. `toSize` must be the size of a stored checkpoint.
 */
export async function proveConsistency(dir: string, fromSize: number, toSize?: number): Promise<ConsistencyProof> {
  if (!Number.isSafeInteger(fromSize) || fromSize < 0) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `fromSize must be a non-negative integer, got ${fromSize}`);
  }
  const latest = readLatestCheckpointNote(dir);
  const latestSize = checkpointSizeOf(latest);
  const to = toSize ?? latestSize;
  if (!Number.isSafeInteger(to) || to < fromSize) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `toSize must be an integer of at least fromSize (${fromSize})`);
  }
  const note = to === latestSize ? latest : findCheckpointOfSize(dir, to);
  if (note === undefined) {
    throw notCheckpointed(`the log signed no checkpoint of size ${to} (latest: ${latestSize})`);
  }
  const tiles = TileLog.open(tlogDirOf(dir), { readOnly: true });
  try {
    if (tiles.size < to) throw notCheckpointed(`the tiles hold ${tiles.size} entries, fewer than ${to}`);
    const fromCheckpoint = fromSize === to ? note : findCheckpointOfSize(dir, fromSize);
    return {
      fromSize,
      toSize: to,
      fromRoot: b64(tiles.root(fromSize)),
      toRoot: b64(tiles.root(to)),
      proof: fromSize === 0 || fromSize === to ? [] : tiles.consistencyProof(fromSize, to).map(b64),
      checkpoint: note,
      ...(fromCheckpoint !== undefined ? { fromCheckpoint } : {}),
    };
  } finally {
    tiles.close();
  }
}

/** An inclusion proof as a C2SP tlog-proof@v1 file (`extra` = the entry bytes). */
export function formatRecordProof(p: RecordProof): string {
  return formatTlogProof({
    index: p.index,
    hashes: p.proof.map((h) => Buffer.from(h, 'base64')),
    checkpoint: p.checkpoint,
    extra: Buffer.from(p.leafData, 'base64'),
  });
}

/** A consistency proof as a C2SP tlog-witness add-checkpoint body (POSTable to a witness). */
export function formatConsistencyProof(p: ConsistencyProof): string {
  return `old ${p.fromSize}\n${p.proof.map((h) => `${h}\n`).join('')}\n${p.checkpoint}`;
}

/** The fields a JSON proof may have (checked one by one). */
interface ProofJson {
  readonly seq?: unknown;
  readonly index?: unknown;
  readonly treeSize?: unknown;
  readonly leafData?: unknown;
  readonly leafHash?: unknown;
  readonly proof?: unknown;
  readonly checkpoint?: unknown;
  readonly fromSize?: unknown;
  readonly toSize?: unknown;
  readonly fromRoot?: unknown;
  readonly fromCheckpoint?: unknown;
}

/** Result of {@link verifyProofText}. */
export type VerifiedProof =
  | {
      readonly kind: 'inclusion';
      readonly origin: string;
      readonly seq: number;
      readonly toSeq: number;
      readonly gap: boolean;
      readonly index: number;
      readonly treeSize: number;
      readonly rootHash: string;
    }
  | {
      readonly kind: 'consistency';
      readonly origin: string;
      readonly fromSize: number;
      readonly toSize: number;
      readonly rootHash: string;
      /** True when the old root was taken from a checkpoint signed by the key (not just stated). */
      readonly fromRootSigned: boolean;
    };

function invalidProof(message: string): IronlogError {
  return new IronlogError(ErrorCodes.PROOF_INVALID, message);
}

const kB64 = /^[A-Za-z0-9+/]*={0,2}$/;

function hashList(v: unknown, what: string): Buffer[] {
  if (!Array.isArray(v)) throw invalidProof(`${what} must be an array of base64 hashes`);
  return v.map((h, i) => {
    const b = typeof h === 'string' && kB64.test(h) ? Buffer.from(h, 'base64') : Buffer.alloc(0);
    if (b.length !== 32) throw invalidProof(`${what}[${i}] is not a base64 SHA-256 hash`);
    return b;
  });
}

function openCheckpoint(note: unknown, verifierKey: string): { origin: string; size: number; rootHash: Buffer } {
  if (typeof note !== 'string') throw invalidProof('the proof has no checkpoint note');
  const opened = openNote(note, [parseVerifierKey(verifierKey)]);
  const c = parseCheckpoint(opened.text);
  return { origin: c.origin, size: c.size, rootHash: c.rootHash };
}

/** Checks the entry bytes of a proof: a CRC-valid RECORD or GAP frame. */
function checkEntry(entry: Buffer): { seq: number; toSeq: number; gap: boolean } {
  const padded = Buffer.alloc(align8(entry.length));
  entry.copy(padded);
  if (
    entry.length < 32 ||
    entry.readUInt32LE(0) !== entry.length ||
    checkFrame(padded, 0, padded.length) !== FrameCheck.OK
  ) {
    throw invalidProof('the leaf data is not an intact WAL frame (length or CRC-32C wrong)');
  }
  const type = entry[8];
  if (type !== FrameType.RECORD && type !== FrameType.GAP)
    throw invalidProof('the leaf data is not a RECORD or GAP frame');
  const seq = readU64(entry, 16);
  return { seq, toSeq: type === FrameType.GAP ? readU64(entry, 24) : seq, gap: type === FrameType.GAP };
}

function verifyInclusionParts(
  entry: Buffer,
  index: number,
  hashes: Buffer[],
  note: unknown,
  verifierKey: string,
  claimed: { seq?: number; treeSize?: number; leafHash?: string },
): VerifiedProof {
  const cp = openCheckpoint(note, verifierKey);
  if (claimed.treeSize !== undefined && claimed.treeSize !== cp.size) {
    throw invalidProof(`treeSize ${claimed.treeSize} differs from the checkpoint's size ${cp.size}`);
  }
  const lh = leafHash(entry);
  if (claimed.leafHash !== undefined && claimed.leafHash !== lh.toString('base64')) {
    throw invalidProof('leafHash is not SHA-256(0x00 || leafData)');
  }
  const e = checkEntry(entry);
  if (claimed.seq !== undefined && (claimed.seq < e.seq || claimed.seq > e.toSeq)) {
    throw invalidProof(`the leaf data holds seq ${e.seq}${e.gap ? `-${e.toSeq}` : ''}, not seq ${claimed.seq}`);
  }
  verifyInclusion(lh, index, cp.size, hashes, cp.rootHash);
  return {
    kind: 'inclusion',
    origin: cp.origin,
    seq: claimed.seq ?? e.seq,
    toSeq: e.toSeq,
    gap: e.gap,
    index,
    treeSize: cp.size,
    rootHash: cp.rootHash.toString('base64'),
  };
}

function verifyConsistencyParts(
  fromSize: number,
  hashes: Buffer[],
  note: unknown,
  verifierKey: string,
  old: { root?: string; checkpoint?: string },
  claimedToSize?: number,
): VerifiedProof {
  const cp = openCheckpoint(note, verifierKey);
  if (claimedToSize !== undefined && claimedToSize !== cp.size) {
    throw invalidProof(`toSize ${claimedToSize} differs from the checkpoint's size ${cp.size}`);
  }
  let root1: Buffer;
  let signed = false;
  if (old.checkpoint !== undefined) {
    const oc = openCheckpoint(old.checkpoint, verifierKey);
    if (oc.size !== fromSize) throw invalidProof(`the old checkpoint has size ${oc.size}, not ${fromSize}`);
    if (oc.origin !== cp.origin) throw invalidProof('the two checkpoints name different origins');
    if (old.root !== undefined && old.root !== oc.rootHash.toString('base64')) {
      throw invalidProof("fromRoot differs from the old checkpoint's root");
    }
    root1 = oc.rootHash;
    signed = true;
  } else if (old.root !== undefined) {
    root1 = Buffer.from(old.root, 'base64');
    if (root1.length !== 32) throw invalidProof('fromRoot is not a base64 SHA-256 hash');
  } else {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'a consistency proof in the tlog-witness text form carries no old root: give the checkpoint of the old size (--old-checkpoint FILE)',
    );
  }
  if (fromSize === cp.size) {
    if (!root1.equals(cp.rootHash)) throw invalidProof('equal sizes but different roots');
  } else if (fromSize > 0) {
    verifyConsistency(fromSize, cp.size, hashes, root1, cp.rootHash);
  } else if (hashes.length > 0) {
    throw invalidProof('a consistency proof from size 0 must be empty');
  }
  return {
    kind: 'consistency',
    origin: cp.origin,
    fromSize,
    toSize: cp.size,
    rootHash: cp.rootHash.toString('base64'),
    fromRootSigned: signed,
  };
}

/**
 * Verifies a proof file in any of the four forms above against the log's verifier key:
 * the checkpoint's signature, the entry bytes (an intact frame holding the seq), the leaf hash and
 * the audit path, or the consistency path. Throws `ERR_IRONLOG_PROOF_INVALID` /
 * `ERR_IRONLOG_SIGNATURE_INVALID` (or the note module's format error) when it does not hold.
 */
export function verifyProofText(
  text: string,
  verifierKey: string,
  options: { oldCheckpoint?: string } = {},
): VerifiedProof {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    let j: ProofJson;
    try {
      j = JSON.parse(trimmed) as ProofJson;
    } catch (err) {
      throw invalidProof(`the proof is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof j.leafData === 'string') {
      const index = j.index;
      if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0)
        throw invalidProof('index is missing');
      return verifyInclusionParts(
        Buffer.from(j.leafData, 'base64'),
        index,
        hashList(j.proof, 'proof'),
        j.checkpoint,
        verifierKey,
        {
          seq: typeof j.seq === 'number' ? j.seq : undefined,
          treeSize: typeof j.treeSize === 'number' ? j.treeSize : undefined,
          leafHash: typeof j.leafHash === 'string' ? j.leafHash : undefined,
        },
      );
    }
    if (typeof j.fromSize === 'number') {
      return verifyConsistencyParts(
        j.fromSize,
        hashList(j.proof, 'proof'),
        j.checkpoint,
        verifierKey,
        {
          root: typeof j.fromRoot === 'string' ? j.fromRoot : undefined,
          checkpoint: options.oldCheckpoint ?? (typeof j.fromCheckpoint === 'string' ? j.fromCheckpoint : undefined),
        },
        typeof j.toSize === 'number' ? j.toSize : undefined,
      );
    }
    throw invalidProof('the JSON is neither an inclusion proof (leafData) nor a consistency proof (fromSize)');
  }
  if (text.startsWith('old ')) {
    const blank = text.indexOf('\n\n');
    if (blank < 0) throw invalidProof('the consistency proof has no blank line before the checkpoint');
    const head = text.slice(0, blank).split('\n');
    const fromSize = Number((head[0] as string).slice(4));
    if (!Number.isSafeInteger(fromSize) || fromSize < 0) throw invalidProof('bad "old <size>" line');
    return verifyConsistencyParts(fromSize, hashList(head.slice(1), 'proof line'), text.slice(blank + 2), verifierKey, {
      checkpoint: options.oldCheckpoint,
    });
  }
  const p = parseTlogProof(text);
  if (p.extra === undefined) {
    throw invalidProof('the tlog-proof has no extra line: it carries no entry bytes to check');
  }
  return verifyInclusionParts(Buffer.from(p.extra), p.index, [...p.hashes], p.checkpoint, verifierKey, {});
}
