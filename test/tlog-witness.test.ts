/**
 * A signed sink with a real `ironlog witness serve` child process (port 0): every checkpoint is
 * cosigned, `verify` can require k cosignatures, and a witness that is down is reported without
 * stopping the emits. `npm run build` first.
 */
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateCosignerKey } from '../dist/compliance/cosignature.js';
import { generateSignerKey, parseNote } from '../dist/compliance/note.js';
import { type IronlogError, openSink } from '../dist/main/index.js';
import { killChildren, runCli, spawnCli, waitForOutput } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-tlog-witness-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

const log = generateSignerKey('example.com/audit');

async function startWitness(name: string): Promise<{ url: string; verifierKey: string }> {
  const w = generateCosignerKey(name);
  const keyFile = tmp.join(`${name.replace(/\W/g, '_')}.key`);
  fs.writeFileSync(keyFile, `${w.signerKey}\n`, { mode: 0o600 });
  const child = spawnCli([
    'witness',
    'serve',
    '--state-dir',
    tmp.join(`state-${name.replace(/\W/g, '_')}`),
    '--key',
    keyFile,
    '--log',
    log.verifierKey,
    '--port',
    '0',
  ]);
  const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { url: m[1] as string, verifierKey: w.verifierKey };
}

describe('signed WAL with witnesses', () => {
  it('every checkpoint is cosigned; verify requires k of the witness keys', async () => {
    const w1 = await startWitness('witness.example/w1');
    const other = generateCosignerKey('witness.example/w2');
    const dir = tmp.join('wal');
    const sink = await openSink({
      dir,
      signing: { key: log.signerKey, witnesses: [{ url: w1.url, key: w1.verifierKey }], witnessQuorum: 1 },
    });
    const errors: IronlogError[] = [];
    sink.events.on('witnessError', (e) => errors.push(e));
    try {
      const acks = await sink.emitBatch([{ a: 1 }, { a: 2 }]);
      const proof = await sink.prove((acks[1] as { seq: number }).seq);
      const sigs = parseNote(proof.checkpoint).signatures.map((s) => s.name);
      expect(sigs).toEqual(['example.com/audit', 'witness.example/w1']);
      expect(sink.checkpointStatus()?.witnesses[0]).toMatchObject({ name: 'witness.example/w1', lastError: undefined });
      expect(sink.checkpointStatus()?.witnesses[0]?.cosignedSize).toBeGreaterThanOrEqual(2);
      await sink.emit({ a: 3 });
    } finally {
      await sink.close();
    }
    expect(errors).toEqual([]);
    const latest = fs.readFileSync(tmp.join('wal', 'tlog', 'checkpoint'), 'utf8');
    expect(parseNote(latest).signatures.map((s) => s.name)).toEqual(['example.com/audit', 'witness.example/w1']);

    const ok = await runCli([
      'verify',
      '--dir',
      dir,
      '--public-key',
      log.verifierKey,
      '--witness-key',
      w1.verifierKey,
      '--witnesses',
      '1',
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('cosignatures: 1 of 1 required (witness.example/w1)');
    const two = await runCli([
      'verify',
      '--dir',
      dir,
      '--public-key',
      log.verifierKey,
      '--witness-key',
      w1.verifierKey,
      '--witness-key',
      other.verifierKey,
      '--witnesses',
      '2',
    ]);
    expect(two.code).toBe(1);
    expect(two.stdout).toMatch(/cosignature.*1 valid witness cosignature\(s\), 2 required/);
  });

  it('a witness that is down is reported; emits and checkpoints go on', async () => {
    const dead = generateCosignerKey('witness.example/dead');
    const dir = tmp.join('wal');
    const sink = await openSink({
      dir,
      signing: {
        key: log.signerKey,
        witnesses: [{ url: 'http://127.0.0.1:9', key: dead.verifierKey }],
        witnessTimeoutMs: 2_000,
      },
    });
    const errors: string[] = [];
    sink.events.on('witnessError', (e) => errors.push(e.code));
    try {
      const ack = await sink.emit({ a: 1 });
      const proof = await sink.prove(ack.seq);
      expect(parseNote(proof.checkpoint).signatures.map((s) => s.name)).toEqual(['example.com/audit']);
      await until(() => errors.includes('ERR_IRONLOG_WITNESS_QUORUM'), 10_000, 'a quorum error');
      expect(errors).toContain('ERR_IRONLOG_WITNESS_UNAVAILABLE');
      expect(sink.checkpointStatus()?.witnesses[0]?.lastError?.code).toBe('ERR_IRONLOG_WITNESS_UNAVAILABLE');
    } finally {
      await sink.close();
    }
    const r = await runCli(['verify', '--dir', dir, '--public-key', log.verifierKey]);
    expect(r.code, r.stdout).toBe(0);
  });
});
