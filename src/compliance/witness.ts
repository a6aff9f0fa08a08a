/**
 * A C2SP tlog-witness (https://c2sp.org/tlog-witness) and its client.
 *
 * `POST <prefix>/add-checkpoint` with the body
 *
 * ```
 * old <size>\n
 * <base64 consistency proof hash>\n ...   (at most 63; none when old is 0)
 * \n
 * <signed checkpoint note>
 * ```
 *
 * The witness verifies the checkpoint's signature with the log keys it trusts for its origin
 * (404 unknown origin, 403 no valid signature), that `old` is the size it last cosigned for that
 * origin (409, body `<size>\n`, `Content-Type: text/x.tlog.size`), the consistency proof from that
 * size (422), and for an equal size the same root (409: a split view). Only then it stores the new
 * checkpoint durably (temp file, fsync, rename, fsync of the directory) and answers 200 with its
 * `tlog-cosignature/v1` line. Check-and-store runs synchronously, so two requests can never
 * interleave between the check and the store (the rollback race the spec describes).
 *
 * A validly signed checkpoint that fails the consistency check, or has another root at the same
 * size, is evidence that the log key signed two histories: it is kept under `evidence/`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import { cosignCheckpoint, verifyCosignature } from './cosignature.js';
import { kEmptyRoot, verifyConsistency } from './merkle.js';
import {
  appendSignatures,
  decodeBase64Strict,
  Ed25519NoteSigner,
  Ed25519NoteVerifier,
  formatSignatureLine,
  kKeyTypeCosignatureV1,
  kKeyTypeEd25519,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
} from './note.js';

/** Content type of a 409 answer's body (the witness's tree size). */
export const kTlogSizeContentType = 'text/x.tlog.size';
/** Most consistency proof lines a request may carry (spec). */
export const kMaxConsistencyProofLines = 63;
/** Default largest request body a witness reads. */
export const kDefaultWitnessMaxBodyBytes = 64 * 1024;
/** Default timeout of {@link requestCosignature}. */
export const kDefaultWitnessTimeoutMs = 10_000;
/** Most evidence files a witness keeps (a log key holder could otherwise fill the disk). */
const kMaxEvidenceFiles = 1000;

const kStateVersion = 1;
const kUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Request body

/** The parts of an `add-checkpoint` request body. */
export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly consistencyProof: readonly Buffer[];
  /** The signed checkpoint note. */
  readonly checkpointNote: string;
}

/** Formats an `add-checkpoint` request body. Throws `ERR_IRONLOG_INVALID_ARGUMENT` on a bad field. */
export function formatAddCheckpointBody(req: {
  oldSize: number;
  consistencyProof: readonly Uint8Array[];
  checkpointNote: string;
}): string {
  if (!Number.isSafeInteger(req.oldSize) || req.oldSize < 0) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'oldSize must be a non-negative integer');
  }
  if (req.consistencyProof.length > kMaxConsistencyProofLines) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `a consistency proof has at most ${kMaxConsistencyProofLines} hashes`,
    );
  }
  let out = `old ${req.oldSize}\n`;
  for (const h of req.consistencyProof) {
    if (!(h instanceof Uint8Array) || h.length !== 32) {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'every consistency proof hash has 32 bytes');
    }
    out += `${Buffer.from(h).toString('base64')}\n`;
  }
  return `${out}\n${req.checkpointNote}`;
}

/** Parses an `add-checkpoint` request body (layout only). Throws `ERR_IRONLOG_NOTE_FORMAT`. */
export function parseAddCheckpointBody(body: string): AddCheckpointRequest {
  const bad = (why: string): IronlogError => new IronlogError(ErrorCodes.NOTE_FORMAT, `add-checkpoint body: ${why}`);
  let rest = body;
  const nextLine = (): string => {
    const i = rest.indexOf('\n');
    if (i < 0) throw bad('a line does not end with a newline');
    const line = rest.slice(0, i);
    rest = rest.slice(i + 1);
    return line;
  };
  const m = /^old (0|[1-9][0-9]*)$/.exec(nextLine());
  if (!m) throw bad('the first line must be "old <size>" (decimal, no leading zeroes)');
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw bad(`old size ${m[1]} is larger than 2^53 - 1`);
  const consistencyProof: Buffer[] = [];
  for (;;) {
    const line = nextLine();
    if (line === '') break;
    const h = decodeBase64Strict(line);
    if (h === undefined || h.length !== 32)
      throw bad(`proof line ${consistencyProof.length + 1} is not base64 of 32 bytes`);
    consistencyProof.push(h);
    if (consistencyProof.length > kMaxConsistencyProofLines) {
      throw bad(`more than ${kMaxConsistencyProofLines} consistency proof lines`);
    }
  }
  return { oldSize, consistencyProof, checkpointNote: rest };
}

// ---------------------------------------------------------------------------------------------
// The witness

/** What the witness remembers of one log. */
export interface WitnessLogState {
  readonly origin: string;
  /** Size of the latest checkpoint it cosigned. */
  readonly size: number;
  readonly rootHash: Buffer;
  /** That checkpoint as the log signed it. */
  readonly checkpointNote: string;
  /** When it was stored (ms since the epoch). */
  readonly updatedAtMs: number;
}

/** An HTTP answer of the witness. */
export interface WitnessResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Options of {@link Witness.open}. */
export interface WitnessOptions {
  /** Directory of the witness's durable state (created if missing). */
  readonly stateDir: string;
  /** The witness's cosigner key: a signer key string of type 0x04 (`ironlog keygen --cosigner`) or a parsed signer. */
  readonly key: string | NoteSigner;
  /**
   * Verifier keys of the logs it witnesses (type 0x01). A log's origin is its key's name; several
   * keys with one name are all trusted for that origin (key rotation).
   */
  readonly logs: readonly (string | NoteVerifier)[];
  /** Clock in ms since the epoch, for the cosignature timestamps (tests). Default `Date.now`. */
  readonly clock?: () => number;
}

interface StateFile {
  version: number;
  origin: string;
  size: number;
  rootHash: string;
  checkpointNote: string;
  updatedAtMs: number;
}

function text(status: number, body: string, contentType = 'text/plain; charset=utf-8'): WitnessResponse {
  return { status, contentType, body: body.endsWith('\n') ? body : `${body}\n` };
}

function originFileName(origin: string): string {
  return `${createHash('sha256').update(origin, 'utf8').digest('hex')}.json`;
}

/** Writes `file` atomically and durably: temp file, fsync, rename, fsync of the directory. */
function writeFileDurably(file: string, data: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

function ioError(what: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `witness: ${what}: ${(err as Error).message}`, { cause: err });
}

/**
 * The witness logic and its durable state, without HTTP: {@link Witness.addCheckpoint} takes a
 * request body and returns the answer. One instance per state directory (the CLI takes a lock).
 */
export class Witness {
  /** The witness's name (its key name). */
  readonly name: string;
  /** Its cosigner verifier key (type 0x04), for the logs' and auditors' configuration. */
  readonly verifierKey: string;
  readonly #signer: Ed25519NoteSigner;
  readonly #logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly #logsDir: string;
  readonly #evidenceDir: string;
  readonly #clock: () => number;
  readonly #state = new Map<string, WitnessLogState>();

  private constructor(opts: WitnessOptions, signer: Ed25519NoteSigner, logs: Map<string, NoteVerifier[]>) {
    this.#signer = signer;
    this.name = signer.name;
    this.verifierKey = signer.verifierKey;
    this.#logs = logs;
    this.#logsDir = path.join(opts.stateDir, 'logs');
    this.#evidenceDir = path.join(opts.stateDir, 'evidence');
    this.#clock = opts.clock ?? Date.now;
  }

  /** Validates the keys, creates the state directory if needed and loads the state. */
  static open(opts: WitnessOptions): Witness {
    if (typeof opts?.stateDir !== 'string' || opts.stateDir === '') {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.stateDir must be a directory path');
    }
    const signer = typeof opts.key === 'string' ? parseSignerKey(opts.key) : opts.key;
    if (!(signer instanceof Ed25519NoteSigner) || signer.keyType !== kKeyTypeCosignatureV1) {
      throw new IronlogError(
        ErrorCodes.KEY_INVALID,
        'options.key must be a witness cosigner key (type 0x04): create one with `ironlog keygen --name <witness> --cosigner`',
      );
    }
    if (!Array.isArray(opts.logs) || opts.logs.length === 0) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.logs must list at least one log verifier key');
    }
    const logs = new Map<string, NoteVerifier[]>();
    for (const entry of opts.logs) {
      const v = typeof entry === 'string' ? parseVerifierKey(entry) : entry;
      if (v instanceof Ed25519NoteVerifier && v.keyType !== kKeyTypeEd25519) {
        throw new IronlogError(
          ErrorCodes.KEY_INVALID,
          `log key ${v.name} is a cosigner key (0x04), not a log key (0x01)`,
        );
      }
      const list = logs.get(v.name) ?? [];
      if (!list.some((o) => o.keyId.equals(v.keyId))) list.push(v);
      logs.set(v.name, list);
    }
    const w = new Witness(opts, signer, logs);
    w.#load(opts.stateDir);
    return w;
  }

  #load(stateDir: string): void {
    try {
      const created = !fs.existsSync(stateDir);
      fs.mkdirSync(this.#logsDir, { recursive: true });
      fs.mkdirSync(this.#evidenceDir, { recursive: true });
      if (created) fsyncDir(path.dirname(path.resolve(stateDir)));
      fsyncDir(stateDir);
    } catch (err) {
      throw ioError(`cannot create the state directory ${stateDir}`, err);
    }
    let names: string[];
    try {
      names = fs.readdirSync(this.#logsDir);
    } catch (err) {
      throw ioError(`cannot read ${this.#logsDir}`, err);
    }
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const file = path.join(this.#logsDir, name);
      let s: StateFile;
      try {
        s = JSON.parse(fs.readFileSync(file, 'utf8')) as StateFile;
      } catch (err) {
        throw new IronlogError(
          ErrorCodes.WAL_CORRUPT,
          `witness state ${file} is unreadable: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      const rootHash = typeof s.rootHash === 'string' ? decodeBase64Strict(s.rootHash) : undefined;
      if (
        s.version !== kStateVersion ||
        typeof s.origin !== 'string' ||
        originFileName(s.origin) !== name ||
        !Number.isSafeInteger(s.size) ||
        s.size < 0 ||
        rootHash?.length !== 32
      ) {
        throw new IronlogError(ErrorCodes.WAL_CORRUPT, `witness state ${file} is malformed`);
      }
      this.#state.set(s.origin, {
        origin: s.origin,
        size: s.size,
        rootHash,
        checkpointNote: String(s.checkpointNote),
        updatedAtMs: Number(s.updatedAtMs),
      });
    }
  }

  /** The origins this witness accepts checkpoints for. */
  get origins(): string[] {
    return [...this.#logs.keys()];
  }

  /** What the witness last cosigned for `origin`, or undefined. */
  state(origin: string): WitnessLogState | undefined {
    return this.#state.get(origin);
  }

  #persist(s: WitnessLogState): void {
    const file: StateFile = {
      version: kStateVersion,
      origin: s.origin,
      size: s.size,
      rootHash: s.rootHash.toString('base64'),
      checkpointNote: s.checkpointNote,
      updatedAtMs: s.updatedAtMs,
    };
    writeFileDurably(path.join(this.#logsDir, originFileName(s.origin)), `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Keeps a validly signed but inconsistent request: proof that the log key signed two histories. */
  #keepEvidence(origin: string, body: string): void {
    try {
      if (fs.readdirSync(this.#evidenceDir).length >= kMaxEvidenceFiles) return;
      const name = `${originFileName(origin).slice(0, 16)}-${this.#clock()}-${randomBytes(4).toString('hex')}.txt`;
      writeFileDurably(path.join(this.#evidenceDir, name), body);
    } catch {
      // Evidence is best effort (a MAY of the spec); the answer does not depend on it.
    }
  }

  /**
   * Handles one `add-checkpoint` request body. Everything from the check to the durable store
   * runs synchronously. Throws only when the state cannot be stored (`ERR_IRONLOG_IO`): then
   * nothing was cosigned.
   */
  addCheckpoint(body: Uint8Array | string): WitnessResponse {
    let bodyText: string;
    try {
      bodyText = typeof body === 'string' ? body : kUtf8.decode(body);
    } catch {
      return text(400, 'the request body is not valid UTF-8');
    }
    let req: AddCheckpointRequest;
    let checkpoint: Checkpoint;
    let checkpointBody: string;
    try {
      req = parseAddCheckpointBody(bodyText);
      checkpointBody = parseNote(req.checkpointNote).text;
      checkpoint = parseCheckpoint(checkpointBody);
    } catch (err) {
      return text(400, (err as Error).message);
    }
    const keys = this.#logs.get(checkpoint.origin);
    if (keys === undefined) return text(404, `unknown log origin ${JSON.stringify(checkpoint.origin)}`);
    try {
      openNote(req.checkpointNote, keys);
    } catch (err) {
      return text(403, `checkpoint not signed by a trusted key of ${checkpoint.origin}: ${(err as Error).message}`);
    }
    if (req.oldSize > checkpoint.size) {
      return text(400, `old size ${req.oldSize} is above the checkpoint size ${checkpoint.size}`);
    }
    const stored = this.#state.get(checkpoint.origin);
    const storedSize = stored?.size ?? 0;
    if (req.oldSize !== storedSize) return text(409, `${storedSize}`, kTlogSizeContentType);

    if (stored !== undefined && checkpoint.size === stored.size) {
      if (!checkpoint.rootHash.equals(stored.rootHash)) {
        this.#keepEvidence(checkpoint.origin, bodyText);
        return text(
          409,
          `split view: size ${stored.size} was cosigned with root ${stored.rootHash.toString('base64')}, this checkpoint has ${checkpoint.rootHash.toString('base64')}`,
        );
      }
      if (req.consistencyProof.length !== 0) return text(422, 'equal sizes: the consistency proof must be empty');
    } else if (req.oldSize === 0) {
      if (req.consistencyProof.length !== 0) return text(422, 'old size 0: the consistency proof must be empty');
      if (checkpoint.size === 0 && !checkpoint.rootHash.equals(kEmptyRoot)) {
        return text(422, 'the root of the empty tree must be SHA-256("")');
      }
    } else {
      try {
        verifyConsistency(
          req.oldSize,
          checkpoint.size,
          req.consistencyProof,
          (stored as WitnessLogState).rootHash,
          checkpoint.rootHash,
        );
      } catch (err) {
        this.#keepEvidence(checkpoint.origin, bodyText);
        return text(422, `consistency proof from size ${req.oldSize} does not verify: ${(err as Error).message}`);
      }
    }

    const nowMs = this.#clock();
    if (stored === undefined || checkpoint.size !== stored.size) {
      const next: WitnessLogState = {
        origin: checkpoint.origin,
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        checkpointNote: req.checkpointNote,
        updatedAtMs: nowMs,
      };
      try {
        this.#persist(next);
      } catch (err) {
        throw ioError(`cannot store the state of ${checkpoint.origin}`, err);
      }
      this.#state.set(checkpoint.origin, next);
    }
    const sig = cosignCheckpoint(checkpointBody, Math.floor(nowMs / 1000), this.#signer);
    return text(200, formatSignatureLine(sig));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP server

/** A running witness HTTP server. */
export interface WitnessServer {
  /** `http://host:port`: the submission prefix. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish, closes idle connections. */
  close(): Promise<void>;
}

/** Options of {@link startWitnessServer}. */
export interface WitnessServerOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Largest request body in bytes; larger answers 413. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** Called with each request's outcome (for logs). */
  readonly onRequest?: (info: { status: number; origin?: string; message: string }) => void;
}

function send(res: ServerResponse, r: WitnessResponse, extra: Record<string, string> = {}): void {
  res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(r.body), ...extra });
  res.end(r.body);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      total += c.length;
      if (total > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Serves `witness` over HTTP: `POST /add-checkpoint`. */
export async function startWitnessServer(witness: Witness, opts: WitnessServerOptions = {}): Promise<WitnessServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const maxBodyBytes = opts.maxBodyBytes ?? kDefaultWitnessMaxBodyBytes;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.port must be an integer 0-65535');
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.maxBodyBytes must be a positive integer');
  }
  const report = opts.onRequest ?? ((): void => {});
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://witness');
    if (url.pathname !== '/add-checkpoint') {
      send(res, text(404, `no such endpoint ${url.pathname} (POST /add-checkpoint)`));
      return;
    }
    if (req.method !== 'POST') {
      send(res, text(405, 'use POST'), { allow: 'POST' });
      return;
    }
    readBody(req, maxBodyBytes).then(
      (body) => {
        if (body === undefined) {
          send(res, text(413, `request body above ${maxBodyBytes} bytes`));
          return;
        }
        let r: WitnessResponse;
        try {
          r = witness.addCheckpoint(body);
        } catch (err) {
          r = text(500, `witness cannot store its state: ${(err as Error).message}`);
        }
        report({ status: r.status, message: r.body.trimEnd() });
        send(res, r);
      },
      () => {
        res.destroy();
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Client

/** An error answer of a witness, or a failure to reach one. */
export class WitnessError extends IronlogError {
  /** The witness URL (submission prefix). */
  readonly url: string;
  /** HTTP status, when the witness answered. */
  readonly status: number | undefined;
  /** The witness's tree size from a 409 `text/x.tlog.size` answer. */
  readonly witnessSize: number | undefined;

  constructor(
    code:
      | typeof ErrorCodes.WITNESS_CONFLICT
      | typeof ErrorCodes.WITNESS_REJECTED
      | typeof ErrorCodes.WITNESS_UNAVAILABLE,
    message: string,
    info: { url: string; status?: number; witnessSize?: number; cause?: unknown },
  ) {
    super(code, message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'WitnessError';
    this.url = info.url;
    this.status = info.status;
    this.witnessSize = info.witnessSize;
  }
}

/** What to send to a witness. */
export interface CosignatureRequest {
  /** The size of the checkpoint the witness last cosigned (0 the first time). */
  readonly oldSize: number;
  /** RFC 6962 consistency proof from `oldSize` to the checkpoint's size (empty when oldSize is 0). */
  readonly consistencyProof: readonly Uint8Array[];
  /** The log's signed checkpoint note. */
  readonly checkpointNote: string;
  /** Request timeout in ms. Default 10,000. */
  readonly timeoutMs?: number;
  /**
   * The witness's cosigner verifier key: when given, only cosignatures by it that verify are
   * returned, and none is an error. Without it the lines are returned unverified.
   */
  readonly witnessKey?: string | NoteVerifier;
}

/** A witness's answer. */
export interface CosignatureResult {
  /** The cosignature lines (`— <name> <base64>`, without the newline). */
  readonly lines: string[];
  readonly signatures: NoteSignature[];
  /** The checkpoint note with the cosignatures appended. */
  readonly cosignedNote: string;
  /** Timestamp of the witness key's cosignature (POSIX seconds), when `witnessKey` was given. */
  readonly timeSec?: number;
}

/**
 * `POST <witnessUrl>/add-checkpoint`. Resolves with the cosignature lines; rejects with a
 * {@link WitnessError}: `ERR_IRONLOG_WITNESS_CONFLICT` for 409 (`witnessSize` set when the
 * witness sent its size), `ERR_IRONLOG_WITNESS_REJECTED` for 400/403/404/422 (`status` set),
 * `ERR_IRONLOG_WITNESS_UNAVAILABLE` for a network error, a timeout, another status or an answer
 * without a valid cosignature by `witnessKey`.
 */
export async function requestCosignature(witnessUrl: string, req: CosignatureRequest): Promise<CosignatureResult> {
  const timeoutMs = req.timeoutMs ?? kDefaultWitnessTimeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'timeoutMs must be a positive integer');
  }
  const body = formatAddCheckpointBody(req);
  const checkpointBody = parseNote(req.checkpointNote).text;
  parseCheckpoint(checkpointBody);
  const witnessKey = typeof req.witnessKey === 'string' ? parseVerifierKey(req.witnessKey) : req.witnessKey;
  const url = `${witnessUrl.replace(/\/+$/, '')}/add-checkpoint`;
  let status: number;
  let contentType: string;
  let answer: string;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    contentType = res.headers.get('content-type') ?? '';
    answer = await res.text();
  } catch (err) {
    const name = (err as Error)?.name;
    const why =
      name === 'TimeoutError' || name === 'AbortError'
        ? `timed out after ${timeoutMs} ms`
        : String((err as Error)?.message ?? err);
    throw new WitnessError(ErrorCodes.WITNESS_UNAVAILABLE, `witness ${witnessUrl}: ${why}`, {
      url: witnessUrl,
      cause: err,
    });
  }
  const detail = answer.trim().slice(0, 300);
  if (status === 409) {
    if (contentType.split(';')[0]?.trim() === kTlogSizeContentType) {
      const m = /^(0|[1-9][0-9]*)\n?$/.exec(answer);
      const size = m ? Number(m[1]) : Number.NaN;
      if (!Number.isSafeInteger(size)) {
        throw new WitnessError(ErrorCodes.WITNESS_UNAVAILABLE, `witness ${witnessUrl}: 409 with a malformed size`, {
          url: witnessUrl,
          status,
        });
      }
      throw new WitnessError(
        ErrorCodes.WITNESS_CONFLICT,
        `witness ${witnessUrl}: last cosigned size is ${size}, not ${req.oldSize}`,
        { url: witnessUrl, status, witnessSize: size },
      );
    }
    throw new WitnessError(ErrorCodes.WITNESS_CONFLICT, `witness ${witnessUrl}: 409 ${detail}`, {
      url: witnessUrl,
      status,
    });
  }
  if (status === 400 || status === 403 || status === 404 || status === 422) {
    throw new WitnessError(ErrorCodes.WITNESS_REJECTED, `witness ${witnessUrl}: ${status} ${detail}`, {
      url: witnessUrl,
      status,
    });
  }
  if (status !== 200) {
    throw new WitnessError(ErrorCodes.WITNESS_UNAVAILABLE, `witness ${witnessUrl}: ${status} ${detail}`, {
      url: witnessUrl,
      status,
    });
  }
  let signatures: NoteSignature[];
  try {
    // The answer is signature lines only: parse them as the signature block of a note.
    signatures = parseNote(`x\n\n${answer}`).signatures;
  } catch (err) {
    throw new WitnessError(
      ErrorCodes.WITNESS_UNAVAILABLE,
      `witness ${witnessUrl}: malformed answer: ${(err as Error).message}`,
      {
        url: witnessUrl,
        status,
        cause: err,
      },
    );
  }
  let timeSec: number | undefined;
  if (witnessKey !== undefined) {
    const mine = signatures.filter((s) => s.name === witnessKey.name && s.keyId.equals(witnessKey.keyId));
    const valid: NoteSignature[] = [];
    for (const s of mine) {
      try {
        timeSec = verifyCosignature(checkpointBody, s, witnessKey).timeSec;
        valid.push(s);
      } catch (err) {
        throw new WitnessError(
          ErrorCodes.WITNESS_UNAVAILABLE,
          `witness ${witnessUrl}: invalid cosignature: ${(err as Error).message}`,
          { url: witnessUrl, status, cause: err },
        );
      }
    }
    if (valid.length === 0) {
      throw new WitnessError(
        ErrorCodes.WITNESS_UNAVAILABLE,
        `witness ${witnessUrl}: no cosignature by ${witnessKey.name}+${witnessKey.keyId.toString('hex')}`,
        { url: witnessUrl, status },
      );
    }
    signatures = valid;
  }
  const lines = signatures.map((s) => formatSignatureLine(s).slice(0, -1));
  const cosignedNote = appendSignatures(req.checkpointNote, signatures);
  return timeSec === undefined ? { lines, signatures, cosignedNote } : { lines, signatures, cosignedNote, timeSec };
}

/** What {@link obtainCosignature} needs. */
export interface ObtainCosignatureOptions {
  readonly checkpointNote: string;
  /** The size the log believes the witness last cosigned (0 when unknown). */
  readonly oldSize: number;
  /** Consistency proof from `fromSize` to the checkpoint's size (called again after a 409). */
  readonly proveFrom: (fromSize: number) => readonly Uint8Array[];
  readonly witnessKey?: string | NoteVerifier;
  readonly timeoutMs?: number;
}

/**
 * {@link requestCosignature}, retried once after a 409 that gives the witness's size (a log
 * restarted, or the witness cosigned a later checkpoint through another path), as the spec
 * suggests. A witness size above the checkpoint's is not retried.
 */
export async function obtainCosignature(
  witnessUrl: string,
  opts: ObtainCosignatureOptions,
): Promise<CosignatureResult> {
  const size = parseCheckpoint(parseNote(opts.checkpointNote).text).size;
  const send = (oldSize: number): Promise<CosignatureResult> =>
    requestCosignature(witnessUrl, {
      oldSize,
      consistencyProof: oldSize === 0 || oldSize === size ? [] : opts.proveFrom(oldSize),
      checkpointNote: opts.checkpointNote,
      ...(opts.witnessKey !== undefined ? { witnessKey: opts.witnessKey } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  try {
    return await send(opts.oldSize);
  } catch (err) {
    if (
      err instanceof WitnessError &&
      err.code === ErrorCodes.WITNESS_CONFLICT &&
      err.witnessSize !== undefined &&
      err.witnessSize !== opts.oldSize &&
      err.witnessSize <= size
    ) {
      return await send(err.witnessSize);
    }
    throw err;
  }
}

/** One witness a log asks for cosignatures. */
export interface WitnessEndpoint {
  /** Submission prefix, e.g. `http://witness.example:8081`. */
  readonly url: string;
  /** The witness's cosigner verifier key (type 0x04). */
  readonly key: string | NoteVerifier;
  /** The size this witness last cosigned, as the log remembers it (0 when unknown). */
  readonly oldSize?: number;
}

/** The outcome of {@link cosignWithQuorum}. */
export interface QuorumResult {
  /** The checkpoint note with every valid cosignature appended. */
  readonly cosignedNote: string;
  /** The witnesses that cosigned (the log should remember `size` as their new old size). */
  readonly cosigned: readonly { url: string; name: string; timeSec: number; size: number }[];
  /** The witnesses that did not, with the reason. */
  readonly failed: readonly { url: string; error: IronlogError }[];
}

/**
 * Asks every witness in parallel ({@link obtainCosignature}, so a stale old size is corrected
 * once) and resolves when at least `quorum` returned a valid cosignature by their key; rejects
 * with `ERR_IRONLOG_WITNESS_QUORUM` (listing each failure) otherwise.
 */
export async function cosignWithQuorum(
  checkpointNote: string,
  witnesses: readonly WitnessEndpoint[],
  opts: { quorum: number; proveFrom: (fromSize: number) => readonly Uint8Array[]; timeoutMs?: number },
): Promise<QuorumResult> {
  if (!Number.isSafeInteger(opts.quorum) || opts.quorum < 0 || opts.quorum > witnesses.length) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `quorum must be an integer from 0 to the number of witnesses (${witnesses.length})`,
    );
  }
  const size = parseCheckpoint(parseNote(checkpointNote).text).size;
  const keys = witnesses.map((w) => (typeof w.key === 'string' ? parseVerifierKey(w.key) : w.key));
  const settled = await Promise.allSettled(
    witnesses.map((w, i) =>
      obtainCosignature(w.url, {
        checkpointNote,
        oldSize: w.oldSize ?? 0,
        proveFrom: opts.proveFrom,
        witnessKey: keys[i] as NoteVerifier,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      }),
    ),
  );
  const cosigned: { url: string; name: string; timeSec: number; size: number }[] = [];
  const failed: { url: string; error: IronlogError }[] = [];
  const signatures: NoteSignature[] = [];
  settled.forEach((s, i) => {
    const w = witnesses[i] as WitnessEndpoint;
    if (s.status === 'fulfilled') {
      signatures.push(...s.value.signatures);
      cosigned.push({ url: w.url, name: (keys[i] as NoteVerifier).name, timeSec: s.value.timeSec ?? 0, size });
    } else {
      const error =
        s.reason instanceof IronlogError
          ? s.reason
          : new IronlogError(ErrorCodes.WITNESS_UNAVAILABLE, `witness ${w.url}: ${String(s.reason)}`, {
              cause: s.reason,
            });
      failed.push({ url: w.url, error });
    }
  });
  if (cosigned.length < opts.quorum) {
    const why = failed.map((f) => `${f.url}: ${f.error.code}: ${f.error.message}`).join('; ');
    throw new IronlogError(
      ErrorCodes.WITNESS_QUORUM,
      `${cosigned.length} of ${witnesses.length} witnesses cosigned, quorum is ${opts.quorum} (${why})`,
    );
  }
  return { cosignedNote: appendSignatures(checkpointNote, signatures), cosigned, failed };
}
