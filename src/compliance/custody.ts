/**
 * Chain of custody: an append-only log of every action taken on a WAL (verify, replay, export,
 * recover, prove, checkpoint, hold, erase, delete), one JSON entry per line, hash-chained
 * (each entry carries the SHA-256 of the previous entry's line) and, with a key, each entry
 * signed as a C2SP signed note (Ed25519). The format is specified field by field in
 * `docs/compliance/integrity.md` ("Chain of custody").
 *
 * Appends are durable (`O_APPEND` write, `fdatasync`, directory fsync when the file or its
 * directory is created) and serialized across processes by `custody-lock.ts`.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError, isIronlogError } from '../core/errors.js';
import { fsyncDir } from '../wal/fs.js';
import { acquireCustodyLock } from './custody-lock.js';
import {
  type Ed25519NoteSigner,
  kKeyTypeEd25519,
  type NoteVerifier,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from './note.js';

/** File name of the custody log inside its directory. */
export const kCustodyLogName = 'custody.log';
/** Name of the custody directory inside a WAL directory (the default location). */
export const kCustodyDirName = 'custody';
/** Version of the entry format (`v` of every entry). */
export const kCustodyFormatVersion = 1;
/** The text whose SHA-256 the first entry's `prev` carries. */
export const kCustodyGenesisText = 'ironlog custody log v1\n';
/** `prev` of entry 1: hex SHA-256 of {@link kCustodyGenesisText}. */
export const kCustodyGenesis = createHash('sha256').update(kCustodyGenesisText).digest('hex');
const kMaxMessageChars = 300;

/** What was done. `custody-off` notes that an action ran with custody turned off. */
export type CustodyAction =
  | 'verify'
  | 'replay'
  | 'export'
  | 'recover'
  | 'prove'
  | 'checkpoint'
  | 'hold'
  | 'release-hold'
  | 'erase'
  | 'delete'
  | 'custody-off';

/** The part of the log an action touched, when it was given (absent fields: not restricted). */
export interface CustodyRange {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** ISO 8601 start time (inclusive). */
  readonly from?: string;
  /** ISO 8601 end time (exclusive). */
  readonly to?: string;
  /** One record (prove). */
  readonly seq?: number;
  /** Tree sizes of a consistency proof. */
  readonly fromSize?: number;
  readonly toSize?: number;
}

/** How the action ended. */
export interface CustodyResult {
  /** `ok`, `problems` (it ran and found damage: verify exit 1), `error` (it failed), `off` (custody-off). */
  readonly status: 'ok' | 'problems' | 'error' | 'off';
  /** Error code (`ERR_IRONLOG_*` or an errno code) when `status` is `error`. */
  readonly code?: string;
  /** First 300 characters of the error message. */
  readonly message?: string;
  /** Number of problems found (verify). */
  readonly problems?: number;
  /** Records returned (replay, export) or recovered. */
  readonly records?: number;
  /** The CLI's exit code. */
  readonly exitCode?: number;
}

/** Extra, action-specific facts: an output path, the action that ran with custody off, ... */
export type CustodyDetails = Readonly<Record<string, string | number | boolean>>;

/** One entry of the custody log, as stored (fields in this order; absent optional ones omitted). */
export interface CustodyEntry {
  readonly v: 1;
  readonly seq: number;
  /** ISO 8601 UTC, milliseconds. */
  readonly time: string;
  /** Who: `--actor` / `custody.actor`, else the OS user. */
  readonly actor: string;
  /** The OS user the process ran as (always recorded, whatever `actor` says). */
  readonly osUser: string;
  readonly action: CustodyAction;
  /** Absolute WAL directory, or the source URL (secrets in its query removed). */
  readonly target: string;
  readonly range?: CustodyRange;
  readonly details?: CustodyDetails;
  readonly result: CustodyResult;
  readonly tool: { readonly name: 'ironlog'; readonly version: string };
  readonly host: string;
  readonly pid: number;
  /** `cli` (the ironlog command) or `library` (the API). */
  readonly via: 'cli' | 'library';
  /** A torn last line (an append interrupted by a crash) that this append cut: its size and SHA-256. */
  readonly torn?: { readonly bytes: number; readonly sha256: string };
  /** Hex SHA-256 of the previous entry's line (its bytes without the newline); entry 1: {@link kCustodyGenesis}. */
  readonly prev: string;
  /** `<key name> <base64(key id || Ed25519 signature)>`: the signature line of the signed note of this line without `sig`. */
  readonly sig?: string;
}

/** What an action supplies; the log adds seq, time, tool, host, pid, prev and sig. */
export interface CustodyDraft {
  readonly actor: string;
  readonly action: CustodyAction;
  readonly target: string;
  readonly range?: CustodyRange;
  readonly details?: CustodyDetails;
  readonly result: CustodyResult;
  readonly via: 'cli' | 'library';
}

let cachedVersion: string | undefined;
/** The ironlog version (package.json). */
export function toolVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

/** The OS user name (`os.userInfo()`), or `uid:<n>` where the user has no name (containers). */
export function osUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return typeof process.getuid === 'function' ? `uid:${process.getuid()}` : 'unknown';
  }
}

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function io(message: string, err: unknown): IronlogError {
  return new IronlogError(ErrorCodes.IO, `${message}: ${errnoCode(err) ?? (err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/** The result of a failed action: its code and (shortened) message. */
export function errorResult(err: unknown): CustodyResult {
  const code = isIronlogError(err) ? err.code : (errnoCode(err) ?? 'ERR_UNKNOWN');
  const message = String((err as Error)?.message ?? err).slice(0, kMaxMessageChars);
  return { status: 'error', code, message };
}

/** Builds the line of an entry (without newline), signing it when `signer` is given. */
export function formatCustodyLine(
  draft: CustodyDraft,
  seq: number,
  prev: string,
  signer: Ed25519NoteSigner | undefined,
  extra: { timeMs?: number; torn?: CustodyEntry['torn'] } = {},
): string {
  // Built field by field: the order is part of the format.
  const entry: { -readonly [K in keyof CustodyEntry]?: CustodyEntry[K] } = {
    v: kCustodyFormatVersion,
    seq,
    time: new Date(extra.timeMs ?? Date.now()).toISOString(),
    actor: draft.actor,
    osUser: osUserName(),
    action: draft.action,
    target: draft.target,
  };
  if (draft.range !== undefined && Object.keys(draft.range).length > 0) entry.range = draft.range;
  if (draft.details !== undefined && Object.keys(draft.details).length > 0) entry.details = draft.details;
  entry.result = draft.result;
  entry.tool = { name: 'ironlog', version: toolVersion() };
  entry.host = os.hostname();
  entry.pid = process.pid;
  entry.via = draft.via;
  if (extra.torn !== undefined) entry.torn = extra.torn;
  entry.prev = prev;
  const body = JSON.stringify(entry);
  if (signer === undefined) return body;
  const note = signNote(`${body}\n`, [signer]);
  // The note ends with "— <name> <base64>\n": keep that line without the dash and the newline.
  const sigLine = note.slice(note.lastIndexOf('\n', note.length - 2) + 1, -1);
  entry.sig = sigLine.replace(/^— /, '');
  return JSON.stringify(entry);
}

/**
 * A signer key for custody entries (text or `{ file }`): an Ed25519 note key (type 0x01).
 * Throws `ERR_IRONLOG_KEY_INVALID` for anything else (a cosigner key, a verifier key).
 */
export function loadCustodySigner(key: string | { readonly file: string }, what: string): Ed25519NoteSigner {
  let text: string;
  if (typeof key === 'string') {
    text = key;
  } else {
    try {
      text = fs.readFileSync(key.file, 'utf8');
    } catch (err) {
      throw io(`${what}: cannot read ${key.file}`, err);
    }
  }
  const signer = parseSignerKey(text.trim());
  if (signer.keyType !== kKeyTypeEd25519) {
    throw new IronlogError(
      ErrorCodes.KEY_INVALID,
      `${what}: ${signer.name} is a witness cosigner key (type 0x04); custody entries are signed with a log signing key (ironlog keygen without --cosigner)`,
    );
  }
  return signer;
}

/** Reads `length` bytes at `position`. */
function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** The last complete line of the log (without newline) and the offset where complete lines end. */
function readTail(fd: number, size: number): { last: Buffer | undefined; end: number } {
  let window = Math.min(size, 64 * 1024);
  for (;;) {
    const start = size - window;
    const buf = readAt(fd, start, window);
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl >= 0) {
      const prevNl = buf.lastIndexOf(0x0a, lastNl - 1);
      if (prevNl >= 0 || start === 0) {
        return { last: buf.subarray(prevNl + 1, lastNl), end: start + lastNl + 1 };
      }
    } else if (start === 0) {
      return { last: undefined, end: 0 }; // no complete line at all
    }
    window = Math.min(size, window * 2);
  }
}

/**
 * Appends one entry to the custody log in `dir` (created with its directory if missing) under
 * the cross-process lock, durably; returns the line written. A torn last line left by a crash
 * is cut first and recorded in the new entry's `torn`.
 */
export async function appendCustodyEntry(
  dir: string,
  draft: CustodyDraft,
  signer: Ed25519NoteSigner | undefined,
  lockWaitMs?: number,
): Promise<CustodyEntry> {
  ensureCustodyDir(dir, true);
  const lock = await acquireCustodyLock(dir, lockWaitMs);
  try {
    const file = path.join(dir, kCustodyLogName);
    const created = !fs.existsSync(file);
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
    } catch (err) {
      throw writeError(dir, err);
    }
    try {
      const size = fs.fstatSync(fd).size;
      const { last, end } = readTail(fd, size);
      let seq = 1;
      let prev = kCustodyGenesis;
      if (last !== undefined) {
        const entry = parseEntryLine(last.toString('utf8'));
        if (entry === undefined) throw corruptTail(file);
        seq = entry.seq + 1;
        prev = sha256Hex(last);
      }
      let torn: CustodyEntry['torn'];
      if (end < size) {
        const tail = readAt(fd, end, size - end);
        torn = { bytes: tail.length, sha256: sha256Hex(tail) };
        fs.ftruncateSync(fd, end);
      }
      const line = formatCustodyLine(draft, seq, prev, signer, torn ? { torn } : {});
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fdatasyncSync(fd);
      if (created) fsyncDir(dir);
      return JSON.parse(line) as CustodyEntry;
    } catch (err) {
      if (isIronlogError(err)) throw err;
      throw writeError(dir, err);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    lock.release();
  }
}

function corruptTail(file: string): IronlogError {
  return new IronlogError(
    ErrorCodes.CUSTODY_CORRUPT,
    `the last entry of ${file} is not a custody entry, so nothing can be chained to it: run ironlog custody verify`,
  );
}

/**
 * Checks, before an action runs, that an entry can be chained to the custody log in `dir`: its
 * last complete line is an entry (`ERR_IRONLOG_CUSTODY_CORRUPT` otherwise). A missing log is fine.
 */
export function assertCustodyAppendable(dir: string): void {
  const file = path.join(dir, kCustodyLogName);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw io(`cannot read the custody log ${file}`, err);
  }
  try {
    const { last } = readTail(fd, fs.fstatSync(fd).size);
    if (last !== undefined && parseEntryLine(last.toString('utf8')) === undefined) throw corruptTail(file);
  } finally {
    fs.closeSync(fd);
  }
}

const kReadOnlyErrnos = new Set(['EROFS', 'EACCES', 'EPERM']);

function writeError(dir: string, err: unknown): IronlogError {
  if (kReadOnlyErrnos.has(errnoCode(err) ?? '')) return readOnlyError(dir, err);
  return io(`cannot write the custody log in ${dir}`, err);
}

function readOnlyError(dir: string, err: unknown): IronlogError {
  return new IronlogError(
    ErrorCodes.CUSTODY_READ_ONLY,
    `cannot write the custody log in ${dir} (${errnoCode(err) ?? String(err)}): pass --custody DIR (library: custody: { dir }) to keep it elsewhere, or --no-custody (custody: false) to run without it`,
    { cause: err },
  );
}

/**
 * Creates the custody directory if needed (its parent too when `recursive`), fsyncing the parent,
 * and checks that it is writable: `ERR_IRONLOG_CUSTODY_READ_ONLY` when it is not.
 */
export function ensureCustodyDir(dir: string, recursive: boolean): void {
  if (!fs.existsSync(dir)) {
    try {
      fs.mkdirSync(dir, { recursive, mode: 0o755 });
      fsyncDir(path.dirname(dir));
    } catch (err) {
      // EEXIST: another process created it first; it is checked like an existing one.
      if (errnoCode(err) !== 'EEXIST') throw writeError(dir, err);
    }
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    throw writeError(dir, err);
  }
}

/** Parses one line as an entry (shape only, no chain or signature check); undefined when it is not one. */
export function parseEntryLine(line: string): CustodyEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  return shapeProblem(v) === undefined ? (v as CustodyEntry) : undefined;
}

const kActions: ReadonlySet<string> = new Set<CustodyAction>([
  'verify',
  'replay',
  'export',
  'recover',
  'prove',
  'checkpoint',
  'hold',
  'release-hold',
  'erase',
  'delete',
  'custody-off',
]);

/** Why `v` is not a well-formed entry, or undefined when it is one. */
function shapeProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const e = v as { [K in keyof CustodyEntry]?: unknown };
  if (e.v !== kCustodyFormatVersion) return `unknown format version ${JSON.stringify(e.v)}`;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return 'seq is not a positive integer';
  for (const k of ['time', 'actor', 'osUser', 'target', 'host', 'prev'] as const) {
    if (typeof e[k] !== 'string') return `${k} is not a string`;
  }
  if (Number.isNaN(Date.parse(e.time as string))) return 'time is not an ISO 8601 time';
  if (typeof e.action !== 'string' || !kActions.has(e.action)) return `unknown action ${JSON.stringify(e.action)}`;
  const result = e.result as { status?: unknown } | null;
  if (typeof result !== 'object' || result === null || typeof result.status !== 'string') return 'result has no status';
  const tool = e.tool as { name?: unknown; version?: unknown } | null;
  if (typeof tool !== 'object' || tool === null || tool.name !== 'ironlog' || typeof tool.version !== 'string') {
    return 'tool is not { name: "ironlog", version }';
  }
  if (!Number.isSafeInteger(e.pid)) return 'pid is not an integer';
  if (e.via !== 'cli' && e.via !== 'library') return 'via is neither cli nor library';
  if (!/^[0-9a-f]{64}$/.test(e.prev as string)) return 'prev is not a hex SHA-256';
  if (e.sig !== undefined && typeof e.sig !== 'string') return 'sig is not a string';
  return undefined;
}

/** One problem `custody verify` found. */
export interface CustodyProblem {
  /** `malformed` (not an entry), `edited` (not in the canonical form it was written in), `seq`
   * (numbering broken: an entry deleted, inserted or reordered), `chain` (prev hash mismatch),
   * `signature` (does not verify), `unsigned` (no signature while a key is required), `missing` (no log),
   * `head` (the head kept from an earlier check is gone or differs: the log was cut or rewritten). */
  readonly kind: 'malformed' | 'edited' | 'seq' | 'chain' | 'signature' | 'unsigned' | 'missing' | 'head';
  /** 1-based line number in the file. */
  readonly line: number;
  /** The seq the entry claims, when it could be read. */
  readonly seq?: number;
  readonly message: string;
}

/** An entry's seq and the SHA-256 of its line: what `custody verify` prints as the head, to keep. */
export interface CustodyHead {
  readonly seq: number;
  readonly sha256: string;
}

/** Parses `<seq>:<hex sha256>` (`custody verify --expect-head`); `ERR_IRONLOG_INVALID_ARGUMENT` otherwise. */
export function parseCustodyHead(text: string): CustodyHead {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  const seq = Number(m?.[1]);
  if (!m || !Number.isSafeInteger(seq) || seq < 1) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `a custody head is <seq>:<sha256 hex>, as custody verify prints it, not ${JSON.stringify(text)}`,
    );
  }
  return { seq, sha256: m[2] as string };
}

/** What `custody verify` reports. */
export interface CustodyVerifyReport {
  /** True when no problem was found (a torn last line alone is not a problem). */
  readonly valid: boolean;
  readonly file: string;
  /** Complete lines read. */
  readonly entries: number;
  /** Entries carrying a signature, and how many of them were checked against `--public-key`. */
  readonly signed: number;
  readonly signaturesChecked: number;
  /** The last entry: its seq and the SHA-256 of its line (keep it to detect a later truncation). */
  readonly head?: CustodyHead;
  /** A torn last line (an interrupted append, not tampering): its byte count. */
  readonly tornTail?: { readonly bytes: number; readonly afterSeq: number | undefined };
  readonly problems: readonly CustodyProblem[];
}

/**
 * Checks a custody log's bytes: every line an entry in canonical form, seqs 1, 2, 3 ..., each
 * `prev` the hash of the line before (entry 1: the genesis), and with `verifier` every entry
 * signed by it. After a break the check re-synchronizes on the entry that broke, so each
 * edit, deletion or reordering is named where it is.
 */
export function verifyCustodyBytes(
  bytes: Uint8Array,
  file: string,
  opts: { verifier?: NoteVerifier; expectHead?: CustodyHead } = {},
): CustodyVerifyReport {
  let headFound: string | undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const problems: CustodyProblem[] = [];
  const lastNl = buf.lastIndexOf(0x0a);
  const completeEnd = lastNl + 1;
  let expectedSeq = 1;
  let expectedPrev = kCustodyGenesis;
  let entries = 0;
  let signed = 0;
  let checked = 0;
  let head: CustodyVerifyReport['head'];
  let start = 0;
  let lineNo = 0;
  while (start < completeEnd) {
    const nl = buf.indexOf(0x0a, start);
    const raw = buf.subarray(start, nl);
    start = nl + 1;
    lineNo++;
    entries++;
    const hash = sha256Hex(raw);
    const text = raw.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      problems.push({ kind: 'malformed', line: lineNo, message: `line ${lineNo} is not JSON` });
      expectedPrev = hash;
      expectedSeq++;
      continue;
    }
    const shape = shapeProblem(parsed);
    const claimedSeq = (parsed as { seq?: unknown } | null)?.seq;
    const seqOf = typeof claimedSeq === 'number' ? { seq: claimedSeq } : {};
    const who = typeof claimedSeq === 'number' ? `entry ${claimedSeq} (line ${lineNo})` : `line ${lineNo}`;
    if (shape !== undefined) {
      problems.push({ kind: 'malformed', line: lineNo, ...seqOf, message: `${who} is not a custody entry: ${shape}` });
      expectedPrev = hash;
      expectedSeq++;
      continue;
    }
    const entry = parsed as CustodyEntry;
    head = { seq: entry.seq, sha256: hash };
    if (opts.expectHead !== undefined && entry.seq === opts.expectHead.seq && headFound === undefined) headFound = hash;
    if (JSON.stringify(entry) !== text || !raw.equals(Buffer.from(text, 'utf8'))) {
      problems.push({
        kind: 'edited',
        line: lineNo,
        seq: entry.seq,
        message: `${who} is not byte for byte the form it was written in (spacing, escapes or key order changed)`,
      });
    }
    if (entry.seq !== expectedSeq) {
      const why =
        entry.seq > expectedSeq
          ? `entries ${expectedSeq}-${entry.seq - 1} are missing (deleted) or the order changed`
          : 'an entry was inserted, repeated or moved here';
      problems.push({
        kind: 'seq',
        line: lineNo,
        seq: entry.seq,
        message: `${who}: expected seq ${expectedSeq}: ${why}`,
      });
    }
    if (entry.prev !== expectedPrev) {
      const before = lineNo === 1 ? 'the genesis' : `the line before it (line ${lineNo - 1})`;
      problems.push({
        kind: 'chain',
        line: lineNo,
        seq: entry.seq,
        message: `${who}: prev is not the SHA-256 of ${before}: ${lineNo === 1 ? 'the start of the log was removed or replaced' : 'that entry was edited, or entries were deleted, inserted or reordered'}`,
      });
    }
    const { sig, ...unsigned } = entry;
    if (sig !== undefined) {
      signed++;
      if (opts.verifier !== undefined) {
        checked++;
        try {
          openNote(`${JSON.stringify(unsigned)}\n\n— ${sig}\n`, [opts.verifier]);
        } catch (err) {
          problems.push({
            kind: 'signature',
            line: lineNo,
            seq: entry.seq,
            message: `${who}: signature does not verify with the given key (${isIronlogError(err) ? err.message : String(err)}): the entry was edited or forged`,
          });
        }
      }
    } else if (opts.verifier !== undefined) {
      problems.push({
        kind: 'unsigned',
        line: lineNo,
        seq: entry.seq,
        message: `${who} carries no signature although a key was given: forged or written without the key`,
      });
    }
    expectedPrev = hash;
    expectedSeq = entry.seq + 1;
  }
  if (opts.expectHead !== undefined && headFound !== opts.expectHead.sha256) {
    const { seq, sha256 } = opts.expectHead;
    problems.push({
      kind: 'head',
      line: 0,
      seq,
      message:
        headFound === undefined
          ? `entry ${seq} of the head you kept is not in the log (it ends at ${head?.seq ?? 0}): the log was cut`
          : `entry ${seq} has SHA-256 ${headFound}, not ${sha256} as when you kept it: the log was rewritten`,
    });
  }
  const tornBytes = buf.length - completeEnd;
  return {
    valid: problems.length === 0,
    file,
    entries,
    signed,
    signaturesChecked: checked,
    ...(head ? { head } : {}),
    ...(tornBytes > 0 ? { tornTail: { bytes: tornBytes, afterSeq: head?.seq } } : {}),
    problems,
  };
}

/** Reads the custody log in `dir`: undefined when there is none. `ERR_IRONLOG_IO` when unreadable. */
export function readCustodyLog(dir: string): Buffer | undefined {
  const file = path.join(dir, kCustodyLogName);
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw io(`cannot read the custody log ${file}`, err);
  }
}

/**
 * Verifies the custody log in `dir` (with `publicKey`, a verifier key, also every signature; with
 * `expectHead`, a head printed by an earlier check, also that the log still holds it).
 * A missing log is a problem (`missing`). Reads under the lock when the directory is writable,
 * so a concurrent append is never seen half-written; a read-only copy is read as it is.
 */
export async function verifyCustodyLog(
  dir: string,
  opts: { publicKey?: string; expectHead?: CustodyHead } = {},
): Promise<CustodyVerifyReport> {
  const verifier = opts.publicKey === undefined ? undefined : parseVerifierKey(opts.publicKey);
  if (verifier !== undefined && verifier.keyType !== kKeyTypeEd25519) {
    throw new IronlogError(
      ErrorCodes.KEY_INVALID,
      'custody entries are signed with a log key (type 0x01), not a cosigner key',
    );
  }
  const file = path.join(dir, kCustodyLogName);
  let bytes: Buffer | undefined;
  let writable = false;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    writable = fs.existsSync(file);
  } catch {
    writable = false;
  }
  if (writable) {
    const lock = await acquireCustodyLock(dir);
    try {
      bytes = readCustodyLog(dir);
    } finally {
      lock.release();
    }
  } else {
    bytes = readCustodyLog(dir);
  }
  if (bytes === undefined) {
    return {
      valid: false,
      file,
      entries: 0,
      signed: 0,
      signaturesChecked: 0,
      problems: [{ kind: 'missing', line: 0, message: `there is no custody log at ${file}` }],
    };
  }
  return verifyCustodyBytes(bytes, file, {
    ...(verifier ? { verifier } : {}),
    ...(opts.expectHead ? { expectHead: opts.expectHead } : {}),
  });
}

/** The entries of the custody log in `dir` that parse (for listing); `[]` when there is none. */
export function listCustodyEntries(dir: string): { entries: CustodyEntry[]; unreadableLines: number[] } {
  const bytes = readCustodyLog(dir);
  const entries: CustodyEntry[] = [];
  const unreadableLines: number[] = [];
  if (bytes === undefined) return { entries, unreadableLines };
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // after the last newline: '' or a torn line
  lines.forEach((line, i) => {
    const e = parseEntryLine(line);
    if (e === undefined) unreadableLines.push(i + 1);
    else entries.push(e);
  });
  return { entries, unreadableLines };
}
