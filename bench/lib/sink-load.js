/**
 * Closed-loop load against a sink from 1..N producer threads. One producer = the main thread
 * (`sink.emit*()` directly). N > 1 producers = N worker threads using `connectProducer()`, with
 * the main thread idle (it only flips the phase word and reads the writer's counters), so "N
 * producers" means N threads doing the same work as the 1-producer case.
 */
import { Worker } from 'node:worker_threads';
import { createControl, driveWindow, Phase, runLanes } from './closed-loop.js';
import { kCoreUrl, statsDelta, statsSample, withSink, withTimeout } from './core.js';
import { sampleThreadCpu, threadCpuDelta } from './cpu.js';
import { eventsPerOp, makeSinkOp } from './ops.js';
import { concatSamples, summarizeLatency } from './stats.js';

const kWorkerUrl = new URL('../workers/sink-producer.js', import.meta.url);

/**
 * @param {object} ctx run context (tmp, warmupMs, measureMs)
 * @param {{ label: string, mode: string, batchSize?: number, producers: number, inFlight: number }} p
 */
export function runSinkClosedLoop(ctx, p) {
  const batchSize = p.batchSize ?? 1;
  const perOp = eventsPerOp(p.mode, batchSize);
  return withSink(ctx, p.label, async (sink) => {
    const ctl = createControl();
    let before;
    let after;
    let procA;
    let procB;
    const onEdge = (phase) => {
      if (phase === Phase.MEASURE) {
        before = statsSample(sink);
        procA = sampleThreadCpu();
      } else {
        after = statsSample(sink);
        procB = sampleThreadCpu();
      }
    };
    const deadline = ctx.warmupMs + ctx.measureMs + 60_000;
    let threads;
    if (p.producers === 1) {
      const lanes = runLanes({ ctl, inFlight: p.inFlight, op: makeSinkOp(sink, p.mode, batchSize) });
      // Awaited below; this only keeps an early failure from counting as unhandled meanwhile.
      lanes.catch(() => {});
      await driveWindow(ctl, ctx.warmupMs, ctx.measureMs, onEdge);
      threads = [await withTimeout(lanes, deadline, 'producer lanes')];
    } else {
      const workers = [];
      const results = [];
      try {
        for (let i = 0; i < p.producers; i++) {
          const w = new Worker(kWorkerUrl, {
            workerData: {
              coreUrl: kCoreUrl,
              descriptor: sink.producer(),
              ctlSab: ctl.buffer,
              inFlight: p.inFlight,
              mode: p.mode,
              batchSize,
            },
          });
          workers.push(w);
          const result = new Promise((resolve, reject) => {
            w.on('message', (m) => {
              if (m.type === 'done') resolve(m);
              else if (m.type === 'error') reject(new Error(`producer worker ${i}: ${m.message}`));
            });
            w.on('error', reject);
            w.on('exit', (code) => reject(new Error(`producer worker ${i} exited with code ${code}`)));
          });
          result.catch(() => {}); // awaited below, after the window
          results.push(result);
        }
        await withTimeout(
          Promise.all(
            workers.map((w) => new Promise((resolve) => w.once('message', (m) => m.type === 'ready' && resolve()))),
          ),
          30_000,
          'producer workers start-up',
        );
        for (const w of workers) w.postMessage('go');
        await driveWindow(ctl, ctx.warmupMs, ctx.measureMs, onEdge);
        threads = await withTimeout(Promise.all(results), deadline, 'producer workers');
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    }
    return summarizeClosedLoop(
      threads,
      perOp,
      statsDelta(before, after),
      procA && procB ? threadCpuDelta(procA, procB) : undefined,
      p,
    );
  });
}

/**
 * Combines per-thread results: throughput is the sum of each thread's events / its own window;
 * producer CPU/event is the mean over producer threads of (thread CPU / thread events); "other
 * threads" is the process CPU over the controller's window minus the producer threads' CPU
 * (mostly the writer worker, plus libuv and V8 helper threads), per event.
 */
export function summarizeClosedLoop(threads, perOp, writer, proc, p) {
  let eventsPerSec = 0;
  let events = 0;
  let producerCpuMs = 0;
  let producerEluMs = 0;
  const cpuPerEvent = [];
  for (const t of threads) {
    if (!t.cpu || t.ops === 0) continue;
    const ev = t.ops * perOp;
    events += ev;
    eventsPerSec += (ev / t.windowMs) * 1000;
    producerCpuMs += t.cpu.threadMs;
    producerEluMs += t.cpu.eluActiveMs;
    cpuPerEvent.push((t.cpu.threadMs * 1000) / ev);
  }
  const windowMs = threads[0]?.windowMs ?? Number.NaN;
  const producerUsPerEvent = cpuPerEvent.length
    ? cpuPerEvent.reduce((a, b) => a + b, 0) / cpuPerEvent.length
    : Number.NaN;
  // Scale producer CPU to the controller's window before subtracting (the windows differ by us).
  const procEvents = proc ? (eventsPerSec * proc.wallMs) / 1000 : Number.NaN;
  const otherUsPerEvent = proc
    ? ((proc.processMs - (producerCpuMs * proc.wallMs) / windowMs) * 1000) / procEvents
    : Number.NaN;
  const latency = summarizeLatency(concatSamples(threads.map((t) => t.latencies)));
  return {
    producers: p.producers,
    inFlightPerProducer: p.inFlight,
    eventsPerOp: perOp,
    events,
    windowMs,
    eventsPerSec,
    latency,
    cpu: {
      method: threads[0]?.cpu?.method,
      producerUsPerEvent,
      producerEluUsPerEvent: events ? (producerEluMs * 1000) / events : Number.NaN,
      otherUsPerEvent,
      processCores: proc ? proc.processMs / proc.wallMs : Number.NaN,
    },
    writer,
  };
}
