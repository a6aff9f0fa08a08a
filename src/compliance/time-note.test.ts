import { describe, expect, it } from 'vitest';
import { formatTimeNote, parseTimeNote, type TimeNote, textHash } from './time-note.js';

const kNote: TimeNote = {
  origin: 'example.com/audit',
  counter: 7,
  timeMs: 1_767_225_600_123,
  event: 'seal',
  size: 1234,
  checkpointHash: textHash('example.com/audit\n1234\nAAAA\n'),
  prevHash: Buffer.alloc(32, 9),
  intervalMs: 60_000,
  uncleanStart: false,
  segment: { firstSeq: 1, lastSeq: 1300 },
};

describe('time note', () => {
  it('formats the documented text and parses it back', () => {
    const text = formatTimeNote(kNote);
    expect(text).toBe(
      [
        'ironlog.dev/time-note/v1',
        'example.com/audit',
        'counter 7',
        'time-ms 1767225600123',
        'event seal',
        'size 1234',
        `checkpoint ${kNote.checkpointHash.toString('base64')}`,
        `prev ${Buffer.alloc(32, 9).toString('base64')}`,
        'interval-ms 60000',
        'segment 1 1300',
        '',
      ].join('\n'),
    );
    expect(parseTimeNote(text)).toEqual(kNote);
    const open = { ...kNote, event: 'open' as const, uncleanStart: true, segment: undefined };
    expect(formatTimeNote(open)).toContain('\nunclean-start\n');
    expect(parseTimeNote(formatTimeNote(open))).toEqual(open);
  });

  it('rejects malformed notes with ERR_IRONLOG_TLOG_STATE', () => {
    const text = formatTimeNote(kNote);
    for (const bad of [
      text.replace('counter 7', 'counter 07'),
      text.replace('event seal', 'event nap'),
      text.replace('time-ms', 'time'),
      text.slice(0, -1),
      text.replace(/checkpoint \S+/, 'checkpoint AAAA'),
      `${text}extra line\n`,
      text.replace('ironlog.dev/time-note/v1', 'other/v1'),
    ]) {
      expect(() => parseTimeNote(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_TLOG_STATE' }));
    }
  });
});
