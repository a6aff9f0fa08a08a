/**
 * Reads a request body into memory, bounded: at most `maxBodyBytes` on the wire, and, for a
 * `Content-Encoding: gzip | deflate | br` body, at most `maxBodyBytes` once decompressed
 * (decompression stops at the limit, so a small "zip bomb" costs no more than the limit).
 */
import type * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { BodyError } from './ingest-body.js';

/** A body, or why it was refused (the caller answers with `status`). */
export type BodyRead = { readonly ok: true; readonly body: Buffer } | ({ readonly ok: false } & BodyError);

type Decoding = 'identity' | 'gzip' | 'deflate' | 'br';

/** The decoding of a `Content-Encoding` header; undefined when it is not supported. */
export function decodingFor(header: string | undefined): Decoding | undefined {
  const value = (header ?? '').trim().toLowerCase();
  switch (value) {
    case '':
    case 'identity':
      return 'identity';
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    case 'br':
      return 'br';
    default:
      return undefined;
  }
}

function tooLarge(what: string, maxBodyBytes: number): BodyRead {
  return {
    ok: false,
    status: 413,
    code: 'ERR_HTTP_BODY_TOO_LARGE',
    message: `${what} is larger than ${maxBodyBytes} bytes`,
  };
}

/** Collects the raw body (at most `maxBodyBytes`); rejects when the client goes away mid-body. */
function collect(req: http.IncomingMessage, maxBodyBytes: number): Promise<BodyRead> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    req.resume();
    return Promise.resolve(tooLarge('the body', maxBodyBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      bytes += chunk.length;
      if (bytes > maxBodyBytes) {
        settled = true;
        chunks.length = 0;
        resolve(tooLarge('the body', maxBodyBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve({ ok: true, body: Buffer.concat(chunks, bytes) });
    });
    req.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    // A client that goes away mid-body: settle, so the in-flight count (and shutdown) moves on.
    req.on('close', () => {
      if (settled || req.complete) return;
      settled = true;
      reject(new Error('the client closed the connection before the body ended'));
    });
  });
}

function decompress(raw: Buffer, decoding: Exclude<Decoding, 'identity'>, maxBodyBytes: number): Promise<BodyRead> {
  // maxOutputLength makes zlib stop (ERR_BUFFER_TOO_LARGE) instead of inflating past the limit.
  const opts = { maxOutputLength: maxBodyBytes };
  return new Promise((resolve) => {
    const done = (err: Error | null, out: Buffer): void => {
      if (!err) {
        resolve({ ok: true, body: out });
      } else if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        resolve(tooLarge(`the ${decoding}-decoded body`, maxBodyBytes));
      } else {
        resolve({
          ok: false,
          status: 400,
          code: 'ERR_IRONLOG_INVALID_ARGUMENT',
          message: `the body is not valid ${decoding} data (Content-Encoding: ${decoding})`,
        });
      }
    };
    if (decoding === 'gzip') zlib.gunzip(raw, opts, done);
    else if (decoding === 'deflate') zlib.inflate(raw, opts, done);
    else zlib.brotliDecompress(raw, opts, done);
  });
}

/**
 * Reads the body of `req`: 413 past `maxBodyBytes` (on the wire or decoded), 415 for an
 * unsupported `Content-Encoding`, 400 for a body that does not decompress.
 */
export async function readRequestBody(req: http.IncomingMessage, maxBodyBytes: number): Promise<BodyRead> {
  const header = req.headers['content-encoding'];
  const decoding = decodingFor(header);
  if (decoding === undefined) {
    req.resume();
    return {
      ok: false,
      status: 415,
      code: 'ERR_HTTP_UNSUPPORTED_MEDIA_TYPE',
      message: 'Content-Encoding must be identity, gzip, deflate or br',
    };
  }
  const raw = await collect(req, maxBodyBytes);
  if (!raw.ok || decoding === 'identity') return raw;
  return decompress(raw.body, decoding, maxBodyBytes);
}
