import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCosignerKey } from './cosignature.js';
import { generateSignerKey } from './note.js';
import { resolveSigningOptions, signerKeyOf } from './signing-options.js';

const log = generateSignerKey('example.com/audit');
const witness = generateCosignerKey('witness.example/w1');

describe('resolveSigningOptions', () => {
  it('fills in the defaults and keeps the private key out of the resolved object', () => {
    const r = resolveSigningOptions({ key: log.signerKey }, 'node-1');
    expect(r).toEqual({
      origin: 'example.com/audit',
      verifierKey: log.verifierKey,
      checkpointIntervalMs: 60_000,
      witnesses: [],
      witnessQuorum: 0,
      witnessTimeoutMs: 10_000,
    });
    expect(JSON.stringify(r)).not.toContain('PRIVATE');
    expect(signerKeyOf(r)).toBe(log.signerKey);
  });

  it('reads { file } and takes witnesses with a quorum defaulting to all of them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-signing-'));
    try {
      const file = path.join(dir, 'log.key');
      fs.writeFileSync(file, `${log.signerKey}\n`, { mode: 0o600 });
      const r = resolveSigningOptions(
        {
          key: { file },
          origin: 'other/origin',
          witnesses: [{ url: 'http://127.0.0.1:8081/', key: witness.verifierKey }],
        },
        'node',
      );
      expect(r).toMatchObject({
        origin: 'other/origin',
        witnessQuorum: 1,
        witnesses: [{ url: 'http://127.0.0.1:8081' }],
      });
      expect(signerKeyOf(r)).toBe(log.signerKey);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad input with typed errors naming the option', () => {
    const bad = (input: unknown, code: string, message: RegExp): void => {
      expect(() => resolveSigningOptions(input, 'node')).toThrow(
        expect.objectContaining({ code, message: expect.stringMatching(message) }),
      );
    };
    bad('key', 'ERR_IRONLOG_INVALID_OPTION', /^options\.signing must be an object/);
    bad({}, 'ERR_IRONLOG_INVALID_OPTION', /^options\.signing\.key must be given/);
    bad({ key: 1 }, 'ERR_IRONLOG_INVALID_OPTION', /^options\.signing\.key must be a signer key string/);
    bad(
      { key: { file: '/nonexistent/ironlog.key' } },
      'ERR_IRONLOG_INVALID_OPTION',
      /^options\.signing\.key\.file cannot be read/,
    );
    bad({ key: 'PRIVATE+KEY+x' }, 'ERR_IRONLOG_KEY_INVALID', /./);
    bad({ key: log.verifierKey }, 'ERR_IRONLOG_KEY_INVALID', /./);
    bad(
      { key: log.signerKey, interval: 5 },
      'ERR_IRONLOG_INVALID_OPTION',
      /^options\.signing\.interval is not a known option/,
    );
    bad(
      { key: log.signerKey, checkpointIntervalMs: 10 },
      'ERR_IRONLOG_INVALID_OPTION',
      /checkpointIntervalMs must be an integer from 50/,
    );
    bad({ key: log.signerKey, origin: 'a\nb' }, 'ERR_IRONLOG_INVALID_OPTION', /^options\.signing\.origin must be/);
    bad({ key: log.signerKey, witnesses: {} }, 'ERR_IRONLOG_INVALID_OPTION', /witnesses must be an array/);
    bad(
      { key: log.signerKey, witnesses: [{ url: 'ftp://x', key: witness.verifierKey }] },
      'ERR_IRONLOG_INVALID_OPTION',
      /witnesses\[0\]\.url/,
    );
    bad({ key: log.signerKey, witnesses: [{ url: 'http://x', key: 'nope' }] }, 'ERR_IRONLOG_KEY_INVALID', /./);
    bad(
      { key: log.signerKey, witnesses: [{ url: 'http://x', key: witness.verifierKey }], witnessQuorum: 2 },
      'ERR_IRONLOG_INVALID_OPTION',
      /witnessQuorum must be an integer from 0 to 1/,
    );
  });
});
