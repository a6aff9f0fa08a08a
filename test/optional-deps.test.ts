/**
 * A lean install: the cloud SDKs and autocannon are optional peer dependencies. A temp copy of
 * the package (dist/, bin/, package.json) gets a node_modules of its own holding every installed
 * package except the optional peers, so module resolution in a child process cannot find them.
 * Local writing works; a backend or `bench --mode http` fails with a typed error naming the package.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from './helpers/tmp.js';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kMissing = [
  '@aws-sdk/client-s3',
  '@aws-sdk/client-kms',
  '@aws-sdk/lib-storage',
  '@azure/storage-blob',
  '@google-cloud/storage',
  'autocannon',
];

let tmp: TempDir;
let pkg: string;

/** Links every package of the real node_modules into `target`, except the optional peers. */
function linkModules(target: string): void {
  const source = fs.realpathSync(path.join(kRoot, 'node_modules'));
  fs.mkdirSync(target, { recursive: true });
  for (const name of fs.readdirSync(source)) {
    if (name === '.bin' || name === '.package-lock.json') continue;
    if (name.startsWith('@')) {
      fs.mkdirSync(path.join(target, name));
      for (const sub of fs.readdirSync(path.join(source, name))) {
        if (kMissing.includes(`${name}/${sub}`)) continue;
        fs.symlinkSync(path.join(source, name, sub), path.join(target, name, sub));
      }
    } else if (!kMissing.includes(name)) {
      fs.symlinkSync(path.join(source, name), path.join(target, name));
    }
  }
}

function runNode(args: string[], cwd = pkg): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  tmp = new TempDir('ironlog-lean-');
  pkg = tmp.join('ironlog');
  fs.mkdirSync(pkg);
  fs.cpSync(path.join(kRoot, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.cpSync(path.join(kRoot, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(kRoot, 'package.json'), path.join(pkg, 'package.json'));
  linkModules(path.join(pkg, 'node_modules'));
});
afterAll(() => tmp.dispose());

describe('without the optional peer dependencies', () => {
  it('the copy really cannot resolve them (and the real tree can)', () => {
    const probe = "import('@aws-sdk/client-s3').then(() => console.log('found'), (e) => console.log(e.code))";
    expect(runNode(['--input-type=module', '-e', probe]).stdout.trim()).toBe('ERR_MODULE_NOT_FOUND');
    expect(runNode(['--input-type=module', '-e', probe], kRoot).stdout.trim()).toBe('found');
  });

  it('writes locally, and a configured backend fails openSink with ERR_IRONLOG_MISSING_DEPENDENCY naming the SDK', () => {
    const dir = tmp.join('wal');
    const script = `
      import { openSink, readWal } from './dist/main/index.js';
      const sink = await openSink({ dir: ${JSON.stringify(dir)} });
      await sink.emit({ local: true });
      await sink.close();
      const out = { records: 0, errors: {} };
      for await (const r of readWal(${JSON.stringify(dir)})) out.records++;
      const backends = {
        s3: { type: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:1' },
        azure: { type: 'azure', connectionString: 'UseDevelopmentStorage=true', container: 'c' },
        gcs: { type: 'gcs', bucket: 'b' },
      };
      for (const [type, backend] of Object.entries(backends)) {
        try {
          const s = await openSink({ dir: ${JSON.stringify(dir)} + type, replication: { quorum: 1, backends: [backend] } });
          await s.close();
          out.errors[type] = 'opened';
        } catch (err) {
          out.errors[type] = { code: err.code, message: err.message };
        }
      }
      const { createBackend } = await import('./dist/backends/index.js');
      try { createBackend(backends.s3); out.create = 'created'; } catch (err) { out.create = err.code; }
      console.log(JSON.stringify(out));
    `;
    // A file, not --eval: the writer worker inherits execArgv, and --input-type is refused there.
    const file = path.join(pkg, 'lean-check.mjs');
    fs.writeFileSync(file, script);
    const r = runNode([file]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      records: number;
      errors: Record<string, { code: string; message: string }>;
      create: string;
    };
    expect(out.records).toBe(1);
    for (const [type, name] of [
      ['s3', '@aws-sdk/client-s3'],
      ['azure', '@azure/storage-blob'],
      ['gcs', '@google-cloud/storage'],
    ] as const) {
      expect(out.errors[type]?.code).toBe('ERR_IRONLOG_MISSING_DEPENDENCY');
      expect(out.errors[type]?.message).toContain(`npm install ${name}@`);
    }
    expect(out.create).toBe('ERR_IRONLOG_MISSING_DEPENDENCY');
  });

  it('ironlog bench --mode http names autocannon, exits 2, prints no stack trace', () => {
    const r = runNode([path.join(pkg, 'bin', 'ironlog.js'), 'bench', '--mode', 'http', '--duration', '1s']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ERR_IRONLOG_MISSING_DEPENDENCY');
    expect(r.stderr).toContain('npm install autocannon@');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
