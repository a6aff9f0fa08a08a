// Shared by the ring thread fixtures: the payload format and its checks.
//
// Every frame's timeUs is `producerId * 2^32 + counter` (exact in a double). A payload of 24+
// bytes also carries: u32 producerId, u32 counter, f64 full seq as the producer reconstructed it,
// random filler, and a trailing u32 FNV-1a checksum of everything before it. Shorter payloads
// are a deterministic byte pattern of (producerId, counter).

export const kTwo32 = 2 ** 32;
export const kFullPayloadBytes = 24;

/** xorshift32: small, fast, seedable. */
export function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function fnv1a(bytes, from, to) {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function patternByte(id, counter, i) {
  return (id * 131 + counter * 31 + i * 7) & 255;
}

/** Writes the payload of frame (id, counter, seq) of `len` bytes at data[at..]. */
export function writePayload(data, view, at, len, id, counter, seq, next) {
  if (len < kFullPayloadBytes) {
    for (let i = 0; i < len; i++) data[at + i] = patternByte(id, counter, i);
    return;
  }
  view.setUint32(at, id, true);
  view.setUint32(at + 4, counter, true);
  view.setFloat64(at + 8, seq, true);
  for (let i = 16; i < len - 4; i++) data[at + i] = next() & 255;
  view.setUint32(at + len - 4, fnv1a(data, at, at + len - 4), true);
}

/** Returns an error string, or undefined when the payload is intact. */
export function checkPayload(data, view, at, len, id, counter, seq) {
  if (len < kFullPayloadBytes) {
    for (let i = 0; i < len; i++) {
      if (data[at + i] !== patternByte(id, counter, i)) return `short payload of ${id}/${counter} differs at byte ${i}`;
    }
    return undefined;
  }
  if (view.getUint32(at, true) !== id || view.getUint32(at + 4, true) !== counter) {
    return `payload of ${id}/${counter} names ${view.getUint32(at, true)}/${view.getUint32(at + 4, true)}`;
  }
  if (view.getUint32(at + len - 4, true) !== fnv1a(data, at, at + len - 4))
    return `checksum mismatch in ${id}/${counter}`;
  const claimed = view.getFloat64(at + 8, true);
  if (claimed !== seq) return `producer ${id} reconstructed seq ${claimed} for counter ${counter}, drained as ${seq}`;
  return undefined;
}
