import type * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import { authenticate, hashToken, isLoopbackHost, parseTokens, TokenStore } from './auth.js';

const good = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ tokens: [{ name: 'billing', sha256: hashToken('secret-1'), routes: ['ingest'], ...over }] });

describe('parseTokens', () => {
  it.each([
    ['not json', 'tokens.json: not valid JSON'],
    ['[]', 'tokens.json: must be a JSON object {"tokens": [{"name", "sha256", "routes"}, ...]}'],
    ['{"tokens":[7]}', 'tokens.json: tokens[0] must be an object'],
    [good({ name: '' }), 'tokens.json: tokens[0].name must be 1-64 chars of [A-Za-z0-9._@-]'],
    [good({ name: 'a b' }), 'tokens.json: tokens[0].name must be 1-64 chars of [A-Za-z0-9._@-]'],
    [good({ sha256: 'abc' }), "tokens.json: tokens[0].sha256 must be the 64 hex digits of the token's SHA-256"],
    [good({ routes: [] }), 'tokens.json: tokens[0].routes must be a non-empty list of ingest, metrics, health'],
    [good({ routes: ['admin'] }), 'tokens.json: tokens[0].routes: "admin" is not one of ingest, metrics, health'],
    [
      JSON.stringify({
        tokens: [
          { name: 'a', sha256: hashToken('1'), routes: ['ingest'] },
          { name: 'a', sha256: hashToken('2'), routes: ['ingest'] },
        ],
      }),
      'tokens.json: tokens[1].name a is used twice',
    ],
  ])('refuses %s', (text, message) => {
    expect(() => parseTokens(text, 'tokens.json')).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION', message: expect.stringContaining(message) }),
    );
  });

  it('loads names, hashes and routes; an empty list is valid (everything revoked)', () => {
    const [entry] = parseTokens(good({ routes: ['ingest', 'metrics'] }), 'f');
    expect(entry?.name).toBe('billing');
    expect(entry?.sha256.toString('hex')).toBe(hashToken('secret-1'));
    expect([...(entry?.routes ?? [])]).toEqual(['ingest', 'metrics']);
    expect(parseTokens('{"tokens":[]}', 'f')).toEqual([]);
  });
});

function request(headers: Record<string, string>): http.IncomingMessage {
  return { headers, socket: {} } as unknown as http.IncomingMessage;
}

describe('authenticate', () => {
  const tokens = new TokenStore(parseTokens(good(), 'f'));

  it('finds a token only by its exact secret', () => {
    expect(tokens.find('secret-1')?.name).toBe('billing');
    for (const wrong of ['secret-', 'secret-1 ', 'Secret-1', '', 'secret-10'])
      expect(tokens.find(wrong)).toBeUndefined();
  });

  it('answers 401 without or with a wrong token, 403 for another route, and the principal otherwise', () => {
    const cfg = { tokens };
    expect(authenticate(request({}), 'ingest', cfg)).toMatchObject({ ok: false, status: 401 });
    expect(authenticate(request({ authorization: 'Basic x' }), 'ingest', cfg)).toMatchObject({ status: 401 });
    expect(authenticate(request({ authorization: 'Bearer nope' }), 'ingest', cfg)).toMatchObject({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="ironlog", error="invalid_token"' },
    });
    expect(authenticate(request({ authorization: 'Bearer secret-1' }), 'metrics', cfg)).toMatchObject({ status: 403 });
    expect(authenticate(request({ authorization: 'bearer  secret-1' }), 'ingest', cfg)).toEqual({
      ok: true,
      principal: 'token:billing',
    });
    // health is open by default, ingest never is.
    expect(authenticate(request({}), 'health', cfg)).toEqual({ ok: true, principal: undefined });
    expect(authenticate(request({}), 'ingest', { tokens, openRoutes: ['ingest' as 'health'] })).toMatchObject({
      status: 401,
    });
    expect(authenticate(request({}), 'health', { tokens, openRoutes: [] })).toMatchObject({ status: 401 });
  });

  it('revokes a token removed by replace()', () => {
    const store = new TokenStore(parseTokens(good(), 'f'));
    expect(authenticate(request({ authorization: 'Bearer secret-1' }), 'ingest', { tokens: store }).ok).toBe(true);
    store.replace([]);
    expect(authenticate(request({ authorization: 'Bearer secret-1' }), 'ingest', { tokens: store })).toMatchObject({
      status: 401,
    });
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['example.com', false],
    ['128.0.0.1', false],
  ])('%s -> %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
