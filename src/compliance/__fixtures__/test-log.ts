/**
 * A small in-memory transparency log for tests of the witness and its clients: RFC 6962 tree,
 * signed checkpoints, consistency proofs. Not part of the library's API.
 */
import { createHash } from 'node:crypto';
import { formatCheckpoint } from '../checkpoint.js';
import { consistencyProof, leafHash, MemoryHashSource, rootAt } from '../merkle.js';
import { generateSignerKey, type NoteKeyPair, parseSignerKey, signNote } from '../note.js';

/** @internal A log of `origin` whose entries are `entry-<i>` (or whatever `append` is given). */
export class TestLog {
  readonly origin: string;
  readonly keys: NoteKeyPair;
  readonly #src = new MemoryHashSource();

  constructor(origin: string, keys: NoteKeyPair = generateSignerKey(origin)) {
    this.origin = origin;
    this.keys = keys;
  }

  get size(): number {
    return this.#src.size;
  }

  /** Appends `n` entries named with `tag` (a different tag gives a different history). */
  append(n: number, tag = 'entry'): this {
    for (let i = 0; i < n; i++) this.#src.push(leafHash(Buffer.from(`${tag}-${this.#src.size}`)));
    return this;
  }

  root(size = this.size): Buffer {
    return size === 0 ? createHash('sha256').digest() : rootAt(size, this.#src);
  }

  body(size = this.size): string {
    return formatCheckpoint({ origin: this.origin, size, rootHash: this.root(size), extensions: [] });
  }

  /** The checkpoint at `size`, signed with the log key (or `signerKey`). */
  checkpoint(size = this.size, signerKey = this.keys.signerKey): string {
    return signNote(this.body(size), [parseSignerKey(signerKey)]);
  }

  proof(from: number, to = this.size): Buffer[] {
    return from === 0 || from === to ? [] : consistencyProof(from, to, this.#src);
  }
}
