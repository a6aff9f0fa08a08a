/**
 * C2SP tlog-checkpoint note bodies (https://c2sp.org/tlog-checkpoint):
 *
 * ```
 * <origin>\n
 * <tree size, decimal, no leading zeroes>\n
 * <base64 of the 32-byte RFC 6962 root hash>\n
 * [<extension line>\n ...]
 * ```
 *
 * The body is the text of a signed note (see note.ts); time is kept out of it (ironlog attests time
 * in a separately signed note, as the spec recommends).
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { decodeBase64Strict } from './note.js';

/** A parsed checkpoint body. */
export interface Checkpoint {
  /** The log identity (first line); by convention the log's key name too. */
  readonly origin: string;
  /** Number of leaves in the tree. */
  readonly size: number;
  /** The 32-byte RFC 6962 Merkle tree hash at `size`. */
  readonly rootHash: Buffer;
  /** Opaque extension lines (non-empty each); ironlog writes none. */
  readonly extensions: readonly string[];
}

/** Bytes of a SHA-256 root hash. */
const kRootHashBytes = 32;

// biome-ignore lint/suspicious/noControlCharactersInRegex: a checkpoint line holds no control character.
const kLineControlRe = /[\u0000-\u001f]/;

function formatError(message: string): IronlogError {
  return new IronlogError(ErrorCodes.NOTE_FORMAT, `checkpoint: ${message}`);
}

function checkLine(line: string, what: string): void {
  if (line.length === 0) throw formatError(`the ${what} must not be empty`);
  if (kLineControlRe.test(line)) throw formatError(`the ${what} contains a newline or control character`);
  if (!line.isWellFormed()) throw formatError(`the ${what} is not valid UTF-8`);
}

/** Formats a checkpoint body (the text to sign). Throws `ERR_IRONLOG_NOTE_FORMAT` on a bad field. */
export function formatCheckpoint(c: Checkpoint): string {
  checkLine(c.origin, 'origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw formatError('the size must be a non-negative safe integer');
  if (!(c.rootHash instanceof Uint8Array) || c.rootHash.length !== kRootHashBytes) {
    throw formatError(`the root hash must have ${kRootHashBytes} bytes`);
  }
  let out = `${c.origin}\n${c.size}\n${Buffer.from(c.rootHash).toString('base64')}\n`;
  for (const ext of c.extensions) {
    checkLine(ext, 'extension line');
    out += `${ext}\n`;
  }
  return out;
}

/**
 * Parses a checkpoint body (the text of the signed note, final newline included). Sizes above
 * 2^53 - 1 are refused (JavaScript numbers). Throws `ERR_IRONLOG_NOTE_FORMAT`.
 */
export function parseCheckpoint(body: string): Checkpoint {
  if (typeof body !== 'string' || !body.endsWith('\n')) throw formatError('the body must end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw formatError('a checkpoint has at least three lines (origin, size, root hash)');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, 'origin');
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText)) {
    throw formatError(
      `the size line must be a decimal number without leading zeroes, got ${JSON.stringify(sizeText.slice(0, 40))}`,
    );
  }
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw formatError(`the size ${sizeText} is larger than 2^53 - 1`);
  const rootHash = decodeBase64Strict(rootText);
  if (rootHash === undefined || rootHash.length !== kRootHashBytes) {
    throw formatError(`the root hash line must be base64 of ${kRootHashBytes} bytes`);
  }
  for (const ext of extensions) checkLine(ext, 'extension line');
  return { origin, size, rootHash, extensions };
}
