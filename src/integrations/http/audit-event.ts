/**
 * The request audit event the Fastify plugin and the Express middleware write, their shared
 * options, and the redaction rules. One shape for both frameworks, so `ironlog replay` reads the
 * same fields whichever one served the request.
 */
import { ErrorCodes, IronlogError } from '../../core/errors.js';
import { type EventFilter, resolveFilter } from '../common/sink-source.js';

/** The event written for a request. Every field is always present (`null` when unknown). */
export interface RequestAuditEvent {
  /**
   * `'http.request'`: the request completed (written before the response is released).
   * `'http.intent'`: the request is about to run its handler (`recordIntent: true`).
   * `'http.aborted'`: the client went away before the response finished (Express).
   */
  type: 'http.request' | 'http.intent' | 'http.aborted';
  method: string;
  /** The route pattern (`/users/:id`), null when no route matched. */
  route: string | null;
  /** The path, without the query string (which may carry secrets). */
  path: string;
  /** The response status; null for an intent and an aborted request. */
  status: number | null;
  /** What `options.actor(request)` returned; null without the option. */
  actor: unknown;
  /** Milliseconds from the request's arrival to this event. */
  latencyMs: number;
  ip: string | null;
  requestId: string;
  /** The request headers named in `options.headers` (lower case), after redaction. */
  headers?: Record<string, string | string[] | undefined>;
  /** Whatever `options.enrich(request, event)` added. */
  [field: string]: unknown;
}

/** Options shared by the Fastify plugin and the Express middleware (framework request type `Req`). */
export interface HttpAuditOptions<Req> {
  /** Who made the request (a user id, a token subject...), from the request. Default: none (null). */
  actor?: (request: Req) => unknown;
  /** Adds fields to the event (returned object is merged in; it may not replace the fixed fields). */
  enrich?: (request: Req, event: RequestAuditEvent) => Record<string, unknown> | undefined;
  /** Request headers to record (case-insensitive). Default: none. */
  headers?: readonly string[];
  /**
   * Dot paths into the event whose value is replaced by `'[REDACTED]'` (e.g. `'actor.email'`,
   * `'headers.x-api-key'`). Always redacted too: `headers.authorization`, `headers.cookie`,
   * `headers.proxy-authorization`. Applies to `request.audit()` events as well.
   */
  redact?: readonly string[];
  /** Only events this keeps are written (the response is then not held). Default: all. */
  filter?: EventFilter<RequestAuditEvent>;
  /**
   * Status of the response when its audit record could not be made durable (the handler's
   * response is discarded; the body is `{"error":{"code","message"}}`). Default 503.
   */
  failureStatus?: number;
  /**
   * Also write an `'http.intent'` event, durable before the handler runs, so a crash inside the
   * handler still leaves the request on the record. Costs one more fsync wait per request.
   * Default false.
   */
  recordIntent?: boolean;
  /** Errors that reach no response (an aborted request's audit failed). Default: a process warning. */
  onError?: (err: IronlogError, request: Req) => void;
}

/** {@link HttpAuditOptions} validated. */
export interface ResolvedHttpAuditOptions<Req> {
  readonly actor: ((request: Req) => unknown) | undefined;
  readonly enrich: HttpAuditOptions<Req>['enrich'];
  readonly headers: readonly string[];
  readonly redact: readonly (readonly string[])[];
  readonly filter: EventFilter<RequestAuditEvent> | undefined;
  readonly failureStatus: number;
  readonly recordIntent: boolean;
  readonly onError: (err: IronlogError, request: Req) => void;
}

/** Option names of {@link HttpAuditOptions}, split off before the rest goes to `openSink`. */
export const kHttpAuditKeys = [
  'actor',
  'enrich',
  'headers',
  'redact',
  'filter',
  'failureStatus',
  'recordIntent',
  'onError',
] as const;

const kAlwaysRedacted = ['headers.authorization', 'headers.cookie', 'headers.proxy-authorization'];
const kFixedFields: ReadonlySet<string> = new Set([
  'type',
  'method',
  'route',
  'path',
  'status',
  'actor',
  'latencyMs',
  'ip',
  'requestId',
]);

function invalid(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, message);
}

function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(`options.${name} must be a function`);
  return value as F;
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw invalid(`options.${name} must be an array of non-empty strings`);
  }
  return value as string[];
}

/** Validates the shared options (the keys of {@link kHttpAuditKeys} split off the input). */
export function resolveHttpAuditOptions<Req>(input: Partial<Record<string, unknown>>): ResolvedHttpAuditOptions<Req> {
  const failureStatus = input['failureStatus'] ?? 503;
  if (!Number.isInteger(failureStatus) || (failureStatus as number) < 400 || (failureStatus as number) > 599) {
    throw invalid('options.failureStatus must be an HTTP error status (400-599)');
  }
  const recordIntent = input['recordIntent'] ?? false;
  if (typeof recordIntent !== 'boolean') throw invalid('options.recordIntent must be a boolean');
  const onError =
    optionalFunction<(err: IronlogError, request: Req) => void>('onError', input['onError']) ??
    ((err: IronlogError) => process.emitWarning(`ironlog audit: ${err.code}: ${err.message}`, 'IronlogAuditWarning'));
  return {
    actor: optionalFunction('actor', input['actor']),
    enrich: optionalFunction('enrich', input['enrich']),
    headers: stringList('headers', input['headers']).map((h) => h.toLowerCase()),
    redact: [...kAlwaysRedacted, ...stringList('redact', input['redact'])].map((p) => p.split('.')),
    filter: resolveFilter<RequestAuditEvent>(input['filter']),
    failureStatus: failureStatus as number,
    recordIntent,
    onError,
  };
}

/** What a framework adapter knows of a request when it builds the event. */
export interface RequestFacts<Req> {
  readonly request: Req;
  readonly type: RequestAuditEvent['type'];
  readonly method: string;
  readonly route: string | null;
  readonly url: string;
  readonly status: number | null;
  readonly startedAtMs: number;
  readonly ip: string | null | undefined;
  readonly requestId: string;
  readonly header: (name: string) => string | string[] | undefined;
}

/** Builds (and redacts) the event of a request. A throwing `actor`/`enrich` is reported as an INTERNAL error. */
export function buildRequestEvent<Req>(
  facts: RequestFacts<Req>,
  options: ResolvedHttpAuditOptions<Req>,
): RequestAuditEvent {
  const q = facts.url.indexOf('?');
  const event: RequestAuditEvent = {
    type: facts.type,
    method: facts.method,
    route: facts.route,
    path: q < 0 ? facts.url : facts.url.slice(0, q),
    status: facts.status,
    actor: null,
    latencyMs: Math.round((performance.now() - facts.startedAtMs) * 1000) / 1000,
    ip: facts.ip ?? null,
    requestId: facts.requestId,
  };
  if (options.actor) event.actor = options.actor(facts.request) ?? null;
  if (options.headers.length > 0) {
    const headers: Record<string, string | string[] | undefined> = {};
    for (const name of options.headers) headers[name] = facts.header(name);
    event.headers = headers;
  }
  if (options.enrich) {
    const extra = options.enrich(facts.request, event);
    if (extra !== undefined && extra !== null) {
      for (const [k, v] of Object.entries(extra)) if (!kFixedFields.has(k)) event[k] = v;
    }
  }
  redactInPlace(event, options.redact);
  return event;
}

/** A copy of a handler's audit event with the redaction rules applied and `requestId` added if absent. */
export function prepareHandlerEvent(
  event: unknown,
  requestId: string,
  redact: readonly (readonly string[])[],
): Record<string, unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, 'request.audit() takes an object');
  }
  // A shallow copy: redaction copies the objects it writes into, so the caller's stays as it is.
  const copy: Record<string, unknown> = { ...(event as Record<string, unknown>) };
  if (copy['requestId'] === undefined) copy['requestId'] = requestId;
  redactInPlace(copy, redact);
  return copy;
}

/** Replaces the value at each path (if present) with `'[REDACTED]'`, copying objects on the way. */
function redactInPlace(target: Record<string, unknown>, paths: readonly (readonly string[])[]): void {
  for (const path of paths) {
    let node: Record<string, unknown> = target;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      if (!Object.hasOwn(node, key) || node[key] === undefined) break;
      if (i === path.length - 1) {
        node[key] = '[REDACTED]';
        break;
      }
      const next = node[key];
      if (typeof next !== 'object' || next === null) break;
      // Copy before writing into it: the object may be the caller's (an actor, an enrich result).
      const copy = Array.isArray(next) ? [...next] : { ...(next as Record<string, unknown>) };
      node[key] = copy;
      node = copy as Record<string, unknown>;
    }
  }
}

/** The JSON body of a response whose audit failed. */
export function auditFailureBody(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return JSON.stringify({
    error: {
      code: typeof code === 'string' ? code : ErrorCodes.INTERNAL,
      message: 'the audit record of this request could not be made durable; the response was withheld',
    },
  });
}

/** The error as an IronlogError (for onError). */
export function asAuditError(err: unknown): IronlogError {
  if (err instanceof IronlogError) return err;
  return new IronlogError(ErrorCodes.INTERNAL, `audit failed: ${String((err as Error)?.message ?? err)}`, {
    cause: err,
  });
}
