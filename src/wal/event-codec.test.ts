import { Packr, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEventPayload, decodeEventPayloads, EventEncoder, errorToStored } from './event-codec.js';

const kPlain = new Packr({ useRecords: false });

describe('decodeEventPayload', () => {
  it('gives back a __proto__ key as an own property, at any depth, without touching a prototype', () => {
    const event = JSON.parse('{"a":[{"__proto__":{"isAdmin":true}}],"__proto__":null,"constructor":{"prototype":1}}');
    const decoded = decodeEventPayload(kPlain.pack(event)) as Record<string, unknown>;
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(event));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(({} as { isAdmin?: unknown }).isAdmin).toBeUndefined();
    // msgpackr's own decoder renames the key: the reason this codec exists.
    expect(Object.keys(unpack(kPlain.pack(event)) as object)).toContain('__proto_');
  });

  it('decodes like msgpackr on the slow path too: numeric keys, Sets, Dates, bytes', () => {
    const value = new Map<unknown, unknown>([
      ['__proto__', 1],
      [7, 'seven'],
      ['d', new Date(1_700_000_000_123)],
      ['b', Buffer.from([1, 2])],
    ]);
    const decoded = decodeEventPayload(kPlain.pack(value)) as { '7': string; d: Date; b: Uint8Array };
    expect(Object.keys(decoded)).toEqual(['7', '__proto__', 'd', 'b']);
    expect(decoded['7']).toBe('seven');
    expect(decoded.d).toEqual(new Date(1_700_000_000_123));
    expect(Buffer.from(decoded.b as Uint8Array)).toEqual(Buffer.from([1, 2]));
    expect(
      decodeEventPayloads(Buffer.concat([kPlain.pack({ x: 1 }), kPlain.pack(JSON.parse('{"__proto__":2}'))])),
    ).toEqual([{ x: 1 }, JSON.parse('{"__proto__":2}')]);
  });
});

describe('EventEncoder and errorToStored', () => {
  it('stores nested and cyclic errors as plain maps', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const stored = errorToStored(b);
    expect(stored).toEqual({
      name: 'Error',
      message: 'b',
      stack: b.stack,
      cause: { name: 'Error', message: 'a', stack: a.stack, cause: '[Circular]' },
    });
    const enc = new EventEncoder();
    expect(decodeEventPayload(enc.encode({ e: b }))).toEqual({ e: stored });
    // A function is still refused, not dropped.
    expect(() => enc.encode({ f: () => 1 })).toThrow(/functions cannot be encoded/);
  });
});
