/**
 * The operation a lane repeats against a sink producer (main thread's `sink` or a worker's
 * `connectProducer()` result): one emit or one batch. Built once per thread; the returned
 * closure allocates nothing of its own per call.
 */
import { encodedEvent, makeEvent } from './event.js';

/**
 * @param {{ emit: Function, emitBatch: Function, emitEncoded: Function, emitEncodedBatch: Function }} target
 * @param {'emit' | 'emitEncoded' | 'emitBatch' | 'emitEncodedBatch'} mode
 * @param {number} batchSize events per call for the batch modes
 */
export function makeSinkOp(target, mode, batchSize = 1) {
  switch (mode) {
    case 'emit': {
      const ev = makeEvent();
      return () => {
        ev.n++;
        return target.emit(ev);
      };
    }
    case 'emitEncoded': {
      const bytes = encodedEvent();
      return () => target.emitEncoded(bytes);
    }
    case 'emitBatch': {
      const events = [];
      for (let i = 0; i < batchSize; i++) events.push(makeEvent(i));
      return () => {
        for (let i = 0; i < events.length; i++) events[i].n += batchSize;
        return target.emitBatch(events);
      };
    }
    case 'emitEncodedBatch': {
      const payloads = [];
      for (let i = 0; i < batchSize; i++) payloads.push(encodedEvent(i));
      return () => target.emitEncodedBatch(payloads);
    }
    default:
      throw new Error(`unknown sink op mode ${mode}`);
  }
}

/** Events carried by one op of `mode`. */
export function eventsPerOp(mode, batchSize) {
  return mode === 'emitBatch' || mode === 'emitEncodedBatch' ? batchSize : 1;
}
