import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { crc32 } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { CRC32C_POLYNOMIAL, crc32c, crc32cUpdate } from './crc32c.js';

const hex = (n: number): string => n.toString(16).padStart(8, '0');

describe('crc32c', () => {
  it('has the CRC-32C check value', () => {
    expect(hex(crc32c(Buffer.from('123456789')))).toBe('e3069283');
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('matches hash-wasm crc32(data, 0x82F63B78) for every length 0..300 and random data', async () => {
    for (let len = 0; len <= 300; len++) {
      const data = randomBytes(len);
      expect(hex(crc32c(data))).toBe(await crc32(data, CRC32C_POLYNOMIAL));
    }
    const big = randomBytes(1 << 20);
    expect(hex(crc32c(big))).toBe(await crc32(big, CRC32C_POLYNOMIAL));
  });

  it('continues over split ranges (update form) and respects start/end', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), async (bytes, a, b) => {
        const data = Buffer.from(bytes);
        const i = data.length === 0 ? 0 : a % (data.length + 1);
        const j = i + (data.length - i === 0 ? 0 : b % (data.length - i + 1));
        const whole = crc32c(data, i, j);
        expect(hex(whole)).toBe(await crc32(data.subarray(i, j), CRC32C_POLYNOMIAL));
        const mid = i + Math.floor((j - i) / 3);
        expect(crc32cUpdate(crc32cUpdate(0, data, i, mid), data, mid, j)).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('works on a SharedArrayBuffer-backed Uint8Array (the ring)', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    shared.set(randomBytes(64));
    expect(crc32c(shared, 3, 61)).toBe(crc32c(Buffer.from(shared), 3, 61));
  });
});
