/**
 * The shared ring buffer between producer threads and the writer worker: the SAB layout
 * (`layout.ts`) and the producer/consumer protocol (`ring.ts`).
 */
export * from './layout.js';
export { createRingSab, RingConsumer, RingProducer, type RingVisitor, wakeConsumer } from './ring.js';
