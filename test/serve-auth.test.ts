import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readWal } from '../dist/main/index.js';
import { collect, exited, killChildren, runCli, spawnCli, waitForOutput } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir;
let pki: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-serve-auth-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

/** Test-only PKI made at test time with openssl: two CAs, a server cert, a client cert of each CA. */
interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherClientCert: string;
  otherClientKey: string;
  serverCert2: string;
  serverKey2: string;
}
let certs: Pki;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: pki.path, stdio: 'pipe' });
}

function makeCa(name: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
    ]),
  );
}

function makeLeaf(name: string, ca: string, subject: string, ext: string): void {
  fs.writeFileSync(pki.join(`${name}.ext`), ext);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ]),
  );
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial'].concat([
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]),
  );
}

beforeAll(() => {
  pki = new TempDir('ironlog-pki-');
  makeCa('ca-one');
  makeCa('ca-two');
  const serverExt = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
  makeLeaf('server', 'ca-one', '/CN=ironlog-server', serverExt);
  makeLeaf('server2', 'ca-one', '/CN=ironlog-server-renewed', serverExt);
  makeLeaf('client', 'ca-one', '/O=Example/CN=client-one', 'extendedKeyUsage=clientAuth\n');
  makeLeaf('intruder', 'ca-two', '/CN=intruder', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string): string => fs.readFileSync(pki.join(f), 'utf8');
  certs = {
    caCert: pki.join('ca-one.crt'),
    serverCert: pki.join('server.crt'),
    serverKey: pki.join('server.key'),
    serverCert2: read('server2.crt'),
    serverKey2: read('server2.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherClientCert: read('intruder.crt'),
    otherClientKey: read('intruder.key'),
  };
  return () => pki.dispose();
});

const sha = (token: string): string => createHash('sha256').update(token).digest('hex');
const kWriter = 'w-7f3a1c0e9b2d4f6a8c1e3b5d7f9a2c4e';
const kScraper = 's-0a2b4c6d8e1f3a5b7c9d0e2f4a6b8c1d';

function writeTokens(file: string, tokens: Array<{ name: string; token: string; routes: string[] }>): void {
  const doc = { tokens: tokens.map((t) => ({ name: t.name, sha256: sha(t.token), routes: t.routes })) };
  fs.writeFileSync(file, JSON.stringify(doc));
}

async function startAuthServe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnCli(['serve', '--dir', tmp.path, '--port', '0', ...args], env);
  const m = await waitForOutput(child, /listening on (https?:\/\/[^\s]+:\d+)/);
  return { child, url: m[1] as string };
}

async function post(
  url: string,
  body: string,
  token?: string,
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/events`, { method: 'POST', headers, body });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

async function records(): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of readWal(tmp.path)) out.push(r.event);
  return out;
}

/** Waits until the child has printed `re` on stderr. */
async function stderrOf(child: ChildProcess, re: RegExp): Promise<void> {
  let err = '';
  child.stderr?.on('data', (d: string) => {
    err += d;
  });
  await until(() => re.test(err), 20_000, `stderr ${re}`);
}

describe('serve: bearer tokens', () => {
  it('refuses no token, a wrong token and a token without the route; stamps the principal; revokes on SIGHUP', async () => {
    const file = tmp.join('..', `${tmp.path.split('/').pop()}-tokens.json`);
    writeTokens(file, [
      { name: 'writer', token: kWriter, routes: ['ingest'] },
      { name: 'scraper', token: kScraper, routes: ['metrics'] },
    ]);
    try {
      const { child, url } = await startAuthServe(['--tokens-file', file]);
      const none = await post(url, '{"a":"none"}');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="ironlog"');
      expect(none.json).toMatchObject({ error: { code: 'ERR_HTTP_UNAUTHORIZED' } });
      const wrong = await post(url, '{"a":"wrong"}', `${kWriter}x`);
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
      const scraper = await post(url, '{"a":"scraper"}', kScraper);
      expect(scraper.status).toBe(403);
      expect(scraper.json).toMatchObject({ error: { code: 'ERR_HTTP_FORBIDDEN' } });
      // A body may not set the principal itself.
      const forged = await post(url, '{"$principal":"token:admin","a":"forged"}', kWriter);
      expect(forged.status).toBe(400);
      expect(forged.json).toMatchObject({ error: { message: expect.stringContaining('$principal') } });

      expect((await post(url, '{"user":"u1","action":"login"}', kWriter)).json).toEqual({ seqs: [1] });
      expect((await post(url, '[{"n":1},{"n":2}]', kWriter)).json).toEqual({ seqs: [2, 3] });

      // Health is open by default; metrics need a token with the metrics route.
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${kWriter}` } })).status).toBe(403);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${kScraper}` } })).status).toBe(200);

      // Revoke the writer: remove it from the file and SIGHUP.
      writeTokens(file, [{ name: 'scraper', token: kScraper, routes: ['metrics'] }]);
      child.kill('SIGHUP');
      await stderrOf(child, /SIGHUP: reloaded 1 tokens/);
      const revoked = await post(url, '{"a":"revoked"}', kWriter);
      expect(revoked.status).toBe(401);
      expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      fs.rmSync(file, { force: true });
    }

    expect(await records()).toEqual([
      { $principal: 'token:writer', $event: { user: 'u1', action: 'login' } },
      { $principal: 'token:writer', $event: { n: 1 } },
      { $principal: 'token:writer', $event: { n: 2 } },
    ]);
    const replay = await runCli(['replay', '--dir', tmp.path, '--format', 'ndjson']);
    expect(replay.code).toBe(0);
    const lines = replay.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('"event":{"$principal":"token:writer","$event":{"user":"u1","action":"login"}}');
  });

  it('takes tokens from IRONLOG_SERVE_TOKENS, and can close /health', async () => {
    const env = {
      IRONLOG_SERVE_TOKENS: JSON.stringify({
        tokens: [{ name: 'ci', sha256: sha(kWriter), routes: ['ingest', 'health'] }],
      }),
    };
    const { child, url } = await startAuthServe(['--open-routes', 'none'], env);
    expect((await fetch(`${url}/health`)).status).toBe(401);
    expect((await fetch(`${url}/health`, { headers: { authorization: `Bearer ${kWriter}` } })).status).toBe(200);
    expect((await post(url, '{"x":1}', kWriter)).json).toEqual({ seqs: [1] });
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await records()).toEqual([{ $principal: 'token:ci', $event: { x: 1 } }]);
  });
});

/** One HTTPS POST /events with the given client certificate (or none). */
function httpsPost(
  url: string,
  body: string,
  client: { cert?: string; key?: string } = {},
): Promise<{ status: number; text: string; serverCn: string }> {
  const u = new URL(`${url}/events`);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        ca: fs.readFileSync(certs.caCert),
        ...client,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          resolve({ status: res.statusCode ?? 0, text, serverCn: String(peer?.subject?.CN ?? '') });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('serve: TLS and mutual TLS', () => {
  it('requires a client certificate of the configured CA and stamps its subject; reloads the certificate on SIGHUP', async () => {
    const certFile = tmp.join('..', `${tmp.path.split('/').pop()}-server.crt`);
    const keyFile = tmp.join('..', `${tmp.path.split('/').pop()}-server.key`);
    fs.copyFileSync(certs.serverCert, certFile);
    fs.copyFileSync(certs.serverKey, keyFile);
    try {
      const { child, url } = await startAuthServe([
        '--tls-cert',
        certFile,
        '--tls-key',
        keyFile,
        '--tls-ca',
        certs.caCert,
      ]);
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      await expect(httpsPost(url, '{"a":"no cert"}')).rejects.toThrow();
      await expect(
        httpsPost(url, '{"a":"other CA"}', { cert: certs.otherClientCert, key: certs.otherClientKey }),
      ).rejects.toThrow();
      const ok = await httpsPost(url, '{"a":"good"}', { cert: certs.clientCert, key: certs.clientKey });
      expect(ok).toMatchObject({ status: 200, serverCn: 'ironlog-server' });
      expect(JSON.parse(ok.text)).toEqual({ seqs: [1] });

      fs.writeFileSync(certFile, certs.serverCert2);
      fs.writeFileSync(keyFile, certs.serverKey2);
      child.kill('SIGHUP');
      await stderrOf(child, /SIGHUP: reloaded TLS certificate/);
      const renewed = await httpsPost(url, '{"a":"renewed"}', { cert: certs.clientCert, key: certs.clientKey });
      expect(renewed).toMatchObject({ status: 200, serverCn: 'ironlog-server-renewed' });
      expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      fs.rmSync(certFile, { force: true });
      fs.rmSync(keyFile, { force: true });
    }
    expect(await records()).toEqual([
      { $principal: 'cert:O=Example,CN=client-one', $event: { a: 'good' } },
      { $principal: 'cert:O=Example,CN=client-one', $event: { a: 'renewed' } },
    ]);
  });
});

describe('serve: binding beyond loopback', () => {
  it('refuses a non-loopback --host without authentication unless --insecure', async () => {
    const refused = await runCli(['serve', '--dir', tmp.path, '--port', '0', '--host', '0.0.0.0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ERR_IRONLOG_INVALID_OPTION: --host 0\.0\.0\.0 is not a loopback address/);
    expect(fs.readdirSync(tmp.path)).toEqual([]);

    const child = spawnCli(['serve', '--dir', tmp.path, '--port', '0', '--host', '0.0.0.0', '--insecure']);
    await waitForOutput(child, /listening on http:\/\/0\.0\.0\.0:\d+/);
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    await collect(child);
  });
});
