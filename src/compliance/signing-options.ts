/**
 * The `signing` option of `openSink`: validated once, at the edge (the checkpointer worker gets
 * the resolved object and never validates again).
 */
import * as fs from 'node:fs';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { parseSignerKey, parseVerifierKey, verifierKeyOf } from './note.js';

/** A witness to ask for a cosignature of every checkpoint (C2SP tlog-witness). */
export interface WitnessOptions {
  /** Base URL of the witness; `add-checkpoint` is POSTed to `<url>/add-checkpoint`. */
  url: string;
  /** The witness's verifier key (`name+keyid+base64`, a tlog-cosignature/v1 key). */
  key: string;
}

/** Options of `openSink({ signing })`: turn the WAL into a signed transparency log. */
export interface SigningOptions {
  /**
   * The log's Ed25519 signer key in the signed-note format (`PRIVATE+KEY+<name>+<keyid>+<base64>`,
   * from `ironlog keygen`), or `{ file }`: a file holding it (keep it mode 0600). Required.
   */
  key: string | { file: string };
  /**
   * The checkpoint origin line (C2SP tlog-checkpoint: the log's unique name, usually a
   * schema-less URL). Default: the signer key's name (`ironlog keygen --name <origin>`), which is
   * what C2SP witnesses expect (they find a log's keys by its origin); `ironlog/<nodeId>` only
   * if the key name were empty.
   */
  origin?: string;
  /**
   * Sign a checkpoint at least this often, even when idle, so that `verify` can tell every period
   * the log was up from one it was not. Default 60,000 ms. Range 50 ms - 24 h. Shorter gives a
   * finer coverage record and costs one signature and a few fsyncs per checkpoint.
   */
  checkpointIntervalMs?: number;
  /** Witnesses to ask for a cosignature of every checkpoint. Default: none. */
  witnesses?: WitnessOptions[];
  /**
   * How many witnesses must cosign a checkpoint; fewer is reported (`witnessError` event,
   * `checkpointStatus()`), never blocks emits. Default: all of `witnesses`.
   */
  witnessQuorum?: number;
  /** Timeout of one witness request in milliseconds. Default 10,000. */
  witnessTimeoutMs?: number;
}

/** {@link SigningOptions} after validation and defaults (the private key is not in it). */
export interface ResolvedSigningOptions {
  readonly origin: string;
  /** The verifier key matching the signer key: give it to auditors (`verify --public-key`). */
  readonly verifierKey: string;
  readonly checkpointIntervalMs: number;
  readonly witnesses: readonly { readonly url: string; readonly key: string }[];
  readonly witnessQuorum: number;
  readonly witnessTimeoutMs: number;
}

/** Default of {@link SigningOptions.checkpointIntervalMs}. */
export const kDefaultCheckpointIntervalMs = 60_000;
const kDefaultWitnessTimeoutMs = 10_000;

const signerKeys = new WeakMap<ResolvedSigningOptions, string>();

/** The signer key text of resolved options (kept out of the object, so logging it leaks nothing). */
export function signerKeyOf(options: ResolvedSigningOptions): string {
  const key = signerKeys.get(options);
  if (key === undefined) throw new IronlogError(ErrorCodes.INTERNAL, 'signing options were not resolved');
  return key;
}

function invalid(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

const kKnown = new Set(['key', 'origin', 'checkpointIntervalMs', 'witnesses', 'witnessQuorum', 'witnessTimeoutMs']);

function readKey(key: unknown): string {
  if (typeof key === 'string') return key.trim();
  if (typeof key === 'object' && key !== null && typeof (key as { file?: unknown }).file === 'string') {
    const file = (key as { file: string }).file;
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw invalid(`options.signing.key.file cannot be read (${file}): ${errnoCode(err) ?? String(err)}`);
    }
  }
  throw invalid('options.signing.key must be a signer key string (PRIVATE+KEY+...) or { file }');
}

function intIn(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`options.signing.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Validates `options.signing` (`nodeId` gives the default origin). A bad key gives the note module's typed error. */
export function resolveSigningOptions(input: unknown, nodeId: string): ResolvedSigningOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('options.signing must be an object { key, origin?, checkpointIntervalMs?, witnesses? }');
  }
  for (const k of Object.keys(input)) {
    if (!kKnown.has(k)) throw invalid(`options.signing.${k} is not a known option`);
  }
  const o = input as SigningOptions;
  if (o.key === undefined) throw invalid('options.signing.key must be given (a signer key string or { file })');
  const keyText = readKey(o.key);
  const signer = parseSignerKey(keyText); // throws the note module's typed error for a bad key
  const origin = o.origin ?? (signer.name !== '' ? signer.name : `ironlog/${nodeId}`);
  if (typeof origin !== 'string' || origin.length === 0 || origin.length > 256 || /[\n\r]/.test(origin)) {
    throw invalid('options.signing.origin must be a non-empty string of at most 256 characters without newlines');
  }
  const checkpointIntervalMs = intIn(
    'checkpointIntervalMs',
    o.checkpointIntervalMs,
    50,
    24 * 3600 * 1000,
    kDefaultCheckpointIntervalMs,
  );
  const witnessesIn: unknown = o.witnesses ?? [];
  if (!Array.isArray(witnessesIn)) throw invalid('options.signing.witnesses must be an array of { url, key }');
  const witnesses = witnessesIn.map((w: unknown, i) => {
    const url = (w as { url?: unknown } | null)?.url;
    const key = (w as { key?: unknown } | null)?.key;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      throw invalid(`options.signing.witnesses[${i}].url must be an http(s) URL`);
    }
    if (typeof key !== 'string') throw invalid(`options.signing.witnesses[${i}].key must be a verifier key string`);
    parseVerifierKey(key);
    return Object.freeze({ url: url.replace(/\/+$/, ''), key });
  });
  const witnessQuorum = intIn('witnessQuorum', o.witnessQuorum, 0, witnesses.length, witnesses.length);
  const witnessTimeoutMs = intIn('witnessTimeoutMs', o.witnessTimeoutMs, 1, 600_000, kDefaultWitnessTimeoutMs);
  const resolved: ResolvedSigningOptions = Object.freeze({
    origin,
    verifierKey: verifierKeyOf(keyText),
    checkpointIntervalMs,
    witnesses: Object.freeze(witnesses),
    witnessQuorum,
    witnessTimeoutMs,
  });
  signerKeys.set(resolved, keyText);
  return resolved;
}
