/**
 * Pseudonymization with a keyed hash (PCI DSS 3.5.1.1, GDPR Art. 4(5) and 32(1)(a)): a value is
 * replaced by a token `ps1.<keyId>.<base64url(HMAC-SHA-256(key, typed value))>`. The same value
 * under the same key always gives the same token, so one subject links across records, while
 * the value cannot be read back without the key (and brute force needs the key too).
 *
 * The HMAC input is the value's type tag, a colon, then its text: `s:alice`, `n:42`, `b:true`,
 * `i:12345678901234567890` (bigint), so the string "42" and the number 42 give different tokens.
 */
import { createHmac } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** A pseudonymization key: an id (goes into every token) and at least 32 bytes of secret. */
export interface PseudonymKey {
  /** Key id, 1-64 characters of `[A-Za-z0-9_-]`; rotate by adding a key with a new id. */
  readonly keyId: string;
  /** The secret: at least 32 bytes, as bytes or base64 text. */
  readonly key: Uint8Array | string;
}

/** Prefix and version of every token. */
export const kPseudonymPrefix = 'ps1';
const kKeyIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const kMinKeyBytes = 32;
/** Tokens kept in memory per key (cleared when full). */
const kMaxCachedTokens = 10_000;

/** A validated key, ready to make tokens. */
export class Pseudonymizer {
  readonly keyId: string;
  readonly #key: Buffer;
  readonly #cache = new Map<string, string>();

  constructor(key: PseudonymKey, where = 'options.pseudonymization') {
    if (typeof key !== 'object' || key === null) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where} must be an object { keyId, key }`);
    }
    if (typeof key.keyId !== 'string' || !kKeyIdPattern.test(key.keyId)) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.keyId must be 1-64 characters of [A-Za-z0-9_-]`);
    }
    let bytes: Buffer;
    if (typeof key.key === 'string') bytes = Buffer.from(key.key, 'base64');
    else if (key.key instanceof Uint8Array) bytes = Buffer.from(key.key);
    else throw new IronlogError(ErrorCodes.INVALID_OPTION, `${where}.key must be bytes or base64 text`);
    if (bytes.length < kMinKeyBytes) {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `${where}.key must be at least ${kMinKeyBytes} bytes (got ${bytes.length}); make one with: openssl rand -base64 32`,
      );
    }
    this.keyId = key.keyId;
    this.#key = bytes;
  }

  /** The token of `value` (a string, finite number, boolean or bigint). */
  token(value: string | number | boolean | bigint): string {
    let typed: string;
    switch (typeof value) {
      case 'string':
        typed = `s:${value}`;
        break;
      case 'number':
        typed = `n:${String(value)}`;
        break;
      case 'boolean':
        typed = `b:${String(value)}`;
        break;
      case 'bigint':
        typed = `i:${value.toString()}`;
        break;
      default:
        throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, `cannot pseudonymize a value of type ${typeof value}`);
    }
    // Audit logs repeat the same ids over and over: a bounded cache saves the HMAC (~5 us each).
    const hit = this.#cache.get(typed);
    if (hit !== undefined) return hit;
    const mac = createHmac('sha256', this.#key).update(typed, 'utf8').digest('base64url');
    const token = `${kPseudonymPrefix}.${this.keyId}.${mac}`;
    if (this.#cache.size >= kMaxCachedTokens) this.#cache.clear();
    this.#cache.set(typed, token);
    return token;
  }
}

/** True when `text` has the form of a token this module makes. */
export function isPseudonymToken(text: string): boolean {
  return /^ps1\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43}$/.test(text);
}
