/**
 * Output helpers shared by `replay` and `export`: the JSON form of a record, and a buffered
 * writer that respects backpressure of stdout or a file.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import type { WalRecord } from '../wal/reader.js';

/** The JSON shape of a record: `{"seq":1,"time":"2026-11-22T10:00:00.000Z","event":{...}}`. */
export interface RecordJson {
  readonly seq: number;
  readonly time: string;
  readonly event: unknown;
}

/** Makes a record JSON-safe: ISO time; binary payloads (encrypted, raw) as `{"$base64": "..."}`. */
export function recordJson(r: WalRecord): RecordJson {
  return { seq: r.seq, time: r.time.toISOString(), event: r.event };
}

/** JSON.stringify replacer: bytes as base64, bigint as a string. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { $base64: Buffer.from(value).toString('base64') };
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer') {
    const data = (value as { data?: unknown }).data;
    if (Array.isArray(data)) return { $base64: Buffer.from(data as number[]).toString('base64') };
  }
  return value;
}

/** `JSON.stringify` with {@link jsonReplacer}. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer);
}

/** Buffers text and writes it in chunks of ~64 KiB, waiting for 'drain' when the stream is full. */
export class ChunkWriter {
  #parts: string[] = [];
  #bytes = 0;
  #error: Error | undefined;
  constructor(readonly out: Writable) {
    // A failed write (EIO, ENOSPC, EISDIR ...) is thrown by the next write or flush as an
    // ironlog I/O error, never left to crash the process as an 'error' event without a listener.
    // stdout's EPIPE is `exitOnBrokenPipe`'s.
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (out === process.stdout && err.code === 'EPIPE') return;
      this.#error ??= err;
    });
  }

  #check(): void {
    const err = this.#error;
    if (err) throw new IronlogError(ErrorCodes.IO, `cannot write the output: ${err.message}`, { cause: err });
  }

  async write(text: string): Promise<void> {
    this.#check();
    this.#parts.push(text);
    this.#bytes += text.length;
    if (this.#bytes >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    this.#check();
    if (this.#parts.length === 0) return;
    const chunk = this.#parts.join('');
    this.#parts = [];
    this.#bytes = 0;
    if (!this.out.write(chunk)) {
      try {
        await once(this.out, 'drain');
      } catch {
        // 'error' instead of 'drain': reported just below.
      }
    }
    this.#check();
  }
}

let brokenPipeHandled = false;
let brokenPipeExiting = false;
const kBrokenPipeCleanups: Array<() => Promise<unknown>> = [];

/**
 * Ends the process quietly when stdout is a closed pipe (`ironlog replay ... | head`), like a
 * C tool that dies of SIGPIPE, after the cleanups registered with {@link beforeBrokenPipeExit}.
 * Installed once, whatever the number of calls.
 */
export function exitOnBrokenPipe(): void {
  if (brokenPipeHandled) return;
  brokenPipeHandled = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (brokenPipeExiting) return;
    brokenPipeExiting = true;
    void Promise.allSettled(kBrokenPipeCleanups.map((cleanup) => cleanup())).finally(() => process.exit(0));
  });
}

/** Work to finish before a closed stdout ends the process (e.g. removing a temp download). */
export function beforeBrokenPipeExit(cleanup: () => Promise<unknown>): void {
  kBrokenPipeCleanups.push(cleanup);
}
