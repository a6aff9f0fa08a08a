/**
 * Producer thread of the torture load children: emits through `connectProducer` with many acks
 * in flight and reports every ack on stdout, until the process is killed or the stop word
 * (Int32 slot 0 of `stop`) turns 1.
 */
import { workerData } from 'node:worker_threads';
import { connectProducer, type ProducerDescriptor } from '../../main/producer.js';
import { AckLines } from './ack-lines.js';

interface Kill9ProducerData {
  readonly descriptor: ProducerDescriptor;
  readonly round: number;
  readonly producer: number;
  readonly inFlight: number;
  readonly padBytes: number;
  readonly stop: SharedArrayBuffer;
}

const data = workerData as Kill9ProducerData;
const stop = new Int32Array(data.stop);
const producer = connectProducer(data.descriptor);
const lines = new AckLines();
let next = 0;

async function lane(): Promise<void> {
  while (Atomics.load(stop, 0) === 0) {
    const i = next++;
    const ack = await producer.emit({ r: data.round, p: data.producer, i, pad: 'w'.repeat(i % data.padBytes) });
    lines.add(ack.seq, data.round, data.producer, i);
  }
}

await Promise.all(Array.from({ length: data.inFlight }, lane));
lines.flush();
producer.dispose();
