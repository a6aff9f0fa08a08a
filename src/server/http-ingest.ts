/**
 * The HTTP(S) ingest server behind `ironlog serve` (node:http, or node:https with TLS):
 *
 *   POST /events        JSON object, JSON array, NDJSON or msgpack -> 200 {"seqs":[...]} after
 *                       the durable ack; 400 bad body (nothing written); 413 too large; 415
 *                       unknown Content-Type or Content-Encoding; 503 + Retry-After on
 *                       backpressure, disk full, faulted WAL or shutdown.
 *   POST /v1/logs       OpenTelemetry logs, OTLP/HTTP protobuf or JSON: each LogRecord one event;
 *                       200 ExportLogsServiceResponse after the durable ack (see otlp-logs.ts)
 *   GET  /metrics       Prometheus text (the sink's registry)
 *   GET  /health        JSON detail; 200 when ready, 503 otherwise
 *   GET  /health/live   200 while the writer runs
 *   GET  /health/ready  200 when the WAL is writable, the disk has room and the ring has space
 *
 * A request goes through named steps: match the route ({@link matchRoute}), authenticate
 * ({@link authenticate}), read the body ({@link readRequestBody}), bound its work
 * ({@link checkBodyBudget}), parse and encode it in full ({@link parseEvents},
 * {@link encodeEvents}), then one `emitEncodedBatch`, so a request is all-or-nothing.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { debuglog } from 'node:util';
import type { Registry } from 'prom-client';
import type { Ack } from '../groupcommit/ack-waiter.js';
import type { HealthReport } from '../monitoring/health.js';
import { type AuthConfig, authenticate } from './auth.js';
import { checkBodyBudget } from './body-budget.js';
import { readRequestBody } from './body-reader.js';
import { type BodyLimits, bodyFormatFor, encodeEvents, isBodyError, parseEvents } from './ingest-body.js';
import {
  decodeOtlpLogs,
  GrpcCode,
  type OtlpEncoding,
  OtlpFormatError,
  otlpContentType,
  otlpEncodingFor,
  otlpStatusBody,
  otlpSuccessBody,
} from './otlp-logs.js';
import { httpStatusForCode, Responder } from './responses.js';
import { matchRoute, type RouteName } from './routes.js';

const debug = debuglog('ironlog');

/** What the server needs of a sink (a `Sink` fits; tests may pass a stand-in). */
export interface IngestTarget {
  emitEncodedBatch(payloads: readonly Uint8Array[]): Promise<Ack[]>;
  health(): Promise<HealthReport>;
  readonly metrics: { readonly registry: Registry; text(): Promise<string>; readonly contentType: string } | undefined;
  readonly options: { readonly maxEventBytes: number; readonly ringBytes: number };
}

/** Certificate material for HTTPS (PEM). */
export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CA bundle for client certificates: when given, every client must present one it signed (mutual TLS). */
  readonly ca?: string | Buffer | undefined;
}

/** Options of {@link startIngestServer}. */
export interface IngestServerOptions {
  /** Interface to bind. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; 0 picks a free one (read it from `address`). Default 0. */
  port?: number;
  /** Largest request body in bytes, on the wire and once decompressed; larger answers 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Serve HTTPS with this certificate (and mutual TLS with `ca`). Default: plain HTTP. */
  tls?: TlsMaterial;
  /** Bearer tokens and open routes. Default: no authentication (loopback use). */
  auth?: AuthConfig;
}

/** A running server. */
export interface IngestServer {
  /** The bound address, e.g. `http://127.0.0.1:43817` (`https://` with TLS). */
  readonly url: string;
  readonly address: AddressInfo;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** Swaps the certificate, key and client CA for new connections (TLS servers only). */
  reloadTls(material: TlsMaterial): void;
  /**
   * Graceful stop: stop accepting connections, answer new requests on open connections with 503,
   * let every in-flight request get its ack and answer, then close every connection. Does not
   * close the sink.
   */
  stop(): Promise<void>;
}

/** What every request handler shares. */
interface ServerContext {
  readonly target: IngestTarget;
  readonly responder: Responder;
  readonly maxBodyBytes: number;
  readonly limits: BodyLimits;
  readonly auth: AuthConfig | undefined;
}

/** POST /events: read, bound, parse, encode, emit, answer. */
async function handleEvents(
  ctx: ServerContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  principal: string | undefined,
): Promise<void> {
  const { responder } = ctx;
  const format = bodyFormatFor(req.headers['content-type']);
  if (format === undefined) {
    req.resume();
    responder.sendError(
      res,
      'events',
      415,
      'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
      'Content-Type must be application/json, application/x-ndjson (charset utf-8, the default) or application/msgpack',
    );
    return;
  }
  const read = await readRequestBody(req, ctx.maxBodyBytes);
  if (!read.ok) {
    // The rest of a refused body is not read: close the connection rather than drain it.
    if (read.status === 413 || read.status === 415) res.setHeader('Connection', 'close');
    responder.sendError(res, 'events', read.status, read.code, read.message);
    return;
  }
  const refused = checkBodyBudget(read.body, format, ctx.limits.maxBatchFrameBytes);
  if (refused) {
    responder.sendError(res, 'events', refused.status, refused.code, refused.message);
    return;
  }
  const events = parseEvents(read.body, format);
  if (isBodyError(events)) {
    responder.sendError(res, 'events', events.status, events.code, events.message);
    return;
  }
  const payloads = encodeEvents(events, ctx.limits, principal);
  if (isBodyError(payloads)) {
    responder.sendError(res, 'events', payloads.status, payloads.code, payloads.message);
    return;
  }
  if (payloads.length === 0) {
    responder.send(res, 'events', 200, '{"seqs":[]}');
    return;
  }
  let acks: Ack[];
  try {
    acks = await ctx.target.emitEncodedBatch(payloads);
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    const codeStr = typeof code === 'string' ? code : 'ERR_IRONLOG_INTERNAL';
    const { status, retryAfterS } = httpStatusForCode(codeStr);
    responder.sendError(res, 'events', status, codeStr, (err as Error)?.message ?? String(err), { retryAfterS });
    return;
  }
  responder.send(res, 'events', 200, JSON.stringify({ seqs: acks.map((a) => a.seq) }));
}

/** The gRPC status code that goes with an HTTP status of an OTLP answer. */
function grpcCodeFor(status: number): number {
  if (status === 400 || status === 415) return GrpcCode.INVALID_ARGUMENT;
  if (status === 413) return GrpcCode.RESOURCE_EXHAUSTED;
  if (status === 503) return GrpcCode.UNAVAILABLE;
  return GrpcCode.INTERNAL;
}

/**
 * POST /v1/logs: OTLP/HTTP logs. The whole body is decoded before anything is written; a record
 * that cannot be stored (too large, not encodable) is refused and counted in `partial_success`,
 * the others are emitted in one batch and answered after their durable ack.
 */
async function handleOtlpLogs(
  ctx: ServerContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  principal: string | undefined,
): Promise<void> {
  const { responder } = ctx;
  const route = 'otlp-logs';
  const encoding = otlpEncodingFor(req.headers['content-type']);
  const fail = (enc: OtlpEncoding, status: number, message: string, headers: Record<string, string> = {}): void => {
    responder.send(
      res,
      route,
      status,
      otlpStatusBody(enc, grpcCodeFor(status), message),
      otlpContentType(enc),
      headers,
    );
  };
  if (encoding === undefined) {
    req.resume();
    fail('json', 415, 'Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)');
    return;
  }
  const read = await readRequestBody(req, ctx.maxBodyBytes);
  if (!read.ok) {
    if (read.status === 413 || read.status === 415) res.setHeader('Connection', 'close');
    fail(encoding, read.status, read.message);
    return;
  }
  let records: unknown[];
  try {
    records = decodeOtlpLogs(read.body, encoding);
  } catch (err) {
    if (!(err instanceof OtlpFormatError)) throw err;
    fail(encoding, 400, `${err.message}; nothing was written`);
    return;
  }
  const payloads: Buffer[] = [];
  const refusals: string[] = [];
  for (let i = 0; i < records.length; i++) {
    const one = encodeEvents([records[i]], ctx.limits, principal);
    if (isBodyError(one)) refusals.push(`log record ${i}: ${one.message}`);
    else payloads.push(...one);
  }
  const all = encodeEvents(payloads.length === records.length ? records : [], ctx.limits, principal);
  if (isBodyError(all) && all.status === 413 && all.code === 'ERR_HTTP_BATCH_TOO_LARGE') {
    fail(encoding, 413, `${all.message}`);
    return;
  }
  const rejectedMessage =
    refusals.slice(0, 3).join('; ') + (refusals.length > 3 ? `; and ${refusals.length - 3} more` : '');
  if (payloads.length > 0) {
    try {
      await ctx.target.emitEncodedBatch(payloads);
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      const { status, retryAfterS } = httpStatusForCode(typeof code === 'string' ? code : undefined);
      fail(
        encoding,
        status,
        `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error)?.message ?? String(err)}`,
        retryAfterS === undefined ? {} : { 'Retry-After': String(retryAfterS) },
      );
      return;
    }
  }
  responder.send(
    res,
    route,
    200,
    otlpSuccessBody(encoding, refusals.length, rejectedMessage),
    otlpContentType(encoding),
  );
}

/** GET /metrics. */
async function handleMetrics(ctx: ServerContext, res: http.ServerResponse): Promise<void> {
  const metrics = ctx.target.metrics;
  if (!metrics) {
    ctx.responder.sendError(res, 'metrics', 404, 'ERR_HTTP_NOT_FOUND', 'metrics are off for this sink');
    return;
  }
  // Counted before the text is made, so this request shows in its own scrape.
  ctx.responder.count('metrics', 200);
  const text = await metrics.text();
  ctx.responder.sendUncounted(res, 200, text, metrics.contentType);
}

/** GET /health, /health/live, /health/ready. */
async function handleHealth(ctx: ServerContext, res: http.ServerResponse, name: RouteName): Promise<void> {
  const report = await ctx.target.health();
  const draining = ctx.responder.draining;
  const ok = name === 'live' ? report.live : report.ready && !draining;
  const body =
    name === 'health'
      ? JSON.stringify(draining ? { ...report, ready: false, reasons: [...report.reasons, 'shutting down'] } : report)
      : JSON.stringify({ status: ok ? 'ok' : 'unavailable', reasons: report.reasons });
  ctx.responder.send(res, name, ok ? 200 : 503, body);
}

/** One request: route, authenticate, dispatch. */
async function handleRequest(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { responder } = ctx;
  const route = matchRoute(req.method, req.url);
  if (!route.ok) {
    req.resume();
    responder.sendError(res, route.metricRoute, route.status, route.code, route.message, { headers: route.headers });
    return;
  }
  const auth = authenticate(req, route.routeClass, ctx.auth);
  if (!auth.ok) {
    req.resume();
    responder.sendError(res, route.name, auth.status, auth.code, auth.message, { headers: auth.headers });
    return;
  }
  if (route.name === 'events') {
    if (responder.draining) {
      req.resume();
      responder.sendError(res, 'events', 503, 'ERR_IRONLOG_CLOSED', 'the server is shutting down', { retryAfterS: 1 });
      return;
    }
    await handleEvents(ctx, req, res, auth.principal);
    return;
  }
  if (route.name === 'otlp-logs') {
    if (responder.draining) {
      req.resume();
      responder.send(
        res,
        route.name,
        503,
        otlpStatusBody('json', GrpcCode.UNAVAILABLE, 'the server is shutting down'),
        'application/json',
        { 'Retry-After': '1' },
      );
      return;
    }
    await handleOtlpLogs(ctx, req, res, auth.principal);
    return;
  }
  req.resume();
  if (route.name === 'metrics') await handleMetrics(ctx, res);
  else await handleHealth(ctx, res, route.name);
}

function tlsOptions(material: TlsMaterial): https.ServerOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca !== undefined ? { ca: material.ca, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Starts the ingest server for `target`; resolves once it listens. */
export async function startIngestServer(
  target: IngestTarget,
  options: IngestServerOptions = {},
): Promise<IngestServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const responder = new Responder(target.metrics?.registry);
  const ctx: ServerContext = {
    target,
    responder,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    limits: { maxEventBytes: target.options.maxEventBytes, maxBatchFrameBytes: target.options.ringBytes / 2 },
    auth: options.auth,
  };
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    inFlight++;
    handleRequest(ctx, req, res)
      .catch((err: unknown) => {
        debug('request failed: %s', (err as Error)?.stack ?? String(err));
        if (!res.headersSent) responder.sendError(res, 'other', 500, 'ERR_IRONLOG_INTERNAL', String(err));
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) onIdle?.();
      });
  };
  const tls = options.tls;
  const server: http.Server | https.Server = tls
    ? https.createServer(tlsOptions(tls), onRequest)
    : http.createServer(onRequest);
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
    url: `${tls ? 'https' : 'http'}://${hostForUrl}:${address.port}`,
    address,
    get inFlight() {
      return inFlight;
    },
    reloadTls(material: TlsMaterial): void {
      if (!(server instanceof https.Server)) throw new TypeError('reloadTls() needs a server started with tls');
      server.setSecureContext(tlsOptions(material));
    },
    stop(): Promise<void> {
      if (stopping) return stopping;
      responder.draining = true;
      stopping = (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) await new Promise<void>((resolve) => (onIdle = resolve));
        server.closeAllConnections();
        await closed;
        responder.dispose();
      })();
      return stopping;
    },
  };
}
