/**
 * The HTTP ingest server behind `ironlog serve` (node:http):
 *
 *   POST /events        JSON object, JSON array, NDJSON or msgpack -> 200 {"seqs":[...]} after
 *                       the durable ack; 400 bad body (nothing written); 413 too large; 415
 *                       unknown Content-Type; 503 + Retry-After on backpressure, disk full,
 *                       faulted WAL or shutdown.
 *   GET  /metrics       Prometheus text (the sink's registry)
 *   GET  /health        JSON detail; 200 when ready, 503 otherwise
 *   GET  /health/live   200 while the writer runs
 *   GET  /health/ready  200 when the WAL is writable, the disk has room and the ring has space
 *
 * A request's events are parsed, checked and encoded in full before one `emitEncodedBatch`, so a
 * request is all-or-nothing.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { debuglog } from 'node:util';
import { Counter, type Registry } from 'prom-client';
import { ErrorCodes } from '../core/errors.js';
import type { Ack } from '../groupcommit/ack-waiter.js';
import type { HealthReport } from '../monitoring/health.js';
import { bodyFormatFor, encodeEvents, isBodyError, parseEvents } from './ingest-body.js';

const debug = debuglog('ironlog');

/** What the server needs of a sink (a `Sink` fits; tests may pass a stand-in). */
export interface IngestTarget {
  emitEncodedBatch(payloads: readonly Uint8Array[]): Promise<Ack[]>;
  health(): Promise<HealthReport>;
  readonly metrics: { readonly registry: Registry; text(): Promise<string>; readonly contentType: string } | undefined;
  readonly options: { readonly maxEventBytes: number; readonly ringBytes: number };
}

/** Options of {@link startIngestServer}. */
export interface IngestServerOptions {
  /** Interface to bind. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; 0 picks a free one (read it from `address`). Default 0. */
  port?: number;
  /** Largest request body in bytes; larger answers 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** A running server. */
export interface IngestServer {
  /** The bound address, e.g. `http://127.0.0.1:43817`. */
  readonly url: string;
  readonly address: AddressInfo;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /**
   * Graceful stop: stop accepting connections, answer new requests on open connections with 503,
   * let every in-flight request get its ack and answer, then close every connection. Does not
   * close the sink.
   */
  stop(): Promise<void>;
}

/** Map from an emit error code to the HTTP answer. */
function statusForError(code: string | undefined): { status: number; retryAfterS?: number } {
  switch (code) {
    case ErrorCodes.BACKPRESSURE:
      return { status: 503, retryAfterS: 1 };
    case ErrorCodes.DISK_FULL:
      return { status: 503, retryAfterS: 5 };
    case ErrorCodes.WAL_FAULTED:
    case ErrorCodes.WAL_WRITE:
    case ErrorCodes.WAL_FSYNC:
    case ErrorCodes.CLOSED:
    case ErrorCodes.WORKER_EXITED:
      return { status: 503, retryAfterS: 1 };
    case ErrorCodes.INVALID_ARGUMENT:
    case ErrorCodes.ENCODE:
      return { status: 400 };
    case ErrorCodes.EVENT_TOO_LARGE:
      return { status: 413 };
    default:
      return { status: 500 };
  }
}

const kRequestsMetric = 'ironlog_http_requests_total';

/** Starts the ingest server for `target`; resolves once it listens. */
export async function startIngestServer(
  target: IngestTarget,
  options: IngestServerOptions = {},
): Promise<IngestServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const limits = { maxEventBytes: target.options.maxEventBytes, maxBatchFrameBytes: target.options.ringBytes / 2 };
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const requests = target.metrics
    ? new Counter({
        name: kRequestsMetric,
        help: 'HTTP requests answered by ironlog serve, by route and status code',
        labelNames: ['route', 'code'],
        registers: [target.metrics.registry],
      })
    : undefined;

  const send = (
    res: http.ServerResponse,
    route: string,
    status: number,
    body: string,
    contentType = 'application/json',
    headers: Record<string, string> = {},
  ): void => {
    requests?.inc({ route, code: String(status) });
    if (draining) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
  const sendError = (
    res: http.ServerResponse,
    route: string,
    status: number,
    code: string,
    message: string,
    retryAfterS?: number,
  ): void => {
    const headers: Record<string, string> = retryAfterS !== undefined ? { 'Retry-After': String(retryAfterS) } : {};
    send(res, route, status, JSON.stringify({ error: { code, message } }), 'application/json', headers);
  };

  /** Reads the body up to maxBodyBytes; undefined when it is too large (413 already sent). */
  const readBody = (req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer | undefined> => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      res.setHeader('Connection', 'close');
      sendError(res, 'events', 413, 'ERR_HTTP_BODY_TOO_LARGE', `the body is larger than ${maxBodyBytes} bytes`);
      req.resume();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let tooLarge = false;
      req.on('data', (chunk: Buffer) => {
        if (tooLarge) return;
        bytes += chunk.length;
        if (bytes > maxBodyBytes) {
          tooLarge = true;
          chunks.length = 0;
          res.setHeader('Connection', 'close');
          sendError(res, 'events', 413, 'ERR_HTTP_BODY_TOO_LARGE', `the body is larger than ${maxBodyBytes} bytes`);
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (!tooLarge) resolve(Buffer.concat(chunks, bytes));
      });
      req.on('error', reject);
      // A client that goes away mid-body: settle, so the in-flight count (and shutdown) moves on.
      req.on('close', () => {
        if (!req.complete && !tooLarge) reject(new Error('the client closed the connection before the body ended'));
      });
    });
  };

  const handleEvents = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const format = bodyFormatFor(req.headers['content-type']);
    if (format === undefined) {
      req.resume();
      sendError(
        res,
        'events',
        415,
        'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
        'Content-Type must be application/json, application/x-ndjson or application/msgpack',
      );
      return;
    }
    const body = await readBody(req, res);
    if (body === undefined) return;
    const events = parseEvents(body, format);
    if (isBodyError(events)) {
      sendError(res, 'events', events.status, events.code, events.message);
      return;
    }
    const payloads = encodeEvents(events, limits);
    if (isBodyError(payloads)) {
      sendError(res, 'events', payloads.status, payloads.code, payloads.message);
      return;
    }
    if (payloads.length === 0) {
      send(res, 'events', 200, '{"seqs":[]}');
      return;
    }
    let acks: Ack[];
    try {
      acks = await target.emitEncodedBatch(payloads);
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      const codeStr = typeof code === 'string' ? code : 'ERR_IRONLOG_INTERNAL';
      const { status, retryAfterS } = statusForError(codeStr);
      sendError(res, 'events', status, codeStr, (err as Error)?.message ?? String(err), retryAfterS);
      return;
    }
    send(res, 'events', 200, JSON.stringify({ seqs: acks.map((a) => a.seq) }));
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    if (route === '/events') {
      if (req.method !== 'POST') {
        req.resume();
        sendError(res, 'events', 405, 'ERR_HTTP_METHOD_NOT_ALLOWED', 'use POST /events', undefined);
        return;
      }
      if (draining) {
        req.resume();
        sendError(res, 'events', 503, 'ERR_IRONLOG_CLOSED', 'the server is shutting down', 1);
        return;
      }
      await handleEvents(req, res);
      return;
    }
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 'other', 405, 'ERR_HTTP_METHOD_NOT_ALLOWED', `use GET ${route}`);
      return;
    }
    switch (route) {
      case '/metrics': {
        if (!target.metrics) {
          sendError(res, 'metrics', 404, 'ERR_HTTP_NOT_FOUND', 'metrics are off for this sink');
          return;
        }
        // Counted before the text is made, so this request shows in its own scrape.
        requests?.inc({ route: 'metrics', code: '200' });
        const text = await target.metrics.text();
        if (draining) res.setHeader('Connection', 'close');
        res.writeHead(200, { 'Content-Type': target.metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      case '/health':
      case '/health/live':
      case '/health/ready': {
        const report = await target.health();
        const name = route === '/health' ? 'health' : route === '/health/live' ? 'live' : 'ready';
        const ok = name === 'live' ? report.live : report.ready && !draining;
        const body =
          name === 'health'
            ? JSON.stringify(
                draining ? { ...report, ready: false, reasons: [...report.reasons, 'shutting down'] } : report,
              )
            : JSON.stringify({ status: ok ? 'ok' : 'unavailable', reasons: report.reasons });
        send(res, name, ok ? 200 : 503, body);
        return;
      }
      default:
        sendError(res, 'other', 404, 'ERR_HTTP_NOT_FOUND', `no route ${route}`);
    }
  };

  const server = http.createServer((req, res) => {
    inFlight++;
    handle(req, res)
      .catch((err: unknown) => {
        debug('request failed: %s', (err as Error)?.stack ?? String(err));
        if (!res.headersSent) sendError(res, 'other', 500, 'ERR_IRONLOG_INTERNAL', String(err));
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) onIdle?.();
      });
  });
  // Keep-alive clients (autocannon, load balancers) reuse connections; these stay modest.
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopping: Promise<void> | undefined;

  return {
    url: `http://${hostForUrl}:${address.port}`,
    address,
    get inFlight() {
      return inFlight;
    },
    stop(): Promise<void> {
      if (stopping) return stopping;
      draining = true;
      stopping = (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
        server.closeAllConnections();
        await closed;
        if (target.metrics) target.metrics.registry.removeSingleMetric(kRequestsMetric);
      })();
      return stopping;
    },
  };
}
