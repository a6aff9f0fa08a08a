/**
 * Data protection through a real sink (issue 11): masking and pseudonymization in the producer
 * (main thread and worker threads), subject keys, crypto-shredding. Every plaintext check greps
 * the raw bytes of every file under the WAL directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { pack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  eraseSubject,
  kErased,
  openSink,
  readProtectedWal,
  readWal,
  verifyWal,
} from '../dist/main/index.js';
import { collect, killChildren, spawnCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-dp-');
});
afterEach(() => tmp.dispose());

/** Every regular file under `dir`, recursively. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The files under `dir` whose raw bytes contain `needle` (UTF-8, and as raw bytes when given). */
function filesContaining(dir: string, needle: string | Buffer): string[] {
  const n = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : needle;
  return allFiles(dir).filter((f) => fs.readFileSync(f).indexOf(n) >= 0);
}

function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
}

async function events(dir: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of readWal(dir)) out.push(r.event);
  return out;
}

function runWorker(descriptor: unknown, evs: unknown[]): Promise<Array<{ seq?: number; code?: string }>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./fixtures/protect-worker.mjs', import.meta.url), {
      workerData: { descriptor, events: evs },
    });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

// biome-ignore lint/suspicious/noExplicitAny: decoded test events of any shape
type Ev = Record<string, any>;

const kPan = '4111111111111111';
/** Small segments: every plaintext check reads every byte of every file. */
const kSegmentBytes = 1024 * 1024;
const kPseudoKey = { keyId: 'p1', key: randomBytes(32) };

describe('masking and pseudonymization in the producer', () => {
  const masking = {
    cardFields: true,
    scanCardNumbers: true,
    fields: [
      { path: 'user.email', action: 'pseudonymize' as const },
      { path: 'user.ssn', action: 'remove' as const },
    ],
    patterns: [{ pattern: 'secret-[0-9]+' }],
  };

  it('masked plaintext never reaches the WAL bytes, from the main thread, emitBatch and emitEncoded', async () => {
    const sink = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, masking, pseudonymization: kPseudoKey });
    const ev = (i: number) => ({
      i,
      user: { email: `alice${i}@example.org`, ssn: `078-05-112${i}` },
      payment: { pan: kPan, cvv: '737' },
      note: `paid with ${kPan} ref secret-${1000 + i}`,
    });
    await sink.emit(ev(0));
    await sink.emitBatch([ev(1), ev(2)]);
    await sink.emitEncoded(pack(ev(3)));
    await sink.emitEncodedBatch([pack(ev(4))]);
    await sink.close();

    for (const needle of [kPan, 'alice0@', 'alice3@', '078-05-112', 'secret-100', '737']) {
      expect(filesContaining(tmp.path, needle), needle).toEqual([]);
    }
    const got = (await events(tmp.path)) as Ev[];
    expect(got).toHaveLength(5);
    for (const [i, e] of got.entries()) {
      expect(e.i).toBe(i);
      expect(e.user.email).toMatch(/^ps1\.p1\.[A-Za-z0-9_-]{43}$/);
      expect(e.user).not.toHaveProperty('ssn');
      expect(e.payment).toEqual({ pan: '411111******1111' });
      expect(e.note).toBe('paid with 411111******1111 ref [REDACTED]');
    }
    // Pseudonyms are stable per key: the same address gives the same token.
    const again = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, masking, pseudonymization: kPseudoKey });
    await again.emit(ev(0));
    await again.close();
    const all = (await events(tmp.path)) as Ev[];
    expect(all[5]?.user.email).toBe(all[0]?.user.email);
  });

  it('a worker-thread producer applies the same rules (carried as data in the descriptor)', async () => {
    const sink = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, masking, pseudonymization: kPseudoKey });
    const descriptor = sink.producer();
    // The descriptor must be plain, cloneable data.
    expect(() => structuredClone(descriptor)).not.toThrow();
    const res = await runWorker(descriptor, [
      { user: { email: 'bob@example.org', ssn: '111-22-3333' }, card: { cardNumber: kPan, track2: ';4111=2512?' } },
      { text: `card ${kPan.slice(0, 8)} ${kPan.slice(8)}` },
    ]);
    expect(res.every((r) => typeof r.seq === 'number')).toBe(true);
    await sink.close();
    for (const needle of [kPan, 'bob@example.org', '111-22-3333', '4111=2512']) {
      expect(filesContaining(tmp.path, needle), needle).toEqual([]);
    }
    const [a, b] = (await events(tmp.path)) as Ev[];
    expect(a?.card).toEqual({ cardNumber: '411111******1111' });
    expect(a?.user.email).toMatch(/^ps1\.p1\./);
    expect(b?.text).not.toContain('41111111');
  });

  it('bad rules fail openSink with a typed error naming the option', async () => {
    await expect(
      openSink({
        dir: tmp.path,
        segmentBytes: kSegmentBytes,
        masking: { fields: [{ path: 'a..b', action: 'remove' }] },
      }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('options.masking.fields[0].path'),
    });
    await expect(
      openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, masking: { patterns: [{ pattern: '(' }] } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    await expect(
      openSink({
        dir: tmp.path,
        segmentBytes: kSegmentBytes,
        masking: { fields: [{ path: 'a', action: 'pseudonymize' }] },
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining('pseudonymization') });
    await expect(
      openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, pseudonymization: { keyId: 'k', key: randomBytes(8) } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    expect(segmentFiles(tmp.path)).toEqual([]);
  });
});

describe('crypto-shredding: subject keys, erasure', () => {
  const subjectEncryption = {
    subjectPath: 'patient.id',
    fields: ['patient.name', 'patient.dob', 'notes[*]'],
  };
  let keyFile: string;
  beforeEach(() => {
    keyFile = path.join(tmp.path, '..', `${path.basename(tmp.path)}-keys.json`);
    fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
  });
  afterEach(() => fs.rmSync(keyFile, { force: true }));

  const visit = (i: number, who: 'alice' | 'bob') => ({
    i,
    action: 'chart.read',
    ward: 'W3',
    patient: {
      id: `${who}-0001`,
      name: who === 'alice' ? 'Alice Liddell' : 'Robert Tables',
      dob: who === 'alice' ? '1852-05-04' : '1970-01-01',
      room: 12,
    },
    notes: [`${who} complains of headaches`, `${who} visit ${i}`],
  });

  it('sealed in the WAL, decrypted on replay; after eraseSubject only that subject reads [ERASED] and verify stays valid', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const sink = await openSink({
      dir: tmp.path,
      segmentBytes: kSegmentBytes,
      subjectEncryption,
      keyProvider,
      masking: { scanCardNumbers: true },
    });
    const sent: Ev[] = [];
    for (let i = 0; i < 6; i++) {
      const e = visit(i, i % 2 === 0 ? 'alice' : 'bob');
      sent.push(e);
      if (i < 4) await sink.emit(e);
    }
    await sink.emitBatch(sent.slice(4));
    // Worker-thread producer: same rules and key provider from the descriptor, same subject keys.
    const fromWorker = visit(6, 'alice');
    sent.push(fromWorker);
    const wr = await runWorker(sink.producer(), [fromWorker]);
    expect(wr[0]?.seq).toBe(7);
    const replayed: Ev[] = [];
    for await (const r of sink.replay()) replayed.push(r.event as Ev);
    expect(replayed).toEqual(sent);
    await sink.close();

    // The WAL holds ciphertext only, for both subjects; the rest of each record is plain.
    for (const needle of ['Alice Liddell', 'Robert Tables', '1852-05-04', 'alice-0001', 'headaches', 'alice visit']) {
      expect(filesContaining(tmp.path, needle), needle).toEqual([]);
    }
    const raw = (await events(tmp.path)) as Ev[];
    expect(raw[0]?.ward).toBe('W3');
    expect(raw[0]?.patient.room).toBe(12);
    expect(raw[0]?.patient.name?.constructor?.name).toBe('SealedValue');
    const aliceKid: string = raw[0]?.patient.name.kid;
    const bobKid: string = raw[1]?.patient.name.kid;
    expect(raw[6]?.patient.name.kid).toBe(aliceKid);
    expect(aliceKid).not.toBe(bobKid);
    expect(JSON.parse(JSON.stringify(raw[0]?.patient.id))).toEqual({ $sealed: aliceKid });

    // The subject key, in plaintext and wrapped, before the erasure (to prove it is gone after).
    const { SubjectKeyStore } = await import('../dist/compliance/keystore.js');
    const { resolveKeyProvider } = await import('../dist/compliance/keys.js');
    const store = new SubjectKeyStore(tmp.path, resolveKeyProvider(keyProvider));
    const aliceKey = (await store.keyById(aliceKid)) as Buffer;
    store.dispose();
    const wrapped = JSON.parse(
      fs.readFileSync(path.join(tmp.path, 'keys', 'subjects', `${aliceKid}.json`), 'utf8'),
    ).wrapped;
    const segDigests = (): string[] =>
      segmentFiles(tmp.path).map((f) =>
        createHash('sha256')
          .update(fs.readFileSync(path.join(tmp.path, f)))
          .digest('hex'),
      );
    const segBefore = segDigests();

    expect(await eraseSubject(tmp.path, 'alice-0001', { keyProvider })).toEqual({ erased: true, kid: aliceKid });

    // Not a byte of the WAL changed; verify is valid.
    expect(segDigests()).toEqual(segBefore);
    expect(await verifyWal(tmp.path)).toMatchObject({ valid: true, records: 7 });
    // Nothing left anywhere in the directory that could recover Alice's fields.
    for (const needle of [aliceKey, Buffer.from(wrapped, 'base64'), wrapped, 'Alice Liddell', 'alice-0001']) {
      expect(filesContaining(tmp.path, needle)).toEqual([]);
    }
    const after: Ev[] = [];
    for await (const r of readProtectedWal(tmp.path, { keyProvider })) after.push(r.event as Ev);
    expect(after).toHaveLength(7);
    for (const [i, e] of after.entries()) {
      if (i % 2 === 1) {
        expect(e).toEqual(sent[i]);
      } else {
        expect(e).toEqual({
          ...sent[i],
          patient: { id: kErased, name: kErased, dob: kErased, room: 12 },
          notes: [kErased, kErased],
        });
      }
    }
    // A new event of the erased subject gets a fresh key and reads normally.
    const again = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, subjectEncryption, keyProvider });
    await again.emit(visit(7, 'alice'));
    const last: Ev[] = [];
    for await (const r of again.replay({ fromSeq: 8 })) last.push(r.event as Ev);
    await again.close();
    expect(last).toEqual([visit(7, 'alice')]);
  });

  it('signed log: an inclusion proof made before the erasure still verifies after it, and verify --public-key stays valid', async () => {
    const { generateSignerKey } = await import('../dist/compliance/note.js');
    const { verifyLog, verifyProofText } = await import('../dist/main/index.js');
    const signer = generateSignerKey('example.com/phi-audit');
    const keyProvider = { type: 'file' as const, path: keyFile };
    const dir = tmp.join('signed');
    const sink = await openSink({
      dir,
      segmentBytes: kSegmentBytes,
      subjectEncryption,
      keyProvider,
      signing: { key: signer.signerKey, origin: 'example.com/phi-audit' },
    });
    await sink.emit(visit(0, 'alice'));
    await sink.emit(visit(1, 'bob'));
    const proof = await sink.prove(1);
    await sink.close();
    const proofText = JSON.stringify(proof);
    expect(verifyProofText(proofText, signer.verifierKey)).toMatchObject({ seq: 1 });

    expect(await eraseSubject(dir, 'alice-0001', { keyProvider })).toMatchObject({ erased: true });

    expect(verifyProofText(proofText, signer.verifierKey)).toMatchObject({ seq: 1 });
    expect(await verifyLog(dir, { publicKey: signer.verifierKey })).toMatchObject({ valid: true });
    const cli = await collect(spawnCli(['verify', '--dir', dir, '--public-key', signer.verifierKey]));
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    const after: Ev[] = [];
    for await (const r of readProtectedWal(dir, { keyProvider })) after.push(r.event as Ev);
    expect(after[0]?.patient.name).toBe(kErased);
    expect(after[1]).toEqual(visit(1, 'bob'));
  });

  it('replicated objects hold ciphertext only and no keys: after erasure nothing there recovers the subject', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const replica = tmp.join('..', `${path.basename(tmp.path)}-replica`);
    const dir = tmp.join('wal');
    try {
      const sink = await openSink({
        dir,
        segmentBytes: kSegmentBytes,
        segmentMaxAgeMs: 100,
        ack: 'replicated',
        replication: { quorum: 1, backends: [{ type: 'fs', dir: replica, prefix: 'audit' }] },
        subjectEncryption,
        keyProvider,
      });
      await sink.emit(visit(0, 'alice'));
      await sink.emit(visit(1, 'bob'));
      await sink.close();
      expect(allFiles(replica).length).toBeGreaterThan(0);
      const raw = (await events(dir)) as Ev[];
      const aliceKid: string = raw[0]?.patient.name.kid;
      const { SubjectKeyStore } = await import('../dist/compliance/keystore.js');
      const { resolveKeyProvider } = await import('../dist/compliance/keys.js');
      const store = new SubjectKeyStore(dir, resolveKeyProvider(keyProvider));
      const aliceKey = (await store.keyById(aliceKid)) as Buffer;
      store.dispose();
      expect(await eraseSubject(dir, 'alice-0001', { keyProvider })).toMatchObject({ erased: true });
      for (const needle of [aliceKey, 'Alice Liddell', 'alice-0001', 'Robert Tables', 'headaches']) {
        expect(filesContaining(replica, needle)).toEqual([]);
        expect(filesContaining(dir, needle)).toEqual([]);
      }
      expect(allFiles(replica).some((f) => f.includes(`${path.sep}keys${path.sep}`))).toBe(false);
    } finally {
      fs.rmSync(replica, { recursive: true, force: true });
    }
  });

  it('reading without the key provider is a typed error naming the key id; decrypt: false marks sealed parts', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const sink = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, subjectEncryption, keyProvider });
    await sink.emit(visit(0, 'bob'));
    await sink.close();
    const it1 = readProtectedWal(tmp.path);
    await expect(it1.next()).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringMatching(/seq 1: .*key provider/),
    });
    const marked: Ev[] = [];
    for await (const r of readProtectedWal(tmp.path, { decrypt: false })) marked.push(r.event as Ev);
    expect(JSON.parse(JSON.stringify(marked[0]?.patient))).toMatchObject({
      name: { $sealed: expect.any(String) },
      room: 12,
    });
    // A wrong master key: the wrapped subject key does not open (the key is unavailable, the log is fine).
    const wrong = { type: 'static' as const, keys: { m1: randomBytes(32) } };
    await expect(readProtectedWal(tmp.path, { keyProvider: wrong }).next()).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringContaining("master key 'm1' does not open"),
    });
  });

  it('bad input: non-object event, missing subject, provider that throws or hangs: typed errors, nothing written', async () => {
    let mode: 'hang' | 'throw' | 'ok' = 'ok';
    const inner = (await import('../dist/compliance/keys.js')).staticKeyProvider({ keys: { m: randomBytes(32) } });
    const keyProvider = {
      description: 'flaky',
      timeoutMs: 200,
      generateDataKey: (c: Record<string, string>, s: AbortSignal) =>
        mode === 'hang'
          ? new Promise<never>(() => undefined)
          : mode === 'throw'
            ? Promise.reject(new Error('HSM offline'))
            : inner.generateDataKey(c, s),
      unwrapDataKey: (w: Buffer, id: string, c: Record<string, string>, s: AbortSignal) =>
        inner.unwrapDataKey(w, id, c, s),
    };
    const sink = await openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, subjectEncryption, keyProvider });
    await expect(sink.emit('just a string')).rejects.toMatchObject({ code: ErrorCodes.SUBJECT });
    await expect(sink.emit([1, 2])).rejects.toMatchObject({ code: ErrorCodes.SUBJECT });
    await expect(sink.emit({ patient: { name: 'No Id' } })).rejects.toMatchObject({
      code: ErrorCodes.SUBJECT,
      message: expect.stringContaining('patient.id'),
    });
    await expect(sink.emit({ patient: { id: { nested: 1 } } })).rejects.toMatchObject({ code: ErrorCodes.SUBJECT });
    mode = 'throw';
    await expect(sink.emit(visit(0, 'alice'))).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER,
      message: expect.stringContaining('HSM offline'),
    });
    mode = 'hang';
    await expect(sink.emitBatch([visit(1, 'bob'), visit(2, 'bob')])).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER_TIMEOUT,
    });
    // Nothing of the refused events is in the WAL, and no key was stored for them.
    await sink.flush();
    expect(sink.durableSeq).toBe(0);
    expect(fs.existsSync(path.join(tmp.path, 'keys', 'subject-index'))).toBe(false);
    // The provider answers again: emits work, in this thread's order, while a key is being made.
    mode = 'ok';
    const p1 = sink.emit(visit(3, 'alice'));
    const p2 = sink.emit(visit(4, 'alice'));
    const p3 = sink.emit(visit(5, 'bob'));
    expect((await Promise.all([p1, p2, p3])).map((a) => a.seq)).toEqual([1, 2, 3]);
    await sink.close();
    expect(((await events(tmp.path)) as Ev[]).map((e) => e.i)).toEqual([3, 4, 5]);
    await expect(
      openSink({
        dir: tmp.path,
        segmentBytes: kSegmentBytes,
        subjectEncryption: { subjectPath: 'patient.*', fields: [] },
        keyProvider,
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    await expect(openSink({ dir: tmp.path, segmentBytes: kSegmentBytes, subjectEncryption })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('keyProvider'),
    });
  });
});

describe('CLI: erase, replay and export of protected WALs', () => {
  afterEach(() => killChildren());

  it('ironlog erase --subject, then replay/export show [ERASED] for that subject only; verify stays valid; typed errors', async () => {
    const keyFile = tmp.join('master-keys.json');
    fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
    const dir = tmp.join('wal');
    const keyProvider = { type: 'file' as const, path: keyFile };
    const subjectEncryption = { subjectPath: 'user.id', fields: ['user.name'] };
    const sink = await openSink({ dir, segmentBytes: kSegmentBytes, subjectEncryption, keyProvider });
    await sink.emit({ user: { id: 'u-1', name: 'Carol Danvers' }, action: 'login' });
    await sink.emit({ user: { id: 'u-2', name: 'Diana Prince' }, action: 'login' });
    await sink.close();

    const replay = async (...extra: string[]) => collect(spawnCli(['replay', '--dir', dir, ...extra]));
    const noKeys = await replay();
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toMatch(
      /ERR_IRONLOG_KEY_UNAVAILABLE: record seq 1: subject key '[A-Za-z0-9_-]{22}' needs a key provider/,
    );
    expect(noKeys.stderr).not.toMatch(/\n\s+at /);
    const marked = await replay('--no-decrypt');
    expect(marked.code).toBe(0);
    expect(JSON.parse(marked.stdout.split('\n')[0] as string).event.user.name).toEqual({ $sealed: expect.any(String) });
    const before = await replay('--key-file', keyFile);
    expect(
      before.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).event.user.name),
    ).toEqual(['Carol Danvers', 'Diana Prince']);

    const noKeyErase = await collect(spawnCli(['erase', '--dir', dir, '--subject', 'u-1'], { IRONLOG_KEYS: '' }));
    expect(noKeyErase.code).toBe(2);
    expect(noKeyErase.stderr).toContain('ERR_IRONLOG_INVALID_ARGUMENT');
    const erased = await collect(
      spawnCli(['erase', '--dir', dir, '--subject', 'u-1', '--key-file', keyFile, '--json']),
    );
    expect(erased.code).toBe(0);
    expect(JSON.parse(erased.stdout)).toEqual({ subjectErased: true, kid: expect.any(String) });
    const again = await collect(spawnCli(['erase', '--dir', dir, '--subject', 'u-1', '--key-file', keyFile]));
    expect(again.stdout).toContain('nothing to erase');

    // Keys via the environment this time.
    const keysText = fs.readFileSync(keyFile, 'utf8');
    const after = await collect(spawnCli(['replay', '--dir', dir], { IRONLOG_KEYS: keysText }));
    expect(after.code).toBe(0);
    expect(
      after.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).event),
    ).toEqual([
      { user: { id: '[ERASED]', name: '[ERASED]' }, action: 'login' },
      { user: { id: 'u-2', name: 'Diana Prince' }, action: 'login' },
    ]);
    const out = tmp.join('export.ndjson');
    const exp = await collect(
      spawnCli(['export', '--dir', dir, '--output', out, '--key-file', keyFile, '--no-progress']),
    );
    expect(exp.code).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toContain('Diana Prince');
    expect(fs.readFileSync(out, 'utf8')).not.toContain('Carol');
    expect((await collect(spawnCli(['verify', '--dir', dir]))).code).toBe(0);
    const withKeys = await collect(spawnCli(['verify', '--dir', dir, '--key-file', keyFile]));
    expect(withKeys.code).toBe(0);
    expect(withKeys.stdout).toContain('decryption: 2 protected records, all authentic');
    const otherKeys = tmp.join('other-keys.json');
    fs.writeFileSync(otherKeys, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
    const wrongKeys = await collect(spawnCli(['verify', '--dir', dir, '--key-file', otherKeys]));
    // Seq 1's fields are erased (fine without keys); seq 2's key does not open with these.
    expect(wrongKeys.code).toBe(2);
    expect(wrongKeys.stdout).toMatch(/1 failed\n {2}seq 2: ERR_IRONLOG_KEY_UNAVAILABLE/);
    expect(filesContaining(dir, 'Carol Danvers')).toEqual([]);
  });
});

describe('record payload encryption (envelope, in the writer)', () => {
  let keyFile: string;
  beforeEach(() => {
    keyFile = tmp.join('..', `${path.basename(tmp.path)}-master.json`);
    fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
  });
  afterEach(() => fs.rmSync(keyFile, { force: true }));
  const small = { segmentBytes: 128 * 1024, maxBatchBytes: 16 * 1024, maxEventBytes: 8 * 1024 };

  it('round trip through a real sink; ciphertext only on disk; keys rotate per segment, count and start; verify valid', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const sink = await openSink({ dir: tmp.path, ...small, keyProvider, encryption: { recordsPerDataKey: 500 } });
    const sent: Ev[] = [];
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({
        n: b * 100 + i,
        secret: `top-secret-${b * 100 + i}`,
        pad: 'x'.repeat(i),
      }));
      sent.push(...batch);
      await sink.emitBatch(batch);
    }
    const wr = await runWorker(sink.producer(), [{ n: 2000, secret: 'top-secret-worker' }]);
    expect(wr[0]?.seq).toBe(2001);
    sent.push({ n: 2000, secret: 'top-secret-worker' });
    const replayed: Ev[] = [];
    for await (const r of sink.replay()) replayed.push(r.event as Ev);
    expect(replayed).toEqual(sent);
    await sink.close();

    expect(segmentFiles(tmp.path).length).toBeGreaterThan(2);
    expect(filesContaining(tmp.path, 'top-secret')).toEqual([]);
    expect(filesContaining(tmp.path, 'xxxxxxxxxx')).toEqual([]);
    const kids = new Set<string>();
    for await (const r of readWal(tmp.path)) {
      expect(r.flags & 1).toBe(1);
      const body = r.event as Buffer;
      kids.add(body.subarray(2, 2 + (body[1] as number)).toString('latin1'));
    }
    // 2001 records, a new key at least every 500 records and every new segment.
    expect(kids.size).toBeGreaterThanOrEqual(Math.max(5, segmentFiles(tmp.path).length));
    expect(await verifyWal(tmp.path)).toMatchObject({ valid: true, records: 2001 });

    // A new writer session takes a new key; old segments are never rewritten and still read.
    const digest = (f: string) =>
      createHash('sha256')
        .update(fs.readFileSync(path.join(tmp.path, f)))
        .digest('hex');
    const firstSeg = segmentFiles(tmp.path).sort()[0] as string;
    const firstDigest = digest(firstSeg);
    const again = await openSink({ dir: tmp.path, ...small, keyProvider, encryption: true });
    await again.emit({ n: 2001, secret: 'top-secret-late' });
    await again.close();
    expect(digest(firstSeg)).toBe(firstDigest);
    const all: Ev[] = [];
    const late = new Set<string>();
    for await (const r of readProtectedWal(tmp.path, { keyProvider })) all.push(r.event as Ev);
    for await (const r of readWal(tmp.path, { fromSeq: 2002 }))
      late.add((r.event as Buffer).subarray(2, 24).toString());
    expect(all).toEqual([...sent, { n: 2001, secret: 'top-secret-late' }]);
    expect([...late].some((k) => kids.has(k))).toBe(false);
  });

  it('missing key, wrong master key, --no-decrypt marks; a flipped byte is caught and recover keeps the others', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const sink = await openSink({ dir: tmp.path, ...small, keyProvider, encryption: true });
    for (let i = 0; i < 50; i++) await sink.emit({ i, secret: `s-${i}` });
    await sink.close();
    const marked: Ev[] = [];
    for await (const r of readProtectedWal(tmp.path, { decrypt: false })) marked.push(r.event as Ev);
    expect(marked[0]).toEqual({ $encrypted: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/) });
    const kid = marked[0]?.$encrypted as string;
    await expect(readProtectedWal(tmp.path).next()).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringContaining(kid),
    });
    const wrong = { type: 'static' as const, keys: { m1: randomBytes(32) } };
    await expect(readProtectedWal(tmp.path, { keyProvider: wrong }).next()).rejects.toMatchObject({
      code: ErrorCodes.KEY_UNAVAILABLE,
      message: expect.stringContaining("master key 'm1' does not open"),
    });

    // Flip one ciphertext byte of record 10 in the segment file.
    const seg = path.join(tmp.path, segmentFiles(tmp.path)[0] as string);
    const bytes = fs.readFileSync(seg);
    let target = -1;
    for await (const r of readWal(tmp.path, { fromSeq: 10, toSeq: 10 })) target = bytes.indexOf(r.event as Buffer);
    expect(target).toBeGreaterThan(0);
    bytes[target + 30] = (bytes[target + 30] as number) ^ 0x01;
    fs.writeFileSync(seg, bytes);
    await expect(async () => {
      for await (const _ of readWal(tmp.path)) void _;
    }).rejects.toMatchObject({ code: ErrorCodes.WAL_CORRUPT });
    const { recoverWal } = await import('../dist/main/index.js');
    const out = tmp.join('recovered');
    await recoverWal(tmp.path, out);
    // The key store travels with the data (recover copies records, not keys).
    fs.cpSync(path.join(tmp.path, 'keys'), path.join(out, 'keys'), { recursive: true });
    const kept: number[] = [];
    for await (const r of readProtectedWal(out, { keyProvider })) kept.push((r.event as Ev).i);
    expect(kept).toContain(0);
    expect(kept).toContain(49);
    expect(kept).not.toContain(9);
  });

  it('a ciphertext moved to another seq fails authentication with a typed error for that record', async () => {
    const keyProvider = { type: 'file' as const, path: keyFile };
    const sink = await openSink({ dir: tmp.path, ...small, keyProvider, encryption: true });
    await sink.emit({ i: 1 });
    await sink.emit({ i: 2 });
    await sink.close();
    const recs = [];
    for await (const r of readWal(tmp.path)) recs.push(r);
    const { RecordOpener } = await import('../dist/compliance/protected-read.js');
    const opener = new RecordOpener(tmp.path, { keyProvider });
    expect((await opener.open(recs[1] as never)).event).toEqual({ i: 2 });
    await expect(opener.open({ ...(recs[0] as object), seq: 2 } as never)).rejects.toMatchObject({
      code: ErrorCodes.DECRYPT,
      message: expect.stringContaining('record seq 2'),
    });
    opener.dispose();
  });

  it('no data key in time for a due rotation: the writer fails closed, nothing is stored in clear', async () => {
    const inner = (await import('../dist/compliance/keys.js')).staticKeyProvider({ keys: { m: randomBytes(32) } });
    let made = 0;
    const keyProvider = {
      description: 'dies after 3 keys',
      timeoutMs: 300,
      generateDataKey: (c: Record<string, string>, s: AbortSignal) =>
        ++made <= 3 ? inner.generateDataKey(c, s) : new Promise<never>(() => undefined),
      unwrapDataKey: (w: Buffer, id: string, c: Record<string, string>, s: AbortSignal) =>
        inner.unwrapDataKey(w, id, c, s),
    };
    const sink = await openSink({ dir: tmp.path, ...small, keyProvider, encryption: { recordsPerDataKey: 2 } });
    const faults: string[] = [];
    sink.events.on('fault', (e) => faults.push(e.code));
    // Keys 1-3 exist (2 made ahead at open, 1 replacement): 6 records fit under them.
    for (let i = 0; i < 6; i++) await sink.emit({ i, secret: `clear-${i}` });
    const late = sink.emit({ i: 6, secret: 'clear-6' });
    await expect(late).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_IRONLOG_(WAL_FAULTED|KEY_PROVIDER_TIMEOUT)$/),
    });
    expect(faults).toContain(ErrorCodes.KEY_PROVIDER_TIMEOUT);
    await sink.close();
    expect(filesContaining(tmp.path, 'clear-')).toEqual([]);
    const seqs: number[] = [];
    for await (const r of readProtectedWal(tmp.path, { keyProvider })) seqs.push((r.event as Ev).i);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await verifyWal(tmp.path)).toMatchObject({ valid: true });
  });

  it('a provider that fails or hangs at open: typed error, nothing written', async () => {
    const hanging = {
      description: 'hanging',
      timeoutMs: 200,
      generateDataKey: () => new Promise<never>(() => undefined),
      unwrapDataKey: () => Promise.reject(new Error('no')),
    };
    await expect(openSink({ dir: tmp.path, ...small, keyProvider: hanging, encryption: true })).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER_TIMEOUT,
    });
    const failing = { ...hanging, generateDataKey: () => Promise.reject(new Error('KMS says no')) };
    await expect(openSink({ dir: tmp.path, ...small, keyProvider: failing, encryption: true })).rejects.toMatchObject({
      code: ErrorCodes.KEY_PROVIDER,
      message: expect.stringContaining('KMS says no'),
    });
    expect(segmentFiles(tmp.path)).toEqual([]);
    // The directory is not left locked.
    const ok = await openSink({ dir: tmp.path, ...small });
    await ok.close();
    await expect(openSink({ dir: tmp.path, encryption: true })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
  });
});
