/**
 * The msgpack codec of an event payload, shared by every producer (`sink.emit`, `ironlog serve`)
 * and every reader (`readWal`, replay), so a record comes back exactly as it was given:
 *
 * - Keys named `__proto__` stay own properties. msgpackr's decoder renames such a key to
 *   `__proto_` (its guard against prototype pollution); {@link decodeEventPayload} decodes a
 *   payload that may hold one with maps kept as `Map`s and rebuilds the objects with
 *   `Object.defineProperty`, which neither renames the key nor touches a prototype.
 * - An `Error` anywhere in an event is stored as a plain map `{ name, message, stack, code?,
 *   cause?, errors?, ...own enumerable fields }` (the shape pino's error serializer gives), `cause`
 *   and `errors` converted the same way, a cycle stored as the string `'[Circular]'`. msgpackr's
 *   own encoding (`[name, message, cause]`) loses the stack and the code.
 */
import { addExtension, Packr, RESET_BUFFER_MODE, Unpackr } from 'msgpackr';
// Registers the msgpack extension of encrypted fields (issue 11), for every encoder and reader.
import './sealed-value.js';

/** True only while one of this module's encoders is packing: keeps the Error hook out of other Packrs. */
let packingEvent = false;

/**
 * The class msgpackr's extension list matches Errors against. `instanceof` answers true only
 * inside {@link EventEncoder.encode}, so an application's own msgpackr encoders (the extension
 * list is global to the msgpackr module) keep msgpackr's encoding of Errors.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: msgpackr matches an extension by `instanceof` its Class
class ErrorInEvent {
  static [Symbol.hasInstance](value: unknown): boolean {
    return packingEvent && value instanceof Error;
  }
}

/** The stored form of an Error (what a reader gets back). */
export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: unknown;
  errors?: unknown[];
  [field: string]: unknown;
}

const kFixedErrorFields: ReadonlySet<string> = new Set(['name', 'message', 'stack', 'code', 'cause', 'errors']);

/** Converts an Error (and its causes, recursively) into {@link StoredError}; `path` holds the errors being converted. */
export function errorToStored(err: Error, path: Set<Error> = new Set()): StoredError {
  path.add(err);
  const convert = (v: unknown): unknown => {
    if (!(v instanceof Error)) return v;
    return path.has(v) ? '[Circular]' : errorToStored(v, path);
  };
  const out: StoredError = { name: String(err.name), message: String(err.message) };
  if (typeof err.stack === 'string') out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause !== undefined) out.cause = convert(err.cause);
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) out.errors = errors.map(convert);
  for (const key of Object.keys(err)) {
    if (kFixedErrorFields.has(key) || key === '__proto__') continue;
    out[key] = convert((err as unknown as Record<string, unknown>)[key]);
  }
  path.delete(err);
  return out;
}

addExtension({ Class: ErrorInEvent, write: (err: Error) => errorToStored(err) });

/** A msgpack encoder of events (one per producer: the Packr reuses its buffer). */
export class EventEncoder {
  readonly #packr = new Packr({
    useRecords: false,
    // msgpackr silently encodes a function as `undefined`; an audit log must not drop data quietly.
    writeFunction: () => {
      throw new TypeError('functions cannot be encoded');
    },
  });

  /** Encodes one event (a view into msgpackr's buffer, which later calls do not overwrite). */
  encode(event: unknown): Buffer {
    return this.#pack(event, 0);
  }

  /**
   * Encodes one event into a view that the next call of this encoder overwrites: for a caller
   * that copies the bytes at once (the producer, into the ring). msgpackr then writes every event
   * at the start of its buffer instead of walking through it and allocating a new one every few
   * dozen events (`RESET_BUFFER_MODE`; measured in bench/msgpack-options.mjs).
   */
  encodeTransient(event: unknown): Buffer {
    return this.#pack(event, RESET_BUFFER_MODE);
  }

  /** msgpackr's pack with the Error hook on (`mode`: msgpackr's encode options, 0 for none). */
  #pack(event: unknown, mode: number): Buffer {
    packingEvent = true;
    try {
      return this.#packr.pack(event, mode);
    } finally {
      packingEvent = false;
    }
  }
}

const kFastUnpackr = new Unpackr({ useRecords: false, copyBuffers: true });
const kMapUnpackr = new Unpackr({ useRecords: false, copyBuffers: true, mapsAsObjects: false });
/** The UTF-8 bytes of `__proto__`: a payload without them cannot hold such a key (in any str format). */
const kProtoKeyBytes = Buffer.from('__proto__', 'utf8');

/**
 * Decodes one msgpack value (throws on invalid msgpack). Fast path: msgpackr's own object
 * decoding; only a payload whose bytes contain `__proto__` takes the slower exact path.
 */
export function decodeEventPayload(bytes: Uint8Array): unknown {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.indexOf(kProtoKeyBytes) < 0) return kFastUnpackr.unpack(buf);
  return mapsToObjects(kMapUnpackr.unpack(buf));
}

/** Decodes a sequence of msgpack values (an HTTP body), keys kept exactly as {@link decodeEventPayload} does. */
export function decodeEventPayloads(bytes: Buffer): unknown[] {
  if (bytes.indexOf(kProtoKeyBytes) < 0) return kFastUnpackr.unpackMultiple(bytes) as unknown[];
  return (kMapUnpackr.unpackMultiple(bytes) as unknown[]).map(mapsToObjects);
}

/** The key msgpackr's object decoding gives a non-string key (it assigns `object[key]`). */
function keyString(key: unknown): string {
  return typeof key === 'string' ? key : String(mapsToObjects(key));
}

/** Turns the `Map`s of a `mapsAsObjects: false` decode into plain objects, every key an own property. */
function mapsToObjects(value: unknown): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      const key = keyString(k);
      const converted = mapsToObjects(v);
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value: converted, enumerable: true, writable: true, configurable: true });
      } else {
        out[key] = converted;
      }
    }
    return out;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = mapsToObjects(value[i]);
    return value;
  }
  if (value instanceof Set) return new Set([...value].map(mapsToObjects));
  return value;
}
