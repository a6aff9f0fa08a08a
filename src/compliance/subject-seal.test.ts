// biome-ignore-all lint/suspicious/noExplicitAny: decoded test events of any shape
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../core/errors.js';
import { decodeEventPayload, EventEncoder } from '../wal/event-codec.js';
import { SealedValue } from '../wal/sealed-value.js';
import { compileFieldPath } from './field-path.js';
import { kErased } from './keystore.js';
import { openSealed, SubjectSealer, sealedKids } from './subject-seal.js';

const sealer = new SubjectSealer(compileFieldPath('p.id', 's'), [
  compileFieldPath('p.name', 'f'),
  compileFieldPath('items[*].pan', 'f'),
  compileFieldPath('**.email', 'f'),
]);
const key = randomBytes(32);
const kid = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('subject sealing', () => {
  const event = {
    p: { id: 7, name: 'Ann', age: 40 },
    items: [{ pan: '4111', qty: 1 }, { qty: 2 }],
    deep: { x: { email: 'a@b.c' } },
    keep: 'plain',
  };

  it('seals exactly the configured fields (and the subject id), survives msgpack, opens back', () => {
    const sealed = sealer.seal(event, kid, key) as any;
    expect(event.p.name).toBe('Ann');
    expect(sealed.p.name).toBeInstanceOf(SealedValue);
    expect(sealed.p.id).toBeInstanceOf(SealedValue);
    expect(sealed.p.age).toBe(40);
    expect(sealed.items[0].pan).toBeInstanceOf(SealedValue);
    expect(sealed.items[1]).toBe(event.items[1]);
    expect(sealed.deep.x.email).toBeInstanceOf(SealedValue);
    expect(sealed.keep).toBe('plain');
    const stored = decodeEventPayload(new EventEncoder().encode(sealed));
    expect([...sealedKids(stored)]).toEqual([kid]);
    expect(openSealed(stored, () => key)).toEqual(event);
    expect(openSealed(stored, () => kErased)).toMatchObject({ p: { id: kErased, name: kErased, age: 40 } });
  });

  it('a sealed value moved to another field, or opened with another key, fails authentication', () => {
    const sealed = decodeEventPayload(new EventEncoder().encode(sealer.seal(event, kid, key))) as any;
    const moved = { ...sealed, p: { ...sealed.p, name: sealed.p.id, id: sealed.p.name } };
    expect(() => openSealed(moved, () => key)).toThrow(expect.objectContaining({ code: ErrorCodes.DECRYPT }));
    expect(() => openSealed(sealed, () => randomBytes(32))).toThrow(
      expect.objectContaining({ code: ErrorCodes.DECRYPT }),
    );
    const flipped = new SealedValue(sealed.p.name.bytes);
    flipped.bytes.writeUInt8(
      (flipped.bytes.readUInt8(flipped.bytes.length - 20) ^ 1) & 0xff,
      flipped.bytes.length - 20,
    );
    expect(() => openSealed({ p: { name: flipped } }, () => key)).toThrow(
      expect.objectContaining({ code: ErrorCodes.DECRYPT }),
    );
  });

  it('finds the subject; non-objects and missing ids are typed errors upstream', () => {
    expect(sealer.subjectOf(event)).toBe(7);
    expect(sealer.subjectOf({ p: {} })).toBeUndefined();
    expect(() => sealer.subjectOf('x')).toThrow(expect.objectContaining({ code: ErrorCodes.SUBJECT }));
    expect(() => sealer.subjectOf(null)).toThrow(expect.objectContaining({ code: ErrorCodes.SUBJECT }));
  });
});
