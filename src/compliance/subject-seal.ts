/**
 * Sealing a subject's personal fields (crypto-shredding): each configured field's value is
 * msgpack-encoded and encrypted with AES-256-GCM under the subject's key, and stored in the
 * event as a {@link SealedValue} (a msgpack extension). Destroying the subject key (erasure)
 * makes every such field unreadable for good, while the record's bytes, its CRC, the hash chain
 * and every Merkle proof stay exactly as they were.
 *
 * AES-256-GCM, 12-byte nonce (random per-thread prefix + counter), 16-byte tag. AAD = JSON `["ironlog/field/v1", kid, path]`
 * where `path` is the field's concrete position (`["patient","name"]`, `["items",0,"pan"]`): a
 * sealed value copied to another field, or relabelled with another kid, fails authentication.
 * Nonces are unique within a thread; across threads and processes they rely on 64-bit random prefixes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { decodeEventPayload, EventEncoder } from '../wal/event-codec.js';
import { SEALED_VALUE_VERSION, SealedValue } from '../wal/sealed-value.js';
import { closeStates, completedRule, type FieldPath, type PathState, stepStates } from './field-path.js';
import { kErased } from './keystore.js';

const kNonceBytes = 12;
const kTagBytes = 16;
const kMaxDepth = 256;

type PathPart = string | number;

function aad(kid: string, at: readonly PathPart[]): Buffer {
  return Buffer.from(JSON.stringify(['ironlog/field/v1', kid, at]), 'utf8');
}

/**
 * Nonces: 8 random bytes per thread (drawn again every 2^32 fields) and a 32-bit counter, so a
 * nonce never repeats within a thread and two threads or processes collide only if their 64-bit random
 * prefixes do. Cheaper than 12 fresh random bytes per field.
 */
const kNoncePrefix = randomBytes(8);
let nonceCounter = 0;
function nextNonce(): Buffer {
  if (nonceCounter === 0xffffffff) {
    randomBytes(8).copy(kNoncePrefix);
    nonceCounter = 0;
  }
  const n = Buffer.allocUnsafe(kNonceBytes);
  kNoncePrefix.copy(n, 0);
  n.writeUInt32LE(nonceCounter++, 8);
  return n;
}

/** Encrypts one encoded value. */
export function sealBytes(key: Buffer, kid: string, at: readonly PathPart[], plaintext: Uint8Array): SealedValue {
  const kidBytes = Buffer.from(kid, 'latin1');
  const nonce = nextNonce();
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad(kid, at));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return new SealedValue(
    Buffer.concat([Buffer.from([SEALED_VALUE_VERSION, kidBytes.length]), kidBytes, nonce, ct, c.getAuthTag()]),
  );
}

/** Decrypts a sealed value found at `at`; `ERR_IRONLOG_DECRYPT` when it does not authenticate. */
export function openBytes(key: Buffer, sealed: SealedValue, at: readonly PathPart[]): Buffer {
  const b = sealed.bytes;
  const kid = sealed.kid;
  const start = 2 + kid.length;
  if (kid === '' || b.length < start + kNonceBytes + kTagBytes) {
    throw new IronlogError(ErrorCodes.DECRYPT, `sealed field at ${JSON.stringify(at)} has an invalid layout`);
  }
  const d = createDecipheriv('aes-256-gcm', key, b.subarray(start, start + kNonceBytes));
  d.setAAD(aad(kid, at));
  d.setAuthTag(b.subarray(b.length - kTagBytes));
  try {
    return Buffer.concat([d.update(b.subarray(start + kNonceBytes, b.length - kTagBytes)), d.final()]);
  } catch (err) {
    throw new IronlogError(
      ErrorCodes.DECRYPT,
      `sealed field at ${JSON.stringify(at)} (subject key '${kid}') failed authentication: altered, moved, or a wrong key`,
      { cause: err },
    );
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function defineValue(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * Rebuilds `value`, replacing every node for which `replace(node, at, states)` returns something
 * other than `kKeep`; unchanged parts are shared with the input (copy on write).
 */
const kKeep: unique symbol = Symbol('keep');
function rewrite(
  value: unknown,
  at: PathPart[],
  depth: number,
  replace: (v: unknown, at: readonly PathPart[]) => unknown | typeof kKeep,
  descend: (v: object) => boolean,
): unknown {
  const r = replace(value, at);
  if (r !== kKeep) return r;
  if (typeof value !== 'object' || value === null || !descend(value)) return value;
  if (depth >= kMaxDepth) throw new IronlogError(ErrorCodes.ENCODE, `event is nested deeper than ${kMaxDepth} levels`);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      at.push(i);
      const child = rewrite(value[i], at, depth + 1, replace, descend);
      at.pop();
      if (child !== value[i] && out === undefined) out = value.slice(0, i);
      if (out !== undefined) out.push(child);
    }
    return out ?? value;
  }
  if (!isPlainObject(value)) return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    at.push(key);
    const child = rewrite(obj[key], at, depth + 1, replace, descend);
    at.pop();
    if (child !== obj[key] && out === undefined) {
      out = Object.getPrototypeOf(obj) === null ? Object.create(null) : {};
      for (let j = 0; j < k; j++)
        defineValue(out as Record<string, unknown>, keys[j] as string, obj[keys[j] as string]);
    }
    if (out !== undefined) defineValue(out, key, child);
  }
  return out ?? obj;
}

/** Which fields of an event are the subject's, and where its id is. */
export class SubjectSealer {
  /** The subject path's keys (`patient.id` -> ['patient', 'id']). */
  readonly subjectKeys: readonly string[];
  readonly subjectSource: string;
  readonly #paths: readonly FieldPath[];
  readonly #encoder = new EventEncoder();

  constructor(subjectPath: FieldPath, fields: readonly FieldPath[]) {
    this.subjectKeys = subjectPath.segments.map((s) => (s.kind === 'key' ? s.key : ''));
    this.subjectSource = subjectPath.source;
    // The subject's own id is sealed too: left in clear it would outlive the erasure.
    this.#paths = [...fields, subjectPath];
  }

  /** The subject id in `event` (not yet typed), or throws `ERR_IRONLOG_SUBJECT`. */
  subjectOf(event: unknown): unknown {
    if (typeof event !== 'object' || event === null || Array.isArray(event) || !isPlainObject(event)) {
      throw new IronlogError(
        ErrorCodes.SUBJECT,
        `subject encryption needs an object event with a subject at '${this.subjectSource}', got ${Array.isArray(event) ? 'an array' : event === null ? 'null' : typeof event}; nothing was written`,
      );
    }
    let v: unknown = event;
    for (const k of this.subjectKeys) {
      if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) {
        v = undefined;
        break;
      }
      v = (v as Record<string, unknown>)[k];
    }
    return v;
  }

  /** `event` with every subject field sealed under `key` (the input is not modified). */
  seal(event: unknown, kid: string, key: Buffer): unknown {
    const paths = this.#paths;
    const states: PathState[] = closeStates(
      paths,
      paths.map((_, rule) => ({ rule, at: 0 })),
    );
    const stack: PathState[][] = [];
    // Walk with the NFA: states follow `at`; a completed rule seals the value at that node.
    const replace = (v: unknown, at: readonly PathPart[]): unknown | typeof kKeep => {
      if (at.length > 0) {
        while (stack.length >= at.length) stack.pop();
        const parent = stack.length === 0 ? states : (stack[stack.length - 1] as PathState[]);
        const next = stepStates(paths, parent, at[at.length - 1] as PathPart);
        stack.push(next);
        if (next.length === 0) return v;
        if (completedRule(paths, next) >= 0 && v !== undefined) {
          return sealBytes(key, kid, at, Buffer.from(this.#encoder.encode(v)));
        }
      }
      return kKeep;
    };
    return rewrite(event, [], 0, replace, (o) => Array.isArray(o) || isPlainObject(o));
  }
}

/** The kids of every sealed value in a decoded event. */
export function sealedKids(event: unknown, out: Set<string> = new Set()): Set<string> {
  if (event instanceof SealedValue) out.add(event.kid);
  else if (Array.isArray(event)) for (const v of event) sealedKids(v, out);
  else if (typeof event === 'object' && event !== null && isPlainObject(event)) {
    for (const k of Object.keys(event)) sealedKids((event as Record<string, unknown>)[k], out);
  }
  return out;
}

/**
 * A decoded event with its sealed values opened: decrypted and decoded with `keyOf(kid)`,
 * `[ERASED]` where the key was erased. `ERR_IRONLOG_DECRYPT` when one does not authenticate.
 */
export function openSealed(event: unknown, keyOf: (kid: string) => Buffer | typeof kErased): unknown {
  return rewrite(
    event,
    [],
    0,
    (v, at) => {
      if (!(v instanceof SealedValue)) return kKeep;
      const key = keyOf(v.kid);
      if (key === kErased) return kErased;
      return decodeEventPayload(openBytes(key, v, at));
    },
    (o) => Array.isArray(o) || isPlainObject(o),
  );
}
