/**
 * Bounds the work of one request before its body is decoded: a single pass over the bytes that
 * allocates nothing, counts the events the body declares and refuses early
 *
 * - 413 when the events could not fit in one ring claim even at the smallest possible size
 *   (an empty map is one byte of msgpack, one ring frame of `frameBytesFor(1)` bytes), so a body of a
 *   million empty maps is refused after reading a fraction of it, not after building a million objects;
 * - 400 when a msgpack header declares more elements or bytes than the body holds, when the body
 *   ends inside a value, or when a msgpack string is not valid UTF-8 (it would come back altered).
 *
 * JSON bodies are counted by their top-level array items, NDJSON bodies by their non-empty lines,
 * and their numbers are checked: one that JSON.parse would round or overflow is refused (400).
 */
import { isUtf8 } from 'node:buffer';
import { frameBytesFor } from '../ringbuffer/layout.js';
import type { BodyError, BodyFormat } from './ingest-body.js';

/** The smallest ring frame an event can take (a 1-byte payload). */
const kMinFrameBytes = frameBytesFor(1);

/** Most events one request may hold under `maxBatchFrameBytes`. */
export function maxEventsFor(maxBatchFrameBytes: number): number {
  return Math.floor(maxBatchFrameBytes / kMinFrameBytes);
}

function tooMany(events: number, maxEvents: number, exact: boolean): BodyError {
  return {
    status: 413,
    code: 'ERR_HTTP_BATCH_TOO_LARGE',
    message: `the body holds ${exact ? '' : 'more than '}${events} events; one request may hold at most ${maxEvents} (one ring claim); split it; nothing was written`,
  };
}

function bad(message: string): BodyError {
  return { status: 400, code: 'ERR_IRONLOG_INVALID_ARGUMENT', message: `${message}; nothing was written` };
}

/** Checks `body` against the per-request budget; undefined when it may be decoded. */
export function checkBodyBudget(body: Buffer, format: BodyFormat, maxBatchFrameBytes: number): BodyError | undefined {
  const maxEvents = maxEventsFor(maxBatchFrameBytes);
  switch (format) {
    case 'msgpack':
      return scanMsgpack(body, maxEvents);
    case 'json':
      return countJsonItems(body, maxEvents) ?? checkJsonNumbers(body);
    case 'ndjson':
      return countLines(body, maxEvents) ?? checkJsonNumbers(body);
  }
}

const kMaxSafeDigits = String(Number.MAX_SAFE_INTEGER).length;

/**
 * Refuses a JSON number that JSON.parse would change: an integer beyond ±(2^53 - 1) (it would be
 * rounded, e.g. an id 12345678901234567890 stored as 12345678901234567000) or a number beyond the
 * range of a double (stored as Infinity, replayed as null). Strings are skipped.
 */
function checkJsonNumbers(body: Buffer): BodyError | undefined {
  const len = body.length;
  for (let i = 0; i < len; i++) {
    const c = body[i] as number;
    if (c === 0x22) {
      for (i++; i < len && body[i] !== 0x22; i++) if (body[i] === 0x5c) i++;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    const start = i;
    let integer = true;
    while (i + 1 < len) {
      const n = body[i + 1] as number;
      if (n >= 0x30 && n <= 0x39) i++;
      else if (n === 0x2e || n === 0x65 || n === 0x45 || n === 0x2b || n === 0x2d) {
        integer = false;
        i++;
      } else break;
    }
    const digits = i - start + 1 - (c === 0x2d ? 1 : 0);
    if (integer && digits < kMaxSafeDigits) continue;
    const text = body.toString('latin1', start, i + 1);
    const value = Number(text);
    if (Number.isNaN(value)) continue; // not a number token: JSON.parse reports it
    if (!Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
      return bad(
        `the number ${text.length > 40 ? `${text.slice(0, 40)}...` : text} at byte ${start} cannot be stored exactly ` +
          '(integers beyond ±(2^53 - 1) lose precision, numbers beyond ±1.8e308 become Infinity); send it as a string',
      );
    }
  }
  return undefined;
}

/** Non-empty NDJSON lines, stopping once past `maxEvents`. */
function countLines(body: Buffer, maxEvents: number): BodyError | undefined {
  let lines = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    for (let i = start; i < end; i++) {
      const c = body[i] as number;
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        if (++lines > maxEvents) return tooMany(maxEvents, maxEvents, false);
        break;
      }
    }
    start = end + 1;
  }
  return undefined;
}

/** Items of a top-level JSON array (strings skipped), stopping once past `maxEvents`. */
function countJsonItems(body: Buffer, maxEvents: number): BodyError | undefined {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x5b) return undefined; // not an array: one event at most
  let depth = 0;
  let items = 0;
  let expectItem = false;
  for (; i < body.length; i++) {
    const c = body[i] as number;
    if (c === 0x22) {
      // Skip a string (escapes included) so brackets and commas inside it do not count.
      for (i++; i < body.length && body[i] !== 0x22; i++) if (body[i] === 0x5c) i++;
      if (depth === 1 && expectItem) {
        expectItem = false;
        if (++items > maxEvents) return tooMany(maxEvents, maxEvents, false);
      }
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x5b || c === 0x7b) {
      if (depth === 1 && expectItem) {
        expectItem = false;
        if (++items > maxEvents) return tooMany(maxEvents, maxEvents, false);
      }
      depth++;
      if (depth === 1) expectItem = true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return undefined;
    } else if (depth === 1) {
      if (c === 0x2c) expectItem = true;
      else if (expectItem) {
        expectItem = false;
        if (++items > maxEvents) return tooMany(maxEvents, maxEvents, false);
      }
    }
  }
  return undefined;
}

/**
 * One pass over a msgpack body: every header's declared length is checked against the bytes
 * left, strings are checked for UTF-8, and top-level events are counted. `pending` is the number
 * of values the open containers still owe; each needs at least one byte.
 */
function scanMsgpack(body: Buffer, maxEvents: number): BodyError | undefined {
  const len = body.length;
  let pos = 0;
  let pending = 0;
  let topValues = 0;
  while (pos < len) {
    const at = pos;
    const top = pending === 0;
    if (top) {
      if (++topValues > maxEvents) return tooMany(maxEvents, maxEvents, false);
    } else {
      pending--;
    }
    const t = body[pos++] as number;
    let children = 0;
    let payload = 0;
    let isString = false;
    if (t <= 0x7f || t >= 0xe0) {
      // positive / negative fixint
    } else if (t <= 0x8f) {
      children = (t & 0x0f) * 2;
    } else if (t <= 0x9f) {
      children = t & 0x0f;
    } else if (t <= 0xbf) {
      payload = t & 0x1f;
      isString = true;
    } else {
      const need = (n: number): boolean => pos + n <= len;
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc1:
          return bad(`the msgpack body has the never-used byte 0xc1 at offset ${at}`);
        case 0xc4:
        case 0xd9:
          if (!need(1)) return truncated(at);
          payload = body[pos] as number;
          pos += 1;
          isString = t === 0xd9;
          break;
        case 0xc5:
        case 0xda:
          if (!need(2)) return truncated(at);
          payload = body.readUInt16BE(pos);
          pos += 2;
          isString = t === 0xda;
          break;
        case 0xc6:
        case 0xdb:
          if (!need(4)) return truncated(at);
          payload = body.readUInt32BE(pos);
          pos += 4;
          isString = t === 0xdb;
          break;
        case 0xc7:
          if (!need(2)) return truncated(at);
          payload = (body[pos] as number) + 1;
          pos += 1;
          break;
        case 0xc8:
          if (!need(3)) return truncated(at);
          payload = body.readUInt16BE(pos) + 1;
          pos += 2;
          break;
        case 0xc9:
          if (!need(5)) return truncated(at);
          payload = body.readUInt32BE(pos) + 1;
          pos += 4;
          break;
        case 0xca:
          payload = 4;
          break;
        case 0xcb:
          payload = 8;
          break;
        case 0xcc:
        case 0xd0:
          payload = 1;
          break;
        case 0xcd:
        case 0xd1:
          payload = 2;
          break;
        case 0xce:
        case 0xd2:
          payload = 4;
          break;
        case 0xcf:
        case 0xd3:
          payload = 8;
          break;
        case 0xd4:
          payload = 2;
          break;
        case 0xd5:
          payload = 3;
          break;
        case 0xd6:
          payload = 5;
          break;
        case 0xd7:
          payload = 9;
          break;
        case 0xd8:
          payload = 17;
          break;
        case 0xdc:
          if (!need(2)) return truncated(at);
          children = body.readUInt16BE(pos);
          pos += 2;
          break;
        case 0xdd:
          if (!need(4)) return truncated(at);
          children = body.readUInt32BE(pos);
          pos += 4;
          break;
        case 0xde:
          if (!need(2)) return truncated(at);
          children = body.readUInt16BE(pos) * 2;
          pos += 2;
          break;
        case 0xdf:
          if (!need(4)) return truncated(at);
          children = body.readUInt32BE(pos) * 2;
          pos += 4;
          break;
      }
    }
    if (payload > len - pos) {
      return bad(`the msgpack value at offset ${at} declares ${payload} bytes but only ${len - pos} remain`);
    }
    if (isString && payload > 0 && !isAscii(body, pos, pos + payload) && !isUtf8(body.subarray(pos, pos + payload))) {
      return bad(`the msgpack string at offset ${at} is not valid UTF-8`);
    }
    pos += payload;
    if (children > 0) {
      // A top-level array is the batch itself: its length is the event count, known up front.
      if (top && topValues === 1 && (t & 0xf0) === 0x90 && children > maxEvents) {
        return tooMany(children, maxEvents, true);
      }
      if (top && topValues === 1 && (t === 0xdc || t === 0xdd) && children > maxEvents) {
        return tooMany(children, maxEvents, true);
      }
      pending += children;
      if (pending > len - pos) {
        return bad(
          `the msgpack value at offset ${at} declares ${children} elements but only ${len - pos} bytes remain`,
        );
      }
    }
  }
  if (pending > 0) return truncated(len);
  return undefined;
}

/** ASCII bytes only (most keys and short values): cheaper in line than a call to `isUtf8`. */
function isAscii(body: Buffer, from: number, to: number): boolean {
  if (to - from > 64) return false;
  for (let i = from; i < to; i++) if ((body[i] as number) >= 0x80) return false;
  return true;
}

function truncated(at: number): BodyError {
  return bad(`the msgpack body ends inside a value (offset ${at})`);
}
