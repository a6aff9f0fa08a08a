/**
 * The checkpointer's side of witnessing: after each checkpoint, ask every configured witness
 * (C2SP tlog-witness `add-checkpoint`) for a cosignature, in parallel, each from the size it last
 * cosigned (`obtainCosignature` corrects a stale size once after a 409 and keeps only a
 * cosignature that verifies with the witness's key). Unlike `cosignWithQuorum`, cosignatures are
 * kept below the quorum too, and every failure is reported, never thrown at the caller:
 * witnessing must not stop the log.
 */
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { type NoteVerifier, parseVerifierKey } from './note.js';
import { obtainCosignature } from './witness.js';

/** What `sink.checkpointStatus()` says about one witness. */
export interface WitnessStatus {
  readonly url: string;
  readonly name: string;
  /** Largest checkpoint size the witness cosigned (0 before the first). */
  readonly cosignedSize: number;
  /** The last failure, cleared by the next success. */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
}

interface WitnessState {
  readonly url: string;
  readonly verifier: NoteVerifier;
  /** The size the witness is believed to have cosigned last (what `old` must say). */
  knownSize: number;
  cosignedSize: number;
  lastError: IronlogError | undefined;
}

/** The witnesses of one log. */
export class WitnessPool {
  readonly #states: WitnessState[];
  readonly #quorum: number;
  readonly #timeoutMs: number;
  /** Called for every failure (one witness, or the quorum). */
  onError: (error: IronlogError, url: string | undefined) => void = () => {};

  constructor(witnesses: readonly { readonly url: string; readonly key: string }[], quorum: number, timeoutMs: number) {
    this.#states = witnesses.map((w) => ({
      url: w.url,
      verifier: parseVerifierKey(w.key),
      knownSize: 0,
      cosignedSize: 0,
      lastError: undefined,
    }));
    this.#quorum = quorum;
    this.#timeoutMs = timeoutMs;
  }

  get size(): number {
    return this.#states.length;
  }

  status(): WitnessStatus[] {
    return this.#states.map((s) => ({
      url: s.url,
      name: s.verifier.name,
      cosignedSize: s.cosignedSize,
      lastError: s.lastError ? { code: s.lastError.code, message: s.lastError.message } : undefined,
    }));
  }

  /** Reports a failure to store the cosignatures (they were received but not written). */
  reportStoreError(err: IronlogError): void {
    this.onError(err, undefined);
  }

  /**
   * Asks every witness to cosign `note` (a checkpoint of `size`); `proofFrom(oldSize)` gives the
   * consistency proof from a size. Returns the verified cosignature lines (possibly fewer than the
   * quorum: that is reported through {@link onError}).
   */
  async cosign(note: string, size: number, proofFrom: (oldSize: number) => Buffer[]): Promise<string[]> {
    const results = await Promise.all(this.#states.map((s) => this.#one(s, note, size, proofFrom)));
    const lines = results.flat();
    const cosigned = results.filter((r) => r.length > 0).length;
    if (cosigned < this.#quorum) {
      this.onError(
        new IronlogError(
          ErrorCodes.WITNESS_QUORUM,
          `checkpoint of size ${size}: ${cosigned} of ${this.#states.length} witnesses cosigned, ${this.#quorum} required`,
        ),
        undefined,
      );
    }
    return lines;
  }

  async #one(s: WitnessState, note: string, size: number, proofFrom: (oldSize: number) => Buffer[]): Promise<string[]> {
    try {
      const r = await obtainCosignature(s.url, {
        checkpointNote: note,
        oldSize: Math.min(s.knownSize, size),
        proveFrom: proofFrom,
        witnessKey: s.verifier,
        timeoutMs: this.#timeoutMs,
      });
      s.knownSize = size;
      s.cosignedSize = Math.max(s.cosignedSize, size);
      s.lastError = undefined;
      return r.lines;
    } catch (err) {
      const e = isIronlogError(err)
        ? err
        : new IronlogError(ErrorCodes.WITNESS_UNAVAILABLE, `witness ${s.url}: ${String(err)}`, { cause: err });
      s.lastError = e;
      this.onError(e, s.url);
      return [];
    }
  }
}
