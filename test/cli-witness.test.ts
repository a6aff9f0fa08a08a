/**
 * `ironlog keygen` and `ironlog witness serve` as real child processes (run `npm run build` first).
 */

import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestLog } from '../src/compliance/__fixtures__/test-log.js';
import { verifyCosignature } from '../src/compliance/cosignature.js';
import { openNote, parseSignerKey, parseVerifierKey, signNote } from '../src/compliance/note.js';
import { cosignWithQuorum, requestCosignature } from '../src/compliance/witness.js';
import { exited, killChildren, runCli, spawnCli, waitForOutput } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-witness-cli-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

describe('ironlog keygen', () => {
  it('--json prints a signer key and its verifier key in the note formats', async () => {
    const r = await runCli(['keygen', '--name', 'example.com/audit', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { signerKey, verifierKey } = JSON.parse(r.stdout) as { signerKey: string; verifierKey: string };
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+example\.com\/audit\+[0-9a-f]{8}\+/);
    expect(parseSignerKey(signerKey).verifierKey).toBe(verifierKey);
    const v = parseVerifierKey(verifierKey);
    expect(v.keyType).toBe(0x01);
    expect(openNote(signNote('hi\n', [parseSignerKey(signerKey)]), [v]).text).toBe('hi\n');
  });

  it('--out writes PREFIX.key (0600) and PREFIX.pub, and never overwrites them', async () => {
    const prefix = tmp.join('audit-log');
    const r = await runCli(['keygen', '--name', 'example.com/audit', '--out', prefix]);
    expect(r.code, r.stderr).toBe(0);
    const key = fs.readFileSync(`${prefix}.key`, 'utf8');
    const pub = fs.readFileSync(`${prefix}.pub`, 'utf8');
    expect(fs.statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(parseSignerKey(key).verifierKey).toBe(pub.trim());
    expect(r.stdout.trim()).toBe(pub.trim());
    expect(r.stdout).not.toContain('PRIVATE');
    const again = await runCli(['keygen', '--name', 'example.com/audit', '--out', prefix]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readFileSync(`${prefix}.key`, 'utf8')).toBe(key);
  });

  it('--cosigner makes a witness key (type 0x04); a bad name is a usage error', async () => {
    const r = await runCli(['keygen', '--name', 'witness.example/w1', '--cosigner', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { signerKey } = JSON.parse(r.stdout) as { signerKey: string };
    expect(parseSignerKey(signerKey).keyType).toBe(0x04);
    const bad = await runCli(['keygen', '--name', 'has space']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ERR_IRONLOG_INVALID_ARGUMENT/);
    expect((await runCli(['keygen'])).code).toBe(2);
  });
});

interface WitnessChild {
  child: ChildProcess;
  url: string;
}

describe('ironlog witness serve', () => {
  async function setup(): Promise<{ log: TestLog; witnessVkey: string; start: () => Promise<WitnessChild> }> {
    const log = new TestLog('example.com/audit').append(20);
    fs.writeFileSync(tmp.join('log.pub'), `${log.keys.verifierKey}\n`);
    const kg = await runCli(['keygen', '--name', 'witness.example/w1', '--cosigner', '--out', tmp.join('w1')]);
    expect(kg.code, kg.stderr).toBe(0);
    const start = async (): Promise<WitnessChild> => {
      const child = spawnCli([
        'witness',
        'serve',
        '--state-dir',
        tmp.join('state'),
        '--key',
        tmp.join('w1.key'),
        '--log',
        tmp.join('log.pub'),
        '--port',
        '0',
        '--host',
        '127.0.0.1',
      ]);
      const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
      return { child, url: m[1] as string };
    };
    return { log, witnessVkey: kg.stdout.trim(), start };
  }

  it('cosigns, answers 409/422/403/404 as the spec says, refuses a split view, and keeps its state across SIGKILL', async () => {
    const { log, witnessVkey, start } = await setup();
    const w = await start();

    // A valid first checkpoint: a cosignature that verifies with the witness key.
    const first = await requestCosignature(w.url, {
      oldSize: 0,
      consistencyProof: [],
      checkpointNote: log.checkpoint(),
      witnessKey: witnessVkey,
    });
    const cosig = first.signatures[0];
    if (!cosig) throw new Error('no cosignature');
    expect(verifyCosignature(log.body(), cosig, parseVerifierKey(witnessVkey)).timeSec).toBeGreaterThan(1_600_000_000);

    // It grows: consistency proof from 20 to 33.
    log.append(13);
    await requestCosignature(w.url, {
      oldSize: 20,
      consistencyProof: log.proof(20),
      checkpointNote: log.checkpoint(),
      witnessKey: witnessVkey,
    });

    // Stale old size: 409 with the witness's size.
    log.append(2);
    await expect(
      requestCosignature(w.url, { oldSize: 20, consistencyProof: log.proof(20), checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', status: 409, witnessSize: 33 });
    const raw = await fetch(`${w.url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${log.checkpoint()}` });
    expect(raw.status).toBe(409);
    expect(raw.headers.get('content-type')).toBe('text/x.tlog.size');
    expect(await raw.text()).toBe('33\n');

    // A bad consistency proof: 422.
    const badProof = log.proof(33).map((h, i) => (i === 0 ? Buffer.alloc(32, 0xab) : h));
    await expect(
      requestCosignature(w.url, { oldSize: 33, consistencyProof: badProof, checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 422 });

    // Signed by another key under the log's name: 403.
    const impostor = new TestLog('example.com/audit');
    await expect(
      requestCosignature(w.url, {
        oldSize: 33,
        consistencyProof: log.proof(33),
        checkpointNote: log.checkpoint(35, impostor.keys.signerKey),
      }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 403 });

    // An origin it does not witness: 404.
    const stranger = new TestLog('example.com/stranger').append(1);
    await expect(
      requestCosignature(w.url, { oldSize: 0, consistencyProof: [], checkpointNote: stranger.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 404 });

    // Split view: the same key signs another history of the same size 33.
    const fork = new TestLog('example.com/audit', log.keys).append(32).append(1, 'forged');
    await expect(
      requestCosignature(w.url, { oldSize: 33, consistencyProof: [], checkpointNote: fork.checkpoint(33) }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', status: 409, witnessSize: undefined });
    // ... and a longer fork with its own (valid for the fork) consistency proof from 33.
    fork.append(5);
    await expect(
      requestCosignature(w.url, { oldSize: 33, consistencyProof: fork.proof(33), checkpointNote: fork.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_REJECTED', status: 422 });
    expect(fs.readdirSync(tmp.join('state', 'evidence')).length).toBeGreaterThanOrEqual(2);

    // SIGKILL, restart: the witness still knows size 33 and its root.
    await exited(w.child, 'SIGKILL');
    const w2 = await start();
    await expect(
      requestCosignature(w2.url, { oldSize: 0, consistencyProof: [], checkpointNote: log.checkpoint() }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', witnessSize: 33 });
    await expect(
      requestCosignature(w2.url, { oldSize: 33, consistencyProof: [], checkpointNote: fork.checkpoint(33) }),
    ).rejects.toMatchObject({ code: 'ERR_IRONLOG_WITNESS_CONFLICT', status: 409 });
    const next = await requestCosignature(w2.url, {
      oldSize: 33,
      consistencyProof: log.proof(33),
      checkpointNote: log.checkpoint(),
      witnessKey: witnessVkey,
    });
    expect(
      openNote(next.cosignedNote, [parseVerifierKey(log.keys.verifierKey), parseVerifierKey(witnessVkey)]).verifiedBy,
    ).toHaveLength(2);

    // SIGTERM: a clean exit 0.
    expect(await exited(w2.child, 'SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('refuses a second witness on the same state directory, a note key as witness key, and a missing key file', async () => {
    const { start } = await setup();
    const w = await start();
    const second = await runCli([
      'witness',
      'serve',
      '--state-dir',
      tmp.join('state'),
      '--key',
      tmp.join('w1.key'),
      '--log',
      tmp.join('log.pub'),
      '--port',
      '0',
    ]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/ERR_IRONLOG_WAL_LOCKED/);
    await exited(w.child, 'SIGTERM');

    const kg = await runCli(['keygen', '--name', 'not-a-witness', '--out', tmp.join('plain')]);
    expect(kg.code).toBe(0);
    const plain = await runCli([
      'witness',
      'serve',
      '--state-dir',
      tmp.join('s2'),
      '--key',
      tmp.join('plain.key'),
      '--log',
      tmp.join('log.pub'),
      '--port',
      '0',
    ]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/ERR_IRONLOG_KEY_INVALID.*cosigner/);
    const missing = await runCli([
      'witness',
      'serve',
      '--state-dir',
      tmp.join('s3'),
      '--key',
      tmp.join('nope.key'),
      '--log',
      tmp.join('log.pub'),
      '--port',
      '0',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ERR_IRONLOG_IO/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('a log reaches a quorum of two witness processes', async () => {
    const log = new TestLog('example.com/audit').append(9);
    fs.writeFileSync(tmp.join('log.pub'), `${log.keys.verifierKey}\n`);
    const witnesses: { url: string; key: string }[] = [];
    for (const name of ['w1', 'w2']) {
      const kg = await runCli(['keygen', '--name', `witness.example/${name}`, '--cosigner', '--out', tmp.join(name)]);
      expect(kg.code, kg.stderr).toBe(0);
      const child = spawnCli([
        'witness',
        'serve',
        '--state-dir',
        tmp.join(`${name}-state`),
        '--key',
        tmp.join(`${name}.key`),
        '--log',
        log.keys.verifierKey,
        '--port',
        '0',
      ]);
      const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
      witnesses.push({ url: m[1] as string, key: kg.stdout.trim() });
    }
    const r = await cosignWithQuorum(log.checkpoint(), witnesses, { quorum: 2, proveFrom: (f) => log.proof(f) });
    expect(r.cosigned.map((c) => c.name)).toEqual(['witness.example/w1', 'witness.example/w2']);
    const verifiers = witnesses.map((w) => parseVerifierKey(w.key));
    expect(openNote(r.cosignedNote, verifiers).verifiedBy).toHaveLength(2);
    log.append(4);
    const oldSizes = witnesses.map((w) => ({ ...w, oldSize: 9 }));
    const r2 = await cosignWithQuorum(log.checkpoint(), oldSizes, { quorum: 2, proveFrom: (f) => log.proof(f) });
    expect(r2.cosigned.every((c) => c.size === 13)).toBe(true);
  });
});
