// Micro-benchmark of the WAL hot path: BatchBuilder.addRecord (frame header + payload copy +
// CRC-32C) with 200-byte payloads, the per-batch COMMIT (SHA-256 over the batch), and the CRC
// alone. Not a test. Run `npm run build` first, then `node bench/wal-codec.bench.mjs`.
import os from 'node:os';
import { BatchBuilder } from '../dist/wal/batch.js';
import { crc32cUpdate } from '../dist/wal/crc32c.js';

const kPayloadBytes = Number(process.env.PAYLOAD_BYTES ?? 200);
const kBatchRecords = Number(process.env.BATCH_RECORDS ?? 1000);
const kRounds = Number(process.env.ROUNDS ?? 2000);

// A ring-like source: many payloads side by side, as drained from the SharedArrayBuffer.
const src = new Uint8Array(new SharedArrayBuffer((kBatchRecords + 1) * (kPayloadBytes + 24) + 64));
for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) >>> 24;
const stride = kPayloadBytes + 24;
const prev = Buffer.alloc(32);

function run(commit) {
  const b = new BatchBuilder();
  let seq = 1;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < kRounds; r++) {
    for (let i = 0; i < kBatchRecords; i++) {
      b.addRecord(seq, 1.7e15 + seq, 0, src, i * stride + 24, kPayloadBytes);
      seq++;
    }
    if (commit) b.commit(prev);
    b.reset();
  }
  return Number(process.hrtime.bigint() - t0) / (kRounds * kBatchRecords);
}

function runCrc() {
  let c = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < kRounds; r++) {
    for (let i = 0; i < kBatchRecords; i++) c ^= crc32cUpdate(0, src, i * stride, i * stride + kPayloadBytes + 32);
  }
  const ns = Number(process.hrtime.bigint() - t0) / (kRounds * kBatchRecords);
  if (c === 0.5) console.log(c);
  return ns;
}

console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, payload ${kPayloadBytes} B, ${kBatchRecords} records/batch`,
);
for (let warm = 0; warm < 2; warm++) run(false);
const results = { addRecord: [], addRecordPlusCommit: [], crcOnly: [] };
for (let i = 0; i < 5; i++) {
  results.addRecord.push(run(false));
  results.addRecordPlusCommit.push(run(true));
  results.crcOnly.push(runCrc());
}
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
console.log(`addRecord:                 ${median(results.addRecord).toFixed(1)} ns/record`);
console.log(`addRecord + COMMIT/SHA-256: ${median(results.addRecordPlusCommit).toFixed(1)} ns/record`);
console.log(`CRC-32C of a ${kPayloadBytes + 32}-byte frame: ${median(results.crcOnly).toFixed(1)} ns`);
