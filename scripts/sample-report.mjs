#!/usr/bin/env node
// Generates docs/compliance/sample-report.{pdf,html} from a small example log: a HIPAA-profile
// sink (signed checkpoints, a directory backend, 6-year retention) that records a clinic's
// access events over three weeks of 2026-Q4, one legal hold, then the report of the quarter.
// Run after `npm run build`:  node scripts/sample-report.mjs [outDir]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(process.argv[2] ?? path.join(root, 'docs', 'compliance'));
const { openSink } = await import(path.join(root, 'dist', 'main', 'index.js'));
const { generateSignerKey } = await import(path.join(root, 'dist', 'compliance', 'note.js'));
const cli = path.join(root, 'bin', 'ironlog.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-sample-'));
try {
  const dir = path.join(tmp, 'audit');
  const replica = path.join(tmp, 'replica');
  const key = generateSignerKey('clinic.example/audit');
  // A deterministic clock walking through 2026-10-05 .. 2026-10-25, busier on weekdays. The
  // sink is opened every morning and closed every evening (clean closes: listed as planned
  // downtime, not as uncovered periods); a checkpoint interval of a day covers the hours between.
  const start = Date.UTC(2026, 9, 5, 7, 0, 0);
  const actions = ['view', 'update', 'print', 'login-failed', 'export'];
  let i = 0;
  for (let day = 0; day < 21; day++) {
    const dayStart = start + day * 86_400_000;
    const weekday = (new Date(dayStart).getUTCDay() + 6) % 7 < 5;
    const n = weekday ? 30 + ((day * 7) % 13) : 6 + (day % 4);
    let t = dayStart;
    const sink = await openSink({
      dir,
      nodeId: 'clinic-1',
      clock: () => t,
      signing: { key: key.signerKey, checkpointIntervalMs: 86_400_000 },
      replication: { backends: [{ type: 'fs', dir: replica, name: 'fs:replica' }] },
      compliance: { profile: 'HIPAA' },
      segmentBytes: 64 * 1024,
      maxBatchBytes: 4 * 1024,
      maxEventBytes: 4 * 1024,
    });
    for (let k = 0; k < n; k++, i++) {
      t = dayStart + Math.floor((k * 10 * 3_600_000) / n);
      await sink.emit({
        user: `nurse-${i % 7}`,
        action: actions[i % actions.length],
        outcome: i % 17 === 0 ? 'failure' : 'success',
        origin: `ward-${i % 3}`,
        resource: `patient-record/${1000 + (i % 40)}`,
      });
    }
    t = dayStart + 10 * 3_600_000;
    await sink.close();
  }
  execFileSync(
    process.execPath,
    [
      cli,
      'hold',
      'set',
      '--dir',
      dir,
      '--reason',
      'records request 2026-117 (litigation)',
      '--from-seq',
      '100',
      '--to-seq',
      '200',
      '--actor',
      'compliance-officer',
    ],
    { stdio: 'inherit' },
  );
  execFileSync(process.execPath, [cli, 'verify', '--dir', dir, '--public-key', key.verifierKey, '--actor', 'auditor'], {
    stdio: 'inherit',
  });
  fs.mkdirSync(outDir, { recursive: true });
  for (const ext of ['pdf', 'html']) {
    execFileSync(
      process.execPath,
      [
        cli,
        'compliance',
        'report',
        '--dir',
        dir,
        '--profile',
        'HIPAA',
        '--period',
        '2026-Q4',
        '--output',
        path.join(outDir, `sample-report.${ext}`),
      ],
      { stdio: 'inherit' },
    );
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
