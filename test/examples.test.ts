/**
 * Every example in examples/ runs with one command (`node examples/<name>/index.js`), imports the
 * package by its own name ('ironlog', resolved through package.json "exports"), prints what its
 * README says, exits 0 and leaves no temporary directory behind.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const kRoot = fileURLToPath(new URL('..', import.meta.url));
let tmpRoot: string | undefined;
afterEach(() => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = undefined;
});

/** Runs an example with TMPDIR pointing at a fresh directory, so leftovers are visible. */
function runExample(
  name: string,
): Promise<{ code: number | null; stdout: string; stderr: string; leftovers: string[] }> {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), `ironlog-examples-${name}-`));
  const tmp = tmpRoot;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join('examples', name, 'index.js')], {
      cwd: kRoot,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`example ${name} timed out; stderr: ${stderr}`));
    }, 90_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, leftovers: fs.readdirSync(tmp) });
    });
  });
}

/** The lines of the output, each matched in order. */
function expectLines(stdout: string, patterns: readonly RegExp[]): void {
  const lines = stdout.trimEnd().split('\n');
  expect(lines.length, stdout).toBe(patterns.length);
  for (const [i, re] of patterns.entries()) expect(lines[i], `line ${i + 1}`).toMatch(re);
}

describe('examples', () => {
  it('every example directory has an index.js, a README and an npm script, and is tested here', () => {
    const names = fs.readdirSync(path.join(kRoot, 'examples')).sort();
    expect(names).toEqual(['basic', 'healthcare', 'multi-tenant', 'replication', 'trading-gateway']);
    const scripts = (
      JSON.parse(fs.readFileSync(path.join(kRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    for (const n of names) {
      expect(fs.existsSync(path.join(kRoot, 'examples', n, 'index.js'))).toBe(true);
      expect(fs.existsSync(path.join(kRoot, 'examples', n, 'README.md'))).toBe(true);
      expect(scripts[`example:${n}`]).toBe(`npm run build && node examples/${n}/index.js`);
      expect(fs.readFileSync(path.join(kRoot, 'examples', n, 'index.js'), 'utf8')).toMatch(/from 'ironlog';/);
    }
  });

  it('basic: emit, flush, replay, verify', async () => {
    const r = await runExample('basic');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLines(r.stdout, [
      /^emit: seq 1 is durable$/,
      /^emitBatch: seqs 2, 3, 4$/,
      /^flush: every event emitted so far is durable$/,
      /^replay: 1 alice login$/,
      /^replay: 2 alice read$/,
      /^replay: 3 bob login$/,
      /^replay: 4 alice logout$/,
      /^replay: 100 records in seq order$/,
      /^verify \(open sink\): valid=true records=100 seqs 1-100$/,
      /^verifyWal \(closed\): valid=true records=100 problems=0$/,
    ]);
    expect(r.leftovers).toEqual([]);
  });

  it('trading-gateway: worker-thread producers, latency histogram', async () => {
    const r = await runExample('trading-gateway');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bucket = /^\s+(?:<|>=) [\d.]+\s+\d+ #*$/;
    expectLines(r.stdout, [
      /^2 gateway threads, 4000 orders, every ack durable \(fdatasync\)$/,
      /^throughput: \d+ orders\/s$/,
      /^ack latency histogram \(ms\):$/,
      ...Array.from({ length: 10 }, () => bucket),
      /^p50 [\d.]+ ms, p99 [\d.]+ ms, p99\.9 [\d.]+ ms, max [\d.]+ ms$/,
      /^verify: valid=true records=4000$/,
    ]);
    const counts = r.stdout
      .split('\n')
      .filter((l) => bucket.test(l))
      .map((l) => Number(/(\d+) #*$/.exec(l)?.[1]));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(4000);
    expect(r.leftovers).toEqual([]);
  });

  it('multi-tenant: three tenants on one writer thread, per-tenant counts, verify each', async () => {
    const r = await runExample('multi-tenant');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLines(r.stdout, [
      /^3 tenants \(acme, globex, initech\), 1 writer thread$/,
      /^acme: 120 records, durable through seq 120 \(same thread\)$/,
      /^globex: 80 records, durable through seq 80 \(same thread\)$/,
      /^initech: 40 records, durable through seq 40 \(same thread\)$/,
      /^replay globex: records of other tenants: 0$/,
      /^verify acme: valid=true records=120 card=\[REDACTED\]$/,
      /^verify globex: valid=true records=80 card=4111111111111111$/,
      /^verify initech: valid=true records=40 card=4111111111111111$/,
      /^CLI: ironlog verify --dir <root> --tenant initech: exit 0$/,
    ]);
    expect(r.leftovers).toEqual([]);
  });

  it('replication: to a directory backend, then verified and read from the replica', async () => {
    const r = await runExample('replication');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLines(r.stdout, [
      /^emitted 600 events, acked once replicated \(quorum 1\)$/,
      /^replicated through seq 600; healthy=true$/,
      /^replica: [2-9] segment objects under audit\/node-a\/$/,
      /^verify node-a: valid=true records=600 seqs 1-600$/,
      /^read back: 600 of 600 records identical to what was emitted$/,
      /^CLI equivalent: ironlog verify --source 'file:\/\/<replica>\?prefix=audit'$/,
    ]);
    expect(r.leftovers).toEqual([]);
  });

  it('healthcare: pseudonymized, masked, signed, proven, tamper detected, salvaged', async () => {
    const r = await runExample('healthcare');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectLines(r.stdout, [
      /^proof: seq 3 is in the signed tree of size \d+ \(example\.org\/ehr-audit\)$/,
      /^stored: ehr\.access by dr\.house, patient pt_<hmac>, ssn \*\*\*-\*\*-6789$/,
      /^PHI in the stored event: none /,
      /^same patient, same pseudonym: true$/,
      /^verify signed log: valid=true records=100 checkpoints=\d+$/,
      /^tampered copy: valid=false, problems: checksum, lost \(lost seq 1 in 00000000000000000001\.wal\)$/,
      /^tampered copy against the signed checkpoints: valid=false, problems: entries, root-mismatch, wal$/,
      /^recover: 99 records kept, lost seqs 1 \(recorded as a gap\)$/,
      /^verify recovered: valid=true gaps=1$/,
    ]);
    expect(r.leftovers).toEqual([]);
  });
});
