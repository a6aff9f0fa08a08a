/**
 * Compliance profiles: opening without a required piece fails with ERR_IRONLOG_COMPLIANCE_UNMET
 * naming the clause (and writes nothing); a correctly configured sink, really opened, written
 * and closed, passes `ironlog compliance check` (exit 0); the wrong profile or a damaged log
 * fails it (exit 1).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../dist/compliance/note.js';
import { ErrorCodes, openSink, type SinkOptions } from '../dist/main/index.js';
import { killChildren, runCli } from './helpers/cli.js';
import { TempDirs } from './helpers/tmp.js';

const dirs = new TempDirs();
afterEach(async () => {
  await killChildren();
  dirs.disposeAll();
});

const kKey = generateSignerKey('example.com/audit');
const kSmall = { segmentBytes: 64 * 1024, maxBatchBytes: 4096, maxEventBytes: 4096 } as const;

function base(): { dir: string; replica: string } {
  const root = dirs.make('ironlog-profiles-');
  return { dir: path.join(root, 'wal'), replica: path.join(root, 'replica') };
}

async function expectUnmet(options: SinkOptions, clause: string): Promise<void> {
  await expect(openSink(options)).rejects.toMatchObject({
    code: ErrorCodes.COMPLIANCE_UNMET,
    message: expect.stringContaining(clause),
  });
  // Refused at the edge: no directory, no compliance.json, no segment.
  expect(fs.existsSync(options.dir)).toBe(false);
}

async function writeSome(options: SinkOptions, n = 20): Promise<void> {
  const sink = await openSink(options);
  for (let i = 0; i < n; i++) {
    await sink.emit({ user: `u${i % 3}`, action: 'read', outcome: 'success', origin: 'app', resource: `r/${i}` });
  }
  await sink.close();
}

async function check(
  dir: string,
  profile: string,
): Promise<{ code: number | null; out: { ok: boolean; clauses: { id: string; status: string; detail: string }[] } }> {
  const r = await runCli(['compliance', 'check', '--dir', dir, '--profile', profile, '--json']);
  expect(r.stderr).toBe('');
  return { code: r.code, out: JSON.parse(r.stdout) };
}

describe('HIPAA', () => {
  it('needs a signing key (164.312(b)) and 6 years of retention (164.316(b)(2)(i))', async () => {
    const { dir } = base();
    await expectUnmet({ dir, compliance: { profile: 'HIPAA' } }, '45 CFR 164.312(b)');
    await expectUnmet({ dir, compliance: { profile: 'HIPAA' } }, 'needs options.signing');
    await expectUnmet(
      { dir, signing: { key: kKey.signerKey }, compliance: { profile: 'HIPAA', retentionDays: 365 } },
      '45 CFR 164.316(b)(2)(i) (Documentation: time limit (6 years)): compliance.retentionDays is 365, the minimum is 2192 days',
    );
  });

  it('a signed sink passes compliance check; the same log fails GDPR (no erasure, no pseudonymization)', async () => {
    const { dir } = base();
    await writeSome({ dir, ...kSmall, signing: { key: kKey.signerKey }, compliance: { profile: 'HIPAA' } });
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'compliance.json'), 'utf8'));
    expect(rec).toMatchObject({
      profile: 'HIPAA',
      retention: { retentionDays: 2192 },
      facts: { signing: { verifierKey: kKey.verifierKey } },
    });
    expect(JSON.stringify(rec)).not.toContain('PRIVATE');
    const ok = await check(dir, 'HIPAA');
    expect(ok.code).toBe(0);
    expect(ok.out.ok).toBe(true);
    expect(ok.out.clauses.find((c) => c.id === '45 CFR 164.312(b)')).toMatchObject({ status: 'met' });
    const gdpr = await check(dir, 'GDPR');
    expect(gdpr.code).toBe(1);
    expect(gdpr.out.clauses.find((c) => c.id === 'GDPR Art. 17(1)')).toMatchObject({ status: 'unmet' });
  });

  it('compliance check fails (exit 1) once a sealed segment is tampered with', async () => {
    const { dir } = base();
    await writeSome({ dir, ...kSmall, signing: { key: kKey.signerKey }, compliance: { profile: 'HIPAA' } }, 600);
    const seg = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort()[0] as string;
    const file = path.join(dir, seg);
    const bytes = fs.readFileSync(file);
    bytes[300] = (bytes[300] as number) ^ 0xff;
    fs.writeFileSync(file, bytes);
    const r = await check(dir, 'HIPAA');
    expect(r.code).toBe(1);
    expect(r.out.clauses.find((c) => c.id === '45 CFR 164.312(b)')).toMatchObject({ status: 'unmet' });
  });
});

describe('PCI-DSS', () => {
  it('needs signing (10.2.1.6, 10.3.2, 10.3.4), replication (10.3.3), alerting (10.7.2), 92 local days (10.5.1)', async () => {
    const { dir, replica } = base();
    await expectUnmet({ dir, compliance: { profile: 'PCI-DSS' } }, 'PCI DSS 10.3.2');
    const signed = { dir, signing: { key: kKey.signerKey }, metrics: true } as const;
    await expectUnmet(
      { ...signed, compliance: { profile: 'PCI-DSS' } },
      'PCI DSS 10.3.3 (Promptly backed up): needs options.replication',
    );
    const repl = { backends: [{ type: 'fs' as const, dir: replica }] };
    await expectUnmet(
      { dir, signing: { key: kKey.signerKey }, replication: repl, compliance: { profile: 'PCI-DSS' } },
      'PCI DSS 10.7.2',
    );
    await expectUnmet(
      { ...signed, replication: repl, compliance: { profile: 'PCI-DSS', localRetentionDays: 30 } },
      'PCI DSS 10.5.1 (Retention: 12 months, 3 immediately available): compliance.localRetentionDays is 30',
    );
    await expectUnmet(
      { ...signed, replication: repl, compliance: { profile: 'PCI-DSS', retentionDays: 200 } },
      'PCI DSS 10.5.1',
    );
  });

  it('a waiver turns an unmet clause into waived; a configured sink passes compliance check', async () => {
    const { dir, replica } = base();
    await writeSome({
      dir,
      ...kSmall,
      signing: { key: kKey.signerKey },
      replication: { backends: [{ type: 'fs', dir: replica }] },
      compliance: {
        profile: 'PCI-DSS',
        localRetentionDays: 92,
        waivers: { 'PCI DSS 10.7.2': 'alerts from the syslog relay' },
      },
    });
    // 10.3.1 is the operator's permission setting; the check reads it from the directory.
    fs.chmodSync(dir, 0o700);
    const r = await check(dir, 'PCI-DSS');
    expect(r.code).toBe(0);
    expect(r.out.clauses.find((c) => c.id === 'PCI DSS 10.7.2')).toMatchObject({
      status: 'waived',
      detail: expect.stringContaining('alerts from the syslog relay'),
    });
    expect(r.out.clauses.find((c) => c.id === 'PCI DSS 10.3.1')).toMatchObject({ status: 'met' });
    // 10.3.1: a directory others can read is reported.
    fs.chmodSync(dir, 0o755);
    const open = await check(dir, 'PCI-DSS');
    expect(open.code).toBe(1);
    expect(open.out.clauses.find((c) => c.id === 'PCI DSS 10.3.1')).toMatchObject({ status: 'unmet' });
  });

  it('a waiver for a clause the profile does not have is a bad option', async () => {
    const { dir } = base();
    await expect(
      openSink({ dir, compliance: { profile: 'PCI-DSS', waivers: { '10.9.9': 'x' } } }),
    ).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTION,
      message: 'options.compliance.waivers: "10.9.9" is not a clause of PCI-DSS',
    });
  });
});

describe('SOX', () => {
  it('needs WORM or the audit-trail alternative (17a-4(f)(2)(i)), a backup (f)(2)(v) and 7 years (210.2-06)', async () => {
    const { dir, replica } = base();
    const repl = { backends: [{ type: 'fs' as const, dir: replica }] };
    await expectUnmet({ dir, replication: repl, compliance: { profile: 'SOX' } }, '17 CFR 240.17a-4(f)(2)(i)');
    await expectUnmet(
      { dir, signing: { key: kKey.signerKey }, compliance: { profile: 'SOX' } },
      '17 CFR 240.17a-4(f)(2)(v)',
    );
    await expectUnmet(
      { dir, signing: { key: kKey.signerKey }, replication: repl, compliance: { profile: 'SOX', retentionDays: 2000 } },
      '17 CFR 210.2-06(a)',
    );
  });

  it('a WORM backend (S3 Object Lock COMPLIANCE) shorter than the retention is not WORM enough', async () => {
    const { dir } = base();
    const s3 = {
      type: 's3' as const,
      bucket: 'b',
      region: 'us-east-1',
      objectLock: { mode: 'COMPLIANCE' as const, retainDays: 30 },
    };
    await expectUnmet({ dir, replication: { backends: [s3] }, compliance: { profile: 'SOX' } }, 'needs a WORM backend');
  });

  it('signing + replication (the audit-trail alternative) passes compliance check', async () => {
    const { dir, replica } = base();
    await writeSome({
      dir,
      ...kSmall,
      signing: { key: kKey.signerKey },
      replication: { backends: [{ type: 'fs', dir: replica }] },
      compliance: { profile: 'SOX' },
    });
    const r = await check(dir, 'SOX');
    expect(r.code).toBe(0);
    expect(r.out.clauses.find((c) => c.id === '17 CFR 240.17a-4(f)(2)(i)')?.detail).toContain(
      'audit-trail alternative',
    );
  });
});

describe('GDPR', () => {
  it('needs an explicit retention under the maximum (5(1)(e)), subject keys (17(1)), pseudonymisation or encryption (32(1)(a))', async () => {
    const { dir } = base();
    await expectUnmet(
      { dir, compliance: { profile: 'GDPR' } },
      'GDPR Art. 5(1)(e) (Storage limitation): compliance.retentionDays must be given',
    );
    await expectUnmet(
      { dir, compliance: { profile: 'GDPR', retentionDays: 5000 } },
      'compliance.retentionDays (5000) is above the maximum (2192 days)',
    );
    await expectUnmet({ dir, compliance: { profile: 'GDPR', retentionDays: 365 } }, 'GDPR Art. 17(1)');
    await expectUnmet({ dir, compliance: { profile: 'GDPR', retentionDays: 365 } }, 'GDPR Art. 32(1)(a)');
    await expectUnmet(
      {
        dir,
        pseudonymization: { keyId: 'p1', key: randomBytes(32) },
        compliance: { profile: 'GDPR', retentionDays: 365 },
      },
      'GDPR Art. 17(1) (Right to erasure): needs options.subjectEncryption',
    );
  });

  it('subject encryption with a key provider passes compliance check', async () => {
    const { dir } = base();
    const keyFile = path.join(path.dirname(dir), 'keys.json');
    fs.writeFileSync(keyFile, JSON.stringify({ keys: { m1: randomBytes(32).toString('base64') } }));
    const sink = await openSink({
      dir,
      ...kSmall,
      subjectEncryption: { subjectPath: 'patient.id', fields: ['patient.name'] },
      keyProvider: { type: 'file', path: keyFile },
      compliance: { profile: 'GDPR', retentionDays: 365 },
    });
    for (let i = 0; i < 5; i++) await sink.emit({ action: 'read', patient: { id: `p${i}`, name: `Name ${i}` } });
    await sink.close();
    const r = await check(dir, 'GDPR');
    expect(r.code).toBe(0);
    expect(r.out.clauses.map((c) => [c.id, c.status])).toEqual([
      ['GDPR Art. 5(1)(e)', 'met'],
      ['GDPR Art. 17(1)', 'met'],
      ['GDPR Art. 17(3)(b),(e)', 'met'],
      ['GDPR Art. 32(1)(a)', 'met'],
    ]);
  });
});

describe('compliance check usage', () => {
  it('exit 2 for an unknown profile or a missing directory', async () => {
    const { dir } = base();
    const bad = await runCli(['compliance', 'check', '--dir', dir, '--profile', 'ISO27001']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--profile must be one of HIPAA, PCI-DSS, SOX, GDPR');
    const missing = await runCli(['compliance', 'check', '--dir', dir, '--profile', 'SOX']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no WAL directory');
  });
});
