/**
 * `POST /v1/logs` on a real `ironlog serve`, driven by the real OpenTelemetry JS SDK and its
 * OTLP/HTTP log exporters (JSON and protobuf, with and without gzip), and by hand-made bodies
 * for the refusals. Every LogRecord the exporter sent is read back from the WAL with its
 * attributes; a malformed body is answered 400 and nothing is written.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OtlpProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import protobuf from 'protobufjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWal } from '../dist/main/index.js';
import { exited, killChildren, startServe } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-otlp-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

interface StoredLog {
  severityNumber: number;
  severityText: string;
  body: unknown;
  attributes: Record<string, unknown>;
  resource: { attributes: Record<string, unknown> };
  scope: { name: string; version: string };
  time: string | null;
  traceId?: string;
}

async function stored(dir: string): Promise<StoredLog[]> {
  const out: StoredLog[] = [];
  for await (const r of readWal(dir)) out.push(r.event as StoredLog);
  return out;
}

type Exporter = OtlpHttpJsonExporter | OtlpProtoExporter;

/** Sends `n` log records through the SDK with `exporter`, flushes, and shuts the provider down. */
async function sendThroughSdk(exporter: Exporter, n: number): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'billing', 'deployment.environment': 'test' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('audit-scope', '1.2.3');
  for (let i = 0; i < n; i++) {
    logger.emit({
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: `payment ${i} refused`,
      attributes: { 'user.id': `u${i}`, amount: i * 10, retried: i % 2 === 0, tags: ['a', 'b'] },
    });
  }
  await provider.forceFlush();
  await provider.shutdown();
}

/** The WAL is read once the server has drained and exited. */
async function stopServe(child: Parameters<typeof exited>[0]): Promise<void> {
  const { code } = await exited(child, 'SIGTERM');
  expect(code).toBe(0);
}

describe('OTLP/HTTP logs from the OpenTelemetry exporters', () => {
  for (const [name, make] of [
    ['JSON', (url: string) => new OtlpHttpJsonExporter({ url: `${url}/v1/logs` })],
    ['JSON, gzip', (url: string) => new OtlpHttpJsonExporter({ url: `${url}/v1/logs`, compression: 'gzip' as never })],
    ['protobuf', (url: string) => new OtlpProtoExporter({ url: `${url}/v1/logs` })],
    ['protobuf, gzip', (url: string) => new OtlpProtoExporter({ url: `${url}/v1/logs`, compression: 'gzip' as never })],
  ] as const) {
    it(`${name}: every record lands as one event with its attributes, resource and scope`, async () => {
      const dir = tmp.join('wal');
      const { child, url } = await startServe(dir);
      await sendThroughSdk(make(url), 5);
      await stopServe(child);
      // The simple processor exports each record on its own request: arrival order is not emit order.
      const index = (l: StoredLog): number => Number(/payment (\d+)/.exec(String(l.body))?.[1]);
      const logs = (await stored(dir)).sort((a, b) => index(a) - index(b));
      expect(logs).toHaveLength(5);
      logs.forEach((log, i) => {
        expect(log.body).toBe(`payment ${i} refused`);
        expect(log.severityNumber).toBe(SeverityNumber.WARN);
        expect(log.severityText).toBe('WARN');
        expect(log.attributes).toEqual({ 'user.id': `u${i}`, amount: i * 10, retried: i % 2 === 0, tags: ['a', 'b'] });
        expect(log.resource.attributes).toMatchObject({ 'service.name': 'billing', 'deployment.environment': 'test' });
        expect(log.scope).toMatchObject({ name: 'audit-scope', version: '1.2.3' });
        expect(log.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      });
    });
  }
});

/** A minimal ExportLogsServiceRequest in OTLP/JSON. */
function jsonRequest(records: unknown[]): string {
  return JSON.stringify({
    resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: { name: 's' }, logRecords: records }] }],
  });
}

describe('OTLP/HTTP answers', () => {
  it('a malformed body gets 400 with a google.rpc.Status in its own content type, and nothing is written', async () => {
    const dir = tmp.join('wal');
    const { child, url } = await startServe(dir);
    const bad = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/x-protobuf');
    const status = protobuf
      .parse('syntax = "proto3"; message Status { int32 code = 1; string message = 2; }')
      .root.lookupType('Status')
      .decode(new Uint8Array(await bad.arrayBuffer())) as unknown as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/not a protobuf ExportLogsServiceRequest.*nothing was written/);

    for (const body of [
      '{"resourceLogs": 5}',
      jsonRequest([{ traceId: 'xyz' }]),
      jsonRequest([{ timeUnixNano: '-1' }]),
      jsonRequest([{ body: { intValue: 'twelve' } }]),
      'not json',
    ]) {
      const res = await fetch(`${url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status, body).toBe(400);
      const json = (await res.json()) as { code: number; message: string };
      expect(json.code).toBe(3);
      expect(json.message).toContain('nothing was written');
    }
    const wrongType = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a',
    });
    expect(wrongType.status).toBe(415);
    await stopServe(child);
    expect(await stored(dir)).toEqual([]);
  });

  it('a record too large to store is refused alone: 200 with partial_success, the others written', async () => {
    const dir = tmp.join('wal');
    const { child, url } = await startServe(dir, ['--max-body-bytes', '4MiB']);
    const big = 'x'.repeat(2 * 1024 * 1024);
    const res = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: jsonRequest([
        { body: { stringValue: 'first' }, traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' },
        { body: { stringValue: big } },
        { body: { kvlistValue: { values: [{ key: '__proto__', value: { intValue: '9007199254740993' } }] } } },
      ]),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string } };
    expect(answer.partialSuccess?.rejectedLogRecords).toBe('1');
    expect(answer.partialSuccess?.errorMessage).toMatch(/log record 1: .*maxEventBytes/);
    await stopServe(child);
    const logs = await stored(dir);
    expect(logs.map((l) => (typeof l.body === 'string' ? l.body : l.body))).toHaveLength(2);
    expect(logs[0]?.body).toBe('first');
    expect(logs[0]?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    // A 64-bit integer beyond 2^53 stays exact (as its decimal string); a key named __proto__ stays a key.
    const kv = logs[1]?.body as Record<string, unknown>;
    expect(Object.hasOwn(kv, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(kv, '__proto__')?.value).toBe('9007199254740993');
  });

  it('with tokens on, /v1/logs needs an ingest token and stamps the principal', async () => {
    const { createHash } = await import('node:crypto');
    const fs = await import('node:fs');
    const tokensFile = tmp.join('tokens.json');
    const sha256 = createHash('sha256').update('s3cret').digest('hex');
    fs.writeFileSync(tokensFile, JSON.stringify({ tokens: [{ name: 'collector', sha256, routes: ['ingest'] }] }));
    const dir = tmp.join('wal');
    const { child, url } = await startServe(dir, ['--tokens-file', tokensFile]);
    const body = jsonRequest([{ body: { stringValue: 'hi' } }]);
    const anonymous = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(anonymous.status).toBe(401);
    const ok = await fetch(`${url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret' },
      body,
    });
    expect(ok.status).toBe(200);
    await stopServe(child);
    const records: unknown[] = [];
    for await (const r of readWal(dir)) records.push(r.event);
    expect(records).toEqual([{ $principal: 'token:collector', $event: expect.objectContaining({ body: 'hi' }) }]);
  });
});
