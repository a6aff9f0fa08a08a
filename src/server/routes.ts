/**
 * The route table of `ironlog serve`: which paths exist, which methods each takes, and the
 * answer to a request that matches none (400 unparsable target, 404 unknown path, 405 with
 * `Allow`).
 */

/** A route of the ingest server. */
export type RouteName = 'events' | 'otlp-logs' | 'metrics' | 'health' | 'live' | 'ready';

/** What a route is, for authorization: a token lists the classes it may use. */
export type RouteClass = 'ingest' | 'metrics' | 'health';

interface RouteSpec {
  readonly name: RouteName;
  readonly routeClass: RouteClass;
  readonly methods: readonly string[];
}

const kRead = ['GET', 'HEAD'] as const;

const kRoutes: ReadonlyMap<string, RouteSpec> = new Map<string, RouteSpec>([
  ['/events', { name: 'events', routeClass: 'ingest', methods: ['POST'] }],
  ['/v1/logs', { name: 'otlp-logs', routeClass: 'ingest', methods: ['POST'] }],
  ['/metrics', { name: 'metrics', routeClass: 'metrics', methods: kRead }],
  ['/health', { name: 'health', routeClass: 'health', methods: kRead }],
  ['/health/live', { name: 'live', routeClass: 'health', methods: kRead }],
  ['/health/ready', { name: 'ready', routeClass: 'health', methods: kRead }],
]);

/** Every route class (for option checks and docs). */
export const kRouteClasses: readonly RouteClass[] = ['ingest', 'metrics', 'health'];

/** The outcome of matching a request against the table. */
export type RouteMatch =
  | { readonly ok: true; readonly name: RouteName; readonly routeClass: RouteClass; readonly path: string }
  | {
      readonly ok: false;
      readonly status: 400 | 404 | 405;
      readonly code: string;
      readonly message: string;
      /** Label of the request metric. */
      readonly metricRoute: string;
      readonly headers: Readonly<Record<string, string>>;
    };

/**
 * Parses the request target; undefined when it is not a URL path (e.g. `http://[`). A target that
 * is a route's path, optionally followed by a query, is that path without building a `URL` (the
 * hot path of every ingest request): the route paths are plain lower-case ASCII, which the URL
 * parser leaves as they are, and the pathname of `path?query` is `path`.
 */
export function pathOf(target: string | undefined): string | undefined {
  if (target !== undefined) {
    const query = target.indexOf('?');
    const raw = query < 0 ? target : target.slice(0, query);
    if (kRoutes.has(raw)) return raw;
  }
  try {
    return new URL(target ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** Matches `method` and the raw request target against the route table. */
export function matchRoute(method: string | undefined, target: string | undefined): RouteMatch {
  const path = pathOf(target);
  if (path === undefined) {
    return {
      ok: false,
      status: 400,
      code: 'ERR_HTTP_BAD_REQUEST_TARGET',
      message: 'the request target is not a valid URL path',
      metricRoute: 'other',
      headers: {},
    };
  }
  const spec = kRoutes.get(path);
  if (spec === undefined) {
    return {
      ok: false,
      status: 404,
      code: 'ERR_HTTP_NOT_FOUND',
      message: `no route ${path}`,
      metricRoute: 'other',
      headers: {},
    };
  }
  if (!spec.methods.includes(method ?? '')) {
    const allow = spec.methods.join(', ');
    return {
      ok: false,
      status: 405,
      code: 'ERR_HTTP_METHOD_NOT_ALLOWED',
      message: `${path} takes ${allow}`,
      metricRoute: spec.name,
      headers: { Allow: allow },
    };
  }
  return { ok: true, name: spec.name, routeClass: spec.routeClass, path };
}
