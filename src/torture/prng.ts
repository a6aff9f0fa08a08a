/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) for the torture suite. Every random
 * choice of a scenario comes from one of these, so an iteration replays exactly from its seed.
 */

/** splitmix32 step: spreads a 32-bit seed. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/** Mixes a base seed and an index into a new 32-bit seed (iteration `i` of a run). */
export function deriveSeed(seed: number, index: number, salt = 0): number {
  let [s, z] = splitmix32((seed ^ Math.imul(salt + 1, 0x27d4eb2d)) | 0);
  [s, z] = splitmix32((s ^ Math.imul(index + 1, 0x165667b1)) | 0);
  return (z ^ s) >>> 0;
}

/** Deterministic random source (sfc32). */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed any 32-bit integer; the same seed gives the same sequence. */
  constructor(seed: number) {
    let s = seed | 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [ns, z] = splitmix32(s);
      s = ns;
      out.push(z | 0);
    }
    this.#a = out[0] as number;
    this.#b = out[1] as number;
    this.#c = out[2] as number;
    this.#d = out[3] as number;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A random element of `items` (which must not be empty). */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Fills `buf` with random bytes. */
  fill(buf: Uint8Array): Uint8Array {
    for (let i = 0; i < buf.length; i++) buf[i] = this.nextU32() & 0xff;
    return buf;
  }

  /** A child generator whose sequence depends on this one's next value. */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}
