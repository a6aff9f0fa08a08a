/**
 * Erasure and legal holds: `eraseSubject` / `ironlog erase` refuse while an active hold covers a
 * record of the subject (GDPR Art. 17(3)(e)) and erase once it is cleared; every call leaves one
 * custody entry with a keyed pseudonym of the subject, never its id or key id. And the
 * transparency-log entry reader (`readLogEntries`) refuses a segment that is not a regular file,
 * as the WAL readers do. Real sinks, real files, the real CLI.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listLogSegments, readLogEntries } from '../dist/compliance/entries.js';
import { clearHold, setHold } from '../dist/compliance/holds.js';
import {
  ErrorCodes,
  eraseSubject,
  kErased,
  listCustodyEntries,
  openSink,
  readProtectedWal,
  verifyCustodyLog,
} from '../dist/main/index.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDir } from './helpers/tmp.js';

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-erasure-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
});

// biome-ignore lint/suspicious/noExplicitAny: decoded test events of any shape
type Ev = Record<string, any>;

const kSubjects = ['subject-alice-7731', 'subject-bob-5520', 'subject-carol-9043'] as const;
const [kAlice, kBob, kCarol] = kSubjects;

/** A WAL with record encryption and subject keys: seq 1 alice, 2-3 bob, 4 carol. */
async function protectedWal(): Promise<{ dir: string; keyFile: string; keyProvider: { type: 'file'; path: string } }> {
  const keyFile = tmp.join('master-keys.json');
  fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
  const keyProvider = { type: 'file' as const, path: keyFile };
  const dir = tmp.join('wal');
  const sink = await openSink({
    dir,
    encryption: true,
    subjectEncryption: { subjectPath: 'user.id', fields: ['user.name'] },
    keyProvider,
  });
  for (const id of [kAlice, kBob, kBob, kCarol])
    await sink.emit({ user: { id, name: `name of ${id}` }, action: 'view' });
  await sink.close();
  return { dir, keyFile, keyProvider };
}

async function names(dir: string, keyProvider: { type: 'file'; path: string }): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of readProtectedWal(dir, { keyProvider })) out.push((r.event as Ev).user.name);
  return out;
}

function eraseEntries(dir: string) {
  return listCustodyEntries(path.join(dir, 'custody')).entries.filter((e) => e.action === 'erase');
}

describe('eraseSubject under a legal hold', () => {
  it('refuses while a hold covers a record of the subject (named, nothing erased), not for holds elsewhere; erases once cleared', async () => {
    const { dir, keyProvider } = await protectedWal();
    const custody = { actor: 'dpo@example.com' };
    // A hold on bob's records only (seq 2-3).
    const onBob = await setHold(dir, { reason: 'claim 2026-117', fromSeq: 2, toSeq: 3, custody });

    // Alice has no record in the held range: her erasure is not delayed.
    const alice = await eraseSubject(dir, kAlice, { keyProvider, custody });
    expect(alice).toEqual({ erased: true, kid: expect.any(String) });

    const refused = await eraseSubject(dir, kBob, { keyProvider, custody }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: ErrorCodes.LEGAL_HOLD,
      message: expect.stringContaining(`legal hold ${onBob.id} (claim 2026-117)`),
    });
    expect((refused as Error).message).toContain('nothing was erased');
    expect((refused as Error).message).not.toContain(kBob);
    expect(await names(dir, keyProvider)).toEqual([kErased, `name of ${kBob}`, `name of ${kBob}`, `name of ${kCarol}`]);

    // A hold over the whole directory covers every subject; the error names every covering hold.
    const all = await setHold(dir, { reason: 'regulator inquiry', custody });
    await expect(eraseSubject(dir, kCarol, { keyProvider, custody })).rejects.toMatchObject({
      code: ErrorCodes.LEGAL_HOLD,
      message: expect.stringMatching(new RegExp(`legal hold ${all.id} \\(regulator inquiry\\) covers`)),
    });
    const both = await eraseSubject(dir, kBob, { keyProvider, custody }).catch((e: Error) => e);
    expect(both).toMatchObject({ code: ErrorCodes.LEGAL_HOLD });
    expect((both as Error).message).toContain(onBob.id);
    expect((both as Error).message).toContain(all.id);

    // A cleared hold no longer blocks.
    await clearHold(dir, onBob.id, { reason: 'settled', custody });
    await expect(eraseSubject(dir, kBob, { keyProvider, custody })).rejects.toMatchObject({
      code: ErrorCodes.LEGAL_HOLD,
      message: expect.not.stringContaining(onBob.id),
    });
    await clearHold(dir, all.id, { reason: 'closed', custody });
    const bob = await eraseSubject(dir, kBob, { keyProvider, custody });
    expect(bob).toEqual({ erased: true, kid: expect.any(String) });
    expect(await names(dir, keyProvider)).toEqual([kErased, kErased, kErased, `name of ${kCarol}`]);
    // Nothing left to erase: recorded too.
    expect(await eraseSubject(dir, kBob, { keyProvider, custody })).toEqual({ erased: false });

    // One custody entry per call: outcome, refusing holds, the subject's pseudonym only.
    const entries = eraseEntries(dir);
    expect(
      entries.map((e) => [e.result.status, e.result.code ?? null, e.details?.['erased'], e.details?.['holds']]),
    ).toEqual([
      ['ok', null, true, undefined],
      ['error', ErrorCodes.LEGAL_HOLD, false, onBob.id],
      ['error', ErrorCodes.LEGAL_HOLD, false, all.id],
      ['error', ErrorCodes.LEGAL_HOLD, false, `${onBob.id},${all.id}`],
      ['error', ErrorCodes.LEGAL_HOLD, false, all.id],
      ['ok', null, true, undefined],
      ['ok', null, false, undefined],
    ]);
    for (const e of entries) {
      expect(e).toMatchObject({ actor: 'dpo@example.com', via: 'library', target: path.resolve(dir) });
      expect(e.details?.['subject']).toMatch(/^[0-9a-f]{64}$/);
    }
    const pseudonyms = entries.map((e) => e.details?.['subject']);
    const [pAlice, pBob, pCarol] = [pseudonyms[0], pseudonyms[1], pseudonyms[2]];
    expect(new Set([pAlice, pBob, pCarol]).size).toBe(3);
    expect(pseudonyms).toEqual([pAlice, pBob, pCarol, pBob, pBob, pBob, pBob]);
    // Neither a subject id nor an erased key id is in the custody log (the key id would link the
    // entry to the subject's records).
    const log = fs.readFileSync(path.join(dir, 'custody', 'custody.log'), 'utf8');
    for (const needle of [...kSubjects, alice.kid as string, bob.kid as string]) expect(log).not.toContain(needle);
    // Pseudonyms name no file in the key store.
    for (const p of pseudonyms) {
      expect(fs.readdirSync(path.join(dir, 'keys', 'subject-index'))).not.toContain(p);
    }
    expect(await verifyCustodyLog(path.join(dir, 'custody'))).toMatchObject({ valid: true });
  });

  it('custody: false notes that erase ran without custody; custody.dir keeps the entry elsewhere', async () => {
    const { dir, keyProvider } = await protectedWal();
    expect(await eraseSubject(dir, kAlice, { keyProvider, custody: false })).toMatchObject({ erased: true });
    const { entries } = listCustodyEntries(path.join(dir, 'custody'));
    expect(entries.map((e) => [e.action, e.details?.['of']])).toEqual([['custody-off', 'erase']]);
    const elsewhere = tmp.join('custody-elsewhere');
    await eraseSubject(dir, kBob, { keyProvider, custody: { dir: elsewhere } });
    expect(listCustodyEntries(elsewhere).entries.map((e) => [e.action, e.details?.['erased']])).toEqual([
      ['erase', true],
    ]);
  });
});

describe('ironlog erase under a legal hold', () => {
  it('exits 2 with one ERR_IRONLOG_LEGAL_HOLD line naming the hold, erases nothing; one custody entry per run', async () => {
    const { dir, keyFile, keyProvider } = await protectedWal();
    const set = await runCli(['hold', 'set', '--dir', dir, '--reason', 'Art. 17(3)(e) claim 9', '--json']);
    expect(set.code, set.stderr).toBe(0);
    const hold = JSON.parse(set.stdout) as { id: string };

    const refused = await runCli(['erase', '--dir', dir, '--subject', kBob, '--key-file', keyFile, '--actor', 'dpo']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^ironlog: ERR_IRONLOG_LEGAL_HOLD: erase refused, nothing was erased: legal hold ${hold.id} \\(`),
    );
    expect(await names(dir, keyProvider)).toEqual([
      `name of ${kAlice}`,
      `name of ${kBob}`,
      `name of ${kBob}`,
      `name of ${kCarol}`,
    ]);

    const clear = await runCli(['hold', 'clear', '--dir', dir, '--id', hold.id, '--reason', 'closed']);
    expect(clear.code, clear.stderr).toBe(0);
    const erased = await runCli(['erase', '--dir', dir, '--subject', kBob, '--key-file', keyFile, '--json']);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toEqual({ subjectErased: true, kid: expect.any(String) });

    // Exactly one entry per run (the library call's; the program hooks add none of their own).
    const entries = eraseEntries(dir);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      actor: 'dpo',
      via: 'cli',
      result: { status: 'error', code: ErrorCodes.LEGAL_HOLD },
      details: { holds: hold.id, erased: false, subject: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(entries[1]).toMatchObject({ via: 'cli', result: { status: 'ok' }, details: { erased: true } });
    expect(entries[1]?.details?.['subject']).toBe(entries[0]?.details?.['subject']);
    expect(fs.readFileSync(path.join(dir, 'custody', 'custody.log'), 'utf8')).not.toContain(kBob);

    // --no-custody: the note instead of an entry.
    const off = await runCli(['erase', '--dir', dir, '--subject', kAlice, '--key-file', keyFile, '--no-custody']);
    expect(off.code, off.stderr).toBe(0);
    const last = listCustodyEntries(path.join(dir, 'custody')).entries.at(-1);
    expect(last).toMatchObject({ action: 'custody-off', details: { of: 'erase' } });
  });
});

describe('the transparency-log entry reader takes regular files only', () => {
  async function wal(): Promise<{ dir: string; segments: string[] }> {
    const dir = tmp.join('tlog-wal');
    const sink = await openSink({ dir, segmentBytes: 64 * 1024, maxBatchBytes: 4096, maxEventBytes: 4096 });
    for (let i = 0; i < 600; i++) await sink.emit({ i, pad: 'x'.repeat(200) });
    await sink.close();
    const segments = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort();
    expect(segments.length).toBeGreaterThanOrEqual(2);
    return { dir, segments };
  }

  async function entries(dir: string): Promise<number> {
    let n = 0;
    for await (const batch of readLogEntries(dir)) n += batch.length;
    return n;
  }

  it('a segment that is a symbolic link (to a valid copy), a FIFO or a directory: ERR_IRONLOG_SEGMENT_NOT_FILE', async () => {
    const { dir, segments } = await wal();
    expect(await entries(dir)).toBe(600);
    // A symbolic link to the intact segment itself: following it would read fine, and is refused.
    const first = path.join(dir, segments[0] as string);
    const outside = tmp.join('outside.wal');
    fs.renameSync(first, outside);
    fs.symlinkSync(outside, first);
    await expect(listLogSegments(dir)).rejects.toMatchObject({
      code: ErrorCodes.SEGMENT_NOT_FILE,
      message: expect.stringContaining('is a symbolic link'),
    });
    await expect(entries(dir)).rejects.toMatchObject({ code: ErrorCodes.SEGMENT_NOT_FILE });
    fs.rmSync(first);
    fs.renameSync(outside, first);
    expect(await entries(dir)).toBe(600);

    // A FIFO named like the next segment: opening it would block the reader for good.
    const next = path.join(dir, '00000000000000099999.wal');
    const mk = spawnSync('mkfifo', [next]);
    if (mk.status !== 0) throw new Error(`mkfifo failed: ${String(mk.stderr)}`);
    expect(fs.lstatSync(next).isFIFO()).toBe(true);
    await expect(entries(dir)).rejects.toMatchObject({
      code: ErrorCodes.SEGMENT_NOT_FILE,
      message: expect.stringContaining('is a FIFO'),
    });
    fs.rmSync(next);
    fs.mkdirSync(next);
    await expect(entries(dir)).rejects.toMatchObject({
      code: ErrorCodes.SEGMENT_NOT_FILE,
      message: expect.stringContaining('is a directory'),
    });
  });
});
