/**
 * `ironlog/express`: one durable audit record per request, for Express 5.
 *
 * ```ts
 * import express from 'express';
 * import ironlogExpress from 'ironlog/express';
 * const app = express();
 * const audit = ironlogExpress({ dir: './audit', actor: (req) => req.get('x-user') ?? null });
 * app.use(audit);
 * app.post('/transfer', async (req, res) => {
 *   await req.audit({ action: 'transfer', amount: 10 });
 *   res.json({ ok: true });
 * });
 * // on shutdown: server.close(); await audit.close();
 * ```
 * The end of every response (`res.end`, which `res.send`/`res.json` call) is held until the
 * request's audit record is durable; when it cannot be made durable the client gets
 * `failureStatus` (503) instead. A request whose client goes away first (`'close'` without
 * `'finish'`) is recorded as `'http.aborted'`. See `docs/integrations/express.md`.
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import type { Ack } from '../../main/producer.js';
import type { Sink } from '../../main/sink.js';
import { acquireSink, passes, type SinkSource, splitSinkOptions } from '../common/sink-source.js';
import {
  asAuditError,
  auditFailureBody,
  buildRequestEvent,
  type HttpAuditOptions,
  kHttpAuditKeys,
  prepareHandlerEvent,
  type RequestAuditEvent,
  type RequestFacts,
  resolveHttpAuditOptions,
} from '../http/audit-event.js';

export type { EventFilter, SharedSinkOptions, SinkSource } from '../common/sink-source.js';
export type { HttpAuditOptions, RequestAuditEvent } from '../http/audit-event.js';

/** Options of {@link ironlogExpress} besides the shared audit options. */
export interface IronlogExpressAdapterOptions {
  /**
   * The request id: default the `x-request-id` header when present, else a random UUID. The id
   * is also set on the response as `x-request-id`.
   */
  requestId?: (req: Request) => string;
}

/** `ironlogExpress({ dir, ...openSink options, ...audit options } | { sink, ... })`. */
export type IronlogExpressOptions = SinkSource & HttpAuditOptions<Request> & IronlogExpressAdapterOptions;

declare global {
  namespace Express {
    interface Request {
      /**
       * Writes a handler-level audit event (the object as given, redacted, with `requestId`
       * added when absent) and resolves once it is durable. Set by the ironlog middleware.
       */
      audit(event: Record<string, unknown>): Promise<Ack>;
    }
  }
}

/** The middleware, with the sink and a `close()` for an owned sink. */
export interface IronlogExpressMiddleware extends RequestHandler {
  /** Resolves with the sink once it is open. */
  readonly ready: Promise<Sink>;
  /** Closes the sink if the middleware opened it (`{ dir }`); a sink passed in stays open. */
  close(): Promise<void>;
}

type EndArgs = Parameters<Response['end']>;

/**
 * Builds the audit middleware. The sink (`{ dir }`) opens in the background; requests that
 * arrive before it is open wait for it. A sink that fails to open fails every request with
 * `failureStatus`.
 */
export default function ironlogExpress(options: IronlogExpressOptions): IronlogExpressMiddleware {
  const { source, adapter } = splitSinkOptions('ironlogExpress', options, [...kHttpAuditKeys, 'requestId'] as const);
  const audit = resolveHttpAuditOptions<Request>(adapter);
  const requestIdOption = adapter.requestId;
  if (requestIdOption !== undefined && typeof requestIdOption !== 'function') {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, 'options.requestId must be a function (req) => string');
  }
  const requestIdOf =
    (requestIdOption as ((req: Request) => string) | undefined) ??
    ((req: Request): string => {
      const h = req.get('x-request-id');
      return h !== undefined && h.length > 0 && h.length <= 200 ? h : randomUUID();
    });
  const acquired = acquireSink(source);
  const ready = acquired.then(({ sink }) => sink);
  // Reported per request; keep the open error from being an unhandled rejection meanwhile.
  ready.catch(() => {});

  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const startedAtMs = performance.now();
    const requestId = String(requestIdOf(req));
    if (!res.headersSent) res.setHeader('x-request-id', requestId);
    const factsOf = (type: RequestAuditEvent['type'], status: number | null): RequestFacts<Request> => ({
      request: req,
      type,
      method: req.method,
      route: req.route?.path === undefined ? null : `${req.baseUrl}${String(req.route.path)}`,
      url: req.originalUrl,
      status,
      startedAtMs,
      ip: req.ip,
      requestId,
      header: (name) => req.headers[name],
    });
    req.audit = (event) => {
      let prepared: Record<string, unknown>;
      try {
        prepared = prepareHandlerEvent(event, requestId, audit.redact);
      } catch (err) {
        return Promise.reject(err);
      }
      return ready.then((sink) => sink.emit(prepared));
    };

    let state: 'open' | 'auditing' | 'done' = 'open';
    const originalEnd = res.end;
    const endWith = (args: EndArgs): void => {
      res.end = originalEnd;
      (originalEnd as (...a: unknown[]) => Response).apply(res, args);
    };
    const fail = (err: unknown, args: EndArgs): void => {
      res.end = originalEnd;
      if (res.headersSent) {
        // Streaming started (res.write): the status cannot change any more. Cut the response so
        // the client never sees it complete.
        res.destroy(asAuditError(err));
        return;
      }
      res.statusCode = audit.failureStatus;
      for (const h of ['content-length', 'content-encoding', 'etag', 'last-modified']) res.removeHeader(h);
      res.setHeader('content-type', 'application/json; charset=utf-8');
      const body = auditFailureBody(err);
      res.setHeader('content-length', Buffer.byteLength(body));
      const cb = args.find((a) => typeof a === 'function') as (() => void) | undefined;
      originalEnd.call(res, body, 'utf8', cb);
    };

    res.end = function heldEnd(this: Response, ...args: unknown[]): Response {
      if (state !== 'open') {
        (originalEnd as (...a: unknown[]) => Response).apply(res, args);
        return res;
      }
      state = 'auditing';
      const endArgs = args as EndArgs;
      let event: RequestAuditEvent;
      try {
        event = buildRequestEvent(factsOf('http.request', res.statusCode), audit);
      } catch (err) {
        state = 'done';
        fail(asAuditError(err), endArgs);
        return res;
      }
      if (!passes(audit.filter, event, (err) => audit.onError(asAuditError(err), req))) {
        state = 'done';
        endWith(endArgs);
        return res;
      }
      ready
        .then((sink) => sink.emit(event))
        .then(
          () => {
            state = 'done';
            endWith(endArgs);
          },
          (err: unknown) => {
            state = 'done';
            fail(err, endArgs);
          },
        );
      return res;
    } as Response['end'];

    res.on('close', () => {
      // 'close' without 'finish' and before the response ended: the client went away.
      if (state !== 'open' || res.writableFinished) return;
      state = 'done';
      let event: RequestAuditEvent;
      try {
        event = buildRequestEvent(factsOf('http.aborted', null), audit);
      } catch (err) {
        audit.onError(asAuditError(err), req);
        return;
      }
      if (!passes(audit.filter, event, (err) => audit.onError(asAuditError(err), req))) return;
      ready.then((sink) => sink.emit(event)).catch((err: unknown) => audit.onError(asAuditError(err), req));
    });

    if (!audit.recordIntent) {
      next();
      return;
    }
    let intent: RequestAuditEvent;
    try {
      intent = buildRequestEvent(factsOf('http.intent', null), audit);
    } catch (err) {
      next(asAuditError(err));
      return;
    }
    if (!passes(audit.filter, intent, (err) => audit.onError(asAuditError(err), req))) {
      next();
      return;
    }
    ready
      .then((sink) => sink.emit(intent))
      .then(
        () => next(),
        (err: unknown) => {
          // The handler must not run unrecorded: answer the failure now.
          state = 'done';
          fail(err, [] as unknown as EndArgs);
        },
      );
  };

  return Object.assign(handler, {
    ready,
    close: async (): Promise<void> => {
      const { sink, owned } = await acquired.catch(() => ({ sink: undefined, owned: false }));
      if (owned && sink) await sink.close();
    },
  }) as IronlogExpressMiddleware;
}

export { ironlogExpress };
