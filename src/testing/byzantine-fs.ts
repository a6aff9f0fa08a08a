/**
 * A lying {@link WalFs} for the byzantine torture scenario: at its n-th non-zero write it reports
 * success but stores the wrong thing: one flipped bit (`flip`), nothing at all (`lost`), the bytes
 * at another offset (`misdirect`), or only the first half (`short`). Everything else passes
 * through to `base`.
 *
 * Not part of the durable path: nothing in ironlog loads it unless a caller asks for it.
 */
import type { WalFs } from '../wal/fs.js';

/** How the lying write misbehaves. */
export type ByzantineWriteKind = 'flip' | 'lost' | 'misdirect' | 'short';

/** Options of {@link createByzantineFs}. */
export interface ByzantineFsOptions {
  /** Which non-zero write lies (0-based; writes of only zeros, the zero fill, are not counted). */
  readonly atWrite: number;
  readonly kind: ByzantineWriteKind;
  /** Bit to flip (`flip`), as an index into the written bytes modulo their count times 8. */
  readonly bit: number;
  /** Offset shift of a misdirected write (bytes, may be negative; clamped at 0, never 0 in effect). */
  readonly shiftBytes: number;
}

/** What the lying fs did (filled in when the lie happens). */
export interface ByzantineLog {
  /** Non-zero writes seen. */
  writes: number;
  /** Set once the lie was told. */
  lied?: { kind: ByzantineWriteKind; position: number; length: number };
}

function allZero(buf: Uint8Array, offset: number, length: number): boolean {
  for (let i = offset; i < offset + length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Wraps `base` so that one write lies as `opts` says; `log` records it. */
export function createByzantineFs(base: WalFs, opts: ByzantineFsOptions, log: ByzantineLog): WalFs {
  return {
    ...base,
    writeSync(fd, buffer, offset, length, position) {
      if (allZero(buffer, offset, length)) return base.writeSync(fd, buffer, offset, length, position);
      const n = log.writes++;
      if (n !== opts.atWrite) return base.writeSync(fd, buffer, offset, length, position);
      log.lied = { kind: opts.kind, position, length };
      switch (opts.kind) {
        case 'flip': {
          const copy = Buffer.from(buffer.subarray(offset, offset + length));
          const bit = opts.bit % (length * 8);
          copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
          base.writeSync(fd, copy, 0, length, position);
          return length;
        }
        case 'lost':
          return length;
        case 'misdirect': {
          // Never "misdirect" onto the right place (a negative shift clamped at 0).
          let target = Math.max(0, position + opts.shiftBytes);
          if (target === position) target = position + Math.abs(opts.shiftBytes || 512);
          base.writeSync(fd, buffer, offset, length, target);
          return length;
        }
        case 'short':
          base.writeSync(fd, buffer, offset, Math.max(1, length >> 1), position);
          return length;
      }
    },
  };
}
