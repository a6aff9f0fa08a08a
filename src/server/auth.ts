/**
 * Who may write: bearer tokens (kept as SHA-256 hashes, compared in constant time, each with a
 * name and the route classes it may use) and client certificates (mutual TLS). The answer for a
 * request is an {@link AuthDecision}: allowed with the principal to stamp into its records, or
 * refused with 401/403.
 *
 * Token file format (also the value of `IRONLOG_SERVE_TOKENS`), JSON:
 *
 *   { "tokens": [ { "name": "billing", "sha256": "<64 hex digits>", "routes": ["ingest"] } ] }
 *
 * `sha256` is the hex SHA-256 of the token's UTF-8 bytes (`printf %s "$TOKEN" | sha256sum`), so
 * the file never holds a usable secret. `routes` lists route classes: `ingest` (POST /events),
 * `metrics` (GET /metrics), `health` (GET /health*). A token removed from the file stops working
 * when the server reloads it (SIGHUP).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { kRouteClasses, type RouteClass } from './routes.js';

/** One token as loaded: its name, the hash of its secret and what it may do. */
export interface TokenEntry {
  readonly name: string;
  readonly sha256: Buffer;
  readonly routes: ReadonlySet<RouteClass>;
}

const kNamePattern = /^[A-Za-z0-9._@-]{1,64}$/;

function invalid(source: string, message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_OPTION, `${source}: ${message}`);
}

/** Parses a token list (the JSON format above); `source` names it in error messages. */
export function parseTokens(text: string, source: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(source, `not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(list)) {
    throw invalid(source, 'must be a JSON object {"tokens": [{"name", "sha256", "routes"}, ...]}');
  }
  const names = new Set<string>();
  return list.map((item: unknown, i: number): TokenEntry => {
    const t = item as { name?: unknown; sha256?: unknown; routes?: unknown } | null;
    if (typeof t !== 'object' || t === null) throw invalid(source, `tokens[${i}] must be an object`);
    if (typeof t.name !== 'string' || !kNamePattern.test(t.name)) {
      throw invalid(source, `tokens[${i}].name must be 1-64 chars of [A-Za-z0-9._@-]`);
    }
    if (names.has(t.name)) throw invalid(source, `tokens[${i}].name ${t.name} is used twice`);
    names.add(t.name);
    if (typeof t.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(t.sha256)) {
      throw invalid(source, `tokens[${i}].sha256 must be the 64 hex digits of the token's SHA-256`);
    }
    if (!Array.isArray(t.routes) || t.routes.length === 0) {
      throw invalid(source, `tokens[${i}].routes must be a non-empty list of ${kRouteClasses.join(', ')}`);
    }
    const routes = new Set<RouteClass>();
    for (const r of t.routes) {
      if (!kRouteClasses.includes(r as RouteClass)) {
        throw invalid(source, `tokens[${i}].routes: ${JSON.stringify(r)} is not one of ${kRouteClasses.join(', ')}`);
      }
      routes.add(r as RouteClass);
    }
    return { name: t.name, sha256: Buffer.from(t.sha256, 'hex'), routes };
  });
}

/** The hex SHA-256 of a token, as the token file stores it. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The current token set; {@link replace} swaps it (reload). */
export class TokenStore {
  #entries: readonly TokenEntry[];

  constructor(entries: readonly TokenEntry[]) {
    this.#entries = entries;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Replaces every token at once (a removed token is refused from the next request on). */
  replace(entries: readonly TokenEntry[]): void {
    this.#entries = entries;
  }

  /**
   * The entry whose hash matches `token`, or undefined. Every entry is compared (fixed-length
   * hashes, `timingSafeEqual`, no early exit), so the time taken says nothing about which
   * tokens exist or how much of one matched.
   */
  find(token: string): TokenEntry | undefined {
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: TokenEntry | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(presented, entry.sha256) && found === undefined) found = entry;
    }
    return found;
  }
}

/** How the server authenticates. */
export interface AuthConfig {
  /** Bearer tokens; when set, every closed route needs one. */
  readonly tokens?: TokenStore | undefined;
  /** Mutual TLS is on (the TLS layer already refused a connection without a valid client certificate). */
  readonly clientCertificates?: boolean | undefined;
  /** Route classes that need no authentication. Default `['health']`. `ingest` is never open. */
  readonly openRoutes?: readonly RouteClass[] | undefined;
}

/** The outcome of authenticating one request. */
export type AuthDecision =
  | { readonly ok: true; readonly principal: string | undefined }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly code: string;
      readonly message: string;
      readonly headers: Readonly<Record<string, string>>;
    };

const kAnonymous: AuthDecision = { ok: true, principal: undefined };

/** True when `config` authenticates anyone at all. */
export function authEnabled(config: AuthConfig | undefined): boolean {
  return config !== undefined && (config.tokens !== undefined || config.clientCertificates === true);
}

/** `CN=client,O=Example` from a certificate's subject fields. */
function subjectString(subject: Readonly<Record<string, string | string[]>> | undefined): string {
  if (!subject) return '';
  return Object.entries(subject)
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}=${x}`) : [`${k}=${v}`]))
    .join(',');
}

function refused(status: 401 | 403, code: string, message: string, headers: Record<string, string> = {}): AuthDecision {
  return { ok: false, status, code, message, headers };
}

/** Authenticates `req` for a route of class `routeClass`. */
export function authenticate(
  req: http.IncomingMessage,
  routeClass: RouteClass,
  config: AuthConfig | undefined,
): AuthDecision {
  if (!authEnabled(config) || config === undefined) return kAnonymous;
  const open = config.openRoutes ?? ['health'];
  if (routeClass !== 'ingest' && open.includes(routeClass)) return kAnonymous;
  if (config.tokens === undefined) {
    // Mutual TLS only: the handshake already checked the certificate against --tls-ca.
    const socket = req.socket as TLSSocket;
    if (socket.authorized !== true) {
      return refused(401, 'ERR_HTTP_UNAUTHORIZED', 'a client certificate signed by the configured CA is required');
    }
    const subject = subjectString(socket.getPeerCertificate().subject as Record<string, string | string[]>);
    return { ok: true, principal: `cert:${subject}` };
  }
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  if (!match) {
    return refused(401, 'ERR_HTTP_UNAUTHORIZED', 'this route needs Authorization: Bearer <token>', {
      'WWW-Authenticate': 'Bearer realm="ironlog"',
    });
  }
  const entry = config.tokens.find(match[1] as string);
  if (entry === undefined) {
    return refused(401, 'ERR_HTTP_UNAUTHORIZED', 'the bearer token is not valid (unknown or revoked)', {
      'WWW-Authenticate': 'Bearer realm="ironlog", error="invalid_token"',
    });
  }
  if (!entry.routes.has(routeClass)) {
    return refused(403, 'ERR_HTTP_FORBIDDEN', `token ${entry.name} may not use ${routeClass} routes`);
  }
  return { ok: true, principal: `token:${entry.name}` };
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^(0+:){7}0*1$/.test(h);
  return false;
}
