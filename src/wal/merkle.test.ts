import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MerkleAccumulator, merkleLeaf, merkleNode, merkleProof, merkleRoot, verifyMerkleProof } from './merkle.js';

const leaves = (n: number): Buffer[] => Array.from({ length: n }, () => randomBytes(32));

describe('merkle', () => {
  it('follows the documented rules for small trees', () => {
    const [a, b, c] = leaves(3) as [Buffer, Buffer, Buffer];
    const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
    expect(merkleRoot([])).toEqual(Buffer.alloc(32));
    expect(merkleRoot([a])).toEqual(sha(Buffer.from([0]), a));
    const ab = sha(Buffer.from([1]), merkleLeaf(a), merkleLeaf(b));
    expect(merkleRoot([a, b])).toEqual(ab);
    // odd node promoted unchanged
    expect(merkleRoot([a, b, c])).toEqual(merkleNode(ab, merkleLeaf(c)));
  });

  it('the incremental accumulator equals the level-by-level tree for 0..70 leaves, and copies/rolls back', () => {
    const all = leaves(70);
    const acc = new MerkleAccumulator();
    const saved = new MerkleAccumulator();
    for (let n = 0; n <= 70; n++) {
      expect(acc.root()).toEqual(merkleRoot(all.slice(0, n)));
      expect(acc.count).toBe(n);
      if (n === 37) saved.copyFrom(acc);
      if (n < 70) acc.add(all[n] as Buffer);
    }
    acc.copyFrom(saved);
    expect(acc.root()).toEqual(merkleRoot(all.slice(0, 37)));
  });

  it('inclusion proofs verify, and fail for another leaf', () => {
    for (const n of [1, 2, 3, 5, 8, 13]) {
      const all = leaves(n);
      const root = merkleRoot(all);
      for (let i = 0; i < n; i++) {
        const proof = merkleProof(all, i);
        expect(verifyMerkleProof(all[i] as Buffer, proof, root)).toBe(true);
        if (n > 1) expect(verifyMerkleProof(all[(i + 1) % n] as Buffer, proof, root)).toBe(false);
      }
    }
  });
});
