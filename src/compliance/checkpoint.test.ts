import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, parseCheckpoint } from './checkpoint.js';
import { generateSignerKey, openNote, parseSignerKey, parseVerifierKey, signNote } from './note.js';

/** The example of c2sp.org/tlog-checkpoint. */
const kSpecBody = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

describe('tlog-checkpoint bodies', () => {
  it("parses the spec's example and formats it back byte for byte", () => {
    const c = parseCheckpoint(kSpecBody);
    expect(c.origin).toBe('example.com/behind-the-sofa');
    expect(c.size).toBe(20852163);
    expect(c.rootHash.toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    expect(c.extensions).toEqual([]);
    expect(formatCheckpoint(c)).toBe(kSpecBody);
  });

  it('keeps extension lines, and an empty tree is size 0', () => {
    const root = createHash('sha256').digest();
    const body = formatCheckpoint({ origin: 'o/1', size: 0, rootHash: root, extensions: ['ext one', 'two'] });
    expect(body).toBe(`o/1\n0\n${root.toString('base64')}\next one\ntwo\n`);
    expect(parseCheckpoint(body)).toEqual({ origin: 'o/1', size: 0, rootHash: root, extensions: ['ext one', 'two'] });
  });

  it('signs and opens as a note', () => {
    const { signerKey, verifierKey } = generateSignerKey('example.com/behind-the-sofa');
    const note = signNote(kSpecBody, [parseSignerKey(signerKey)]);
    expect(parseCheckpoint(openNote(note, [parseVerifierKey(verifierKey)]).text).size).toBe(20852163);
  });

  it.each([
    ['no final newline', kSpecBody.slice(0, -1)],
    ['two lines', 'o\n1\n'],
    ['empty origin', `\n1\n${Buffer.alloc(32).toString('base64')}\n`],
    ['leading zero', kSpecBody.replace('20852163', '020852163')],
    ['negative size', kSpecBody.replace('20852163', '-1')],
    ['size with a plus', kSpecBody.replace('20852163', '+1')],
    ['size with spaces', kSpecBody.replace('20852163', ' 1')],
    ['size above 2^53', kSpecBody.replace('20852163', '9007199254740993')],
    [
      'root of 31 bytes',
      kSpecBody.replace('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', Buffer.alloc(31).toString('base64')),
    ],
    ['root not base64', kSpecBody.replace('CsUY', 'C*UY')],
    ['empty extension line', `${kSpecBody}\n`],
    ['carriage return', kSpecBody.replace('sofa\n', 'sofa\r\n')],
  ])('rejects %s', (_what, body) => {
    expect(() => parseCheckpoint(body)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
  });

  it('formatCheckpoint refuses bad fields', () => {
    const rootHash = Buffer.alloc(32);
    const bad = [
      { origin: '', size: 1, rootHash, extensions: [] },
      { origin: 'a\nb', size: 1, rootHash, extensions: [] },
      { origin: 'o', size: -1, rootHash, extensions: [] },
      { origin: 'o', size: 1.5, rootHash, extensions: [] },
      { origin: 'o', size: 1, rootHash: Buffer.alloc(20), extensions: [] },
      { origin: 'o', size: 1, rootHash, extensions: [''] },
    ];
    for (const c of bad) {
      expect(() => formatCheckpoint(c)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
    }
  });
});
