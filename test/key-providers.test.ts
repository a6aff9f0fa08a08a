import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  awsKmsKeyProvider,
  callProvider,
  envKeyProvider,
  fileKeyProvider,
  loadOptionalModule,
  type ResolvedKeyProvider,
  resolveKeyProvider,
  staticKeyProvider,
} from '../src/compliance/keys.js';
import { kErased, SubjectKeyStore } from '../src/compliance/keystore.js';
import { ErrorCodes } from '../src/core/errors.js';
import { type KmsServer, startKmsServer } from './fixtures/kms-server.js';

const signal = new AbortController().signal;
const ctx = { purpose: 'test', kid: 'x' };

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-keys-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function allBytes(root: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else parts.push(fs.readFileSync(p));
    }
  };
  walk(root);
  return Buffer.concat(parts);
}

describe('local providers (static, env, file)', () => {
  it('wrap and unwrap a data key; the context and the master key id are bound', async () => {
    const p = staticKeyProvider({ keys: { k1: randomBytes(32) } });
    const dk = await p.generateDataKey(ctx, signal);
    expect(dk.plaintext).toHaveLength(32);
    expect(dk.masterKeyId).toBe('k1');
    expect(dk.wrapped.indexOf(dk.plaintext)).toBe(-1);
    expect(await p.unwrapDataKey(dk.wrapped, 'k1', ctx, signal)).toEqual(dk.plaintext);
    await expect(p.unwrapDataKey(dk.wrapped, 'k1', { ...ctx, kid: 'y' }, signal)).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
    });
    await expect(p.unwrapDataKey(dk.wrapped, 'k9', ctx, signal)).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringContaining("'k9'"),
    });
    const flipped = Buffer.from(dk.wrapped);
    flipped[20] = (flipped[20] as number) ^ 1;
    await expect(p.unwrapDataKey(flipped, 'k1', ctx, signal)).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
    });
  });

  it('rotation: a file with a new current key still unwraps keys wrapped under the old one', async () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const file = path.join(dir, 'keys.json');
    fs.writeFileSync(file, JSON.stringify({ keys: { k1 } }));
    const old = await fileKeyProvider(file).generateDataKey(ctx, signal);
    fs.writeFileSync(file, JSON.stringify({ current: 'k2', keys: { k1, k2 } }));
    const p = fileKeyProvider(file);
    expect((await p.generateDataKey(ctx, signal)).masterKeyId).toBe('k2');
    expect(await p.unwrapDataKey(old.wrapped, 'k1', ctx, signal)).toEqual(old.plaintext);
  });

  it('env provider reads the short form; bad input is a typed option error', () => {
    process.env['IRONLOG_TEST_KEYS'] =
      `a:${randomBytes(32).toString('base64')},b:${randomBytes(32).toString('base64')}`;
    try {
      expect(envKeyProvider('IRONLOG_TEST_KEYS').currentKeyId).toBe('a');
    } finally {
      delete process.env['IRONLOG_TEST_KEYS'];
    }
    expect(() => envKeyProvider('IRONLOG_TEST_KEYS')).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
    );
    expect(() => staticKeyProvider({ keys: { k: randomBytes(16) } })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining('32 bytes') }),
    );
    expect(() => staticKeyProvider({ keys: { a: randomBytes(32), b: randomBytes(32) } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('current') }),
    );
    expect(() => fileKeyProvider(path.join(dir, 'missing.json'))).toThrow(
      expect.objectContaining({ code: ErrorCodes.IO }),
    );
    expect(() => resolveKeyProvider({ type: 'nope' } as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
    );
  });

  it('a missing optional package is a typed error naming it', async () => {
    await expect(loadOptionalModule('@ironlog-test/not-installed', 'the X provider')).rejects.toMatchObject({
      code: ErrorCodes.MISSING_DEPENDENCY,
      message: expect.stringContaining('npm install @ironlog-test/not-installed'),
    });
  });

  it('callProvider: a hanging call times out with a typed error and its signal is aborted; a throw is KEY_PROVIDER', async () => {
    let aborted = false;
    const hanging: ResolvedKeyProvider = {
      timeoutMs: 50,
      provider: {
        description: 'hanging',
        generateDataKey: (_c, s) =>
          new Promise(() => {
            s.addEventListener('abort', () => {
              aborted = true;
            });
          }),
        unwrapDataKey: () => Promise.reject(new Error('boom')),
      },
    };
    await expect(callProvider(hanging, 'x', (s) => hanging.provider.generateDataKey(ctx, s))).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER_TIMEOUT,
    });
    expect(aborted).toBe(true);
    await expect(
      callProvider(hanging, 'x', (s) => hanging.provider.unwrapDataKey(Buffer.alloc(1), 'k', ctx, s)),
    ).rejects.toMatchObject({ code: ErrorCodes.KEY_PROVIDER, message: expect.stringContaining('boom') });
  });
});

describe('AWS KMS provider, real SDK against a KMS JSON-API fixture', () => {
  let kms: KmsServer;
  beforeAll(async () => {
    kms = await startKmsServer(['alias/ironlog']);
  });
  afterAll(() => kms.stop());
  const options = () => ({
    keyId: 'alias/ironlog',
    region: 'eu-west-1',
    endpoint: kms.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });

  it('GenerateDataKey and Decrypt with the encryption context; signed requests', async () => {
    kms.mode = 'ok';
    const p = awsKmsKeyProvider(options());
    const dk = await p.generateDataKey(ctx, signal);
    expect(dk.plaintext).toHaveLength(32);
    expect(await p.unwrapDataKey(dk.wrapped, dk.masterKeyId, ctx, signal)).toEqual(dk.plaintext);
    const gen = kms.requests.find((r) => r.target === 'TrentService.GenerateDataKey');
    expect(gen?.body).toMatchObject({ KeyId: 'alias/ironlog', KeySpec: 'AES_256', EncryptionContext: ctx });
    expect(gen?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\//);
    // Another context: KMS refuses, a typed provider error.
    const rp: ResolvedKeyProvider = { provider: p, timeoutMs: 10_000 };
    await expect(
      callProvider(rp, 'unwrap', (s) => p.unwrapDataKey(dk.wrapped, dk.masterKeyId, { purpose: 'other' }, s)),
    ).rejects.toMatchObject({ code: ErrorCodes.KEY_PROVIDER, message: expect.stringContaining('invalid ciphertext') });
  });

  it('a hanging KMS times out (typed), a failing one is a typed provider error', async () => {
    const rp = resolveKeyProvider({ type: 'aws-kms', ...options(), timeoutMs: 300 });
    kms.mode = 'hang';
    const t0 = Date.now();
    await expect(callProvider(rp, 'gen', (s) => rp.provider.generateDataKey(ctx, s))).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER_TIMEOUT,
    });
    expect(Date.now() - t0).toBeLessThan(30_000);
    kms.mode = 'fail';
    await expect(callProvider(rp, 'gen', (s) => rp.provider.generateDataKey(ctx, s))).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER,
    });
    kms.mode = 'ok';
  });

  it('the subject key store works through KMS: only wrapped keys on disk', async () => {
    kms.mode = 'ok';
    const rp = resolveKeyProvider({ type: 'aws-kms', ...options() });
    const store = new SubjectKeyStore(dir, rp);
    const k = await store.subjectKey('s:patient-1');
    const reader = new SubjectKeyStore(dir, rp);
    expect(await reader.keyById(k.kid)).toEqual(k.key);
    expect(allBytes(path.join(dir, 'keys')).indexOf(k.key)).toBe(-1);
    store.dispose();
    reader.dispose();
  });
});

describe('subject key store', () => {
  const rp = (): ResolvedKeyProvider => ({
    provider: staticKeyProvider({ keys: { m: Buffer.alloc(32, 7) } }),
    timeoutMs: 5_000,
  });

  it('one key per subject across stores (threads, processes); erase destroys it durably', async () => {
    const a = new SubjectKeyStore(dir, rp());
    const b = new SubjectKeyStore(dir, rp());
    // Two stores racing for a new subject agree on one key.
    const [ka, kb] = await Promise.all([a.subjectKey('s:alice'), b.subjectKey('s:alice')]);
    expect(ka.kid).toBe(kb.kid);
    expect(ka.key).toEqual(kb.key);
    const other = await a.subjectKey('s:bob');
    expect(other.kid).not.toBe(ka.kid);
    const files = fs.readdirSync(path.join(dir, 'keys', 'subjects'));
    expect(files.sort()).toEqual([`${ka.kid}.json`, `${other.kid}.json`].sort());
    // No subject id and no plaintext key anywhere in the store.
    const before = allBytes(path.join(dir, 'keys'));
    expect(before.indexOf('alice')).toBe(-1);
    expect(before.indexOf(ka.key)).toBe(-1);
    const wrappedAlice = JSON.parse(
      fs.readFileSync(path.join(dir, 'keys', 'subjects', `${ka.kid}.json`), 'utf8'),
    ).wrapped;

    expect(await a.erase('s:alice')).toEqual({ erased: true, kid: ka.kid });
    expect(await a.erase('s:alice')).toEqual({ erased: false });
    expect(fs.existsSync(path.join(dir, 'keys', 'subjects', `${ka.kid}.json`))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'keys', 'erased', ka.kid))).toBe(true);
    expect(allBytes(path.join(dir, 'keys')).indexOf(Buffer.from(wrappedAlice, 'base64'))).toBe(-1);
    expect(allBytes(path.join(dir, 'keys')).indexOf(wrappedAlice)).toBe(-1);
    // Every in-process store forgets it at once; a fresh reader sees the tombstone.
    expect(await b.keyById(ka.kid)).toBe(kErased);
    expect(await new SubjectKeyStore(dir, rp()).keyById(ka.kid)).toBe(kErased);
    expect(await new SubjectKeyStore(dir, rp()).keyById(other.kid)).toEqual(other.key);
    // A new event of the erased subject gets a new key.
    const fresh = await b.subjectKey('s:alice');
    expect(fresh.kid).not.toBe(ka.kid);
    // An unknown kid is a typed error naming it.
    await expect(new SubjectKeyStore(dir, rp()).keyById('AAAAAAAAAAAAAAAAAAAAAA')).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringContaining('AAAAAAAAAAAAAAAAAAAAAA'),
    });
    // Without a provider, reading a live key is a typed error.
    await expect(new SubjectKeyStore(dir, undefined).keyById(other.kid)).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
    });
    a.dispose();
    b.dispose();
  });
});
