import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openSink } from '../dist/main/index.js';
import { exited, killChildren, postEvents, startServe } from './helpers/cli.js';
import { TempDir, until } from './helpers/tmp.js';

const kDashboard = fileURLToPath(new URL('../docs/monitoring/grafana-dashboard.json', import.meta.url));
const kAlerts = fileURLToPath(new URL('../docs/monitoring/alerts.yml', import.meta.url));
const kMonitoringDoc = fileURLToPath(new URL('../docs/monitoring.md', import.meta.url));

let tmp: TempDir;
let replTmp: TempDir;
beforeEach(() => {
  tmp = new TempDir('ironlog-metrics-docs-');
  replTmp = new TempDir('ironlog-metrics-docs-repl-');
});
afterEach(async () => {
  await killChildren();
  tmp.dispose();
  replTmp.dispose();
});

/**
 * The metric families of a sink that replicates (to a directory): the replication metrics exist
 * only on such a sink, so `ironlog serve` alone cannot show them. Scraped once a segment is
 * replicated, so every per-backend series (last success time included) has a sample.
 */
async function replicatingSinkFamilies(): Promise<Array<{ name: string; type: string }>> {
  const sink = await openSink({
    dir: replTmp.join('wal'),
    nodeId: 'docs',
    metrics: true,
    segmentMaxAgeMs: 20,
    replication: { quorum: 1, backends: [{ type: 'fs', dir: replTmp.join('replica'), prefix: 'audit' }] },
  });
  try {
    const ack = await sink.emit({ a: 1 });
    await until(() => (sink.replicationStatus()?.replicatedThroughSeq ?? 0) >= ack.seq, 30_000, 'a replicated segment');
    return parsePrometheusTextFormat((await sink.metrics?.text()) ?? '') as Array<{ name: string; type: string }>;
  } finally {
    await sink.close();
  }
}

function referencedMetrics(text: string): Set<string> {
  return new Set(text.match(/\bironlog_[a-z0-9_]+/g) ?? []);
}

it('every metric the Grafana dashboard, the alert rules and docs/monitoring.md use is served at /metrics', async () => {
  const dashboard = JSON.parse(fs.readFileSync(kDashboard, 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
  expect(exprs.length).toBeGreaterThan(10);
  const alerts = fs.readFileSync(kAlerts, 'utf8');
  const alertExprs = [...alerts.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1] as string);
  expect(alertExprs.length).toBeGreaterThan(5);
  const used = new Set([
    ...referencedMetrics(exprs.join('\n')),
    ...referencedMetrics(alertExprs.join('\n')),
    ...referencedMetrics(fs.readFileSync(kMonitoringDoc, 'utf8')),
  ]);

  const { child, url } = await startServe(tmp.path);
  await postEvents(url, '[{"a":1},{"a":2}]');
  const text = await (await fetch(`${url}/metrics`)).text();
  const families = [
    ...(parsePrometheusTextFormat(text) as Array<{ name: string; type: string }>),
    ...(await replicatingSinkFamilies()),
  ];
  const served = new Map(families.map((f) => [f.name, f.type]));
  // The replication panels and rules are there (and so checked below).
  for (const name of [
    'ironlog_replication_lag_segments',
    'ironlog_replication_breaker_open',
    'ironlog_replication_alerts_total',
  ]) {
    expect(
      referencedMetrics(exprs.join('\n')).has(name) || referencedMetrics(alertExprs.join('\n')).has(name),
      name,
    ).toBe(true);
  }
  expect(referencedMetrics(exprs.join('\n')).has('ironlog_replication_lag_segments')).toBe(true);
  expect(served.has('ironlog_replication_lag_segments')).toBe(true);
  const missing: string[] = [];
  for (const name of used) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const ok = served.has(name) || (base !== name && served.get(base) === 'HISTOGRAM');
    if (!ok) missing.push(name);
  }
  expect(missing).toEqual([]);
  // And the other way round: every served metric is documented.
  const doc = fs.readFileSync(kMonitoringDoc, 'utf8');
  expect([...served.keys()].filter((n) => !doc.includes(n))).toEqual([]);
  expect(await exited(child, 'SIGTERM')).toEqual({ code: 0, signal: null });
});
