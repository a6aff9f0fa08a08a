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
import { parseCheckpoint } from './checkpoint.js';
import {
  Ed25519NoteSigner,
  Ed25519NoteVerifier,
  generateCosignerKeyPair,
  kKeyTypeCosignatureV1,
  type NoteKeyPair,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
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
