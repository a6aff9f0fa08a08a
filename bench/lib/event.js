/**
 * The benchmark event: a typical audit record whose msgpack encoding (maps, no records, the way
 * the sink encodes) is ~200 bytes. Every scenario and yardstick uses this one shape, so the
 * byte counts match. Hot loops reuse one object per lane and only bump `n` (the sink encodes
 * synchronously inside `emit()`, so mutating the object after the call is safe).
 */
import { Packr } from 'msgpackr';

/** Same encoder settings as the sink's producer (plain msgpack maps). */
export const kPackr = new Packr({ useRecords: false });

/** A fresh event object (one per lane, reused). `n` is bumped per emit. */
export function makeEvent(n = 0) {
  return {
    time: 1732300000123,
    actor: { id: 'user-48213', role: 'editor' },
    action: 'document.update',
    target: '/projects/4821/documents/99812',
    outcome: 'success',
    ip: '203.0.113.42',
    requestId: '8f14e45f-ceea-167a-5a36-dedd4bea2543',
    n: 100000 + n,
  };
}

/** The msgpack bytes of one event (what emitEncoded*() and the fs yardsticks write). */
export function encodedEvent(n = 0) {
  // pack() returns a view into the encoder's reusable buffer: copy it.
  return Uint8Array.from(kPackr.pack(makeEvent(n)));
}

/** Encoded size of the benchmark event in bytes. */
export const kEventBytes = encodedEvent().byteLength;
