import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { Packr, pack, unpack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readWal } from '../dist/main/index.js';
import { exited, killChildren, postEvents, runCli, startServe } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-serve-hard-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

async function events(dir: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of readWal(dir)) out.push(r.event);
  return out;
}

/** Sends raw bytes on a TCP connection and resolves with everything the server answered. */
function rawRequest(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      answer += d;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(request);
  });
}

/** A JSON object whose own key is `__proto__` (what JSON.parse gives; an object literal would set the prototype). */
const kProtoJson = '{"__proto__":{"polluted":"yes"},"a":1,"nested":[{"__proto__":[1,2]}]}';

function expectProtoKept(event: unknown): void {
  const e = event as Record<string, unknown>;
  expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
  expect(Object.keys(e)).toEqual(['__proto__', 'a', 'nested']);
  expect(Object.getOwnPropertyDescriptor(e, '__proto__')?.value).toEqual({ polluted: 'yes' });
  const nested = (e.nested as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
  expect(Object.getOwnPropertyDescriptor(nested, '__proto__')?.value).toEqual([1, 2]);
  expect(JSON.stringify(e)).toBe(kProtoJson);
  // No prototype anywhere was touched.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('keys named __proto__ and invalid UTF-8 (issue 9 item 7)', () => {
  it('keeps __proto__ keys exactly through JSON and msgpack ingest, readWal and replay', async () => {
    const { child, url } = await startServe(tmp.path);
    expect((await postEvents(url, kProtoJson)).status).toBe(200);
    expect((await postEvents(url, `${kProtoJson}\n`, 'application/x-ndjson')).status).toBe(200);
    const asMsgpack = pack(JSON.parse(kProtoJson));
    // msgpackr writes the key as it is (the decoder is what renamed it).
    expect(asMsgpack.includes(Buffer.from('__proto__'))).toBe(true);
    expect((await postEvents(url, asMsgpack, 'application/msgpack')).status).toBe(200);
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });

    const got = await events(tmp.path);
    expect(got).toHaveLength(3);
    for (const e of got) expectProtoKept(e);

    const replay = await runCli(['replay', '--dir', tmp.path, '--format', 'ndjson']);
    expect(replay.code).toBe(0);
    const lines = replay.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toContain(`"event":${kProtoJson}`);
  });

  it('keeps __proto__ keys of sink.emit and emitBatch', async () => {
    const sink = await openSink({ dir: tmp.path });
    try {
      await sink.emit(JSON.parse(kProtoJson));
      await sink.emitBatch([JSON.parse(kProtoJson), { plain: true }]);
      const replayed: unknown[] = [];
      for await (const r of sink.replay({ fromSeq: 1 })) replayed.push(r.event);
      expectProtoKept(replayed[0]);
      expectProtoKept(replayed[1]);
      expect(replayed[2]).toEqual({ plain: true });
    } finally {
      await sink.close();
    }
    const offline = await events(tmp.path);
    expectProtoKept(offline[0]);
  });

  it('answers 400 to a JSON, NDJSON or msgpack body that is not valid UTF-8, and writes nothing', async () => {
    const { child, url } = await startServe(tmp.path);
    const badJson = Buffer.concat([Buffer.from('{"user":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const badNd = Buffer.concat([Buffer.from('{"ok":1}\n{"user":"'), Buffer.from([0xff]), Buffer.from('"}\n')]);
    // A msgpack map {"u": <str of 2 bytes that are not UTF-8>}.
    const badMp = Buffer.from([0x81, 0xa1, 0x75, 0xa2, 0xed, 0xa0]);
    for (const [body, type] of [
      [badJson, 'application/json'],
      [badNd, 'application/x-ndjson'],
      [badMp, 'application/msgpack'],
    ] as const) {
      const r = await postEvents(url, body, type);
      expect({ type, status: r.status }).toEqual({ type, status: 400 });
      expect(r.json).toMatchObject({
        error: { code: 'ERR_IRONLOG_INVALID_ARGUMENT', message: expect.stringContaining('UTF-8') },
      });
    }
    // A JSON escape of a lone surrogate is valid UTF-8 text but no UTF-8 string can hold it.
    for (const body of ['{"s":"\\ud800x"}', '{"\\udfff":1}', '[{"ok":"\\ud83d\\ude00"},{"bad":["\\uDBFF"]}]']) {
      const r = await postEvents(url, body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.json).toMatchObject({ error: { message: expect.stringContaining('lone surrogate') } });
    }
    // A number JSON.parse would round (a 64-bit id) or overflow is refused, not stored altered.
    for (const body of ['{"id":12345678901234567890}', '{"x":1e400}']) {
      const r = await postEvents(url, body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.json).toMatchObject({ error: { message: expect.stringContaining('cannot be stored exactly') } });
    }
    // Another declared charset is not read as UTF-8 behind the client's back: 415.
    const latin1 = await postEvents(
      url,
      Buffer.from('{"user":"\xe9"}', 'latin1'),
      'application/json; charset=ISO-8859-1',
    );
    expect(latin1.status).toBe(415);
    expect((await postEvents(url, '{"good":"é"}', 'application/json; charset="UTF-8"')).json).toEqual({ seqs: [1] });
    expect((await postEvents(url, '{"pair":"\\ud83d\\ude00"}')).json).toEqual({ seqs: [2] });
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await events(tmp.path)).toEqual([{ good: 'é' }, { pair: '😀' }]);
  });
});

describe('Errors in events (issue 9 item 8)', () => {
  it('stores an Error as { name, message, stack, code, cause }, causes recursively, cycles safe', async () => {
    const root = new Error('disk gone');
    const io = Object.assign(new Error('boom', { cause: root }), { code: 'EIO', errno: -5 });
    const typeErr = new TypeError('bad type');
    const cyclic = new Error('loop');
    (cyclic as { cause?: unknown }).cause = cyclic;
    const agg = new AggregateError([new RangeError('r1')], 'many');
    const sink = await openSink({ dir: tmp.path });
    try {
      await sink.emit({ err: io, list: [typeErr], cyclic, agg });
    } finally {
      await sink.close();
    }
    const [event] = (await events(tmp.path)) as Array<Record<string, Record<string, unknown>>>;
    expect(event?.err).toEqual({
      name: 'Error',
      message: 'boom',
      stack: io.stack,
      code: 'EIO',
      cause: { name: 'Error', message: 'disk gone', stack: root.stack },
      errno: -5,
    });
    expect(String(event?.err?.stack)).toContain('boom');
    expect(event?.list).toEqual([{ name: 'TypeError', message: 'bad type', stack: typeErr.stack }]);
    expect(event?.cyclic).toEqual({ name: 'Error', message: 'loop', stack: cyclic.stack, cause: '[Circular]' });
    expect(event?.agg).toMatchObject({
      name: 'AggregateError',
      message: 'many',
      errors: [{ name: 'RangeError', message: 'r1' }],
    });
  });

  it("leaves the application's own msgpackr encoders alone", () => {
    // The Error hook is global to msgpackr; it must only apply inside ironlog's encoder.
    const mine = new Packr({ useRecords: false });
    expect(unpack(mine.pack({ e: new Error('x') }))).toEqual({ e: ['Error', 'x', undefined] });
  });
});

describe('bounded work per request (issue 9 item 11)', () => {
  it('refuses a 1 MiB body of a million empty maps before decoding it', async () => {
    const { child, url } = await startServe(tmp.path, ['--max-body-bytes', '2MiB']);
    const million = 1_048_576;
    const sequence = Buffer.alloc(million, 0x80); // a sequence of empty maps
    const array = Buffer.concat([Buffer.from([0xdd, 0x00, 0x10, 0x00, 0x00]), sequence]); // [ {} x 2^20 ]
    const json = Buffer.from(`[${'{},'.repeat(350_000)}{}]`);
    for (const [body, type] of [
      [sequence, 'application/msgpack'],
      [array, 'application/msgpack'],
      [json, 'application/json'],
    ] as const) {
      const r = await postEvents(url, body, type);
      expect({ type, status: r.status }).toEqual({ type, status: 413 });
      // Refused by the budget (before decoding), not by the ring check after encoding everything.
      expect(r.json).toMatchObject({
        error: { code: 'ERR_HTTP_BATCH_TOO_LARGE', message: expect.stringMatching(/one request may hold at most \d+/) },
      });
    }
    // Declared counts larger than the body: refused at the header.
    const liar = [
      Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0x80]), // map32 of 2^32-1 entries, 1 byte follows
      Buffer.from([0x81, 0xa1, 0x61, 0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]), // str32 of 2 GiB
      Buffer.from([0x92, 0x80]), // an array of 2 that ends after 1
    ];
    for (const body of liar) {
      const r = await postEvents(url, body, 'application/msgpack');
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({
        error: { code: 'ERR_IRONLOG_INVALID_ARGUMENT', message: expect.stringMatching(/declares|ends inside/) },
      });
    }
    // A normal request still goes through, and nothing of the refused ones was written.
    expect((await postEvents(url, '{"after":1}')).json).toEqual({ seqs: [1] });
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await events(tmp.path)).toEqual([{ after: 1 }]);
  });
});

describe('request targets, methods and encodings (issue 9 item 12)', () => {
  it('answers 400 to an unparsable target, 404 to an unknown path, 405 with Allow', async () => {
    const { child, url } = await startServe(tmp.path);
    const raw = await rawRequest(url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('ERR_HTTP_BAD_REQUEST_TARGET');

    const unknown = await fetch(`${url}/nope`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'ERR_HTTP_NOT_FOUND' } });

    for (const [method, path, allow] of [
      ['GET', '/events', 'POST'],
      ['PUT', '/events', 'POST'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['DELETE', '/health', 'GET, HEAD'],
      ['POST', '/health/ready', 'GET, HEAD'],
    ] as const) {
      const r = await fetch(`${url}${path}`, { method });
      expect({ method, path, status: r.status, allow: r.headers.get('allow') }).toEqual({
        method,
        path,
        status: 405,
        allow,
      });
    }
    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await events(tmp.path)).toEqual([]);
  });

  it('decodes gzip, deflate and br bodies, bounded by --max-body-bytes; refuses other encodings with 415', async () => {
    const { child, url } = await startServe(tmp.path, ['--max-body-bytes', '64KiB']);
    const post = (body: Uint8Array, encoding: string, type = 'application/json') =>
      fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': encoding }, body });
    expect(await (await post(zlib.gzipSync('[{"z":1},{"z":2}]'), 'gzip')).json()).toEqual({ seqs: [1, 2] });
    expect(await (await post(zlib.deflateSync('{"z":3}'), 'deflate')).json()).toEqual({ seqs: [3] });
    expect(
      await (await post(zlib.brotliCompressSync('{"z":4}\n{"z":5}'), 'br', 'application/x-ndjson')).json(),
    ).toEqual({
      seqs: [4, 5],
    });

    // 10 MiB of spaces inside a JSON string compress to ~10 KiB: refused once decoding passes 64 KiB.
    const bomb = zlib.gzipSync(Buffer.from(`{"pad":"${' '.repeat(10 * 1024 * 1024)}"}`));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const big = await post(bomb, 'gzip');
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'ERR_HTTP_BODY_TOO_LARGE' } });

    const junk = await post(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x13]), 'gzip');
    expect(junk.status).toBe(400);
    const junkText = await junk.text();
    expect(junkText).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(junkText)).toMatchObject({ error: { message: expect.stringContaining('gzip') } });

    const zstd = await post(Buffer.from('{"z":6}'), 'zstd');
    expect(zstd.status).toBe(415);
    expect(await zstd.json()).toMatchObject({ error: { code: 'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE' } });

    // A gzip body sent without Content-Encoding is not JSON: the error names no body bytes.
    const undeclared = await postEvents(url, zlib.gzipSync('{"z":7}'));
    expect(undeclared.status).toBe(400);
    expect(JSON.stringify(undeclared.json)).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.stringify(undeclared.json)).not.toMatch(/\\u001f|\\u008b|\ufffd/);

    expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(await events(tmp.path)).toEqual([{ z: 1 }, { z: 2 }, { z: 3 }, { z: 4 }, { z: 5 }]);
  });
});
