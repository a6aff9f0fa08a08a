/**
 * The log-wide Merkle tree of RFC 6962 §2.1 (= RFC 9162 §2.1): hashing, tree heads, and the
 * generation and verification of inclusion and consistency proofs.
 *
 *   leaf hash  = SHA-256(0x00 || entry)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH({})    = SHA-256("")                                 (the empty tree)
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * Proof generation never sees the leaves: it asks a {@link SubtreeHashSource} for the hashes of
 * complete, aligned subtrees (level L, index N covers leaves [N*2^L, (N+1)*2^L)), which is what a
 * C2SP tile store (`tiles.ts`) or an in-memory tree ({@link MemoryHashSource}) holds. Every range
 * the RFC 6962 recursion visits either is such a subtree or ends at the right edge of the tree;
 * the right-edge ranges are composed from their complete subtrees (largest first, folded from
 * the right), which is exactly the MTH of that range.
 *
 * Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) in the
 * inner/border decomposition of transparency-dev/merkle, and throws an {@link IronlogError} with
 * code `ERR_IRONLOG_PROOF_INVALID` whose message says what is wrong.
 *
 * Sizes and indexes are JavaScript numbers: any non-negative safe integer (< 2^53) is accepted.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** Bytes of every hash in the tree (SHA-256). */
export const kHashBytes = 32;

/** MTH of the empty tree: SHA-256 of the empty string. */
export const kEmptyRoot: Buffer = createHash('sha256').digest();

const kLeafPrefix = 0x00;
const kNodePrefix = 0x01;
/** Entries up to this size are hashed one-shot (copy + `crypto.hash`, about 2x faster for small inputs). */
const kOneShotMaxBytes = 4096;

/** RFC 6962 leaf hash of one log entry: SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Buffer {
  if (!(entry instanceof Uint8Array)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'leafHash(entry): entry must be a Uint8Array');
  }
  if (entry.length > kOneShotMaxBytes) {
    return createHash('sha256')
      .update(Buffer.from([kLeafPrefix]))
      .update(entry)
      .digest();
  }
  const buf = Buffer.allocUnsafe(1 + entry.length);
  buf[0] = kLeafPrefix;
  buf.set(entry, 1);
  return oneShotHash('sha256', buf, 'buffer');
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). Both children must be 32 bytes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== kHashBytes || right.length !== kHashBytes) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `nodeHash: children must be ${kHashBytes}-byte hashes, got ${left.length} and ${right.length} bytes`,
    );
  }
  return hashChildren(left, right);
}

/** nodeHash without the checks, for hashes this module already validated. */
function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + 2 * kHashBytes);
  buf[0] = kNodePrefix;
  buf.set(left, 1);
  buf.set(right, 1 + kHashBytes);
  return oneShotHash('sha256', buf, 'buffer');
}

function checkHashArgument(h: unknown, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== kHashBytes) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : typeof h;
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `${what} must be a ${kHashBytes}-byte hash, got ${got}`);
  }
}

function checkCount(n: unknown, what: string): asserts n is number {
  if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `${what} must be a non-negative safe integer, got ${String(n)}`,
    );
  }
}

/**
 * Streaming tree head: push leaf hashes in order and read the root at any size. Keeps only the
 * roots of the perfect subtrees of the current size (one per set bit: at most 53 hashes).
 */
export class MerkleAccumulator {
  /** Roots of the perfect subtrees, largest (leftmost) first; their sizes are the set bits of #size. */
  readonly #peaks: Buffer[] = [];
  #size = 0;

  /** Number of leaves pushed. */
  get size(): number {
    return this.#size;
  }

  /** Appends the next leaf hash (32 bytes: `leafHash(entry)`, not the entry). */
  push(leafHash: Uint8Array): void {
    checkHashArgument(leafHash, 'MerkleAccumulator.push(leafHash): leafHash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'MerkleAccumulator: the tree is full (2^53 - 1 leaves)');
    }
    let h: Buffer = Buffer.from(leafHash);
    // Each trailing 1 bit of the old size is a perfect subtree of the same size as the one being
    // carried: merge them, like a binary increment.
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) {
      h = hashChildren(this.#peaks.pop() as Buffer, h);
    }
    this.#peaks.push(h);
    this.#size++;
  }

  /** MTH of the leaves pushed so far ({@link kEmptyRoot} when none). */
  root(): Buffer {
    const n = this.#peaks.length;
    if (n === 0) return Buffer.from(kEmptyRoot);
    let r = this.#peaks[n - 1] as Buffer;
    for (let i = n - 2; i >= 0; i--) r = hashChildren(this.#peaks[i] as Buffer, r);
    return r;
  }
}

/** RFC 6962 MTH over `leafHashes` (each 32 bytes), in memory. */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  const acc = new MerkleAccumulator();
  for (const h of leafHashes) acc.push(h);
  return acc.root();
}

/**
 * Source of the hashes of complete, aligned subtrees: `subtreeHash(level, index)` is the MTH of
 * leaves [index * 2^level, (index + 1) * 2^level). Proof generation only asks for subtrees that
 * lie entirely inside the tree size it was given.
 */
export interface SubtreeHashSource {
  subtreeHash(level: number, index: number): Buffer;
}

/**
 * A {@link SubtreeHashSource} that keeps every level of the tree in memory (about 2n hashes):
 * for tests, small logs and recomputation. `push` appends leaf hashes.
 */
export class MemoryHashSource implements SubtreeHashSource {
  /** levels[L][N] = hash of the complete subtree (L, N). */
  readonly #levels: Buffer[][] = [[]];

  constructor(leafHashes: readonly Uint8Array[] = []) {
    for (const h of leafHashes) this.push(h);
  }

  /** Number of leaves. */
  get size(): number {
    return (this.#levels[0] as Buffer[]).length;
  }

  /** Appends one leaf hash (32 bytes). */
  push(leafHash: Uint8Array): void {
    checkHashArgument(leafHash, 'MemoryHashSource.push(leafHash): leafHash');
    let h: Buffer = Buffer.from(leafHash);
    for (let level = 0; ; level++) {
      let row = this.#levels[level];
      if (row === undefined) {
        row = [];
        this.#levels.push(row);
      }
      row.push(h);
      if (row.length % 2 === 1) return;
      h = hashChildren(row[row.length - 2] as Buffer, h);
    }
  }

  subtreeHash(level: number, index: number): Buffer {
    const h = this.#levels[level]?.[index];
    if (h === undefined) {
      throw new IronlogError(
        ErrorCodes.INVALID_ARGUMENT,
        `subtree (level ${level}, index ${index}) is not complete in a tree of ${this.size} leaves`,
      );
    }
    return h;
  }
}

/** log2 of a power of two (exact: a loop, not Math.log2). */
function log2Exact(p: number): number {
  let level = 0;
  for (let q = 1; q < p; q *= 2) level++;
  return level;
}

/** The largest power of two strictly below n (n >= 2): RFC 6962's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function sourceHash(src: SubtreeHashSource, level: number, index: number): Buffer {
  const h = src.subtreeHash(level, index);
  if (!(h instanceof Uint8Array) || h.length !== kHashBytes) {
    throw new IronlogError(
      ErrorCodes.INTERNAL,
      `SubtreeHashSource returned ${h instanceof Uint8Array ? `${h.length} bytes` : typeof h} for (level ${level}, index ${index})`,
    );
  }
  return h;
}

/**
 * MTH(D[lo:hi]) for a range the RFC 6962 recursion visits: lo is a multiple of a power of two
 * that is >= hi - lo. Such a range is either one complete aligned subtree or, at the right edge,
 * a run of complete subtrees of decreasing size (the set bits of hi - lo) folded from the right.
 */
function rangeHash(lo: number, hi: number, src: SubtreeHashSource): Buffer {
  const n = hi - lo;
  if (n <= 0) throw new IronlogError(ErrorCodes.INTERNAL, `empty Merkle range [${lo}, ${hi})`);
  const parts: Buffer[] = [];
  let cur = lo;
  let remaining = n;
  let p = 1;
  while (p * 2 <= remaining) p *= 2;
  for (; remaining > 0; p /= 2) {
    if (p > remaining) continue;
    if (cur % p !== 0) throw new IronlogError(ErrorCodes.INTERNAL, `unaligned Merkle range [${lo}, ${hi})`);
    parts.push(sourceHash(src, log2Exact(p), cur / p));
    cur += p;
    remaining -= p;
  }
  let h = parts[parts.length - 1] as Buffer;
  for (let i = parts.length - 2; i >= 0; i--) h = hashChildren(parts[i] as Buffer, h);
  return h;
}

/** MTH of the first `treeSize` leaves of `src` ({@link kEmptyRoot} for 0). */
export function rootAt(treeSize: number, src: SubtreeHashSource): Buffer {
  checkCount(treeSize, 'rootAt: treeSize');
  if (treeSize === 0) return Buffer.from(kEmptyRoot);
  return rangeHash(0, treeSize, src);
}

/**
 * RFC 6962 §2.1.1 audit path (RFC 9162 §2.1.3.1 inclusion proof) of leaf `index` in the tree of
 * the first `treeSize` leaves, lowest level first. Empty for a one-leaf tree.
 */
export function inclusionProof(index: number, treeSize: number, src: SubtreeHashSource): Buffer[] {
  checkCount(index, 'inclusionProof: index');
  checkCount(treeSize, 'inclusionProof: treeSize');
  if (index >= treeSize) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `inclusionProof: index ${index} is not below treeSize ${treeSize}`,
    );
  }
  // PATH(m, D[a:b]) = PATH(m, half holding m) : MTH(other half). Walk down from the root and
  // collect the siblings top first; the proof lists them bottom first.
  const out: Buffer[] = [];
  let a = 0;
  let b = treeSize;
  while (b - a > 1) {
    const k = splitPoint(b - a);
    if (index < a + k) {
      out.push(rangeHash(a + k, b, src));
      b = a + k;
    } else {
      out.push(rangeHash(a, a + k, src));
      a += k;
    }
  }
  return out.reverse();
}

/**
 * RFC 6962 §2.1.2 consistency proof (RFC 9162 §2.1.4.1) between the trees of the first `size1`
 * and `size2` leaves, lowest level first. Empty when size1 is 0 or equals size2.
 */
export function consistencyProof(size1: number, size2: number, src: SubtreeHashSource): Buffer[] {
  checkCount(size1, 'consistencyProof: size1');
  checkCount(size2, 'consistencyProof: size2');
  if (size1 > size2) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `consistencyProof: size1 ${size1} is above size2 ${size2}`);
  }
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF(m, D[a:b], startFromOldRoot), unrolled: m is the old size relative to a.
  const out: Buffer[] = [];
  let m = size1;
  let a = 0;
  let b = size2;
  let startFromOldRoot = true;
  for (;;) {
    const n = b - a;
    if (m === n) {
      if (!startFromOldRoot) out.push(rangeHash(a, b, src));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push(rangeHash(a + k, b, src));
      b = a + k;
    } else {
      out.push(rangeHash(a, a + k, src));
      a += k;
      m -= k;
      startFromOldRoot = false;
    }
  }
  return out.reverse();
}

// ---------------------------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Index arithmetic in BigInt: exact for any size.

function proofInvalid(what: string, reason: string): IronlogError {
  return new IronlogError(ErrorCodes.PROOF_INVALID, `${what} proof invalid: ${reason}`);
}

function checkProofCount(n: unknown, name: string, what: string): asserts n is number {
  if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)) {
    throw proofInvalid(what, `${name} must be a non-negative safe integer, got ${String(n)}`);
  }
}

function checkProofHash(h: unknown, name: string, what: string): asserts h is Uint8Array {
  if (!(h instanceof Uint8Array)) throw proofInvalid(what, `${name} must be bytes, got ${typeof h}`);
  if (h.length !== kHashBytes) {
    throw proofInvalid(what, `${name} is ${h.length} bytes, a SHA-256 hash is ${kHashBytes}`);
  }
}

function checkProofArray(proof: unknown, what: string): asserts proof is readonly Uint8Array[] {
  if (!Array.isArray(proof)) throw proofInvalid(what, 'the proof must be an array of hashes');
  proof.forEach((h: unknown, i) => {
    checkProofHash(h, `proof[${i}]`, what);
  });
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

function popCount(x: bigint): number {
  let c = 0;
  for (const ch of x.toString(2)) if (ch === '1') c++;
  return c;
}

function trailingZeros(x: bigint): number {
  let n = 0;
  while (x > 0n && (x & 1n) === 0n) {
    x >>= 1n;
    n++;
  }
  return n;
}

/**
 * Splits the inclusion proof of `index` in a tree of `size` leaves: `inner` hashes below the
 * level where the paths to `index` and to `size - 1` meet, then `border` hashes along the right
 * border (one per set bit of index above that level).
 */
function decompose(index: bigint, size: bigint): { inner: number; border: number } {
  const inner = bitLength(index ^ (size - 1n));
  return { inner, border: popCount(index >> BigInt(inner)) };
}

/** Hashes `seed` (at position `index` of its level) up through `proof`, sibling side by index bit. */
function chainInner(seed: Uint8Array, proof: readonly Uint8Array[], index: bigint): Uint8Array {
  let h = seed;
  proof.forEach((p, i) => {
    h = ((index >> BigInt(i)) & 1n) === 0n ? hashChildren(h, p) : hashChildren(p, h);
  });
  return h;
}

/** Like {@link chainInner}, but keeps only the left siblings: the hash of the older, smaller subtree. */
function chainInnerRight(seed: Uint8Array, proof: readonly Uint8Array[], index: bigint): Uint8Array {
  let h = seed;
  proof.forEach((p, i) => {
    if (((index >> BigInt(i)) & 1n) === 1n) h = hashChildren(p, h);
  });
  return h;
}

/** Along the right border every proof hash is a left sibling. */
function chainBorderRight(seed: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  let h = seed;
  for (const p of proof) h = hashChildren(p, h);
  return h;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function hex(h: Uint8Array): string {
  return Buffer.from(h).toString('hex');
}

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leafHash` sits at
 * `index` in the tree of `treeSize` leaves whose root is `root`. Returns normally when it does;
 * throws `ERR_IRONLOG_PROOF_INVALID` (with the reason) when it does not or when an argument is
 * malformed: index >= treeSize, a hash that is not 32 bytes, a proof of the wrong length, a
 * recomputed root that differs.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const what = 'inclusion';
  checkProofCount(index, 'index', what);
  checkProofCount(treeSize, 'treeSize', what);
  if (index >= treeSize) throw proofInvalid(what, `index ${index} is not below treeSize ${treeSize}`);
  checkProofHash(leafHash, 'leafHash', what);
  checkProofHash(root, 'root', what);
  checkProofArray(proof, what);
  const idx = BigInt(index);
  const { inner, border } = decompose(idx, BigInt(treeSize));
  if (proof.length !== inner + border) {
    throw proofInvalid(
      what,
      `a proof for index ${index} in a tree of ${treeSize} has ${inner + border} hashes, got ${proof.length}`,
    );
  }
  let h = chainInner(leafHash, proof.slice(0, inner), idx);
  h = chainBorderRight(h, proof.slice(inner));
  if (!sameBytes(h, root)) {
    throw proofInvalid(what, `the proof leads to root ${hex(h)}, not to the expected root ${hex(root)}`);
  }
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2): that the tree of `size2` leaves with root
 * `root2` extends the tree of `size1` leaves with root `root1`. Throws `ERR_IRONLOG_PROOF_INVALID`
 * with the reason otherwise.
 *
 * Edge cases, as in transparency-dev/merkle and its test vectors:
 * - size1 > size2 is invalid;
 * - size1 = size2: the proof must be empty and root1 must equal root2 byte for byte (nothing is
 *   hashed, so a root of another length is not rejected for its length); for size 0 both roots
 *   must be the empty-tree root SHA-256("");
 * - size1 = 0 < size2 is rejected: a consistency proof from the empty tree proves nothing. A
 *   caller that accepts any first tree (a witness that has seen no checkpoint yet) must not call
 *   this function for it;
 * - otherwise every hash must be 32 bytes and the proof must have exactly the RFC's length.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const what = 'consistency';
  checkProofCount(size1, 'size1', what);
  checkProofCount(size2, 'size2', what);
  if (size1 > size2) throw proofInvalid(what, `size1 ${size1} is above size2 ${size2}`);
  checkProofArray(proof, what);
  if (!(root1 instanceof Uint8Array)) throw proofInvalid(what, `root1 must be bytes, got ${typeof root1}`);
  if (!(root2 instanceof Uint8Array)) throw proofInvalid(what, `root2 must be bytes, got ${typeof root2}`);
  if (size1 === size2) {
    if (proof.length !== 0) {
      throw proofInvalid(what, `size1 equals size2 (${size1}), so the proof must be empty; got ${proof.length} hashes`);
    }
    if (size1 === 0 && !(sameBytes(root1, kEmptyRoot) && sameBytes(root2, kEmptyRoot))) {
      throw proofInvalid(what, 'the root of the empty tree must be SHA-256("")');
    }
    if (!sameBytes(root1, root2)) throw proofInvalid(what, `equal sizes (${size1}) but different roots`);
    return;
  }
  if (size1 === 0) {
    throw proofInvalid(what, 'a consistency proof from the empty tree (size1 0) proves nothing');
  }
  checkProofHash(root1, 'root1', what);
  checkProofHash(root2, 'root2', what);
  if (proof.length === 0) throw proofInvalid(what, `sizes ${size1} and ${size2} differ but the proof is empty`);

  const s1 = BigInt(size1);
  const decomposed = decompose(s1 - 1n, BigInt(size2));
  const shift = trailingZeros(s1);
  // The lowest `shift` levels of the path to leaf size1-1 lie inside the perfect subtree of
  // 2^shift leaves that ends the old tree; the proof starts with that subtree's hash, unless the
  // old tree is that very subtree (size1 a power of two), whose hash is root1.
  const inner = decomposed.inner - shift;
  const { border } = decomposed;
  const startsWithRoot1 = s1 === 1n << BigInt(shift);
  const seed = startsWithRoot1 ? root1 : (proof[0] as Uint8Array);
  const start = startsWithRoot1 ? 0 : 1;
  if (proof.length !== start + inner + border) {
    throw proofInvalid(
      what,
      `a proof from size ${size1} to size ${size2} has ${start + inner + border} hashes, got ${proof.length}`,
    );
  }
  const rest = proof.slice(start);
  const mask = (s1 - 1n) >> BigInt(shift);
  let h1 = chainInnerRight(seed, rest.slice(0, inner), mask);
  h1 = chainBorderRight(h1, rest.slice(inner));
  if (!sameBytes(h1, root1)) {
    throw proofInvalid(what, `the proof leads to old root ${hex(h1)}, not to root1 ${hex(root1)}`);
  }
  let h2 = chainInner(seed, rest.slice(0, inner), mask);
  h2 = chainBorderRight(h2, rest.slice(inner));
  if (!sameBytes(h2, root2)) {
    throw proofInvalid(what, `the proof leads to new root ${hex(h2)}, not to root2 ${hex(root2)}`);
  }
}
