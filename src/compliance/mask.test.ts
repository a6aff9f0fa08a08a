import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { luhnValid, maskCardNumbersInText, maskPan } from './card-number.js';
import { compileFieldPath } from './field-path.js';
import { compileMasking, kRedacted } from './mask.js';
import { isPseudonymToken, Pseudonymizer } from './pseudonymize.js';

const kKey = { keyId: 'k2026', key: Buffer.alloc(32, 7) };

/** Every run of 13-19 consecutive ASCII digits in `s` that passes Luhn. */
function luhnValidRuns(s: string): string[] {
  const found: string[] = [];
  for (const m of s.matchAll(/\d+/g)) {
    const d = m[0];
    for (let len = 13; len <= 19; len++) {
      for (let i = 0; i + len <= d.length; i++) if (luhnValid(d.slice(i, i + len))) found.push(d.slice(i, i + len));
    }
  }
  return found;
}

/** All strings anywhere in a value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) strings(x, out);
  return out;
}

/** A Luhn-valid number of `len` digits built from `body`. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}

const digitString = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((a) => a.join(''));
const cardNumber = digitString(12, 18).map(withCheckDigit);
/** Strings that often hold card numbers, with separators, in text. */
const textWithCards = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 8 }),
      cardNumber,
      cardNumber.map((c) => c.replace(/(\d{4})(?=\d)/g, '$1 ')),
      cardNumber.map((c) => c.replace(/(\d{4})(?=\d)/g, '$1-')),
      digitString(1, 30),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));
const eventShape = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    textWithCards,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('card numbers', () => {
  it('Luhn known answers', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('12a4')).toBe(false);
  });

  it('a PAN keeps at most the first 6 and the last 4 digits', () => {
    expect(maskPan('4111111111111111')).toBe('411111******1111');
    expect(maskPan('4111-1111-1111-1111')).toBe('4111-11**-****-1111');
    expect(maskPan('5500000000000004')).toBe('550000******0004');
    // Short values never show 10 of their digits.
    expect(maskPan('1234567890123')).toBe('123******0123');
    expect(maskPan('123456789')).toBe('*****6789');
    expect(maskPan('1234')).toBe('****');
  });

  it('property: with the scan on, no Luhn-valid 13-19 digit run survives in any string of any event', () => {
    const masker = compileMasking({ scanCardNumbers: true });
    fc.assert(
      fc.property(eventShape, (event) => {
        const out = masker.apply(event);
        for (const s of strings(out)) expect(luhnValidRuns(s)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('property: masking is stable (masking twice changes nothing more) and never mutates the input', () => {
    const masker = compileMasking({ scanCardNumbers: true, fields: [{ path: '**.pan', action: 'pan' }] });
    fc.assert(
      fc.property(eventShape, (event) => {
        const before = structuredClone(event);
        const once = masker.apply(event);
        expect(event).toEqual(before);
        expect(masker.apply(once)).toEqual(once);
        expect(masker.apply(event)).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });

  it('the scan finds cards written with spaces or dashes inside free text', () => {
    expect(maskCardNumbersInText('paid with 4111 1111 1111 1111 today')).toBe('paid with 4111 11** **** 1111 today');
    expect(maskCardNumbersInText('order 1234567890123 shipped')).toBe('order 1234567890123 shipped'); // not Luhn-valid
  });
});

describe('field rules', () => {
  it('paths: keys, [*], *, ** and errors', () => {
    expect(compileFieldPath('items[*].pan', 'p').segments).toEqual([
      { kind: 'key', key: 'items' },
      { kind: 'anyIndex' },
      { kind: 'key', key: 'pan' },
    ]);
    for (const bad of ['', 'a..b', 'a[1]', 'a[', 'a]', 'a.*b', 3]) {
      expect(() => compileFieldPath(bad, 'options.masking.fields[0].path')).toThrow(
        expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION' }),
      );
    }
  });

  it('remove, redact, pan, pseudonymize by path; missing paths are no-ops; the input is untouched', () => {
    const masker = compileMasking(
      {
        fields: [
          { path: 'user.ssn', action: 'remove' },
          { path: 'user.name', action: 'redact' },
          { path: 'items[*].pan', action: 'pan' },
          { path: 'patient.id', action: 'pseudonymize' },
          { path: 'not.there', action: 'remove' },
        ],
      },
      kKey,
    );
    const event = {
      user: { ssn: '123-45-6789', name: 'Ann', role: 'admin' },
      items: [{ pan: '4111111111111111', qty: 1 }, { qty: 2 }],
      patient: { id: 'P-77' },
      note: 'kept',
    };
    const copy = structuredClone(event);
    const out = masker.apply(event) as typeof event;
    expect(event).toEqual(copy);
    expect(out.user).toEqual({ name: kRedacted, role: 'admin' });
    expect(out.items).toEqual([{ pan: '411111******1111', qty: 1 }, { qty: 2 }]);
    expect(isPseudonymToken(out.patient.id)).toBe(true);
    expect(out.note).toBe('kept');
    expect(masker.apply({ other: 1 })).toEqual({ other: 1 });
  });

  it('the card preset removes CVV and track data at any depth', () => {
    const masker = compileMasking({ cardFields: true });
    const out = masker.apply({ payment: { cardNumber: '5500000000000004', cvv: '123', track2: ';55=..?' }, cvc: 1 });
    expect(out).toEqual({ payment: { cardNumber: '550000******0004' } });
  });

  it('pattern rules replace every match in every string', () => {
    const masker = compileMasking({ patterns: [{ pattern: '[\\w.+-]+@[\\w-]+\\.[\\w.]+', replacement: '<email>' }] });
    expect(masker.apply({ msg: 'mail a@b.io or c@d.org', list: ['x@y.com'] })).toEqual({
      msg: 'mail <email> or <email>',
      list: ['<email>'],
    });
  });

  it('keeps a __proto__ key as an own property and never pollutes prototypes', () => {
    const masker = compileMasking({ fields: [{ path: 'a.secret', action: 'redact' }] });
    const event = JSON.parse('{"__proto__": {"polluted": 1}, "a": {"secret": "s"}}');
    const out = masker.apply(event) as Record<string, unknown>;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('bad rules are typed errors naming the option', () => {
    const cases: [unknown, string][] = [
      [{ fields: 'x' }, 'options.masking.fields must be an array'],
      [{ fields: [{ path: 'a', action: 'hide' }] }, 'options.masking.fields[0].action must be one of'],
      [{ fields: [{ path: 'a[', action: 'remove' }] }, 'options.masking.fields[0].path must be a field path'],
      [{ fields: [{ path: 'a', action: 'pseudonymize' }] }, 'needs options.pseudonymization'],
      [{ patterns: [{ pattern: '(' }] }, 'options.masking.patterns[0].pattern must be a valid regular expression'],
      [{ patterns: [{ pattern: 'a*' }] }, 'must not match the empty string'],
      [{ patterns: [{ pattern: 'a', flags: 'x' }] }, 'options.masking.patterns[0].flags'],
      [{ scanCardNumbers: 'yes' }, 'options.masking.scanCardNumbers must be a boolean'],
    ];
    for (const [opts, message] of cases) {
      expect(() => compileMasking(opts as never)).toThrow(
        expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION', message: expect.stringContaining(message) }),
      );
    }
  });

  it('a cyclic event is a typed error, not a stack overflow', () => {
    const masker = compileMasking({ scanCardNumbers: true });
    const a: { x: number; self?: unknown } = { x: 1 };
    a.self = a;
    expect(() => masker.apply(a)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_ENCODE' }));
  });
});

describe('pseudonymization', () => {
  it('tokens are stable per key, differ across keys and types, and carry the key id', () => {
    const p = new Pseudonymizer(kKey);
    const q = new Pseudonymizer({ keyId: 'k2027', key: Buffer.alloc(32, 8) });
    expect(p.token('alice')).toBe(p.token('alice'));
    expect(p.token('alice')).not.toBe(q.token('alice'));
    expect(p.token('42')).not.toBe(p.token(42));
    expect(p.token('alice').startsWith('ps1.k2026.')).toBe(true);
    expect(isPseudonymToken(p.token(7n))).toBe(true);
  });

  it('known answer: HMAC-SHA-256 over the typed value', async () => {
    const { createHmac } = await import('node:crypto');
    const mac = createHmac('sha256', Buffer.alloc(32, 7)).update('s:alice').digest('base64url');
    expect(new Pseudonymizer(kKey).token('alice')).toBe(`ps1.k2026.${mac}`);
  });

  it('weak or malformed keys are refused', () => {
    expect(() => new Pseudonymizer({ keyId: 'k', key: Buffer.alloc(16) })).toThrow(/at least 32 bytes/);
    expect(() => new Pseudonymizer({ keyId: 'bad id', key: Buffer.alloc(32) })).toThrow(/keyId/);
  });
});
