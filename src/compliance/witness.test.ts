import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestLog } from './__fixtures__/test-log.js';
import { formatCheckpoint } from './checkpoint.js';
import { generateCosignerKey, verifyCosignature } from './cosignature.js';
import { generateSignerKey, openNote, parseNote, parseSignerKey, parseVerifierKey, signNote } from './note.js';
import {
  cosignWithQuorum,
  formatAddCheckpointBody,
  kTlogSizeContentType,
  obtainCosignature,
  parseAddCheckpointBody,
  requestCosignature,
  startWitnessServer,
  Witness,
  type WitnessResponse,
  type WitnessServer,
} from './witness.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-witness-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const witnessKeys = generateCosignerKey('witness.example/w1');
const witnessVerifier = parseVerifierKey(witnessKeys.verifierKey);

function openWitness(log: TestLog, clockMs?: () => number): Witness {
  return Witness.open({
    stateDir: path.join(dir, 'state'),
    key: witnessKeys.signerKey,
    logs: [log.keys.verifierKey],
    ...(clockMs ? { clock: clockMs } : {}),
  });
}

function add(w: Witness, log: TestLog, oldSize: number, opts: { size?: number; proof?: Buffer[]; note?: string } = {}) {
  const size = opts.size ?? log.size;
  return w.addCheckpoint(
    formatAddCheckpointBody({
      oldSize,
      consistencyProof: opts.proof ?? log.proof(oldSize, size),
      checkpointNote: opts.note ?? log.checkpoint(size),
    }),
  );
}

function expectCosigned(r: WitnessResponse, log: TestLog, size = log.size): number {
  expect(r.status, r.body).toBe(200);
  const sigs = parseNote(`x\n\n${r.body}`).signatures;
  expect(sigs).toHaveLength(1);
  const sig = sigs[0];
  if (!sig) throw new Error('no cosignature');
  const { timeSec } = verifyCosignature(log.body(size), sig, witnessVerifier);
  // The cosignature appended to the log's note opens with both keys.
  const cosigned = log.checkpoint(size) + r.body;
  const logV = parseVerifierKey(log.keys.verifierKey);
  expect(openNote(cosigned, [logV, witnessVerifier]).verifiedBy).toEqual([logV, witnessVerifier]);
  return timeSec;
}

describe('Witness (C2SP tlog-witness add-checkpoint)', () => {
  it('cosigns a first checkpoint (old 0), then checkpoints that extend it with a valid consistency proof', () => {
    const log = new TestLog('example.com/log').append(5);
    const w = openWitness(log, () => 1_700_000_000_123);
    expect(expectCosigned(add(w, log, 0), log)).toBe(1_700_000_000);
    expect(w.state('example.com/log')?.size).toBe(5);
    log.append(8);
    expectCosigned(add(w, log, 5), log);
    expect(w.state('example.com/log')?.size).toBe(13);
    expect(w.state('example.com/log')?.rootHash.equals(log.root())).toBe(true);
    // The same checkpoint again (old = size, same root): cosigned again, state unchanged.
    expectCosigned(add(w, log, 13), log);
  });

  it('stores the state durably before answering: a new instance on the directory remembers', () => {
    const log = new TestLog('example.com/log').append(7);
    expectCosigned(add(openWitness(log), log, 0), log);
    const files = fs.readdirSync(path.join(dir, 'state', 'logs'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{64}\.json$/);
    const again = openWitness(log);
    expect(again.state('example.com/log')?.size).toBe(7);
    const r = add(again, log, 0);
    expect(r).toEqual({ status: 409, contentType: kTlogSizeContentType, body: '7\n' });
  });

  it('409 text/x.tlog.size with its size when old is not the size it last cosigned', () => {
    const log = new TestLog('example.com/log').append(4);
    const w = openWitness(log);
    expectCosigned(add(w, log, 0), log);
    log.append(4);
    expect(add(w, log, 2)).toEqual({ status: 409, contentType: kTlogSizeContentType, body: '4\n' });
    expect(add(w, log, 0)).toEqual({ status: 409, contentType: kTlogSizeContentType, body: '4\n' });
    const fresh = new TestLog('example.com/log', log.keys).append(3);
    const w2 = Witness.open({
      stateDir: path.join(dir, 'other'),
      key: witnessKeys.signerKey,
      logs: [log.keys.verifierKey],
    });
    expect(add(w2, fresh, 1, { proof: fresh.proof(1) })).toEqual({
      status: 409,
      contentType: kTlogSizeContentType,
      body: '0\n',
    });
  });

  it('422 when the consistency proof does not verify, and state stays', () => {
    const log = new TestLog('example.com/log').append(6);
    const w = openWitness(log);
    expectCosigned(add(w, log, 0), log);
    log.append(5);
    const proof = log.proof(6);
    const bad = proof.map((h, i) => (i === 0 ? Buffer.from(h.map((b) => b ^ 1)) : h));
    expect(add(w, log, 6, { proof: bad }).status).toBe(422);
    expect(add(w, log, 6, { proof: proof.slice(1) }).status).toBe(422);
    expect(add(w, log, 6, { proof: [] }).status).toBe(422);
    expect(w.state('example.com/log')?.size).toBe(6);
    expectCosigned(add(w, log, 6, { proof }), log);
  });

  it('422 for a consistency proof with old 0, or an empty tree with a wrong root', () => {
    const log = new TestLog('example.com/log').append(3);
    const w = openWitness(log);
    expect(add(w, log, 0, { proof: [Buffer.alloc(32)] }).status).toBe(422);
    const emptyBadRoot = signNote(
      formatCheckpoint({ origin: 'example.com/log', size: 0, rootHash: Buffer.alloc(32), extensions: [] }),
      [parseSignerKey(log.keys.signerKey)],
    );
    expect(add(w, log, 0, { size: 0, note: emptyBadRoot }).status).toBe(422);
    const empty = new TestLog('example.com/log', log.keys);
    expectCosigned(add(w, empty, 0), empty);
    expect(w.state('example.com/log')?.size).toBe(0);
  });

  it('403 when no trusted key signed the checkpoint (another key with the same name, an altered note)', () => {
    const log = new TestLog('example.com/log').append(3);
    const w = openWitness(log);
    const impostor = generateSignerKey('example.com/log');
    expect(add(w, log, 0, { note: log.checkpoint(3, impostor.signerKey) }).status).toBe(403);
    const note = log.checkpoint(3);
    const altered = note.replace(
      log.root(3).toString('base64'),
      new TestLog('x').append(3, 'other').root().toString('base64'),
    );
    expect(add(w, log, 0, { note: altered }).status).toBe(403);
    expect(w.state('example.com/log')).toBeUndefined();
  });

  it('404 for an origin it does not witness', () => {
    const log = new TestLog('example.com/log').append(3);
    const w = openWitness(log);
    const other = new TestLog('example.com/other').append(3);
    const r = add(w, other, 0);
    expect(r.status).toBe(404);
    expect(r.body).toContain('example.com/other');
  });

  it('400 for a malformed request or an old size above the checkpoint size', () => {
    const log = new TestLog('example.com/log').append(3);
    const w = openWitness(log);
    expect(add(w, log, 5, { proof: [] }).status).toBe(400);
    const note = log.checkpoint();
    for (const body of [
      `old 01\n\n${note}`,
      `old -1\n\n${note}`,
      `old 0\nnot base64\n\n${note}`,
      `old 0\n${note}`,
      `old 0\n\n${note.replace('\u2014', '-')}`,
      `old 0\n\n${parseNote(note).text}`,
      'old 0',
      '',
    ]) {
      expect(w.addCheckpoint(body).status, body.slice(0, 40)).toBe(400);
    }
    expect(w.addCheckpoint(Buffer.from([0x6f, 0x6c, 0x64, 0xff])).status).toBe(400);
    const many = Array.from({ length: 64 }, () => Buffer.alloc(32).toString('base64')).join('\n');
    expect(w.addCheckpoint(`old 1\n${many}\n\n${note}`).status).toBe(400);
  });

  it('refuses a split view: same size, another root (409), or a fork at a larger size (422); keeps the evidence', () => {
    const log = new TestLog('example.com/log').append(10);
    const w = openWitness(log);
    expectCosigned(add(w, log, 0), log);
    // A second history signed with the same key: same first 9 entries, another 10th.
    const fork = new TestLog('example.com/log', log.keys).append(9).append(1, 'forged');
    expect(fork.root(10).equals(log.root(10))).toBe(false);
    const same = add(w, fork, 10);
    expect(same.status).toBe(409);
    expect(same.contentType).not.toBe(kTlogSizeContentType);
    expect(same.body).toMatch(/split view/);
    fork.append(6);
    // A genuine consistency proof of the fork from 10 to 16 cannot lead to the root the witness stored.
    expect(add(w, fork, 10, { proof: fork.proof(10) }).status).toBe(422);
    expect(w.state('example.com/log')?.size).toBe(10);
    expect(w.state('example.com/log')?.rootHash.equals(log.root(10))).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'state', 'evidence')).length).toBe(2);
  });

  it('trusts several keys for one origin (rotation) and refuses a log key of the wrong type', () => {
    const log = new TestLog('example.com/log').append(2);
    const newKey = generateSignerKey('example.com/log');
    const w = Witness.open({
      stateDir: path.join(dir, 'state'),
      key: witnessKeys.signerKey,
      logs: [log.keys.verifierKey, newKey.verifierKey],
    });
    expectCosigned(add(w, log, 0, { note: log.checkpoint(2, newKey.signerKey) }), log);
    expect(() =>
      Witness.open({ stateDir: path.join(dir, 'x'), key: witnessKeys.signerKey, logs: [witnessKeys.verifierKey] }),
    ).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }));
    expect(() =>
      Witness.open({ stateDir: path.join(dir, 'x'), key: log.keys.signerKey, logs: [log.keys.verifierKey] }),
    ).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }));
    expect(() => Witness.open({ stateDir: path.join(dir, 'x'), key: witnessKeys.signerKey, logs: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_OPTION' }),
    );
  });

  it('refuses to start on a damaged state file', () => {
    const log = new TestLog('example.com/log').append(2);
    expectCosigned(add(openWitness(log), log, 0), log);
    const logsDir = path.join(dir, 'state', 'logs');
    const file = path.join(logsDir, fs.readdirSync(logsDir)[0] as string);
    fs.writeFileSync(file, '{"version":1,');
    expect(() => openWitness(log)).toThrow(expect.objectContaining({ code: 'ERR_IRONLOG_WAL_CORRUPT' }));
  });

  it('parses and formats request bodies', () => {
    const log = new TestLog('example.com/log').append(5);
    const proof = log.proof(3);
    const body = formatAddCheckpointBody({ oldSize: 3, consistencyProof: proof, checkpointNote: log.checkpoint() });
    expect(body.startsWith('old 3\n')).toBe(true);
    expect(parseAddCheckpointBody(body)).toEqual({
      oldSize: 3,
      consistencyProof: proof,
      checkpointNote: log.checkpoint(),
    });
  });
});

describe('witness HTTP server and client', () => {
  let server: WitnessServer | undefined;
  let hung: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (hung) {
      hung.closeAllConnections();
      await new Promise((r) => hung?.close(r));
      hung = undefined;
    }
  });

  it('requestCosignature gets a verified cosignature and typed errors for 409, 422, 403 and 404', async () => {
    const log = new TestLog('example.com/log').append(4);
    server = await startWitnessServer(openWitness(log), { port: 0 });
    const ok = await requestCosignature(server.url, {
      oldSize: 0,
      consistencyProof: [],
      checkpointNote: log.checkpoint(),
      witnessKey: witnessKeys.verifierKey,
    });
    expect(ok.lines).toHaveLength(1);
    expect(ok.lines[0]).toMatch(/^\u2014 witness\.example\/w1 /);
    expect(openNote(ok.cosignedNote, [witnessVerifier]).text).toBe(log.body());
    expect(typeof ok.timeSec).toBe('number');

    log.append(3);
    await expect(
      requestCosignature(server.url, { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', status: 409, witnessSize: 4 });
    const bad = log.proof(4).map((h) => Buffer.from(h).fill(1));
    await expect(
      requestCosignature(server.url, { oldSize: 4, consistencyProof: bad, checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 422 });
    const impostor = generateSignerKey('example.com/log').signerKey;
    await expect(
      requestCosignature(server.url, {
        oldSize: 4,
        consistencyProof: log.proof(4),
        checkpointNote: log.checkpoint(7, impostor),
      }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 403 });
    const other = new TestLog('example.com/other').append(1);
    await expect(
      requestCosignature(server.url, { oldSize: 0, consistencyProof: [], checkpointNote: other.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 404 });
    // Another witness key expected: the answer has no cosignature by it.
    await expect(
      requestCosignature(server.url, {
        oldSize: 4,
        consistencyProof: log.proof(4),
        checkpointNote: log.checkpoint(),
        witnessKey: generateCosignerKey('witness.example/w1').verifierKey,
      }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_UNAVAILABLE' });
  });

  it('obtainCosignature retries once with the size a 409 gives', async () => {
    const log = new TestLog('example.com/log').append(4);
    server = await startWitnessServer(openWitness(log), { port: 0 });
    await requestCosignature(server.url, { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint() });
    log.append(9);
    const asked: number[] = [];
    const r = await obtainCosignature(server.url, {
      checkpointNote: log.checkpoint(),
      oldSize: 0,
      proveFrom: (from) => {
        asked.push(from);
        return log.proof(from);
      },
      witnessKey: witnessVerifier,
    });
    expect(asked).toEqual([4]);
    expect(r.signatures).toHaveLength(1);
  });

  it('answers 404 on other paths, 405 on GET, 413 on a large body', async () => {
    const log = new TestLog('example.com/log').append(1);
    server = await startWitnessServer(openWitness(log), { port: 0, maxBodyBytes: 1024 });
    expect((await fetch(`${server.url}/nope`, { method: 'POST', body: 'x' })).status).toBe(404);
    const get = await fetch(`${server.url}/add-checkpoint`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`${server.url}/add-checkpoint`, { method: 'POST', body: 'x'.repeat(5000) })).status).toBe(413);
  });

  it('times out against a witness that never answers, and reports an unreachable one', async () => {
    hung = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((r) => hung?.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const log = new TestLog('example.com/log').append(1);
    await expect(
      requestCosignature(url, { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint(), timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_UNAVAILABLE', message: expect.stringMatching(/timed out/) });
    await expect(
      requestCosignature('http://127.0.0.1:1', { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_UNAVAILABLE' });
  });

  it('cosignWithQuorum reaches a quorum with one witness down, and fails below it', async () => {
    const log = new TestLog('example.com/log').append(6);
    const keys = [generateCosignerKey('w/a'), generateCosignerKey('w/b')];
    const servers = await Promise.all(
      keys.map((k, i) =>
        startWitnessServer(
          Witness.open({ stateDir: path.join(dir, `w${i}`), key: k.signerKey, logs: [log.keys.verifierKey] }),
          { port: 0 },
        ),
      ),
    );
    try {
      const down = { url: 'http://127.0.0.1:1', key: generateCosignerKey('w/c').verifierKey };
      const endpoints = [
        { url: servers[0]?.url as string, key: keys[0]?.verifierKey as string },
        { url: servers[1]?.url as string, key: keys[1]?.verifierKey as string },
        down,
      ];
      const r = await cosignWithQuorum(log.checkpoint(), endpoints, { quorum: 2, proveFrom: (f) => log.proof(f) });
      expect(r.cosigned.map((c) => c.name)).toEqual(['w/a', 'w/b']);
      expect(r.failed.map((f) => f.error.code)).toEqual(['ERR_IRONLOG_WITNESS_UNAVAILABLE']);
      const verifiers = keys.map((k) => parseVerifierKey(k.verifierKey));
      expect(openNote(r.cosignedNote, verifiers).verifiedBy).toEqual(verifiers);
      // Next checkpoint: the log forgot the old sizes (oldSize 0): each witness corrects it once.
      log.append(3);
      const r2 = await cosignWithQuorum(log.checkpoint(), endpoints.slice(0, 2), {
        quorum: 2,
        proveFrom: (f) => log.proof(f),
      });
      expect(r2.cosigned).toHaveLength(2);
      await expect(
        cosignWithQuorum(log.checkpoint(), endpoints, { quorum: 3, proveFrom: (f) => log.proof(f) }),
      ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_QUORUM', message: expect.stringMatching(/2 of 3/) });
      await expect(
        cosignWithQuorum(log.checkpoint(), endpoints, { quorum: 4, proveFrom: () => [] }),
      ).rejects.toMatchObject({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('concurrent requests from the same old size: exactly one is cosigned, the others get 409 with its size', async () => {
    const log = new TestLog('example.com/log').append(3);
    server = await startWitnessServer(openWitness(log), { port: 0 });
    const url = server.url;
    await requestCosignature(url, { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint() });
    log.append(10);
    const sizes = [5, 7, 9, 11, 13];
    const settled = await Promise.allSettled(
      sizes.map((size) =>
        requestCosignature(url, {
          oldSize: 3,
          consistencyProof: log.proof(3, size),
          checkpointNote: log.checkpoint(size),
        }),
      ),
    );
    const ok = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [sizes[i]] : []));
    expect(ok).toHaveLength(1);
    const winner = ok[0] as number;
    for (const r of settled) {
      if (r.status === 'rejected') {
        expect(r.reason).toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', witnessSize: winner });
      }
    }
  });
});
