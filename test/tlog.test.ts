/**
 * The signed transparency log end to end: a real sink with its writer and checkpointer workers,
 * real segment files, the real `ironlog` CLI as child processes (`npm run build` first).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../dist/compliance/checkpoint.js';
import { readLogEntries } from '../dist/compliance/entries.js';
import { leafHash, verifyInclusion } from '../dist/compliance/merkle.js';
import {
  generateSignerKey,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../dist/compliance/note.js';
import { parseTimeNote } from '../dist/compliance/time-note.js';
import { openSink, type RecordProof, verifyWal } from '../dist/main/index.js';
import { readU64 } from '../dist/wal/bytes.js';
import { WalWriter } from '../dist/wal/writer.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

const keys = generateSignerKey('example.com/audit');
const otherKeys = generateSignerKey('example.com/audit');
const kEvents = 1000;

let base: TempDir;
const temps: TempDir[] = [];

function tempDir(): TempDir {
  const t = new TempDir('ironlog-tlog-');
  temps.push(t);
  return t;
}

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort();
}

/** A copy of the signed base WAL (segments and tlog/) to attack. */
function copyOfBase(): string {
  const t = tempDir();
  const dir = t.join('wal');
  fs.cpSync(base.join('wal'), dir, { recursive: true });
  return dir;
}

async function verifyCli(
  dir: string,
  extra: string[] = [],
): Promise<{ code: number | null; stdout: string; json: VerifyJson }> {
  const r = await runCli(['verify', '--dir', dir, '--public-key', keys.verifierKey, '--json', ...extra]);
  expect(r.stderr).toBe('');
  return { code: r.code, stdout: r.stdout, json: JSON.parse(r.stdout) as VerifyJson };
}

interface VerifyJson {
  valid: boolean;
  entries: number;
  problems: Array<{ kind: string; message: string; counter?: number }>;
  uncoveredPeriods: Array<{ from: string; to: string; reason: string; durationMs: number }>;
  downtimes: unknown[];
}

beforeAll(async () => {
  base = new TempDir('ironlog-tlog-base-');
  const dir = base.join('wal');
  const sink = await openSink({
    dir,
    segmentBytes: 64 * 1024,
    ringBytes: 64 * 1024,
    signing: { key: keys.signerKey, origin: 'example.com/audit' },
  });
  const seen: string[] = [];
  sink.events.on('checkpoint', (c) => seen.push(c.event));
  for (let i = 0; i < kEvents; i += 20) {
    await sink.emitBatch(
      Array.from({ length: 20 }, (_, k) => ({ i: i + k, user: `u${(i + k) % 7}`, pad: 'p'.repeat(250) })),
    );
  }
  await until(() => seen.includes('seal'), 20_000, 'a seal checkpoint');
  await sink.close();
  expect(segments(dir).length).toBeGreaterThanOrEqual(3);
});

afterEach(async () => {
  await killChildren();
});

afterAll(() => {
  for (const t of temps) t.dispose();
  base?.dispose();
});

describe('signed WAL: round trip', () => {
  it('verifies with the public key, prints the checkpoint byte for byte, and proves records', async () => {
    const dir = base.join('wal');
    const ok = await verifyCli(dir);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.json.valid).toBe(true);
    expect(ok.json.entries).toBe(kEvents);

    const human = await runCli(['verify', '--dir', dir, '--public-key', keys.verifierKey]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /^valid: 1000 entries \(1000 records\) of example\.com\/audit, \d+ checkpoints, latest checkpoint \d+ \(close, size 1000/,
    );

    const cp = await runCli(['checkpoint', '--dir', dir]);
    expect(cp.code).toBe(0);
    expect(cp.stdout).toBe(fs.readFileSync(path.join(dir, 'tlog', 'checkpoint'), 'utf8'));
    const body = openNote(cp.stdout, [parseVerifierKey(keys.verifierKey)]).text;
    expect(parseCheckpoint(body)).toMatchObject({ origin: 'example.com/audit', size: kEvents });

    const t = tempDir();
    for (const seq of [1, 256, 257, kEvents]) {
      const text = await runCli(['prove', '--dir', dir, '--seq', String(seq)]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout.startsWith('c2sp.org/tlog-proof@v1\n')).toBe(true);
      const textFile = t.join(`p${seq}.txt`);
      fs.writeFileSync(textFile, text.stdout);
      const v1 = await runCli(['verify-proof', '--proof', textFile, '--public-key', keys.verifierKey]);
      expect(v1.code, v1.stdout + v1.stderr).toBe(0);
      expect(v1.stdout).toContain(
        `valid: record seq ${seq} is entry ${seq - 1} of example.com/audit at tree size ${kEvents}`,
      );

      const json = await runCli(['prove', '--dir', dir, '--seq', String(seq), '--json']);
      expect(json.code, json.stderr).toBe(0);
      const proof = JSON.parse(json.stdout) as RecordProof;
      expect(Object.keys(proof).sort()).toEqual([
        'checkpoint',
        'index',
        'leafData',
        'leafHash',
        'proof',
        'seq',
        'treeSize',
      ]);
      expect(proof).toMatchObject({ seq, index: seq - 1, treeSize: kEvents, checkpoint: cp.stdout });
      const jsonFile = t.join(`p${seq}.json`);
      fs.writeFileSync(jsonFile, json.stdout);
      const v2 = await runCli(['verify-proof', '--proof', jsonFile, '--public-key', keys.verifierKey]);
      expect(v2.code, v2.stdout + v2.stderr).toBe(0);

      // The proof also holds for the Merkle module directly, and the leaf is the stored frame.
      const entry = Buffer.from(proof.leafData, 'base64');
      expect(readU64(entry, 16)).toBe(seq);
      expect(leafHash(entry).toString('base64')).toBe(proof.leafHash);
      const root = parseCheckpoint(parseNote(proof.checkpoint).text).rootHash;
      verifyInclusion(
        leafHash(entry),
        proof.index,
        proof.treeSize,
        proof.proof.map((h) => Buffer.from(h, 'base64')),
        root,
      );

      // A tampered proof is refused with exit 1.
      const bad = { ...proof, index: proof.index === 0 ? 1 : proof.index - 1 };
      fs.writeFileSync(jsonFile, JSON.stringify(bad));
      const v3 = await runCli(['verify-proof', '--proof', jsonFile, '--public-key', keys.verifierKey]);
      expect(v3.code).toBe(1);
      expect(v3.stdout).toMatch(/^INVALID: ERR_IRONLOG_PROOF_INVALID/);
    }

    const cons = await runCli(['prove', '--dir', dir, '--consistency', '--from-size', '100', '--json']);
    expect(cons.code, cons.stderr).toBe(0);
    fs.writeFileSync(t.join('c.json'), cons.stdout);
    const vc = await runCli(['verify-proof', '--proof', t.join('c.json'), '--public-key', keys.verifierKey]);
    expect(vc.code, vc.stdout + vc.stderr).toBe(0);

    // The text form of a consistency proof, checked against an older checkpoint the auditor holds.
    const oldNote = fs.readFileSync(path.join(dir, 'tlog', 'checkpoints', '00000000000000000002.note'), 'utf8');
    fs.writeFileSync(t.join('old.note'), oldNote);
    const oldSize = parseCheckpoint(parseNote(oldNote).text).size;
    const consText = await runCli(['prove', '--dir', dir, '--consistency', '--from-size', String(oldSize)]);
    expect(consText.code, consText.stderr).toBe(0);
    expect(consText.stdout.startsWith(`old ${oldSize}\n`)).toBe(true);
    fs.writeFileSync(t.join('c.txt'), consText.stdout);
    const vct = await runCli([
      'verify-proof',
      '--proof',
      t.join('c.txt'),
      '--public-key',
      keys.verifierKey,
      '--old-checkpoint',
      t.join('old.note'),
    ]);
    expect(vct.code, vct.stdout + vct.stderr).toBe(0);
    const noOld = await runCli(['verify-proof', '--proof', t.join('c.txt'), '--public-key', keys.verifierKey]);
    expect(noOld.code).toBe(2);

    // Another log key: the proof is invalid (1); a malformed key is a usage error (2).
    const wrong = await runCli(['verify-proof', '--proof', t.join('p1.txt'), '--public-key', otherKeys.verifierKey]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^INVALID: ERR_IRONLOG_SIGNATURE_INVALID/);
    const usage = await runCli(['verify-proof', '--proof', t.join('p1.txt'), '--public-key', 'not-a-key']);
    expect(usage.code).toBe(2);
  });

  it('sink.prove signs a checkpoint covering a fresh record and the proof verifies offline', async () => {
    const t = tempDir();
    const dir = t.join('wal');
    const sink = await openSink({ dir, signing: { key: { file: writeKey(t, keys.signerKey) } } });
    try {
      const acks = await sink.emitBatch([{ a: 1 }, { a: 2 }, { a: 3 }]);
      const seq = (acks[1] as { seq: number }).seq;
      const proof = await sink.prove(seq);
      expect(proof).toMatchObject({ seq, index: seq - 1 });
      expect(proof.treeSize).toBeGreaterThanOrEqual(3);
      expect(sink.checkpointStatus()?.last?.event).toBe('prove');
      const f = t.join('proof.json');
      fs.writeFileSync(f, JSON.stringify(proof));
      const v = await runCli(['verify-proof', '--proof', f, '--public-key', keys.verifierKey]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      await expect(sink.prove(10_000)).rejects.toMatchObject({ code: 'ERR_IRONLOG_NOT_CHECKPOINTED' });
    } finally {
      await sink.close();
    }
  });

  it('rejects bad signing options with typed errors', async () => {
    const t = tempDir();
    await expect(openSink({ dir: t.path, signing: { key: 42 as unknown as string } })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
      message: expect.stringContaining('options.signing.key must be'),
    });
    await expect(openSink({ dir: t.path, signing: { key: 'PRIVATE+KEY+nope' } })).rejects.toMatchObject({
      code: 'ERR_IRONLOG_KEY_INVALID',
    });
    await expect(
      openSink({ dir: t.path, signing: { key: keys.signerKey, checkpointIntervalMs: 1 } }),
    ).rejects.toMatchObject({
      code: 'ERR_IRONLOG_INVALID_OPTION',
      message: expect.stringContaining('checkpointIntervalMs'),
    });
  });
});

function writeKey(t: TempDir, key: string): string {
  const f = t.join('log.key');
  fs.writeFileSync(f, `${key}\n`, { mode: 0o600 });
  return f;
}

function kinds(j: VerifyJson): string[] {
  return j.problems.map((p) => p.kind);
}

describe('signed WAL: attacks caught by verify --public-key', () => {
  it('a flipped byte in a sealed segment', async () => {
    const dir = copyOfBase();
    const file = path.join(dir, segments(dir)[1] as string);
    const buf = fs.readFileSync(file);
    const at = buf.indexOf(Buffer.from('pppp'));
    buf[at] = (buf[at] as number) ^ 0x01;
    fs.writeFileSync(file, buf);
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(kinds(r.json)).toContain('entries');
    expect(r.json.problems.find((p) => p.kind === 'entries')?.message).toMatch(/CRC-32C mismatch/);
  });

  it('a deleted checkpoint', async () => {
    const dir = copyOfBase();
    const cps = path.join(dir, 'tlog', 'checkpoints');
    fs.rmSync(path.join(cps, '00000000000000000002.note'));
    fs.rmSync(path.join(cps, '00000000000000000002.time'));
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.json.problems).toContainEqual(
      expect.objectContaining({ kind: 'checkpoint-sequence', message: 'checkpoint 2 is missing (deleted?)' }),
    );
  });

  it('two segments swapped', async () => {
    const dir = copyOfBase();
    const [, a, b] = segments(dir) as [string, string, string];
    const ba = fs.readFileSync(path.join(dir, a));
    const bb = fs.readFileSync(path.join(dir, b));
    fs.writeFileSync(path.join(dir, a), bb);
    fs.writeFileSync(path.join(dir, b), ba);
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.json.problems.find((p) => p.kind === 'entries')?.message).toMatch(/header says first seq/);
  });

  it('a checkpoint replaced by one signed with another key', async () => {
    const dir = copyOfBase();
    const file = path.join(dir, 'tlog', 'checkpoints', '00000000000000000002.note');
    const text = parseNote(fs.readFileSync(file, 'utf8')).text;
    fs.writeFileSync(file, signNote(text, [parseSignerKey(otherKeys.signerKey)]));
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.json.problems).toContainEqual(expect.objectContaining({ kind: 'signature', counter: 2 }));
  });

  it('a forged history: every CRC, chain hash, Merkle root and seal recomputed without the key', async () => {
    const dir = copyOfBase();
    // The attacker rewrites record 300 (same length) and rebuilds every segment with the WAL
    // writer itself, so the WAL alone is perfectly consistent.
    const forged = tempDir().join('forged');
    const w = WalWriter.open({
      dir: forged,
      nodeId: 'node',
      segmentBytes: 64 * 1024,
      segmentMaxAgeMs: 3_600_000,
      zeroFillAheadBytes: 0,
    });
    let n = 0;
    for await (const batch of readLogEntries(dir)) {
      for (const e of batch) {
        const frame = Buffer.from(e.bytes);
        const payload = frame.subarray(32);
        if (e.seq === 300) {
          const at = payload.indexOf(Buffer.from('pppp'));
          payload[at] = 'q'.charCodeAt(0);
        }
        w.batch.addRecord(e.seq, readU64(frame, 24), frame[9] as number, payload, 0, payload.length);
        if (++n % 20 === 0) {
          w.appendBatch();
          w.sync();
        }
      }
    }
    w.seal();
    w.close();
    for (const s of segments(dir)) fs.rmSync(path.join(dir, s));
    for (const s of segments(forged)) fs.copyFileSync(path.join(forged, s), path.join(dir, s));
    const wal = await verifyWal(dir);
    expect(wal.valid, JSON.stringify(wal.problems)).toBe(true);
    const plain = await runCli(['verify', '--dir', dir]);
    expect(plain.code).toBe(0); // without the key the forgery passes...
    const r = await verifyCli(dir);
    expect(r.code).toBe(1); // ...with it, every checkpoint past record 300 disagrees
    expect(kinds(r.json)).toContain('root-mismatch');
    expect(r.json.problems.find((p) => p.kind === 'root-mismatch')?.message).toMatch(
      /the WAL differs from what the key signed/,
    );
  });
});

describe('signed WAL: time coverage', () => {
  it('an idle sink signs interval checkpoints; verify passes', async () => {
    const t = tempDir();
    const dir = t.join('wal');
    const sink = await openSink({ dir, signing: { key: keys.signerKey, checkpointIntervalMs: 100 } });
    let intervals = 0;
    sink.events.on('checkpoint', (c) => {
      if (c.event === 'interval') intervals++;
    });
    await until(() => intervals >= 3, 30_000, 'three interval checkpoints');
    await sink.close();
    const events = fs
      .readdirSync(path.join(dir, 'tlog', 'checkpoints'))
      .filter((n) => n.endsWith('.time'))
      .sort()
      .map(
        (n) => parseTimeNote(parseNote(fs.readFileSync(path.join(dir, 'tlog', 'checkpoints', n), 'utf8')).text).event,
      );
    expect(events[0]).toBe('open');
    expect(events.filter((e) => e === 'interval').length).toBeGreaterThanOrEqual(3);
    expect(events[events.length - 1]).toBe('close');
    const r = await verifyCli(dir);
    expect(r.code, r.stdout).toBe(0);
  });

  it('lists a period without checkpoints (a clock jump), and a clean close/open as a downtime', async () => {
    const t = tempDir();
    const dir = t.join('wal');
    let offsetMs = 0;
    const clock = (): number => Date.now() + offsetMs;
    const open = () => openSink({ dir, clock, signing: { key: keys.signerKey, checkpointIntervalMs: 100 } });
    let sink = await open();
    let count = 0;
    sink.events.on('checkpoint', () => count++);
    await sink.emit({ a: 1 });
    await until(() => count >= 2, 30_000, 'interval checkpoints');
    offsetMs = 3_600_000; // the next time note is an hour later: nothing covers that hour
    const before = count;
    await until(() => count >= before + 2, 30_000, 'checkpoints after the jump');
    await sink.close();
    offsetMs += 600_000; // closed for ten minutes: planned, not a problem
    sink = await open();
    await sink.emit({ a: 2 });
    await sink.close();
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.json.uncoveredPeriods).toHaveLength(1);
    const p = r.json.uncoveredPeriods[0] as VerifyJson['uncoveredPeriods'][number];
    expect(p.reason).toBe('missed');
    expect(p.durationMs).toBeGreaterThanOrEqual(3_600_000);
    expect(r.json.downtimes).toHaveLength(1);
    const human = await runCli(['verify', '--dir', dir, '--public-key', keys.verifierKey]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/uncovered period \d{4}-\d\d-\d\dT\S+Z - \d{4}-\d\d-\d\dT\S+Z \(\d+ s, missed\)/);
    expect(human.stdout).toMatch(/closed \S+ - \S+ \(clean close, then open\)/);
  });
});

describe('signed WAL: records appended after a clean close', () => {
  it('are reported as not covered by any checkpoint', async () => {
    const dir = copyOfBase();
    // Someone with write access (but not the key) continues the open segment with a new batch.
    const w = WalWriter.open({
      dir,
      nodeId: 'node',
      segmentBytes: 64 * 1024,
      segmentMaxAgeMs: 3_600_000,
      zeroFillAheadBytes: 0,
    });
    const payload = Buffer.from([0x81, 0xa1, 0x78, 0x01]);
    w.batch.addRecord(w.lastSeq + 1, Date.now() * 1000, 0, payload, 0, payload.length);
    w.appendBatch();
    w.sync();
    w.close();
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.json.problems).toContainEqual(
      expect.objectContaining({
        kind: 'uncovered-records',
        message: expect.stringContaining(`seqs ${kEvents + 1}-${kEvents + 1}`),
      }),
    );
  });
});

describe('signed WAL: a crash', () => {
  it('the next open catches up, says the previous run did not close, and the gap is listed as a crash', async () => {
    const t = tempDir();
    const dir = t.join('wal');
    const script = t.join('child.mjs');
    const index = new URL('../dist/main/index.js', import.meta.url).href;
    fs.writeFileSync(
      script,
      `import { openSink } from ${JSON.stringify(index)};
const sink = await openSink({ dir: ${JSON.stringify(dir)}, signing: { key: ${JSON.stringify(keys.signerKey)}, checkpointIntervalMs: 100 } });
let n = 0;
sink.events.on('checkpoint', () => { n++; });
for (let i = 0; i < 50; i++) await sink.emit({ i });
const wait = () => (n >= 3 ? process.stdout.write('emitted\\n') : setTimeout(wait, 10));
wait();
setInterval(() => sink.emit({ more: true }), 5);
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('emitted')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
    }
    await new Promise((r) => setTimeout(r, 600));
    const sink = await openSink({ dir, signing: { key: keys.signerKey, checkpointIntervalMs: 100 } });
    const status = sink.checkpointStatus();
    expect(status?.last).toMatchObject({ event: 'open', uncleanStart: true });
    const durable = sink.durableSeq;
    expect(status?.last?.throughSeq).toBe(durable);
    await sink.close();
    // Default slack (5 s): a quick restart is covered; no slack: the crash gap is listed.
    const ok = await verifyCli(dir);
    expect(ok.code, ok.stdout).toBe(0);
    const strict = await verifyCli(dir, ['--time-slack', '0ms']);
    expect(strict.code).toBe(1);
    expect(strict.json.uncoveredPeriods.map((p) => p.reason)).toContain('crash');
  });
});

describe('signed WAL: gap entries', () => {
  it('a recovered WAL with lost seqs: the GAP is one entry, later seqs map past it, a lost seq proves its GAP', async () => {
    const t = tempDir();
    const damaged = t.join('damaged');
    const sink = await openSink({ dir: damaged });
    for (let i = 0; i < 200; i += 10) {
      await sink.emitBatch(Array.from({ length: 10 }, (_, k) => ({ mark: `M-${i + k}-E`, pad: 'g'.repeat(50) })));
    }
    await sink.close();
    // Damage records 100 and 101 (seqs 101, 102): recovery writes one RECOVERY_LOSS gap for both.
    for (const i of [100, 101]) {
      const file = path.join(damaged, segments(damaged)[0] as string);
      const buf = fs.readFileSync(file);
      const at = buf.indexOf(Buffer.from(`M-${i}-E`));
      buf[at + 2] = (buf[at + 2] as number) ^ 0x01;
      fs.writeFileSync(file, buf);
    }
    const { recoverWal } = await import('../dist/main/index.js');
    const dir = t.join('recovered');
    const report = await recoverWal(damaged, dir);
    expect(report.lost).toEqual([{ fromSeq: 101, toSeq: 102 }]);
    const signed = await openSink({ dir, signing: { key: keys.signerKey } });
    await signed.emit({ after: true }); // seq 201, entry 199
    const p = await signed.prove(201);
    expect(p).toMatchObject({ seq: 201, index: 199, treeSize: 200 });
    await signed.close();

    const lost = await runCli(['prove', '--dir', dir, '--seq', '102']);
    expect(lost.code, lost.stderr).toBe(0);
    fs.writeFileSync(t.join('gap.proof'), lost.stdout);
    const v = await runCli(['verify-proof', '--proof', t.join('gap.proof'), '--public-key', keys.verifierKey]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('valid: gap 101-102 is entry 100 of');
    const after = await runCli(['prove', '--dir', dir, '--seq', '150', '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ seq: 150, index: 148 });
    const r = await verifyCli(dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json.entries).toBe(200);
  });
});
