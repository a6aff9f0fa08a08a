import { type Command, Option } from 'commander';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { openSink } from '../main/sink.js';
import type { IngestServer } from '../server/http-ingest.js';
import { listenForStop, parseSize, portArg } from './args.js';

interface ServeOptions {
  dir: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  onFull: 'wait' | 'reject';
  syncMode: 'batch' | 'always' | 'interval' | 'none';
  ringBytes?: number;
  segmentBytes?: number;
  nodeId?: string;
}

/** A failed `listen` as an ironlog I/O error that says what to do. */
function listenError(err: unknown, host: string, port: number): unknown {
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is in use by another process (--port 0 picks a free one)',
    EADDRNOTAVAIL: 'the address is not one of this machine (use 127.0.0.1, or an address of a local interface)',
    ENOTFOUND: 'the host name does not resolve',
    EAI_AGAIN: 'the host name does not resolve',
    EACCES: 'permission denied (ports below 1024 need privileges)',
  };
  const code = errnoCode(err);
  const reason = code !== undefined ? why[code] : undefined;
  if (reason === undefined) return err;
  return new IronlogError(ErrorCodes.IO, `serve: cannot listen on ${host}:${port}: ${reason} (${code})`, {
    cause: err,
  });
}

/** `ironlog serve`: HTTP ingest into a WAL directory. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('HTTP ingest: POST /events answers 200 {"seqs":[...]} only once the events are durable')
    .requiredOption('--dir <dir>', 'the WAL directory (created if missing)')
    .option('--port <port>', 'TCP port (0: any free port; the bound address is printed)', portArg, 8080)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .addOption(
      new Option('--max-body-bytes <size>', 'largest request body (bytes, KB, KiB, MB, MiB); larger answers 413')
        .argParser(parseSize)
        .default(1024 * 1024, '1MiB'),
    )
    .addOption(
      new Option('--on-full <mode>', "ring full: 'reject' answers 503 + Retry-After, 'wait' queues")
        .choices(['wait', 'reject'])
        .default('reject'),
    )
    .addOption(
      new Option('--sync-mode <mode>', 'how batches are made durable (see docs/durability.md)')
        .choices(['batch', 'always', 'interval', 'none'])
        .default('batch'),
    )
    .option('--ring-bytes <size>', 'ring buffer size, a power of two (64KiB, 16MiB; default 8MiB)', parseSize)
    .option('--segment-bytes <size>', 'segment roll size (e.g. 64MiB, the default)', parseSize)
    .option('--node-id <id>', 'writer id in segment headers')
    .addHelpText(
      'after',
      `
Routes: POST /events (application/json object or array, application/x-ndjson, application/msgpack),
GET /metrics, /health, /health/live, /health/ready. SIGTERM or SIGINT: stop accepting, answer
what is in flight, close the WAL, exit 0.

Example:
  $ ironlog serve --dir ./audit --port 8080
  $ curl -s -XPOST localhost:8080/events -H 'content-type: application/json' -d '{"user":"u1","action":"login"}'
  {"seqs":[1]}`,
    )
    .action(async (opts: ServeOptions) => {
      const sink = await openSink({
        dir: opts.dir,
        metrics: true,
        onFull: opts.onFull,
        syncMode: opts.syncMode,
        ...(opts.ringBytes !== undefined ? { ringBytes: opts.ringBytes } : {}),
        ...(opts.segmentBytes !== undefined ? { segmentBytes: opts.segmentBytes } : {}),
        ...(opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {}),
      });
      sink.events.on('fault', (err) => process.stderr.write(`ironlog serve: WAL fault ${err.code}: ${err.message}\n`));
      sink.events.on('faultCleared', (g) =>
        process.stderr.write(`ironlog serve: WAL fault cleared (seqs ${g.gapFromSeq}-${g.gapToSeq} rejected)\n`),
      );
      const stopSignal = listenForStop();
      let server: IngestServer;
      try {
        const { startIngestServer } = await import('../server/http-ingest.js');
        server = await startIngestServer(sink, { host: opts.host, port: opts.port, maxBodyBytes: opts.maxBodyBytes });
      } catch (err) {
        stopSignal.dispose();
        await sink.close();
        throw listenError(err, opts.host, opts.port);
      }
      process.stdout.write(`ironlog serve listening on ${server.url} (WAL ${sink.options.dir})\n`);
      const sig = await stopSignal.promise;
      process.stderr.write(`ironlog serve: ${sig}: draining ${server.inFlight} in-flight requests\n`);
      await server.stop();
      await sink.close();
      process.stderr.write(`ironlog serve: closed (last durable seq ${sink.durableSeq})\n`);
    });
}
