// multi-tenant: one sink group, three tenants, one writer thread; each tenant a WAL of its own.
// Run: node examples/multi-tenant/index.js   (or: npm run example:multi-tenant)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSinkGroup, readWal, verifyWal } from 'ironlog';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-example-multi-tenant-'));
const counts = { acme: 120, globex: 80, initech: 40 };
try {
  const group = await openSinkGroup({
    root,
    // Per-tenant options override the group's: here, acme's events are masked before encoding.
    tenants: { acme: { masking: { fields: [{ path: 'card', action: 'redact' }] } }, globex: {}, initech: {} },
  });
  const { writerThreads, writerThreadId } = group.stats();
  console.log(`${group.tenantIds.length} tenants (${group.tenantIds.join(', ')}), ${writerThreads} writer thread`);

  // Interleaved and unawaited: each ack still means that tenant's own WAL was fdatasync'd.
  const pending = [];
  for (let i = 0; i < 120; i++) {
    for (const [tenant, n] of Object.entries(counts)) {
      if (i < n) pending.push(group.tenant(tenant).emit({ tenant, i, card: '4111111111111111' }));
    }
  }
  await Promise.all(pending);

  const stats = group.stats();
  for (const tenant of group.tenantIds) {
    const t = stats.tenants[tenant];
    const same = t.writerThreadId === writerThreadId ? 'same thread' : 'OTHER THREAD';
    console.log(`${tenant}: ${t.records} records, durable through seq ${t.durableSeq} (${same})`);
  }
  // A tenant's replay reads its own directory only.
  let others = 0;
  for await (const r of group.tenant('globex').replay()) if (r.event.tenant !== 'globex') others++;
  console.log(`replay globex: records of other tenants: ${others}`);
  await group.close();

  // Offline, each tenant is a complete WAL directory: <root>/tenants/<id>.
  let allValid = true;
  for (const tenant of Object.keys(counts)) {
    const dir = path.join(root, 'tenants', tenant);
    const report = await verifyWal(dir);
    let card = '';
    for await (const r of readWal(dir, { toSeq: 1 })) card = r.event.card;
    allValid &&= report.valid && report.records === counts[tenant];
    console.log(`verify ${tenant}: valid=${report.valid} records=${report.records} card=${card}`);
  }
  // The CLI does the same with --tenant (exit code 0 = valid).
  const bin = fileURLToPath(new URL('../../bin/ironlog.js', import.meta.url));
  execFileSync(process.execPath, [bin, 'verify', '--dir', root, '--tenant', 'initech', '--json'], { stdio: 'pipe' });
  console.log('CLI: ironlog verify --dir <root> --tenant initech: exit 0');
  if (!allValid || others !== 0) process.exitCode = 1;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
