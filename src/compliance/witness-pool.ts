/**
 * The checkpointer's side of witnessing: after each checkpoint, ask every configured witness
 * (C2SP tlog-witness `add-checkpoint`) for a cosignature, in parallel, each with the consistency
 * proof from the size it last saw. A witness that answers 409 names its size: the request is
 * retried once from there. Every cosignature received is verified with the witness's key before it
 * is kept. Failures are reported, never thrown at the caller: witnessing must not stop the log.
 */
import { ErrorCodes, IronlogError, isIronlogError } from '../core/errors.js';
import { verifyCosignature } from './cosignature.js';
import { type NoteVerifier, parseNote, parseVerifierKey } from './note.js';
import { requestCosignature } from './witness.js';

/** One `add-checkpoint` request. */
export interface WitnessRequest {
  readonly oldSize: number;
  readonly consistencyProof: readonly Buffer[];
  readonly checkpointNote: string;
  readonly timeoutMs: number;
}

/** How the pool talks to a witness: returns the cosignature line(s) (`— <name> <base64>`). */
export interface WitnessClient {
  addCheckpoint(url: string, request: WitnessRequest): Promise<readonly string[]>;
}

/** What `sink.checkpointStatus()` says about one witness. */
export interface WitnessStatus {
  readonly url: string;
  readonly name: string;
  /** Largest checkpoint size the witness cosigned (0 before the first). */
  readonly cosignedSize: number;
  /** Counter-free summary of the last failure, cleared by the next success. */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
}

interface WitnessState {
  readonly url: string;
  readonly verifier: NoteVerifier;
  /** The size the witness is believed to have seen (what `old` must say). */
  knownSize: number;
  cosignedSize: number;
  lastError: IronlogError | undefined;
}

const kDefaultClient: WitnessClient = {
  async addCheckpoint(url, request) {
    return (await requestCosignature(url, request)).lines;
  },
};

/** The size a witness reported with a 409, when the error carries one. */
function conflictSize(err: unknown): number | undefined {
  const size =
    (err as { witnessSize?: unknown; size?: unknown } | null)?.witnessSize ?? (err as { size?: unknown } | null)?.size;
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}

/** The witnesses of one log. */
export class WitnessPool {
  readonly #states: WitnessState[];
  readonly #quorum: number;
  readonly #timeoutMs: number;
  readonly #client: WitnessClient;
  /** Called for every failure (one witness, or the quorum). */
  onError: (error: IronlogError, url: string | undefined) => void = () => {};

  constructor(
    witnesses: readonly { readonly url: string; readonly key: string }[],
    quorum: number,
    timeoutMs: number,
    client: WitnessClient = kDefaultClient,
  ) {
    this.#states = witnesses.map((w) => ({
      url: w.url,
      verifier: parseVerifierKey(w.key),
      knownSize: 0,
      cosignedSize: 0,
      lastError: undefined,
    }));
    this.#quorum = quorum;
    this.#timeoutMs = timeoutMs;
    this.#client = client;
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
    const body = parseNote(note).text;
    const results = await Promise.all(this.#states.map((s) => this.#one(s, note, body, size, proofFrom)));
    const lines = results.filter((l): l is string => l !== undefined);
    if (lines.length < this.#quorum) {
      this.onError(
        new IronlogError(
          ErrorCodes.WITNESS_QUORUM,
          `checkpoint of size ${size}: ${lines.length} of ${this.#states.length} witnesses cosigned, ${this.#quorum} required`,
        ),
        undefined,
      );
    }
    return lines;
  }

  async #one(
    s: WitnessState,
    note: string,
    body: string,
    size: number,
    proofFrom: (oldSize: number) => Buffer[],
  ): Promise<string | undefined> {
    const attempt = async (oldSize: number): Promise<readonly string[]> =>
      this.#client.addCheckpoint(s.url, {
        oldSize,
        consistencyProof: proofFrom(oldSize),
        checkpointNote: note,
        timeoutMs: this.#timeoutMs,
      });
    try {
      let lines: readonly string[];
      try {
        lines = await attempt(Math.min(s.knownSize, size));
      } catch (err) {
        const witnessSize = conflictSize(err);
        if (witnessSize === undefined || witnessSize > size) throw err;
        s.knownSize = witnessSize;
        lines = await attempt(witnessSize);
      }
      const line = this.#verified(s, note, body, lines);
      s.knownSize = size;
      s.cosignedSize = Math.max(s.cosignedSize, size);
      s.lastError = undefined;
      return line;
    } catch (err) {
      const e = isIronlogError(err)
        ? err
        : new IronlogError(ErrorCodes.WITNESS_QUORUM, `witness ${s.url}: ${String(err)}`, { cause: err });
      s.lastError = e;
      this.onError(e, s.url);
      return undefined;
    }
  }

  /** The one line among `lines` that is a valid cosignature of `body` by this witness. */
  #verified(s: WitnessState, note: string, body: string, lines: readonly string[]): string {
    for (const line of lines) {
      let sigs: ReturnType<typeof parseNote>['signatures'];
      try {
        sigs = parseNote(`${note}${line}\n`).signatures;
      } catch {
        continue;
      }
      const sig = sigs.find((g) => g.name === s.verifier.name && g.keyId.equals(s.verifier.keyId));
      if (sig === undefined) continue;
      verifyCosignature(body, sig, s.verifier);
      return line;
    }
    throw new IronlogError(
      ErrorCodes.SIGNATURE_INVALID,
      `witness ${s.url} returned no cosignature by its key ${s.verifier.name}`,
    );
  }
}
