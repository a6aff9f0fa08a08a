import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  appendSignatures,
  computeKeyId,
  decodeBase64Strict,
  formatSignatureLine,
  generateSignerKey,
  isValidKeyName,
  kMaxNoteSignatures,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyOf,
} from './note.js';

const kRepoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The shared known-answer data lives beside the repository (`../shared/testdata`), as in CI's
 * clone. IRONLOG_SHARED_DIR points elsewhere (a git worktree). A missing file fails the test.
 */
const { IRONLOG_SHARED_DIR } = process.env;
const kTestdata = path.join(IRONLOG_SHARED_DIR ?? path.resolve(kRepoRoot, '../shared'), 'testdata');

interface Vectors {
  peterNeumann: { signerKey: string; verifierKey: string; text: string; signedNote: string };
  enochRootVerifierKey: string;
}

function loadVectors(): Vectors {
  const file = path.join(kTestdata, 'signed-note', 'vectors.json');
  if (!fs.existsSync(file)) throw new Error(`known-answer file missing: ${file}`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Vectors;
}

/** A second signature on the PeterNeumann note, from the golang.org/x/mod/sumdb/note package documentation. */
const kEnochRootLine =
  '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

function flipBase64Char(s: string, at: number): string {
  const c = s[at] === 'A' ? 'B' : 'A';
  return s.slice(0, at) + c + s.slice(at + 1);
}

describe('signed-note known answers (golang.org/x/mod/sumdb/note)', () => {
  const v = loadVectors();

  it('reproduces the signed note byte for byte from the signer key', () => {
    const signer = parseSignerKey(v.peterNeumann.signerKey);
    expect(signer.name).toBe('PeterNeumann');
    expect(signer.keyId.toString('hex')).toBe('c74f20a3');
    const note = signNote(v.peterNeumann.text, [signer]);
    expect(Buffer.from(note, 'utf8').equals(Buffer.from(v.peterNeumann.signedNote, 'utf8'))).toBe(true);
    expect(note).toBe(v.peterNeumann.signedNote);
  });

  it('derives the verifier key from the signer key', () => {
    expect(verifierKeyOf(v.peterNeumann.signerKey)).toBe(v.peterNeumann.verifierKey);
    expect(parseSignerKey(v.peterNeumann.signerKey).verifierKey).toBe(v.peterNeumann.verifierKey);
  });

  it('verifies the signed note with the verifier key', () => {
    const verifier = parseVerifierKey(v.peterNeumann.verifierKey);
    expect(verifier.verifierKey).toBe(v.peterNeumann.verifierKey);
    const opened = openNote(v.peterNeumann.signedNote, [verifier]);
    expect(opened.text).toBe(v.peterNeumann.text);
    expect(opened.verifiedBy).toEqual([verifier]);
    expect(opened.signatures).toHaveLength(1);
    expect(opened.signatures[0]?.keyId.toString('hex')).toBe('c74f20a3');
    expect(opened.signatures[0]?.signature).toHaveLength(64);
  });

  it("opens Go's doubly-signed example with both keys, and ignores the key it does not know", () => {
    const peter = parseVerifierKey(v.peterNeumann.verifierKey);
    const enoch = parseVerifierKey(v.enochRootVerifierKey);
    const doubly = v.peterNeumann.signedNote + kEnochRootLine;
    expect(openNote(doubly, [peter, enoch]).verifiedBy).toEqual([peter, enoch]);
    expect(openNote(doubly, [enoch]).verifiedBy).toEqual([enoch]);
    const onlyPeter = openNote(doubly, [peter]);
    expect(onlyPeter.verifiedBy).toEqual([peter]);
    expect(onlyPeter.signatures.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    // Re-signing the parsed text with the same key gives the same line (Ed25519 is deterministic).
    expect(appendSignatures(v.peterNeumann.signedNote, [onlyPeter.signatures[1] as never])).toBe(doubly);
  });

  it('computes key ids as SHA-256(name || 0x0A || type || key)[:4]', () => {
    const verifier = parseVerifierKey(v.peterNeumann.verifierKey);
    expect(computeKeyId('PeterNeumann', 1, verifier.publicKey).toString('hex')).toBe('c74f20a3');
  });
});

describe('signed-note negative cases', () => {
  const v = loadVectors();
  const peter = parseVerifierKey(v.peterNeumann.verifierKey);
  const note = v.peterNeumann.signedNote;

  it('rejects the note under another key with the same name (unknown key: no trusted signature)', () => {
    const other = parseVerifierKey(generateSignerKey('PeterNeumann').verifierKey);
    expect(() => openNote(note, [other])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }));
    expect(() => openNote(note, [])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }));
  });

  it('rejects an altered text', () => {
    const altered = note.replace('cryptography', 'cryptographY');
    expect(() => openNote(altered, [peter])).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const extraLine = note.replace('is.\n\n', 'is.\nP.S.\n\n');
    expect(() => openNote(extraLine, [peter])).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
  });

  it('rejects an altered signature, and a note where one known signature fails even if another verifies', () => {
    const at = note.indexOf('PeterNeumann ') + 'PeterNeumann '.length + 20;
    const bad = flipBase64Char(note, at);
    expect(() => openNote(bad, [peter])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }));
    const badSecond = note + bad.slice(bad.lastIndexOf('\u2014'));
    expect(() => openNote(badSecond, [peter])).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
  });

  it('ignores a signature whose key id matches but the name does not, and the reverse', () => {
    const renamed = note.replace('\u2014 PeterNeumann ', '\u2014 PeterNeuman ');
    expect(() => openNote(renamed, [peter])).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const otherId = parseNote(note);
    const sig = otherId.signatures[0];
    if (!sig) throw new Error('no signature');
    const moved = `${v.peterNeumann.text}\n${formatSignatureLine({ ...sig, keyId: Buffer.from('00000000', 'hex') })}`;
    expect(() => openNote(moved, [peter])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }));
  });

  it('drops exact duplicate lines and verifies each known signature', () => {
    const dup = note + note.slice(note.lastIndexOf('\u2014'));
    expect(parseNote(dup).signatures).toHaveLength(1);
    expect(openNote(dup, [peter]).verifiedBy).toEqual([peter]);
  });

  it('refuses two different verifiers with the same name and key id', () => {
    const fake = { name: peter.name, keyId: peter.keyId, verify: () => true };
    expect(() => openNote(note, [peter, fake])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }));
  });

  it.each([
    ['no blank line', v.peterNeumann.text + note.slice(note.lastIndexOf('\u2014'))],
    ['no signature', `${v.peterNeumann.text}\n`],
    ['unterminated signature line', note.slice(0, -1)],
    ['trailing blank line', `${note}\n`],
    ['hyphen instead of em dash', note.replace('\u2014 ', '- ')],
    ['no space after the dash', note.replace('\u2014 ', '\u2014')],
    ['carriage return', note.replace('problem,\n', 'problem,\r\n')],
    ['tab in the text', note.replace('If you', 'If\tyou')],
    ['NUL byte', note.replace('If', 'I\u0000f')],
    ['lone surrogate', note.replace('If', 'I\ud800f')],
    ['signature not base64', note.replace('x08go', 'x08g!')],
    ['signature with whitespace', note.replace('x08go', 'x08 go')],
    ['non-canonical base64 padding bits', note.replace('nAM=\n', 'nAN=\n')],
    ['signature shorter than 5 bytes', `${v.peterNeumann.text}\n\u2014 PeterNeumann AAAAAA==\n`],
    ['empty signature', `${v.peterNeumann.text}\n\u2014 PeterNeumann \n`],
    ['name with a plus', note.replace('\u2014 PeterNeumann', '\u2014 Peter+Neumann')],
    ['name with a no-break space', note.replace('\u2014 PeterNeumann', '\u2014 Peter\u00a0Neumann')],
    ['empty name', note.replace('\u2014 PeterNeumann', '\u2014 ')],
  ])('rejects a malformed note: %s', (_what, bad) => {
    expect(() => parseNote(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
    expect(() => openNote(bad, [peter])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
  });

  it('rejects invalid UTF-8 bytes', () => {
    const bytes = Buffer.from(note, 'utf8');
    bytes[2] = 0xff;
    expect(() => parseNote(bytes)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
    expect(openNote(Buffer.from(note, 'utf8'), [peter]).text).toBe(v.peterNeumann.text);
  });

  it(`accepts ${kMaxNoteSignatures} signature lines and refuses one more`, () => {
    const lines: string[] = [];
    for (let i = 0; i < kMaxNoteSignatures + 1; i++) {
      lines.push(formatSignatureLine({ name: `k${i}`, keyId: Buffer.alloc(4, i), signature: Buffer.alloc(64, i) }));
    }
    const base = note;
    const full = base + lines.slice(0, kMaxNoteSignatures - 1).join('');
    expect(openNote(full, [peter]).signatures).toHaveLength(kMaxNoteSignatures);
    const over = base + lines.join('');
    expect(() => parseNote(over)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
  });

  it('separates text and signatures at the last blank line (the text may hold blank lines)', () => {
    const { signerKey, verifierKey } = generateSignerKey('example.com/log');
    const text = 'para one\n\npara two\n\n';
    const signed = signNote(text, [parseSignerKey(signerKey)]);
    const opened = openNote(signed, [parseVerifierKey(verifierKey)]);
    expect(opened.text).toBe(text);
  });

  it('signNote refuses a text without a final newline or with control characters', () => {
    const s = parseSignerKey(v.peterNeumann.signerKey);
    expect(() => signNote('no newline', [s])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
    expect(() => signNote('a\rb\n', [s])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }));
    expect(() => signNote('ok\n', [])).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }));
  });
});

describe('note keys', () => {
  const v = loadVectors();

  it('generates key pairs that sign and verify, in the Go formats', () => {
    const { signerKey, verifierKey } = generateSignerKey('example.com/audit-log');
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+example\.com\/audit-log\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    expect(verifierKey).toMatch(/^example\.com\/audit-log\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    expect(signerKey.split('+')[3]).toBe(verifierKey.split('+')[1]);
    expect(verifierKeyOf(signerKey)).toBe(verifierKey);
    const note = signNote('hello\n', [parseSignerKey(signerKey)]);
    expect(openNote(note, [parseVerifierKey(verifierKey)]).text).toBe('hello\n');
    expect(generateSignerKey('example.com/audit-log').signerKey).not.toBe(signerKey);
  });

  it('refuses invalid names at generation', () => {
    for (const bad of ['', 'a b', 'a+b', 'a\nb', 'a\u3000b']) {
      expect(() => generateSignerKey(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }));
    }
    expect(isValidKeyName('example.com/log42')).toBe(true);
    expect(isValidKeyName('ünïcode/ok')).toBe(true);
  });

  const vk = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const sk = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';

  it.each([
    ['wrong key id', vk.replace('c74f20a3', 'c74f20a4')],
    ['short key id', vk.replace('c74f20a3', 'c74f20a')],
    ['non-hex key id', vk.replace('c74f20a3', 'c74f20ag')],
    ['other name', vk.replace('PeterNeumann', 'PeterNeumanm')],
    ['empty name', vk.replace('PeterNeumann', '')],
    ['name with a space', vk.replace('PeterNeumann', 'Peter Neumann')],
    ['missing key', 'PeterNeumann+c74f20a3'],
    ['missing key material', 'PeterNeumann+c74f20a3+'],
    ['bad base64', `${vk.slice(0, -2)}!!`],
    ['unpadded base64', vk.replace(/=*$/, '').slice(0, -1)],
    [
      'unknown type byte',
      `PeterNeumann+c74f20a3+${Buffer.concat([Buffer.from([2]), Buffer.alloc(32)]).toString('base64')}`,
    ],
    ['short key', `PeterNeumann+c74f20a3+${Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64')}`],
    ['a signer key', sk],
  ])('rejects a malformed verifier key: %s', (_what, bad) => {
    expect(() => parseVerifierKey(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }));
  });

  it.each([
    ['wrong key id', sk.replace('c74f20a3', '00000000')],
    ['no PRIVATE+KEY prefix', sk.replace('PRIVATE+KEY+', '')],
    ['PRIVATE+KEYS prefix', sk.replace('PRIVATE+KEY+', 'PRIVATE+KEYS+')],
    ['other name', sk.replace('PeterNeumann', 'PaulNeumann')],
    ['bad base64', `${sk.slice(0, -4)}****`],
    [
      'short seed',
      `PRIVATE+KEY+PeterNeumann+c74f20a3+${Buffer.concat([Buffer.from([1]), Buffer.alloc(16)]).toString('base64')}`,
    ],
    ['a verifier key', vk],
  ])('rejects a malformed signer key: %s', (_what, bad) => {
    expect(() => parseSignerKey(bad)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }));
  });

  it('accepts surrounding whitespace (a key file ends with a newline)', () => {
    expect(parseVerifierKey(`${v.peterNeumann.verifierKey}\n`).name).toBe('PeterNeumann');
    expect(parseSignerKey(`  ${v.peterNeumann.signerKey}\n`).name).toBe('PeterNeumann');
  });

  it('decodes base64 strictly', () => {
    expect(decodeBase64Strict('AAAA')?.length).toBe(3);
    expect(decodeBase64Strict('AA==')?.length).toBe(1);
    expect(decodeBase64Strict('AB==')).toBeUndefined();
    expect(decodeBase64Strict('AA')).toBeUndefined();
    expect(decodeBase64Strict('AA AA')).toBeUndefined();
    expect(decodeBase64Strict('AA-_')).toBeUndefined();
  });
});
