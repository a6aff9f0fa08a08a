/**
 * Answers of the ingest server: every response goes through {@link Responder}, which counts it in
 * `ironlog_http_requests_total` and closes the connection while the server drains. The mapping
 * from a sink's error code to an HTTP status is {@link httpStatusForCode}.
 */
import type * as http from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { ErrorCodes } from '../core/errors.js';

/** An HTTP status and, for a retryable refusal, the `Retry-After` seconds. */
export interface HttpStatus {
  readonly status: number;
  readonly retryAfterS?: number;
}

/** The HTTP answer to a sink (emit) error code. */
export function httpStatusForCode(code: string | undefined): HttpStatus {
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

/** Name of the request counter. */
export const kRequestsMetric = 'ironlog_http_requests_total';

/** Writes responses and counts them by route and status. */
export class Responder {
  readonly #requests: Counter<'route' | 'code'> | undefined;
  readonly #registry: Registry | undefined;
  /** Set while the server drains: every answer then closes its connection. */
  draining = false;

  constructor(registry: Registry | undefined) {
    this.#registry = registry;
    this.#requests = registry
      ? new Counter({
          name: kRequestsMetric,
          help: 'HTTP requests answered by ironlog serve, by route and status code',
          labelNames: ['route', 'code'],
          registers: [registry],
        })
      : undefined;
  }

  /** Counts an answer before it is sent (the metrics route counts itself before it renders). */
  count(route: string, status: number): void {
    this.#requests?.inc({ route, code: String(status) });
  }

  /** Sends `body` with `status`, counted under `route`. */
  send(
    res: http.ServerResponse,
    route: string,
    status: number,
    body: string | Uint8Array,
    contentType = 'application/json',
    headers: Readonly<Record<string, string>> = {},
  ): void {
    this.count(route, status);
    this.sendUncounted(res, status, body, contentType, headers);
  }

  /** {@link send} without counting (for an answer already counted). */
  sendUncounted(
    res: http.ServerResponse,
    status: number,
    body: string | Uint8Array,
    contentType: string,
    headers: Readonly<Record<string, string>> = {},
  ): void {
    if (this.draining) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** Sends `{"error":{"code","message"}}`; `retryAfterS` adds `Retry-After`. */
  sendError(
    res: http.ServerResponse,
    route: string,
    status: number,
    code: string,
    message: string,
    options: { retryAfterS?: number | undefined; headers?: Readonly<Record<string, string>> } = {},
  ): void {
    const headers: Record<string, string> = { ...options.headers };
    if (options.retryAfterS !== undefined) headers['Retry-After'] = String(options.retryAfterS);
    this.send(res, route, status, JSON.stringify({ error: { code, message } }), 'application/json', headers);
  }

  /** Unregisters the request counter (the server stopped). */
  dispose(): void {
    this.#registry?.removeSingleMetric(kRequestsMetric);
  }
}
