import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from './checkpoint.js';
import { generateSignerKey, parseSignerKey, signNote } from './note.js';
import { formatTlogProof, kTlogProofHeader, parseTlogProof } from './proof-file.js';

const { signerKey } = generateSignerKey('example.com/fancylog');
const checkpoint = signNote(
  formatCheckpoint({ origin: 'example.com/fancylog', size: 109482, rootHash: Buffer.alloc(32, 9), extensions: [] }),
  [parseSignerKey(signerKey)],
);
const hashes = [Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3)];

describe('tlog-proof@v1 files', () => {
  it('formats the layout of the spec and parses it back', () => {
    const text = formatTlogProof({ index: 73894, hashes, checkpoint });
    expect(text).toBe(
      `${kTlogProofHeader}\nindex 73894\n${hashes.map((h) => `${h.toString('base64')}\n`).join('')}\n${checkpoint}`,
    );
    expect(parseTlogProof(text)).toEqual({ index: 73894, hashes, checkpoint });
  });

  it('carries optional extra data on the second line', () => {
    const extra = Buffer.from('age-v1.2.1-darwin-arm64.tar.gz');
    const text = formatTlogProof({ index: 0, hashes: [], checkpoint, extra });
    expect(text.split('\n').slice(0, 4)).toEqual([
      kTlogProofHeader,
      `extra ${extra.toString('base64')}`,
      'index 0',
      '',
    ]);
    expect(parseTlogProof(text)).toEqual({ index: 0, hashes: [], checkpoint, extra });
  });

  const good = formatTlogProof({ index: 5, hashes, checkpoint });
  it.each([
    ['wrong header', good.replace(kTlogProofHeader, 'c2sp.org/tlog-proof@v2')],
    ['missing index', good.replace('index 5\n', '')],
    ['index with a leading zero', good.replace('index 5', 'index 05')],
    ['negative index', good.replace('index 5', 'index -5')],
    ['index line with two spaces', good.replace('index 5', 'index  5')],
    ['extra after index', good.replace('index 5\n', `index 5\nextra AAAA\n`)],
    ['bad extra', good.replace('index 5\n', 'extra ***\nindex 5\n')],
    ['hash of 31 bytes', good.replace(hashes[1]?.toString('base64') as string, Buffer.alloc(31).toString('base64'))],
    ['hash not base64', good.replace(hashes[1]?.toString('base64') as string, 'not base64!')],
    ['no blank line before the checkpoint', good.replace('\n\nexample.com', '\nexample.com')],
    ['checkpoint without signature', good.slice(0, good.indexOf('\n\u2014') + 1)],
    ['checkpoint body malformed', good.replace('\n109482\n', '\n0109482\n')],
    ['trailing junk', `${good}\n`],
    ['no newline at all', kTlogProofHeader],
  ])('rejects %s', (_what, bad) => {
    expect(() => parseTlogProof(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }));
  });

  it('refuses more than 63 proof hashes and bad fields when formatting', () => {
    const many = Array.from({ length: 64 }, () => Buffer.alloc(32));
    expect(() => formatTlogProof({ index: 0, hashes: many, checkpoint })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }),
    );
    const text = `${kTlogProofHeader}\nindex 0\n${many.map((h) => `${h.toString('base64')}\n`).join('')}\n${checkpoint}`;
    expect(() => parseTlogProof(text)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }));
    expect(() => formatTlogProof({ index: -1, hashes, checkpoint })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }),
    );
    expect(() => formatTlogProof({ index: 0, hashes: [Buffer.alloc(3)], checkpoint })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }),
    );
    expect(() => formatTlogProof({ index: 0, hashes, checkpoint: 'no note\n' })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_PROOF_FORMAT' }),
    );
  });
});
