/**
 * Data protection through a real sink (issue 11): masking and pseudonymization in the producer
 * (main thread and worker threads), subject keys, crypto-shredding. Every plaintext check greps
 * the raw bytes of every file under the WAL directory.
 */
import { randomBytes } from 'node:crypto';
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
    const sink = await openSink({ dir: tmp.path, masking, pseudonymization: kPseudoKey });
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
    const again = await openSink({ dir: tmp.path, masking, pseudonymization: kPseudoKey });
    await again.emit(ev(0));
    await again.close();
    const all = (await events(tmp.path)) as Ev[];
    expect(all[5]?.user.email).toBe(all[0]?.user.email);
  });

  it('a worker-thread producer applies the same rules (carried as data in the descriptor)', async () => {
    const sink = await openSink({ dir: tmp.path, masking, pseudonymization: kPseudoKey });
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
      openSink({ dir: tmp.path, masking: { fields: [{ path: 'a..b', action: 'remove' }] } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: expect.stringContaining('options.masking.fields[0].path'),
    });
    await expect(openSink({ dir: tmp.path, masking: { patterns: [{ pattern: '(' }] } })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    await expect(
      openSink({ dir: tmp.path, masking: { fields: [{ path: 'a', action: 'pseudonymize' }] } }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining('pseudonymization') });
    await expect(
      openSink({ dir: tmp.path, pseudonymization: { keyId: 'k', key: randomBytes(8) } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
    });
    expect(segmentFiles(tmp.path)).toEqual([]);
  });
});
