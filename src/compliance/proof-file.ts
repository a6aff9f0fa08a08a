/**
 * C2SP tlog-proof@v1 text files (https://c2sp.org/tlog-proof), extension `.tlog-proof`:
 *
 * ```
 * c2sp.org/tlog-proof@v1\n
 * [extra <base64>\n]            opaque, unauthenticated
 * index <leaf index, decimal>\n
 * <base64 hash>\n ...            RFC 6962 inclusion proof, leaf's sibling first
 * \n
 * <signed checkpoint note, verbatim (log signature and any cosignatures)>
 * ```
 *
 * Parsing checks the layout only; verifying the proof against a key is the caller's job.
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { parseCheckpoint } from './checkpoint.js';
import { decodeBase64Strict, parseNote } from './note.js';

/** First line of every tlog-proof@v1 file. */
export const kTlogProofHeader = 'c2sp.org/tlog-proof@v1';

/** Most hashes an inclusion proof can have in a tree of at most 2^63 leaves. */
const kMaxProofHashes = 63;

/** A parsed tlog-proof. */
export interface TlogProof {
  /** Zero-based index of the entry in the log. */
  readonly index: number;
  /** The inclusion proof, leaf's sibling first, 32 bytes each. */
  readonly hashes: readonly Buffer[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
  /** Opaque extra data (not authenticated). */
  readonly extra?: Buffer;
}

function proofError(message: string): IronlogError {
  return new IronlogError(ErrorCodes.PROOF_FORMAT, `tlog-proof: ${message}`);
}

function checkCheckpointNote(note: string): void {
  try {
    parseCheckpoint(parseNote(note).text);
  } catch (err) {
    throw new IronlogError(
      ErrorCodes.PROOF_FORMAT,
      `tlog-proof: the checkpoint is not a signed checkpoint note: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Formats a tlog-proof file. Throws `ERR_IRONLOG_PROOF_FORMAT` on a bad field. */
export function formatTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw proofError('index must be a non-negative safe integer');
  if (p.hashes.length > kMaxProofHashes) throw proofError(`an inclusion proof has at most ${kMaxProofHashes} hashes`);
  checkCheckpointNote(p.checkpoint);
  let out = `${kTlogProofHeader}\n`;
  if (p.extra !== undefined) out += `extra ${Buffer.from(p.extra).toString('base64')}\n`;
  out += `index ${p.index}\n`;
  for (const h of p.hashes) {
    if (!(h instanceof Uint8Array) || h.length !== 32) throw proofError('every proof hash has 32 bytes');
    out += `${Buffer.from(h).toString('base64')}\n`;
  }
  return `${out}\n${p.checkpoint}`;
}

/** Parses a tlog-proof file. Throws `ERR_IRONLOG_PROOF_FORMAT`. */
export function parseTlogProof(text: string): TlogProof {
  if (typeof text !== 'string') throw proofError('the proof must be text');
  let rest = text;
  const nextLine = (what: string): string => {
    const i = rest.indexOf('\n');
    if (i < 0) throw proofError(`missing newline after the ${what}`);
    const line = rest.slice(0, i);
    rest = rest.slice(i + 1);
    return line;
  };
  if (nextLine('header') !== kTlogProofHeader) throw proofError(`the first line must be ${kTlogProofHeader}`);
  let line = nextLine('second line');
  let extra: Buffer | undefined;
  if (line.startsWith('extra ')) {
    const b64 = line.slice('extra '.length);
    extra = decodeBase64Strict(b64);
    if (extra === undefined) throw proofError('the extra line is not valid base64');
    line = nextLine('extra line');
  }
  const m = /^index (0|[1-9][0-9]*)$/.exec(line);
  if (!m) throw proofError('expected "index <decimal, no leading zeroes>"');
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) throw proofError(`index ${m[1]} is larger than 2^53 - 1`);
  const hashes: Buffer[] = [];
  for (;;) {
    line = nextLine('inclusion proof');
    if (line === '') break;
    const h = decodeBase64Strict(line);
    if (h === undefined || h.length !== 32)
      throw proofError(`proof line ${hashes.length + 1} is not base64 of 32 bytes`);
    hashes.push(h);
    if (hashes.length > kMaxProofHashes) throw proofError(`an inclusion proof has at most ${kMaxProofHashes} hashes`);
  }
  checkCheckpointNote(rest);
  return extra === undefined ? { index, hashes, checkpoint: rest } : { index, hashes, checkpoint: rest, extra };
}
