/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, through `node:crypto` only.
 *
 * A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature
 * lines `— <key name> base64(key id[4] || signature)`. Keys use the formats of Go's
 * `golang.org/x/mod/sumdb/note`, so keys and notes made here are accepted there and back:
 *
 * - verifier key: `<name>+<hex key id>+base64(type || 32-byte public key)`
 * - signer key:   `PRIVATE+KEY+<name>+<hex key id>+base64(type || 32-byte Ed25519 seed)`
 * - key id:       `SHA-256(name || 0x0A || type || public key)[:4]`
 *
 * Two key types: `0x01` (plain Ed25519 over the note text) and `0x04` (C2SP tlog-cosignature/v1:
 * Ed25519 over `cosignature/v1\ntime <t>\n<checkpoint body>`, the signature being
 * `u64be(t) || sig`). Both sign and verify through the same {@link NoteSigner}/{@link NoteVerifier}
 * interfaces, so a cosigned checkpoint opens with {@link openNote} given the witness's key.
 *
 * Parsing follows the spec and Go strictly: valid UTF-8, no ASCII control character but newline,
 * text separated from the signatures by the last blank line, key names non-empty without Unicode
 * spaces or `+`, strict base64, at most {@link kMaxNoteSignatures} signature lines, unknown keys
 * ignored, every signature of a known key verified (one that fails rejects the whole note).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** Signature type byte of plain Ed25519 note signatures (C2SP signed-note). */
export const kKeyTypeEd25519 = 0x01;
/** Signature type byte of timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature/v1). */
export const kKeyTypeCosignatureV1 = 0x04;
/** The key types this module signs and verifies. */
export type NoteKeyType = typeof kKeyTypeEd25519 | typeof kKeyTypeCosignatureV1;

/**
 * Most signature lines a note may carry; more is a format error (the spec asks verifiers to accept
 * at least 16; Go's `note.Open` stops at 100, and so do we).
 */
export const kMaxNoteSignatures = 100;

/** Signs note texts with one key. */
export interface NoteSigner {
  /** Key name, as in the signature line. */
  readonly name: string;
  /** 4-byte key id (big-endian uint32 in the signature). */
  readonly keyId: Buffer;
  /** The signature bytes (without the key id) over `msg`, the note text. */
  sign(msg: Uint8Array): Buffer;
}

/** Verifies signatures of one key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  /** True when `sig` (without the key id) is a valid signature of the note text `msg`. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  /** 4-byte key id. */
  readonly keyId: Buffer;
  /** The signature bytes after the key id. */
  readonly signature: Buffer;
}

/** A signer or verifier key pair in the note formats. */
export interface NoteKeyPair {
  /** `PRIVATE+KEY+<name>+<keyid>+<base64>`: keep it secret. */
  readonly signerKey: string;
  /** `<name>+<keyid>+<base64>`: give it to verifiers. */
  readonly verifierKey: string;
}

const kEmDashSpace = '\u2014 ';
// Go's unicode.IsSpace: the ASCII spaces, U+0085, U+00A0 and Unicode's White_Space property.
const kSpaceRe = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these characters.
const kControlRe = /[\u0000-\u0009\u000b-\u001f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these characters.
const kNameControlRe = /[\u0000-\u001f]/;
const kBase64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const kPkcs8Ed25519Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const kSpkiEd25519Prefix = Buffer.from('302a300506032b6570032100', 'hex');
const kUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * True when `name` is a valid key name: non-empty, well-formed Unicode, without Unicode spaces,
 * `+` or control characters.
 */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.isWellFormed() &&
    !kSpaceRe.test(name) &&
    !kNameControlRe.test(name) &&
    !name.includes('+')
  );
}

/**
 * Decodes standard base64 (RFC 4648 §4) strictly: padding required, no whitespace, no other
 * characters, and canonical (unused bits zero). Returns undefined when `text` is not that.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!kBase64Re.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** `SHA-256(name || 0x0A || type || publicKey)[:4]`. */
export function computeKeyId(name: string, type: number, publicKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, type]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

function keyError(message: string): IronlogError {
  return new IronlogError(ErrorCodes.KEY_INVALID, message);
}

function noteError(message: string): IronlogError {
  return new IronlogError(ErrorCodes.NOTE_FORMAT, message);
}

/** Splits `s` at the first `sep` (like Go's `chop`): the rest is '' when `sep` is missing. */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([kPkcs8Ed25519Prefix, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyFromRaw(pub: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([kSpkiEd25519Prefix, pub]), format: 'der', type: 'spki' });
}

function rawPublicKey(priv: KeyObject): Buffer {
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return Buffer.from(spki.subarray(spki.length - 32));
}

/** `cosignature/v1\ntime <t>\n<body>`: the message a tlog-cosignature/v1 signs. */
export function cosignatureMessage(checkpointBody: Uint8Array | string, timeSec: number | bigint): Buffer {
  return Buffer.concat([
    Buffer.from(`cosignature/v1\ntime ${timeSec.toString()}\n`, 'utf8'),
    typeof checkpointBody === 'string' ? Buffer.from(checkpointBody, 'utf8') : checkpointBody,
  ]);
}

/** Largest timestamp a cosignature may carry (the spec: at most 2^63 - 1). */
const kMaxCosignatureTime = (1n << 63n) - 1n;

/**
 * The note signer built from a signer key. For a cosigner key (type `0x04`) `sign(msg)` signs the
 * checkpoint body `msg` at the current time; {@link Ed25519NoteSigner.signAt} picks the time.
 */
export class Ed25519NoteSigner implements NoteSigner {
  readonly name: string;
  readonly keyId: Buffer;
  /** `0x01` (note signatures) or `0x04` (witness cosignatures). */
  readonly keyType: NoteKeyType;
  /** The verifier key of this signer, `<name>+<keyid>+<base64>`. */
  readonly verifierKey: string;
  readonly #privateKey: KeyObject;

  /** Use {@link parseSignerKey}, which checks the key first. */
  constructor(name: string, keyType: NoteKeyType, seed: Uint8Array) {
    this.name = name;
    this.keyType = keyType;
    this.#privateKey = privateKeyFromSeed(seed);
    const pub = rawPublicKey(this.#privateKey);
    this.keyId = computeKeyId(name, keyType, pub);
    this.verifierKey = formatKey(name, this.keyId, keyType, pub);
  }

  sign(msg: Uint8Array): Buffer {
    if (this.keyType === kKeyTypeCosignatureV1) return this.signAt(msg, Math.floor(Date.now() / 1000));
    return sign(null, msg, this.#privateKey);
  }

  /**
   * Cosigner keys only: the `timestamped_signature` (`u64be(timeSec) || Ed25519 signature`) of the
   * checkpoint body `msg` at `timeSec` (POSIX seconds).
   */
  signAt(msg: Uint8Array, timeSec: number): Buffer {
    if (this.keyType !== kKeyTypeCosignatureV1) {
      throw keyError(`key ${this.name} is a note key (type 0x01), not a cosigner key (type 0x04)`);
    }
    if (!Number.isSafeInteger(timeSec) || timeSec < 0) {
      throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'timeSec must be a non-negative integer (POSIX seconds)');
    }
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(timeSec));
    return Buffer.concat([ts, sign(null, cosignatureMessage(msg, timeSec), this.#privateKey)]);
  }
}

/** The note verifier built from a verifier key (type `0x01` or `0x04`). */
export class Ed25519NoteVerifier implements NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly keyType: NoteKeyType;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  readonly #key: KeyObject;

  /** Use {@link parseVerifierKey}, which checks the key first. */
  constructor(name: string, keyType: NoteKeyType, publicKey: Uint8Array) {
    this.name = name;
    this.keyType = keyType;
    this.publicKey = Buffer.from(publicKey);
    this.keyId = computeKeyId(name, keyType, publicKey);
    this.#key = publicKeyFromRaw(publicKey);
  }

  /** The verifier key string, `<name>+<keyid>+<base64>`. */
  get verifierKey(): string {
    return formatKey(this.name, this.keyId, this.keyType, this.publicKey);
  }

  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    if (this.keyType === kKeyTypeEd25519) {
      return sig.length === 64 && verify(null, msg, this.#key, sig);
    }
    if (sig.length !== 72) return false;
    const time = Buffer.from(sig.buffer, sig.byteOffset, 8).readBigUInt64BE();
    if (time > kMaxCosignatureTime) return false;
    return verify(null, cosignatureMessage(msg, time), this.#key, sig.subarray(8));
  }
}

function formatKey(name: string, keyId: Uint8Array, type: number, key: Uint8Array): string {
  return `${name}+${Buffer.from(keyId).toString('hex')}+${Buffer.concat([Buffer.from([type]), key]).toString('base64')}`;
}

/** Parses `<hex key id>` (8 hex digits) and `base64(type || key)` after the name. */
function parseKeyParts(
  what: string,
  name: string,
  hex: string,
  b64: string,
): { keyId: Buffer; type: NoteKeyType; key: Buffer } {
  if (!isValidKeyName(name)) {
    throw keyError(`${what}: the key name must be non-empty, without spaces, '+' or control characters`);
  }
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw keyError(`${what}: the key id must be 8 hex digits`);
  const raw = decodeBase64Strict(b64);
  if (raw === undefined || raw.length === 0) throw keyError(`${what}: the key material is not valid base64`);
  const type = raw[0];
  if (type !== kKeyTypeEd25519 && type !== kKeyTypeCosignatureV1) {
    throw keyError(`${what}: unsupported key type 0x${(type ?? 0).toString(16).padStart(2, '0')} (0x01 and 0x04)`);
  }
  const key = raw.subarray(1);
  if (key.length !== 32) throw keyError(`${what}: an Ed25519 key has 32 bytes, got ${key.length}`);
  return { keyId: Buffer.from(hex, 'hex'), type, key };
}

/**
 * Parses a signer key `PRIVATE+KEY+<name>+<keyid>+<base64(type || seed)>` (type `0x01` or `0x04`).
 * Throws `ERR_IRONLOG_KEY_INVALID` when it is malformed or its key id does not match the key.
 */
export function parseSignerKey(text: string): Ed25519NoteSigner {
  if (typeof text !== 'string') throw keyError('a signer key must be a string');
  const trimmed = text.trim();
  const [p1, r1] = chop(trimmed, '+');
  const [p2, r2] = chop(r1, '+');
  const [name, r3] = chop(r2, '+');
  const [hex, b64] = chop(r3, '+');
  if (p1 !== 'PRIVATE' || p2 !== 'KEY') {
    throw keyError('a signer key starts with PRIVATE+KEY+ (is this a verifier key?)');
  }
  const { keyId, type, key } = parseKeyParts('signer key', name, hex, b64);
  const signer = new Ed25519NoteSigner(name, type, key);
  if (!signer.keyId.equals(keyId)) {
    throw keyError(
      `signer key ${name}: key id ${hex} does not match the key (expected ${signer.keyId.toString('hex')})`,
    );
  }
  return signer;
}

/**
 * Parses a verifier key `<name>+<keyid>+<base64(type || public key)>` (type `0x01` or `0x04`).
 * Throws `ERR_IRONLOG_KEY_INVALID` when it is malformed or its key id does not match the key.
 */
export function parseVerifierKey(text: string): Ed25519NoteVerifier {
  if (typeof text !== 'string') throw keyError('a verifier key must be a string');
  const trimmed = text.trim();
  if (trimmed.startsWith('PRIVATE+KEY+')) {
    throw keyError('this is a signer (private) key, not a verifier key: never hand it out');
  }
  const [name, r1] = chop(trimmed, '+');
  const [hex, b64] = chop(r1, '+');
  const { keyId, type, key } = parseKeyParts('verifier key', name, hex, b64);
  let verifier: Ed25519NoteVerifier;
  try {
    verifier = new Ed25519NoteVerifier(name, type, key);
  } catch (err) {
    throw new IronlogError(ErrorCodes.KEY_INVALID, `verifier key ${name}: not an Ed25519 public key`, { cause: err });
  }
  if (!verifier.keyId.equals(keyId)) {
    throw keyError(`verifier key ${name}: key id ${hex} does not match the key`);
  }
  return verifier;
}

function generateKeyPair(name: string, type: NoteKeyType): NoteKeyPair {
  if (!isValidKeyName(name)) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'name must be non-empty, without spaces, \'+\' or control characters (e.g. "example.com/log1")',
    );
  }
  const seed = randomBytes(32);
  const signer = new Ed25519NoteSigner(name, type, seed);
  const signerKey = `PRIVATE+KEY+${name}+${signer.keyId.toString('hex')}+${Buffer.concat([Buffer.from([type]), seed]).toString('base64')}`;
  seed.fill(0);
  return { signerKey, verifierKey: signer.verifierKey };
}

/** A new Ed25519 note key pair (type `0x01`) named `name` (for a log: its origin). */
export function generateSignerKey(name: string): NoteKeyPair {
  return generateKeyPair(name, kKeyTypeEd25519);
}

/** @internal A new witness cosigner key pair (type `0x04`); use `generateCosignerKey` of cosignature.ts. */
export function generateCosignerKeyPair(name: string): NoteKeyPair {
  return generateKeyPair(name, kKeyTypeCosignatureV1);
}

/** The verifier key of a signer key. */
export function verifierKeyOf(signerKey: string): string {
  return parseSignerKey(signerKey).verifierKey;
}

function checkText(text: string, what: string): void {
  if (!text.isWellFormed()) throw noteError(`${what} is not valid UTF-8 (lone surrogate)`);
  if (kControlRe.test(text)) throw noteError(`${what} contains an ASCII control character other than newline`);
}

/** The signature line `— <name> base64(keyId || signature)\n`. */
export function formatSignatureLine(sig: NoteSignature): string {
  if (!isValidKeyName(sig.name)) throw noteError(`invalid key name in signature: ${JSON.stringify(sig.name)}`);
  if (sig.keyId.length !== 4) throw noteError('a key id has 4 bytes');
  if (sig.signature.length === 0) throw noteError('empty signature');
  return `${kEmDashSpace}${sig.name} ${Buffer.concat([sig.keyId, sig.signature]).toString('base64')}\n`;
}

/**
 * Signs `text` (which must end in a newline) with every signer, in order:
 * `text || "\n" || one signature line per signer`. Deterministic for Ed25519 (RFC 8032).
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw noteError('a note text must end with a newline');
  checkText(text, 'the note text');
  if (signers.length === 0) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'signNote needs at least one signer');
  if (signers.length > kMaxNoteSignatures) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `a note carries at most ${kMaxNoteSignatures} signatures`);
  }
  const msg = Buffer.from(text, 'utf8');
  let out = `${text}\n`;
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw keyError(`invalid signer name ${JSON.stringify(s.name)}`);
    if (s.keyId.length !== 4) throw keyError(`signer ${s.name}: a key id has 4 bytes`);
    out += formatSignatureLine({ name: s.name, keyId: s.keyId, signature: s.sign(msg) });
  }
  return out;
}

/**
 * Appends signature lines to a signed note (e.g. a witness's cosignatures), leaving out lines
 * already present. `note` must be a well-formed signed note.
 */
export function appendSignatures(note: string, signatures: readonly NoteSignature[]): string {
  const parsed = parseNote(note);
  const have = new Set(parsed.signatures.map((s) => formatSignatureLine(s)));
  let out = note;
  for (const s of signatures) {
    const line = formatSignatureLine(s);
    if (have.has(line)) continue;
    have.add(line);
    out += line;
  }
  parseNote(out);
  return out;
}

function toNoteString(note: string | Uint8Array): string {
  if (typeof note === 'string') {
    if (!note.isWellFormed()) throw noteError('the note is not valid UTF-8 (lone surrogate)');
    return note;
  }
  try {
    return kUtf8.decode(note);
  } catch {
    throw noteError('the note is not valid UTF-8');
  }
}

/**
 * Parses a signed note without verifying anything: its text (final newline included) and its
 * signature lines, in order, with exact repeats of a line dropped (as Go does). Throws
 * `ERR_IRONLOG_NOTE_FORMAT` on anything the spec does not allow.
 */
export function parseNote(note: string | Uint8Array): { text: string; signatures: NoteSignature[] } {
  const msg = toNoteString(note);
  if (kControlRe.test(msg)) throw noteError('the note contains an ASCII control character other than newline');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw noteError('no blank line before the signatures');
  const text = msg.slice(0, split + 1);
  let sigs = msg.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n'))
    throw noteError('the signature block is empty or not newline-terminated');
  const signatures: NoteSignature[] = [];
  const seen = new Set<string>();
  let count = 0;
  while (sigs.length > 0) {
    const i = sigs.indexOf('\n');
    const line = sigs.slice(0, i);
    sigs = sigs.slice(i + 1);
    if (!line.startsWith(kEmDashSpace))
      throw noteError(`a signature line must start with "\u2014 ": ${line.slice(0, 80)}`);
    const [name, b64] = chop(line.slice(kEmDashSpace.length), ' ');
    if (!isValidKeyName(name)) throw noteError(`invalid key name in signature line: ${JSON.stringify(name)}`);
    const raw = b64 === '' ? undefined : decodeBase64Strict(b64);
    if (raw === undefined || raw.length < 5)
      throw noteError(`signature of ${name} is not valid base64 of 5 bytes or more`);
    if (++count > kMaxNoteSignatures) throw noteError(`more than ${kMaxNoteSignatures} signatures`);
    if (seen.has(line)) continue;
    seen.add(line);
    signatures.push({ name, keyId: Buffer.from(raw.subarray(0, 4)), signature: Buffer.from(raw.subarray(4)) });
  }
  return { text, signatures };
}

function sigKey(name: string, keyId: Uint8Array): string {
  return `${name}+${Buffer.from(keyId).toString('hex')}`;
}

/** The result of {@link openNote}. */
export interface OpenedNote {
  /** The note text, final newline included: trust it only because `verifiedBy` is not empty. */
  readonly text: string;
  /** The verifiers whose signature verified, in signature order, each once. */
  readonly verifiedBy: NoteVerifier[];
  /** Every signature line of the note (verified and from unknown keys), in order. */
  readonly signatures: NoteSignature[];
  /** The signatures that verified (one per entry of `verifiedBy`). */
  readonly verifiedSignatures: NoteSignature[];
}

/**
 * Parses and verifies a signed note. Signatures whose (name, key id) match no verifier are
 * ignored; every signature of a matching verifier is verified, and one that fails rejects the
 * note (`ERR_IRONLOG_SIGNATURE_INVALID`), as does a note no verifier signed.
 * Two different verifiers with the same name and key id are refused (`ERR_IRONLOG_KEY_INVALID`).
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(note);
  const byKey = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const k = sigKey(v.name, v.keyId);
    const list = byKey.get(k) ?? [];
    if (!list.includes(v)) list.push(v);
    byKey.set(k, list);
  }
  const msg = Buffer.from(text, 'utf8');
  const verifiedBy: NoteVerifier[] = [];
  const verifiedSignatures: NoteSignature[] = [];
  for (const sig of signatures) {
    const k = sigKey(sig.name, sig.keyId);
    const list = byKey.get(k);
    if (list === undefined) continue;
    if (list.length > 1) throw keyError(`ambiguous key ${k}: two different verifiers have this name and key id`);
    const v = list[0] as NoteVerifier;
    if (!v.verify(msg, sig.signature)) {
      throw new IronlogError(ErrorCodes.SIGNATURE_INVALID, `invalid signature for key ${k}`);
    }
    if (!verifiedBy.includes(v)) {
      verifiedBy.push(v);
      verifiedSignatures.push(sig);
    }
  }
  if (verifiedBy.length === 0) {
    const names = verifiers.map((v) => sigKey(v.name, v.keyId)).join(', ') || 'none given';
    throw new IronlogError(
      ErrorCodes.SIGNATURE_INVALID,
      `the note has no signature by a trusted key (trusted: ${names})`,
    );
  }
  return { text, verifiedBy, signatures, verifiedSignatures };
}
