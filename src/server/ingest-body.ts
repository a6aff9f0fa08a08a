/**
 * Turns an HTTP request body into msgpack-encoded events, all or nothing: the whole body is
 * parsed, checked and encoded before anything is handed to the sink, so a bad event anywhere in a
 * batch means nothing of the batch is written.
 */
import { frameBytesFor } from '../ringbuffer/layout.js';
import { decodeEventPayloads, EventEncoder } from '../wal/event-codec.js';

/** The body formats `POST /events` accepts. */
export type BodyFormat = 'json' | 'ndjson' | 'msgpack';

/** Why a body was refused: `status` is the HTTP status to answer with. */
export interface BodyError {
  readonly status: 400 | 413 | 415;
  readonly code: string;
  readonly message: string;
}

/** Limits a body is checked against. */
export interface BodyLimits {
  /** Largest encoded event (the sink's `maxEventBytes`). */
  readonly maxEventBytes: number;
  /** Largest set of ring frames one claim may take (half the ring): keeps a batch all-or-nothing. */
  readonly maxBatchFrameBytes: number;
}

/** Content types of each format (media type only, lower case). */
const kFormats: ReadonlyMap<string, BodyFormat> = new Map<string, BodyFormat>([
  ['application/json', 'json'],
  // What `curl -d` and bare clients send: parsed as JSON, like application/json.
  ['application/x-www-form-urlencoded', 'json'],
  ['text/plain', 'json'],
  ['application/x-ndjson', 'ndjson'],
  ['application/ndjson', 'ndjson'],
  ['application/jsonl', 'ndjson'],
  ['application/x-jsonlines', 'ndjson'],
  ['application/msgpack', 'msgpack'],
  ['application/x-msgpack', 'msgpack'],
  ['application/vnd.msgpack', 'msgpack'],
]);

/**
 * The body format for a Content-Type header (missing: JSON), or undefined when unsupported,
 * including a JSON/NDJSON type with a `charset` other than UTF-8 (the body is read as UTF-8 only).
 */
export function bodyFormatFor(contentType: string | undefined): BodyFormat | undefined {
  if (contentType === undefined || contentType.trim() === '') return 'json';
  const [mediaPart, ...params] = contentType.split(';');
  const format = kFormats.get((mediaPart ?? '').trim().toLowerCase());
  if (format === undefined || format === 'msgpack') return format;
  for (const param of params) {
    const [name, value] = param.split('=');
    if ((name ?? '').trim().toLowerCase() !== 'charset') continue;
    const charset = (value ?? '').trim().replace(/^"|"$/g, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return undefined;
  }
  return format;
}

// The sink's own event codec, so replay decodes exactly what was posted.
const kEncoder = new EventEncoder();
/** Refuses a body that is not valid UTF-8 instead of storing U+FFFD in its place. */
const kUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The top-level key the server stamps the authenticated principal under (see docs/cli.md,
 * "Who wrote it"). No event of a body may carry it, on any server, so a record that has it was
 * stamped by an authenticating server.
 */
export const kPrincipalKey = '$principal';
/** The key the caller's event sits under in a stamped record. */
export const kStampedEventKey = '$event';

/** A plain object (not an array, bytes, a Date or a decoder's special value such as msgpack 0xC1). */
function isEventObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function bad(message: string): BodyError {
  return { status: 400, code: 'ERR_IRONLOG_INVALID_ARGUMENT', message };
}

/** Parses `body` into a list of event objects, or says why not. */
export function parseEvents(body: Buffer, format: BodyFormat): unknown[] | BodyError {
  if (body.length === 0) return bad('the body is empty: send a JSON object, a JSON array, NDJSON or msgpack');
  switch (format) {
    case 'json': {
      const text = utf8(body);
      if (typeof text !== 'string') return text;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return bad(`the body is not valid JSON: ${jsonReason(err)}`);
      }
      if (kSurrogateEscape.test(text) && hasLoneSurrogate(value)) return loneSurrogate();
      return eventList(value, 'the body');
    }
    case 'ndjson': {
      const events: unknown[] = [];
      const text = utf8(body);
      if (typeof text !== 'string') return text;
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = (lines[i] as string).trim();
        if (line === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (err) {
          return bad(`line ${i + 1} is not valid JSON: ${jsonReason(err)}`);
        }
        if (!isEventObject(value)) return bad(`line ${i + 1} is not a JSON object`);
        events.push(value);
      }
      if (events.length === 0) return bad('the NDJSON body has no events');
      if (kSurrogateEscape.test(text) && hasLoneSurrogate(events)) return loneSurrogate();
      return events;
    }
    case 'msgpack': {
      let values: unknown[];
      try {
        values = decodeEventPayloads(body);
      } catch (err) {
        return bad(`the body is not valid msgpack: ${printable((err as Error).message)}`);
      }
      if (values.length === 1) return eventList(values[0], 'the msgpack body');
      for (let i = 0; i < values.length; i++) {
        if (!isEventObject(values[i])) return bad(`msgpack value ${i + 1} is not a map (object)`);
      }
      return values;
    }
  }
}

function eventList(value: unknown, what: string): unknown[] | BodyError {
  if (isEventObject(value)) return [value];
  if (!Array.isArray(value)) return bad(`${what} must be an object or an array of objects`);
  for (let i = 0; i < value.length; i++) {
    if (!isEventObject(value[i])) return bad(`${what}: item ${i} is not an object`);
  }
  return value;
}

/** Encodes every event (msgpack) and checks the sizes, before anything is emitted. */
export function encodeEvents(
  events: readonly unknown[],
  limits: BodyLimits,
  principal?: string | undefined,
): Buffer[] | BodyError {
  const payloads: Buffer[] = [];
  let frameBytes = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Record<string, unknown>;
    if (Object.hasOwn(event, kPrincipalKey)) {
      return bad(`event ${i} has the key ${kPrincipalKey}, which only the server sets (the authenticated writer)`);
    }
    let payload: Buffer;
    try {
      payload = kEncoder.encode(
        principal === undefined ? event : { [kPrincipalKey]: principal, [kStampedEventKey]: event },
      );
    } catch (err) {
      return { status: 400, code: 'ERR_IRONLOG_ENCODE', message: `event ${i} cannot be encoded: ${String(err)}` };
    }
    if (payload.length > limits.maxEventBytes) {
      return {
        status: 413,
        code: 'ERR_IRONLOG_EVENT_TOO_LARGE',
        message: `event ${i} is ${payload.length} bytes encoded, more than maxEventBytes (${limits.maxEventBytes}); nothing was written`,
      };
    }
    frameBytes += frameBytesFor(payload.length);
    payloads.push(payload);
  }
  if (frameBytes > limits.maxBatchFrameBytes) {
    return {
      status: 413,
      code: 'ERR_HTTP_BATCH_TOO_LARGE',
      message: `the batch needs ${frameBytes} bytes of ring space, more than one claim may take (${limits.maxBatchFrameBytes}); split it; nothing was written`,
    };
  }
  return payloads;
}

/** A JSON `\uD800`-`\uDFFF` escape: only a body with one can hold a lone surrogate (valid UTF-8 cannot). */
const kSurrogateEscape = /\\u[dD][89a-fA-F]/;

/** True when a string (key or value) anywhere in `value` is not well-formed UTF-16. */
function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) if (!k.isWellFormed() || hasLoneSurrogate(v)) return true;
  }
  return false;
}

function loneSurrogate(): BodyError {
  return bad(
    'a string holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape), which UTF-8 cannot store; nothing was written',
  );
}

/** The body as text, or a 400 when it is not valid UTF-8. */
function utf8(body: Buffer): string | BodyError {
  try {
    return kUtf8.decode(body);
  } catch {
    return bad('the body is not valid UTF-8; nothing was written');
  }
}

/**
 * Why JSON.parse failed, without the piece of the body V8 quotes (`"..." is not valid JSON`):
 * an error message never echoes body bytes.
 */
function jsonReason(err: unknown): string {
  const message = String((err as Error)?.message ?? err).replace(/, ".*" is not valid JSON$/s, ' (not valid JSON)');
  return printable(message);
}

/** `text` with control and non-ASCII characters escaped as \uXXXX. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** Type guard for {@link BodyError}. */
export function isBodyError(v: unknown): v is BodyError {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as BodyError).status === 'number';
}
