/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), in plain JavaScript, slicing-by-8.
 *
 * Why not `zlib.crc32`? It is plain CRC-32 (not Castagnoli) and, for the small slices the WAL
 * checksums (one record frame at a time), its native call overhead dominates: measured on Node 20
 * (2-core VM), ~0.36 us per record for zlib against ~0.18 us for a JS slicing-by-8 loop. CRC-32C is the
 * checksum of iSCSI, ext4 metadata, RocksDB and etcd; a reader in another language finds it in
 * every standard library (`crc32c`, `hash/crc32` with `crc32.Castagnoli`, ...).
 *
 * Check value: `crc32c("123456789") === 0xE3069283`.
 */

/** Reflected Castagnoli polynomial. */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

/**
 * Eight 256-entry tables in one Int32Array (better locality than eight arrays):
 * table k at [k*256, k*256+256) gives the CRC of a byte followed by k zero bytes.
 */
const kTable: Int32Array = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLYNOMIAL : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * Continues a CRC-32C over `buf[start, end)`. `crc` is a finished CRC (0 to start a new one), so
 * `crc32cUpdate(crc32cUpdate(0, a, ...), b, ...)` equals the CRC of `a ++ b`. Returns an unsigned
 * 32-bit value.
 */
export function crc32cUpdate(crc: number, buf: Uint8Array, start: number, end: number): number {
  return crc32cUpdateInt32(crc | 0, buf, start, end) >>> 0;
}

/**
 * {@link crc32cUpdate} on signed int32 values (same bits). For hot paths: an unsigned result of
 * 2^31 or more is not a small integer to V8, so returning it from a call that is not inlined
 * allocates a HeapNumber; an int32 never does.
 */
export function crc32cUpdateInt32(crc: number, buf: Uint8Array, start: number, end: number): number {
  const t = kTable;
  let c = ~crc;
  let i = start;
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    c ^=
      (buf[i] as number) |
      ((buf[i + 1] as number) << 8) |
      ((buf[i + 2] as number) << 16) |
      ((buf[i + 3] as number) << 24);
    c =
      (t[1792 + (c & 0xff)] as number) ^
      (t[1536 + ((c >>> 8) & 0xff)] as number) ^
      (t[1280 + ((c >>> 16) & 0xff)] as number) ^
      (t[1024 + (c >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c;
}

/** CRC-32C of `buf[start, end)` (whole buffer by default). */
export function crc32c(buf: Uint8Array, start = 0, end: number = buf.length): number {
  return crc32cUpdate(0, buf, start, end);
}
