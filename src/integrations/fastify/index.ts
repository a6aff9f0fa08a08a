/**
 * `ironlog/fastify`: one durable audit record per request, for Fastify 5.
 *
 * ```ts
 * import Fastify from 'fastify';
 * import ironlogFastify from 'ironlog/fastify';
 * const app = Fastify();
 * await app.register(ironlogFastify, { dir: './audit', actor: (req) => req.headers['x-user'] ?? null });
 * app.post('/transfer', async (req) => {
 *   await req.audit({ action: 'transfer', amount: 10 });   // durable before the handler goes on
 *   return { ok: true };
 * });
 * ```
 * The reply is held (an async `onSend` hook) until the request's audit record is durable; when
 * it cannot be made durable the client gets `failureStatus` (503), never the handler's 200.
 * See `docs/integrations/fastify.md`.
 * @packageDocumentation
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
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
  type ResolvedHttpAuditOptions,
  resolveHttpAuditOptions,
} from '../http/audit-event.js';

export type { EventFilter, SharedSinkOptions, SinkSource } from '../common/sink-source.js';
export type { HttpAuditOptions, RequestAuditEvent } from '../http/audit-event.js';

/** `app.register(ironlogFastify, { dir, ...openSink options, ...audit options } | { sink, ... })`. */
export type IronlogFastifyOptions = SinkSource & HttpAuditOptions<FastifyRequest>;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Writes a handler-level audit event (the object as given, redacted, with `requestId` added
     * when absent) and resolves once it is durable. Not subject to `filter`.
     */
    audit(event: Record<string, unknown>): Promise<Ack>;
  }
  interface FastifyInstance {
    /** The sink the ironlog plugin writes to. */
    ironlogSink: Sink;
  }
}

const kStartedAt = Symbol('ironlog.startedAt');
/** Set when the intent could not be recorded: the failure reply is already on its way. */
const kFailed = Symbol('ironlog.auditFailed');
type TimedRequest = FastifyRequest & { [kStartedAt]?: number; [kFailed]?: boolean };

function facts(
  request: FastifyRequest,
  type: RequestAuditEvent['type'],
  status: number | null,
): Parameters<typeof buildRequestEvent<FastifyRequest>>[0] {
  return {
    request,
    type,
    method: request.method,
    route: request.routeOptions.url ?? null,
    url: request.url,
    status,
    startedAtMs: (request as TimedRequest)[kStartedAt] ?? performance.now(),
    ip: request.ip,
    requestId: String(request.id),
    header: (name) => request.headers[name],
  };
}

/** Answers `failureStatus` with the error body instead of the handler's payload. */
function failReply(reply: FastifyReply, options: ResolvedHttpAuditOptions<FastifyRequest>, err: unknown): string {
  reply.code(options.failureStatus);
  reply.header('content-type', 'application/json; charset=utf-8');
  reply.removeHeader('content-length');
  reply.removeHeader('etag');
  return auditFailureBody(err);
}

const plugin: FastifyPluginAsync<IronlogFastifyOptions> = async (app, rawOptions) => {
  // Fastify adds nothing to plugin options, but a caller may pass `prefix` etc.: keep them out.
  const { source, adapter } = splitSinkOptions('ironlog/fastify', rawOptions, [...kHttpAuditKeys, 'prefix'] as const);
  const options = resolveHttpAuditOptions<FastifyRequest>(adapter);
  const { sink, owned } = await acquireSink(source);
  app.decorate('ironlogSink', sink);

  const emitEvent = (event: RequestAuditEvent): Promise<Ack> => sink.emit(event);

  app.decorateRequest('audit', function audit(this: FastifyRequest, event: Record<string, unknown>): Promise<Ack> {
    let prepared: Record<string, unknown>;
    try {
      prepared = prepareHandlerEvent(event, String(this.id), options.redact);
    } catch (err) {
      return Promise.reject(err);
    }
    return sink.emit(prepared);
  });

  app.addHook('onRequest', async (request) => {
    (request as TimedRequest)[kStartedAt] = performance.now();
  });

  if (options.recordIntent) {
    app.addHook('preHandler', async (request, reply) => {
      let event: RequestAuditEvent;
      try {
        event = buildRequestEvent(facts(request, 'http.intent', null), options);
      } catch (err) {
        return reply.send(failReply(reply, options, asAuditError(err)));
      }
      if (!passes(options.filter, event, (err) => options.onError(asAuditError(err), request))) return;
      try {
        await emitEvent(event);
      } catch (err) {
        // The handler must not run unrecorded: answer now, the onSend hook lets this body pass.
        (request as TimedRequest)[kFailed] = true;
        return reply.send(failReply(reply, options, err));
      }
    });
  }

  app.addHook('onSend', async (request, reply, payload) => {
    if ((request as TimedRequest)[kFailed]) return payload;
    let event: RequestAuditEvent;
    try {
      event = buildRequestEvent(facts(request, 'http.request', reply.statusCode), options);
    } catch (err) {
      return failReply(reply, options, asAuditError(err));
    }
    if (!passes(options.filter, event, (err) => options.onError(asAuditError(err), request))) {
      return payload;
    }
    try {
      await emitEvent(event);
      return payload;
    } catch (err) {
      return failReply(reply, options, err);
    }
  });

  app.addHook('onClose', async () => {
    if (owned) await sink.close();
  });
};

/**
 * The Fastify plugin (wrapped in fastify-plugin, so its hooks and decorators apply to the whole
 * app): decorates `request.audit` and `app.ironlogSink`; closes the sink in `onClose` when it
 * opened it (`{ dir }`), never a sink passed in (`{ sink }`).
 */
const ironlogFastify = fp(plugin, {
  fastify: '5.x',
  name: 'ironlog',
});

export default ironlogFastify;
