import { describe, expect, it } from 'vitest';
import { matchRoute, pathOf } from './routes.js';

/** What the URL parser makes of a request target (the definition the fast path must agree with). */
function urlPath(target: string): string | undefined {
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

describe('routes', () => {
  it('pathOf gives the URL parser’s pathname for route paths, queries and everything else', () => {
    const targets = [
      '/events',
      '/events?',
      '/events?a=1&b=%20',
      '/events?x#y',
      '/events#frag',
      '/events/',
      '/Events',
      '/events/../metrics',
      '/./events',
      '//events',
      '/%65vents',
      '/v1/logs?x',
      '/health/live',
      '/health/ready?probe=1',
      '/metrics',
      '/',
      '',
      'events',
      'http://example.com/events',
      '/events%3Fx',
    ];
    for (const t of targets) expect(pathOf(t), t).toBe(urlPath(t));
    expect(pathOf(undefined)).toBe('/');
  });

  it('matches a route with a query, answers 404 and 405 as before', () => {
    expect(matchRoute('POST', '/events?x=1')).toMatchObject({ ok: true, name: 'events', path: '/events' });
    expect(matchRoute('POST', '/events/../events')).toMatchObject({ ok: true, name: 'events' });
    expect(matchRoute('GET', '/nope')).toMatchObject({ ok: false, status: 404 });
    expect(matchRoute('GET', '/events')).toMatchObject({ ok: false, status: 405, headers: { Allow: 'POST' } });
  });
});
