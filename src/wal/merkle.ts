/**
 * Binary SHA-256 Merkle tree over a segment's COMMIT chain hashes (the seal carries its root).
 *
 *   leaf  = SHA-256(0x00 || chainHash)
 *   node  = SHA-256(0x01 || left || right)
 *   a level with an odd count promotes its last node unchanged to the next level
 *   root of zero leaves = 32 zero bytes
 *
 * The 0x00/0x01 prefixes (RFC 6962 style) keep a leaf from being passed off as an inner node.
 */
import { createHash } from 'node:crypto';
import { HASH_BYTES } from './frame-layout.js';

const kLeafPrefix = Buffer.from([0x00]);
const kNodePrefix = Buffer.from([0x01]);

/** Hash of one leaf. */
export function merkleLeaf(chainHash: Uint8Array): Buffer {
  return createHash('sha256').update(kLeafPrefix).update(chainHash).digest();
}

/** Hash of an inner node. */
export function merkleNode(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(kNodePrefix).update(left).update(right).digest();
}

/** Merkle root over `chainHashes` (each 32 bytes), in order. */
export function merkleRoot(chainHashes: readonly Uint8Array[]): Buffer {
  if (chainHashes.length === 0) return Buffer.alloc(HASH_BYTES);
  let level: Buffer[] = chainHashes.map(merkleLeaf);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(merkleNode(level[i] as Buffer, level[i + 1] as Buffer));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Buffer);
    level = next;
  }
  return level[0] as Buffer;
}

/** One step of an inclusion proof: the sibling hash and whether it sits on the left. */
export interface MerkleProofStep {
  readonly sibling: Buffer;
  readonly left: boolean;
}

/** Inclusion proof of leaf `index` (for compliance exports: prove one batch is in a sealed segment). */
export function merkleProof(chainHashes: readonly Uint8Array[], index: number): MerkleProofStep[] {
  if (!(index >= 0 && index < chainHashes.length)) throw new RangeError(`leaf index ${index} out of range`);
  const proof: MerkleProofStep[] = [];
  let level: Buffer[] = chainHashes.map(merkleLeaf);
  let i = index;
  while (level.length > 1) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    if (sibling < level.length) proof.push({ sibling: level[sibling] as Buffer, left: sibling < i });
    const next: Buffer[] = [];
    for (let j = 0; j + 1 < level.length; j += 2) next.push(merkleNode(level[j] as Buffer, level[j + 1] as Buffer));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Buffer);
    level = next;
    i = Math.floor(i / 2);
  }
  return proof;
}

/** Checks an inclusion proof from {@link merkleProof} against a root. */
export function verifyMerkleProof(chainHash: Uint8Array, proof: readonly MerkleProofStep[], root: Uint8Array): boolean {
  let h = merkleLeaf(chainHash);
  for (const step of proof) h = step.left ? merkleNode(step.sibling, h) : merkleNode(h, step.sibling);
  return h.equals(root);
}

/**
 * Incremental form of {@link merkleRoot}: keeps the roots of the perfect subtrees seen so far (at
 * most log2(n) hashes), so the writer pays ~2 small hashes per batch instead of hashing every leaf
 * again at seal time. The result equals {@link merkleRoot} over the same leaves: pairing level by
 * level with the odd node promoted is the same tree as RFC 6962's split at the largest power of
 * two below n, and folding the subtree stack from the right builds exactly that tree.
 */
export class MerkleAccumulator {
  #hashes: Buffer[] = [];
  #sizes: number[] = [];
  #count = 0;

  /** Number of leaves added. */
  get count(): number {
    return this.#count;
  }

  /** Adds the next leaf (a COMMIT chain hash). */
  add(chainHash: Uint8Array): void {
    let h = merkleLeaf(chainHash);
    let size = 1;
    while (this.#sizes.length > 0 && this.#sizes[this.#sizes.length - 1] === size) {
      this.#sizes.pop();
      h = merkleNode(this.#hashes.pop() as Buffer, h);
      size *= 2;
    }
    this.#hashes.push(h);
    this.#sizes.push(size);
    this.#count++;
  }

  /** Root over every leaf added so far. */
  root(): Buffer {
    const n = this.#hashes.length;
    if (n === 0) return Buffer.alloc(HASH_BYTES);
    let r = this.#hashes[n - 1] as Buffer;
    for (let i = n - 2; i >= 0; i--) r = merkleNode(this.#hashes[i] as Buffer, r);
    return r;
  }

  /** Copies the state of `other` into this accumulator (for rollback to a synced point). */
  copyFrom(other: MerkleAccumulator): void {
    this.#hashes = other.#hashes.slice();
    this.#sizes = other.#sizes.slice();
    this.#count = other.#count;
  }

  /** Forgets every leaf. */
  clear(): void {
    this.#hashes = [];
    this.#sizes = [];
    this.#count = 0;
  }
}
