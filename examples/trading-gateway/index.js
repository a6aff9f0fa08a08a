// trading-gateway: order-entry threads (worker_threads) emit into one sink through
// connectProducer; every order is acknowledged only once it is durable, and the main thread
// prints the ack latency histogram of all of them.
// Run: node examples/trading-gateway/index.js   (or: npm run example:trading-gateway)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connectProducer, openSink, verifyWal } from 'ironlog';

const kGateways = 2;
const kOrdersPerGateway = 2_000;
/** Orders each gateway keeps in flight (unacknowledged) at once. */
const kInFlight = 32;
/** Histogram bucket upper bounds, in milliseconds. */
const kBucketsMs = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, Number.POSITIVE_INFINITY];

if (isMainThread) {
  await main();
} else {
  await gateway(workerData);
}

/** A gateway thread: connects to the sink's ring and sends its orders, timing each ack. */
async function gateway({ descriptor, gatewayId, orders }) {
  const producer = connectProducer(descriptor);
  const latenciesMs = new Float64Array(orders);
  let next = 0;
  async function lane() {
    while (next < orders) {
      const n = next++;
      const order = {
        type: 'order.new',
        gateway: gatewayId,
        clOrdId: `${gatewayId}-${n}`,
        side: n % 2 === 0 ? 'buy' : 'sell',
        symbol: ['ACME', 'GLOBX', 'INITECH'][n % 3],
        qty: 100 * (1 + (n % 5)),
        limitPx: 100 + (n % 17) / 4,
      };
      const t0 = performance.now();
      await producer.emit(order); // resolves once the order is fdatasync'd
      latenciesMs[n] = performance.now() - t0;
    }
  }
  await Promise.all(Array.from({ length: kInFlight }, lane));
  producer.dispose();
  parentPort.postMessage(latenciesMs, [latenciesMs.buffer]);
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-example-trading-'));
  try {
    const sink = await openSink({ dir, nodeId: 'gateway-1' });
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: kGateways }, (_, g) => {
        const worker = new Worker(new URL(import.meta.url), {
          workerData: { descriptor: sink.producer(), gatewayId: `gw${g + 1}`, orders: kOrdersPerGateway },
        });
        return new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => code !== 0 && reject(new Error(`gateway ${g + 1} exited with ${code}`)));
        });
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await sink.close();

    const all = Float64Array.from(results.flatMap((r) => Array.from(r))).sort();
    console.log(`${kGateways} gateway threads, ${all.length} orders, every ack durable (fdatasync)`);
    console.log(`throughput: ${Math.round(all.length / seconds)} orders/s`);
    console.log('ack latency histogram (ms):');
    let lower = 0;
    for (const upper of kBucketsMs) {
      const count = all.filter((v) => v >= lower && v < upper).length;
      const label = upper === Number.POSITIVE_INFINITY ? `>= ${lower}` : `< ${upper}`;
      const bar = '#'.repeat(Math.ceil((40 * count) / all.length));
      console.log(`  ${label.padStart(8)} ${String(count).padStart(6)} ${bar}`);
      lower = upper;
    }
    const fmt = (v) => v.toFixed(3);
    console.log(
      `p50 ${fmt(quantile(all, 0.5))} ms, p99 ${fmt(quantile(all, 0.99))} ms, p99.9 ${fmt(quantile(all, 0.999))} ms, max ${fmt(all[all.length - 1])} ms`,
    );

    const report = await verifyWal(dir);
    console.log(`verify: valid=${report.valid} records=${report.records}`);
    if (!report.valid || report.records !== kGateways * kOrdersPerGateway) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
