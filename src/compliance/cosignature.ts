/**
 * C2SP tlog-cosignature/v1 with Ed25519 (https://c2sp.org/tlog-cosignature): a witness's
 * timestamped signature over a checkpoint.
 *
 * - cosigner key type `0x04`; key id `SHA-256(name || 0x0A || 0x04 || public key)[:4]`; keys in the
 *   note formats (`PRIVATE+KEY+<name>+<keyid>+base64(0x04 || seed)`, `<name>+<keyid>+base64(0x04 || pub)`).
 * - signed message: `cosignature/v1\n` `time <t>\n` then the checkpoint body (final newline included).
 * - signature bytes: `u64be(t) || Ed25519 signature` (72 bytes), in a normal note signature line.
 *
 * The v1 statement is "as of time t, the largest consistent tree I have seen for this origin has
 * this root". A witness must not use one key for two cosigners (the message omits its name).
 */
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { type Checkpoint, parseCheckpoint } from './checkpoint.js';
import {
  Ed25519NoteSigner,
  Ed25519NoteVerifier,
  generateCosignerKeyPair,
  kKeyTypeCosignatureV1,
  type NoteKeyPair,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  openNote,
} from './note.js';

/** Bytes of an Ed25519 cosignature/v1 signature: u64 timestamp + 64-byte Ed25519 signature. */
export const kCosignatureBytes = 72;

/** A new witness cosigner key pair (type `0x04`) named `name` (e.g. `witness.example/w1`). */
export function generateCosignerKey(name: string): NoteKeyPair {
  return generateCosignerKeyPair(name);
}

/**
 * Cosigns `checkpointBody` (a well-formed checkpoint, final newline included) at `timeSec` (POSIX
 * seconds) with a cosigner key (type `0x04`, from `parseSignerKey`).
 */
export function cosignCheckpoint(checkpointBody: string, timeSec: number, signer: NoteSigner): NoteSignature {
  parseCheckpoint(checkpointBody);
  if (!(signer instanceof Ed25519NoteSigner) || signer.keyType !== kKeyTypeCosignatureV1) {
    throw new IronlogError(
      ErrorCodes.KEY_INVALID,
      `key ${signer.name} is not a cosigner key (type 0x04): create one with \`ironlog keygen --cosigner\``,
    );
  }
  const signature = signer.signAt(Buffer.from(checkpointBody, 'utf8'), timeSec);
  return { name: signer.name, keyId: Buffer.from(signer.keyId), signature };
}

/**
 * Verifies one cosignature of `checkpointBody` against a cosigner verifier (type `0x04`) and
 * returns its timestamp. Throws `ERR_IRONLOG_SIGNATURE_INVALID` when the name or key id do not
 * match the verifier or the signature does not verify, `ERR_IRONLOG_KEY_INVALID` for a verifier
 * that is not a cosigner key, `ERR_IRONLOG_NOTE_FORMAT` for a malformed body or signature.
 */
export function verifyCosignature(
  checkpointBody: string,
  sig: NoteSignature,
  verifier: NoteVerifier,
): { timeSec: number } {
  parseCheckpoint(checkpointBody);
  if (verifier instanceof Ed25519NoteVerifier && verifier.keyType !== kKeyTypeCosignatureV1) {
    throw new IronlogError(
      ErrorCodes.KEY_INVALID,
      `key ${verifier.name} is a note key (type 0x01), not a cosigner key`,
    );
  }
  if (sig.name !== verifier.name || !sig.keyId.equals(verifier.keyId)) {
    throw new IronlogError(
      ErrorCodes.SIGNATURE_INVALID,
      `cosignature by ${sig.name}+${sig.keyId.toString('hex')} is not from ${verifier.name}+${verifier.keyId.toString('hex')}`,
    );
  }
  if (sig.signature.length !== kCosignatureBytes) {
    throw new IronlogError(
      ErrorCodes.NOTE_FORMAT,
      `a cosignature/v1 signature has ${kCosignatureBytes} bytes, got ${sig.signature.length}`,
    );
  }
  const time = sig.signature.readBigUInt64BE(0);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IronlogError(ErrorCodes.NOTE_FORMAT, `cosignature timestamp ${time} is out of range`);
  }
  if (!verifier.verify(Buffer.from(checkpointBody, 'utf8'), sig.signature)) {
    throw new IronlogError(ErrorCodes.SIGNATURE_INVALID, `invalid cosignature by ${verifier.name}`);
  }
  return { timeSec: Number(time) };
}

/** The result of {@link verifyCosignedCheckpoint}. */
export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The checkpoint body (the note text). */
  readonly body: string;
  /** The log keys whose signature verified. */
  readonly logKeys: readonly NoteVerifier[];
  /** Each trusted witness that validly cosigned, once, with its (latest) cosignature time. */
  readonly witnesses: readonly { readonly name: string; readonly keyId: Buffer; readonly timeSec: number }[];
}

/**
 * Verifies a checkpoint note offline: signed by one of `logKeys` (`ERR_IRONLOG_SIGNATURE_INVALID`
 * otherwise), a well-formed checkpoint body, and cosigned by at least `quorum` distinct keys of
 * `witnessKeys` (`ERR_IRONLOG_WITNESS_QUORUM` otherwise). A cosignature line of a trusted witness
 * that does not verify rejects the note (`ERR_IRONLOG_SIGNATURE_INVALID`), as the signed-note spec
 * advises; lines of unknown keys are ignored.
 */
export function verifyCosignedCheckpoint(
  note: string,
  logKeys: readonly NoteVerifier[],
  witnessKeys: readonly NoteVerifier[] = [],
  quorum = 0,
): VerifiedCheckpoint {
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnessKeys.length) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      `quorum must be an integer from 0 to the number of witness keys (${witnessKeys.length})`,
    );
  }
  const opened = openNote(note, logKeys);
  const checkpoint = parseCheckpoint(opened.text);
  const witnesses: { name: string; keyId: Buffer; timeSec: number }[] = [];
  for (const w of witnessKeys) {
    let latest: number | undefined;
    for (const sig of opened.signatures) {
      if (sig.name !== w.name || !sig.keyId.equals(w.keyId)) continue;
      const { timeSec } = verifyCosignature(opened.text, sig, w);
      latest = latest === undefined ? timeSec : Math.max(latest, timeSec);
    }
    if (latest !== undefined && !witnesses.some((x) => x.name === w.name && x.keyId.equals(w.keyId))) {
      witnesses.push({ name: w.name, keyId: Buffer.from(w.keyId), timeSec: latest });
    }
  }
  if (witnesses.length < quorum) {
    throw new IronlogError(
      ErrorCodes.WITNESS_QUORUM,
      `checkpoint of ${checkpoint.origin} at size ${checkpoint.size} has ${witnesses.length} valid cosignatures by trusted witnesses, ${quorum} required`,
    );
  }
  return { checkpoint, body: opened.text, logKeys: opened.verifiedBy, witnesses };
}
