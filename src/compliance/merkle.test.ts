import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  inclusionProof,
  kEmptyRoot,
  kHashBytes,
  leafHash,
  MemoryHashSource,
  MerkleAccumulator,
  nodeHash,
  rootAt,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 §2.1 MTH written straight from the definition (recursive split at the largest power of two < n). */
function referenceRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

/** RFC 6962 §2.1.1 PATH, straight from the definition. */
function referencePath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (m < k) return [...referencePath(m, leaves.slice(0, k)), referenceRoot(leaves.slice(k))];
  return [...referencePath(m - k, leaves.slice(k)), referenceRoot(leaves.slice(0, k))];
}

/** RFC 6962 §2.1.2 SUBPROOF, straight from the definition. */
function referenceSubproof(m: number, leaves: readonly Buffer[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [referenceRoot(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...referenceSubproof(m, leaves.slice(0, k), b), referenceRoot(leaves.slice(k))];
  return [...referenceSubproof(m - k, leaves.slice(k), false), referenceRoot(leaves.slice(0, k))];
}

const leafHashes = (n: number, tag = 'e'): Buffer[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`${tag}-${i}`)));

function flipBit(buf: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(buf);
  out[Math.floor(bit / 8) % out.length] = (out[Math.floor(bit / 8) % out.length] as number) ^ (1 << (bit % 8));
  return out;
}

function expectProofInvalid(fn: () => void): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_INVALID' }));
}

describe('hashing (RFC 6962 §2.1)', () => {
  it('leaf, node and empty-tree hashes follow the RFC prefixes', () => {
    expect(kHashBytes).toBe(32);
    expect(kEmptyRoot.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const entry = Buffer.from('hello');
    expect(leafHash(entry)).toEqual(sha(Buffer.from([0]), entry));
    // Large entries take the streaming path; same definition.
    const big = randomBytes(10_000);
    expect(leafHash(big)).toEqual(sha(Buffer.from([0]), big));
    expect(leafHash(new Uint8Array(0))).toEqual(sha(Buffer.from([0])));
    const [a, b] = leafHashes(2) as [Buffer, Buffer];
    expect(nodeHash(a, b)).toEqual(sha(Buffer.from([1]), a, b));
  });

  it('matches the RFC 6962 known root of the empty-string leaf', () => {
    // transparency-dev/merkle rfc6962 hasher test: leaf hash of "" is 6e340b9c...
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
  });

  it('rejects malformed inputs with typed errors', () => {
    expect(() => nodeHash(Buffer.alloc(31), Buffer.alloc(32))).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
    expect(() => leafHash('x' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
    expect(() => new MerkleAccumulator().push(Buffer.alloc(33))).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
    expect(() => rootOf([Buffer.alloc(3)])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }));
  });

  it('rootOf, the accumulator at every size and rootAt equal the recursive definition for 0..300 leaves', () => {
    const all = leafHashes(300);
    const acc = new MerkleAccumulator();
    const mem = new MemoryHashSource();
    for (let n = 0; n <= 300; n++) {
      const want = referenceRoot(all.slice(0, n));
      expect(acc.size).toBe(n);
      expect(acc.root()).toEqual(want);
      expect(rootOf(all.slice(0, n))).toEqual(want);
      expect(rootAt(n, mem)).toEqual(want);
      if (n < 300) {
        acc.push(all[n] as Buffer);
        mem.push(all[n] as Buffer);
      }
    }
  });
});

describe('proof generation', () => {
  it('inclusion and consistency proofs equal the RFC 6962 PATH/SUBPROOF definitions for every index and size up to 70', () => {
    const all = leafHashes(70);
    const mem = new MemoryHashSource(all);
    for (let n = 1; n <= 70; n++) {
      const leaves = all.slice(0, n);
      const root = referenceRoot(leaves);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, n, mem);
        expect(proof).toEqual(referencePath(i, leaves));
        verifyInclusion(all[i] as Buffer, i, n, proof, root);
      }
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, n, mem);
        expect(proof).toEqual(m === n ? [] : referenceSubproof(m, leaves, true));
        verifyConsistency(m, n, proof, referenceRoot(all.slice(0, m)), root);
      }
    }
  });

  it('refuses impossible requests with INVALID_ARGUMENT', () => {
    const mem = new MemoryHashSource(leafHashes(5));
    const bad = expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    expect(() => inclusionProof(5, 5, mem)).toThrow(bad);
    expect(() => inclusionProof(-1, 5, mem)).toThrow(bad);
    expect(() => inclusionProof(0.5, 5, mem)).toThrow(bad);
    expect(() => consistencyProof(4, 3, mem)).toThrow(bad);
    expect(() => rootAt(Number.NaN, mem)).toThrow(bad);
    // a size beyond what the source holds: the source says so
    expect(() => inclusionProof(0, 6, mem)).toThrow(bad);
    expect(consistencyProof(0, 5, mem)).toEqual([]);
    expect(consistencyProof(5, 5, mem)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Known answers: transparency-dev/merkle testdata (see ../shared/testdata/rfc6962/README.md).

// `shared/` sits beside the repository (the CI clone's layout); IRONLOG_SHARED_DIR points
// elsewhere (a git worktree). Either way a missing directory fails these tests.
const { IRONLOG_SHARED_DIR: kSharedDirEnv, FC_SEED: kSeedEnv } = process.env;
const kSharedDir = kSharedDirEnv ?? fileURLToPath(new URL('../../../shared/', import.meta.url));
const kVectorsDir = path.join(kSharedDir, 'testdata', 'rfc6962');

function jsonFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFilesUnder(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out.sort();
}

const b64 = (s: string | null | undefined): Buffer => Buffer.from(s ?? '', 'base64');
const b64List = (l: readonly string[] | null | undefined): Buffer[] => (l ?? []).map(b64);

function outcome(fn: () => void): 'ok' | 'rejected' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    // Only the typed rejection counts: any other exception is a bug in the verifier.
    expect(err).toMatchObject({ code: 'ERR_IRONLOG_PROOF_INVALID' });
    return 'rejected';
  }
}

describe('known answers (transparency-dev/merkle testdata)', () => {
  // readdirSync throws ENOENT when the directory is missing: the test fails, it never skips.
  it('every inclusion vector is accepted or rejected as its wantErr says', () => {
    const files = jsonFilesUnder(path.join(kVectorsDir, 'inclusion'));
    expect(files.length).toBeGreaterThanOrEqual(90);
    const results: string[] = [];
    for (const f of files) {
      const v = JSON.parse(fs.readFileSync(f, 'utf8')) as {
        leafIdx: number;
        treeSize: number;
        root: string | null;
        leafHash: string | null;
        proof: string[] | null;
        wantErr: boolean;
      };
      const got = outcome(() => verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, b64List(v.proof), b64(v.root)));
      results.push(`${path.relative(kVectorsDir, f)}: ${got}`);
      expect(`${path.relative(kVectorsDir, f)}: ${got}`).toBe(
        `${path.relative(kVectorsDir, f)}: ${v.wantErr ? 'rejected' : 'ok'}`,
      );
    }
    expect(results.filter((r) => r.endsWith(': ok')).length).toBeGreaterThanOrEqual(5);
  });

  it('every consistency vector is accepted or rejected as its wantErr says', () => {
    const files = jsonFilesUnder(path.join(kVectorsDir, 'consistency'));
    expect(files.length).toBeGreaterThanOrEqual(90);
    let accepted = 0;
    for (const f of files) {
      const v = JSON.parse(fs.readFileSync(f, 'utf8')) as {
        size1: number;
        size2: number;
        root1: string | null;
        root2: string | null;
        proof: string[] | null;
        wantErr: boolean;
      };
      const got = outcome(() => verifyConsistency(v.size1, v.size2, b64List(v.proof), b64(v.root1), b64(v.root2)));
      if (got === 'ok') accepted++;
      expect(`${path.relative(kVectorsDir, f)}: ${got}`).toBe(
        `${path.relative(kVectorsDir, f)}: ${v.wantErr ? 'rejected' : 'ok'}`,
      );
    }
    expect(accepted).toBeGreaterThanOrEqual(5);
  });
});

describe('verification rejects malformed arguments with a reason', () => {
  const all = leafHashes(11);
  const mem = new MemoryHashSource(all);
  const root = rootAt(11, mem);
  const proof = inclusionProof(3, 11, mem);

  it('inclusion', () => {
    verifyInclusion(all[3] as Buffer, 3, 11, proof, root);
    const cases: [string, () => void][] = [
      ['not below treeSize', () => verifyInclusion(all[3] as Buffer, 11, 11, proof, root)],
      ['non-negative safe integer', () => verifyInclusion(all[3] as Buffer, -1, 11, proof, root)],
      ['non-negative safe integer', () => verifyInclusion(all[3] as Buffer, 2 ** 64, 2 ** 64 + 1, proof, root)],
      ['leafHash is 31 bytes', () => verifyInclusion(Buffer.alloc(31), 3, 11, proof, root)],
      ['root is 33 bytes', () => verifyInclusion(all[3] as Buffer, 3, 11, proof, Buffer.alloc(33))],
      [
        'proof[1] is 0 bytes',
        () => verifyInclusion(all[3] as Buffer, 3, 11, [proof[0] as Buffer, Buffer.alloc(0)], root),
      ],
      ['has 4 hashes, got 5', () => verifyInclusion(all[3] as Buffer, 3, 11, [...proof, root], root)],
      ['not to the expected root', () => verifyInclusion(all[4] as Buffer, 3, 11, proof, root)],
      ['must be an array', () => verifyInclusion(all[3] as Buffer, 3, 11, 'x' as unknown as Buffer[], root)],
    ];
    for (const [reason, fn] of cases) {
      expect(fn).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_INVALID' }));
      expect(fn).toThrow(reason);
    }
  });

  it('consistency', () => {
    const root6 = rootAt(6, mem);
    const cproof = consistencyProof(6, 11, mem);
    verifyConsistency(6, 11, cproof, root6, root);
    verifyConsistency(0, 0, [], kEmptyRoot, kEmptyRoot);
    verifyConsistency(11, 11, [], root, root);
    const cases: [string, () => void][] = [
      ['size1 12 is above size2 11', () => verifyConsistency(12, 11, cproof, root6, root)],
      ['proves nothing', () => verifyConsistency(0, 11, [], kEmptyRoot, root)],
      ['must be empty', () => verifyConsistency(11, 11, [root], root, root)],
      ['different roots', () => verifyConsistency(11, 11, [], root6, root)],
      ['empty tree must be', () => verifyConsistency(0, 0, [], root, root)],
      ['proof is empty', () => verifyConsistency(6, 11, [], root6, root)],
      ['root1 is 31 bytes', () => verifyConsistency(6, 11, cproof, root6.subarray(1), root)],
      ['root2 is 0 bytes', () => verifyConsistency(6, 11, cproof, root6, Buffer.alloc(0))],
      ['proof[0] is 64 bytes', () => verifyConsistency(6, 11, [Buffer.concat([root, root])], root6, root)],
      ['hashes, got', () => verifyConsistency(6, 11, cproof.slice(1), root6, root)],
      ['not to root1', () => verifyConsistency(6, 11, cproof, rootAt(5, mem), root)],
      ['not to root2', () => verifyConsistency(6, 11, cproof, root6, rootAt(10, mem))],
      ['non-negative safe integer', () => verifyConsistency(6, 1.5, cproof, root6, root)],
    ];
    for (const [reason, fn] of cases) {
      expect(fn).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_INVALID' }));
      expect(fn).toThrow(reason);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties. One tree of 2,048 leaves serves every size up to 2,048 (a prefix is the smaller tree).
//
// A note on the sizes. The verifier recomputes a root from the proof, the index and the sizes;
// the sizes only decide, per proof hash, on which side it is hashed in (the proof's "shape"). Two
// sizes with the same shape (index 0 in trees of 6 and of 7 leaves, say) give the same recomputed
// root, so NO RFC 9162 verifier can tell them apart when the root stays the same: the tree size is
// bound to the root by the signed checkpoint, not by the proof. So the properties assert exactly:
// a changed size is rejected whenever the shape (derived here from the RFC's recursive
// definition, not from the verifier's arithmetic) changes, accepted only when it does not, and
// always rejected against the true root of the changed size.

type Side = 'L' | 'R';

/** Sibling sides of the RFC 6962 PATH(m, D[n]), lowest first. */
function inclusionShape(m: number, n: number): Side[] {
  if (n <= 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m < k ? [...inclusionShape(m, k), 'R'] : [...inclusionShape(m - k, n - k), 'L'];
}

/** The RFC 6962 SUBPROOF(m, D[n], true) shape: how it starts, then the sibling sides, lowest first. */
function consistencyShape(m: number, n: number, b = true): string[] {
  if (m === n) return [b ? 'starts-from-root1' : 'starts-from-proof'];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k ? [...consistencyShape(m, k, b), 'R'] : [...consistencyShape(m - k, n - k, false), 'L'];
}

const sameShape = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function outcomeOf(fn: () => void): 'ok' | 'rejected' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    expect(err).toMatchObject({ code: 'ERR_IRONLOG_PROOF_INVALID' });
    return 'rejected';
  }
}

describe('properties (fast-check)', () => {
  const kMax = 2048;
  const all = leafHashes(kMax, 'prop');
  const mem = new MemoryHashSource(all);
  const roots = new Map<number, Buffer>();
  const rootOfSize = (n: number): Buffer => {
    let r = roots.get(n);
    if (r === undefined) {
      r = rootAt(n, mem);
      roots.set(n, r);
    }
    return r;
  };
  const seed = Number(kSeedEnv ?? Date.now() % 2 ** 31);
  const params = { seed, numRuns: 400 };

  it(`every inclusion proof verifies, and any one-bit change breaks it (seed ${seed})`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: kMax }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))),
        fc.nat(),
        fc.nat(),
        ([n, i], pick, bit) => {
          const proof = inclusionProof(i, n, mem);
          const leaf = all[i] as Buffer;
          const root = rootOfSize(n);
          verifyInclusion(leaf, i, n, proof, root);
          // one bit of one proof hash
          if (proof.length > 0) {
            const j = pick % proof.length;
            const bad = proof.map((h, k) => (k === j ? flipBit(h, bit % 256) : h));
            expectProofInvalid(() => verifyInclusion(leaf, i, n, bad, root));
          }
          // one bit of the root, of the leaf hash
          expectProofInvalid(() => verifyInclusion(leaf, i, n, proof, flipBit(root, bit % 256)));
          expectProofInvalid(() => verifyInclusion(flipBit(leaf, bit % 256), i, n, proof, root));
          // one bit of the index (bits 0..11: sizes stay near the tree): always caught, a leaf's
          // path is unique in its tree
          const ib = i ^ (1 << (bit % 12));
          expectProofInvalid(() => verifyInclusion(leaf, ib, n, proof, root));
          // one bit of the tree size
          const nb = n ^ (1 << ((bit >> 4) % 12));
          const indistinguishable = nb > i && sameShape(inclusionShape(i, nb), inclusionShape(i, n));
          expect(outcomeOf(() => verifyInclusion(leaf, i, nb, proof, root))).toBe(
            indistinguishable ? 'ok' : 'rejected',
          );
          if (nb > i && nb <= kMax) expectProofInvalid(() => verifyInclusion(leaf, i, nb, proof, rootOfSize(nb)));
        },
      ),
      params,
    );
  });

  it(`every consistency proof verifies, and any one-bit change breaks it (seed ${seed})`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: kMax }).chain((n) => fc.tuple(fc.integer({ min: 1, max: n - 1 }), fc.constant(n))),
        fc.nat(),
        fc.nat(),
        ([m, n], pick, bit) => {
          const proof = consistencyProof(m, n, mem);
          const r1 = rootOfSize(m);
          const r2 = rootOfSize(n);
          verifyConsistency(m, n, proof, r1, r2);
          const j = pick % proof.length;
          const bad = proof.map((h, k) => (k === j ? flipBit(h, bit % 256) : h));
          expectProofInvalid(() => verifyConsistency(m, n, bad, r1, r2));
          expectProofInvalid(() => verifyConsistency(m, n, proof, flipBit(r1, bit % 256), r2));
          expectProofInvalid(() => verifyConsistency(m, n, proof, r1, flipBit(r2, bit % 256)));
          const flip = 1 << ((bit >> 4) % 12);
          const mb = m ^ flip;
          const mSame = mb >= 1 && mb < n && sameShape(consistencyShape(mb, n), consistencyShape(m, n));
          expect(outcomeOf(() => verifyConsistency(mb, n, proof, r1, r2))).toBe(mSame ? 'ok' : 'rejected');
          if (mb >= 1 && mb < n) expectProofInvalid(() => verifyConsistency(mb, n, proof, rootOfSize(mb), r2));
          const nb = n ^ flip;
          const nSame = nb > m && sameShape(consistencyShape(m, nb), consistencyShape(m, n));
          expect(outcomeOf(() => verifyConsistency(m, nb, proof, r1, r2))).toBe(nSame ? 'ok' : 'rejected');
          if (nb > m && nb <= kMax) expectProofInvalid(() => verifyConsistency(m, nb, proof, r1, rootOfSize(nb)));
        },
      ),
      params,
    );
  });

  it('the shape argument is real: index 0 in trees of 6 and 7 leaves has one proof shape', () => {
    expect(inclusionShape(0, 6)).toEqual(inclusionShape(0, 7));
    const proof = inclusionProof(0, 6, mem);
    verifyInclusion(all[0] as Buffer, 0, 7, proof, rootOfSize(6));
    expectProofInvalid(() => verifyInclusion(all[0] as Buffer, 0, 7, proof, rootOfSize(7)));
  });
});
