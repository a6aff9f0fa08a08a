/** Renders a {@link TortureSummary} as one self-contained HTML page (inline CSS, no scripts). */
import type { TortureSummary } from './runner.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function ms(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`;
}

/** The HTML report of a run: counts, durations, metrics and rates, and every failure with its seed. */
export function renderHtmlReport(summary: TortureSummary): string {
  const rows = summary.scenarios
    .map((s) => {
      const metrics = Object.entries(s.metrics)
        .map(([k, v]) => `${esc(k)}: ${v}${s.rates[`${k}PerSec`] !== undefined ? ` (${s.rates[`${k}PerSec`]}/s)` : ''}`)
        .join('<br>');
      const status = s.status === 'skipped' ? `skipped: ${esc(s.skipReason ?? '')}` : s.status;
      return `<tr class="${s.status}"><td><b>${esc(s.name)}</b><div class="d">${esc(s.description)}</div></td><td>${status}</td><td>${s.iterations}</td><td>${s.passed}</td><td>${s.failed}</td><td>${ms(s.durationMs)}</td><td class="m">${metrics}</td></tr>`;
    })
    .join('\n');
  const failures = summary.scenarios
    .flatMap((s) =>
      s.failures.map(
        (f) =>
          `<tr><td>${esc(s.name)}</td><td>${f.iteration}</td><td><code>${f.seed}</code></td><td>${esc(f.kind)}</td><td><pre>${esc(f.message)}</pre></td><td><code>${esc(f.replay)}</code></td></tr>`,
      ),
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ironlog torture report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}
td,th{border:1px solid #ccc;padding:.4em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3}.passed td:nth-child(2){color:#186a1e;font-weight:bold}
.failed td:nth-child(2){color:#b00020;font-weight:bold}.skipped td:nth-child(2){color:#777}
.d{color:#666;font-size:12px;max-width:40em}.m{font-size:12px;white-space:nowrap}
pre{white-space:pre-wrap;margin:0;font-size:12px;max-width:60em}.ok{color:#186a1e}.bad{color:#b00020}
</style></head><body>
<h1>ironlog torture report: <span class="${summary.ok ? 'ok' : 'bad'}">${summary.ok ? 'PASSED' : 'FAILED'}</span></h1>
<p>Seed <code>${summary.seed}</code>, ${summary.iterations} iterations per scenario, concurrency ${summary.concurrency}${summary.quick ? ', quick rounds' : ''}${summary.mutation ? `, <b>mutation ${esc(summary.mutation)}</b>` : ''}.<br>
${esc(summary.startedAt)} to ${esc(summary.finishedAt)} (${ms(summary.durationMs)}) on ${esc(summary.machine.platform)}, ${summary.machine.cpus} × ${esc(summary.machine.cpuModel)}, Node ${esc(summary.machine.node)}.</p>
<table><tr><th>scenario</th><th>status</th><th>iterations</th><th>passed</th><th>failed</th><th>duration</th><th>metrics (rate)</th></tr>
${rows}
</table>
<h2>Failures</h2>
${failures ? `<table><tr><th>scenario</th><th>iteration</th><th>seed</th><th>kind</th><th>message</th><th>replay</th></tr>\n${failures}\n</table>` : '<p>None.</p>'}
</body></html>
`;
}
