/**
 * The signed time note stored beside every checkpoint (`tlog/checkpoints/<counter>.time`). Time
 * stays out of the checkpoint body, as C2SP tlog-checkpoint recommends; this note attests when the
 * checkpoint was signed and why, binds itself to the checkpoint body by hash and to the previous
 * time note by hash, so the notes form a chain an auditor can walk (a deleted, reordered or
 * replaced checkpoint breaks it). The text, before the signed-note signature lines:
 *
 * ```
 * ironlog.dev/time-note/v1
 * <origin>
 * counter <n>                       1, 2, 3, ... per log
 * time-ms <unix milliseconds>
 * event <open|seal|interval|prove|close>
 * size <tree size of the checkpoint>
 * checkpoint <base64 SHA-256 of the checkpoint note's text (body)>
 * prev <base64 SHA-256 of the previous time note's text; 32 zero bytes for counter 1>
 * interval-ms <checkpointIntervalMs in force>
 * [unclean-start]                   only on an open whose previous run did not end with a close
 * [segment <firstSeq> <lastSeq>]    only on a seal: the segment sealed
 * ```
 */
import { createHash } from 'node:crypto';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** First line of a time note. */
export const kTimeNoteHeader = 'ironlog.dev/time-note/v1';

/** Why a checkpoint was signed. */
export type CheckpointEvent = 'open' | 'seal' | 'interval' | 'prove' | 'close';
const kEvents: readonly CheckpointEvent[] = ['open', 'seal', 'interval', 'prove', 'close'];

/** The content of a time note. */
export interface TimeNote {
  readonly origin: string;
  readonly counter: number;
  readonly timeMs: number;
  readonly event: CheckpointEvent;
  readonly size: number;
  /** SHA-256 of the checkpoint body it attests. */
  readonly checkpointHash: Buffer;
  /** SHA-256 of the previous time note's text (zeros for the first). */
  readonly prevHash: Buffer;
  readonly intervalMs: number;
  /** On an `open`: the previous run did not end with a `close` note (a crash or a kill). */
  readonly uncleanStart: boolean;
  /** On a `seal`: the sealed segment's seq range. */
  readonly segment?: { readonly firstSeq: number; readonly lastSeq: number } | undefined;
}

/** SHA-256 of a note text (what `checkpoint` and `prev` lines carry). */
export function textHash(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The text of a time note (ends with a newline, ready for `signNote`). */
export function formatTimeNote(t: TimeNote): string {
  const lines = [
    kTimeNoteHeader,
    t.origin,
    `counter ${t.counter}`,
    `time-ms ${t.timeMs}`,
    `event ${t.event}`,
    `size ${t.size}`,
    `checkpoint ${t.checkpointHash.toString('base64')}`,
    `prev ${t.prevHash.toString('base64')}`,
    `interval-ms ${t.intervalMs}`,
  ];
  if (t.uncleanStart) lines.push('unclean-start');
  if (t.segment) lines.push(`segment ${t.segment.firstSeq} ${t.segment.lastSeq}`);
  return `${lines.join('\n')}\n`;
}

function bad(message: string): IronlogError {
  return new IronlogError(ErrorCodes.TLOG_STATE, `time note: ${message}`);
}

const kUint = /^(0|[1-9][0-9]*)$/;

function uint(value: string | undefined, what: string): number {
  if (value === undefined || !kUint.test(value)) throw bad(`${what} is not a decimal integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw bad(`${what} is out of range`);
  return n;
}

function hash(value: string | undefined, what: string): Buffer {
  const b = value === undefined ? Buffer.alloc(0) : Buffer.from(value, 'base64');
  if (b.length !== 32 || b.toString('base64') !== value) throw bad(`${what} is not a base64 SHA-256`);
  return b;
}

/** Parses the text of a time note (the signed-note text, without signatures). Throws `ERR_IRONLOG_TLOG_STATE`. */
export function parseTimeNote(text: string): TimeNote {
  if (!text.endsWith('\n')) throw bad('text does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== kTimeNoteHeader) throw bad(`first line is not ${kTimeNoteHeader}`);
  const origin = lines[1];
  if (origin === undefined || origin === '') throw bad('no origin line');
  const field = (i: number, name: string): string => {
    const line = lines[i];
    if (line === undefined || !line.startsWith(`${name} `)) throw bad(`line ${i + 1} is not "${name} ..."`);
    return line.slice(name.length + 1);
  };
  const counter = uint(field(2, 'counter'), 'counter');
  const timeMs = uint(field(3, 'time-ms'), 'time-ms');
  const event = field(4, 'event') as CheckpointEvent;
  if (!kEvents.includes(event)) throw bad(`unknown event ${JSON.stringify(event)}`);
  const size = uint(field(5, 'size'), 'size');
  const checkpointHash = hash(field(6, 'checkpoint'), 'checkpoint');
  const prevHash = hash(field(7, 'prev'), 'prev');
  const intervalMs = uint(field(8, 'interval-ms'), 'interval-ms');
  let uncleanStart = false;
  let segment: TimeNote['segment'];
  for (const line of lines.slice(9)) {
    if (line === 'unclean-start') uncleanStart = true;
    else if (line.startsWith('segment ')) {
      const [a, b] = line.slice(8).split(' ');
      segment = { firstSeq: uint(a, 'segment first seq'), lastSeq: uint(b, 'segment last seq') };
    } else throw bad(`unknown line ${JSON.stringify(line)}`);
  }
  return { origin, counter, timeMs, event, size, checkpointHash, prevHash, intervalMs, uncleanStart, segment };
}
