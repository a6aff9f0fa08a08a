/**
 * An encrypted value inside an event (a field sealed under a subject key by
 * `src/compliance/subject-seal.ts`). It is stored as a msgpack extension (type
 * {@link SEALED_VALUE_EXT_TYPE}), so it can never be confused with an application's own data, and
 * every reader decodes it back into a {@link SealedValue} whether or not it can decrypt it.
 *
 * The bytes (`docs/compliance/data-protection.md`, "Sealed fields"):
 * ```
 *   u8 version (1) | u8 kidBytes | kid (ASCII) | 12-byte nonce | ciphertext | 16-byte GCM tag
 * ```
 * This module only carries the bytes; the cryptography lives in `src/compliance`.
 */
import { addExtension } from 'msgpackr';

/** msgpack extension type of a sealed value ('E'). msgpackr's own types are 0x42, 0x62, 0x65, 0x69, 0x70, 0x73, 0x74, 0x78, 0xff. */
export const SEALED_VALUE_EXT_TYPE = 0x45;
/** Version byte of the sealed-value layout. */
export const SEALED_VALUE_VERSION = 1;

/** An encrypted field value as stored; `kid` names the subject key it is sealed under. */
export class SealedValue {
  readonly bytes: Buffer;
  constructor(bytes: Uint8Array) {
    this.bytes = Buffer.from(bytes);
  }

  /** The key id, or '' when the bytes are not a valid version-1 layout. */
  get kid(): string {
    const b = this.bytes;
    if (b.length < 2 || b[0] !== SEALED_VALUE_VERSION) return '';
    const n = b[1] as number;
    return b.length < 2 + n ? '' : b.toString('latin1', 2, 2 + n);
  }

  /** JSON form (`--no-decrypt`, or a reader without keys): `{"$sealed":"<kid>"}`. */
  toJSON(): { $sealed: string } {
    return { $sealed: this.kid };
  }
}

addExtension({
  Class: SealedValue,
  type: SEALED_VALUE_EXT_TYPE,
  pack: (v: SealedValue) => v.bytes,
  unpack: (bytes: Uint8Array) => new SealedValue(bytes),
});
