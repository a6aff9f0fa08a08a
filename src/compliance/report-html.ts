/**
 * Renders a {@link ReportModel} as one self-contained HTML file: inline CSS, the records-by-day
 * chart as inline SVG, no script, no external asset (fonts, images, styles), so it opens offline
 * and archives as it is. Same sections, same order and same figures as the PDF.
 */
import type { ReportModel } from './report-model.js';
import { reportSections } from './report-text.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The records-by-day bar chart as an SVG element (width x height user units). */
export function recordsChartSvg(model: ReportModel, width = 720, height = 200): string {
  const days = model.records.byDay;
  const max = Math.max(1, ...days.map((d) => d.records));
  const left = 48;
  const bottom = 24;
  const plotW = width - left - 8;
  const plotH = height - bottom - 8;
  const barW = days.length > 0 ? plotW / days.length : plotW;
  const bars = days
    .map((d, i) => {
      const h = (d.records / max) * plotH;
      const x = left + i * barW;
      return `<rect x="${x.toFixed(2)}" y="${(8 + plotH - h).toFixed(2)}" width="${Math.max(0.5, barW - 1).toFixed(2)}" height="${h.toFixed(2)}" fill="#2b6cb0"><title>${esc(d.day)}: ${d.records}</title></rect>`;
    })
    .join('');
  const step = Math.max(1, Math.ceil(days.length / 6));
  const labels = days
    .map((d, i) =>
      i % step === 0
        ? `<text x="${(left + i * barW).toFixed(2)}" y="${height - 6}" font-size="10" fill="#333">${esc(d.day.slice(5))}</text>`
        : '',
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Records by day">`,
    `<line x1="${left}" y1="8" x2="${left}" y2="${8 + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${8 + plotH}" x2="${width - 8}" y2="${8 + plotH}" stroke="#333"/>`,
    `<text x="${left - 4}" y="16" font-size="10" text-anchor="end" fill="#333">${max}</text>`,
    `<text x="${left - 4}" y="${8 + plotH}" font-size="10" text-anchor="end" fill="#333">0</text>`,
    bars,
    labels,
    '</svg>',
  ].join('');
}

const kStyle = `body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:60em;color:#111;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.met{color:#1a7f37;font-weight:bold}.unmet{color:#b42318;font-weight:bold}.waived{color:#9a6700;font-weight:bold}.operator{color:#555;font-weight:bold}
.damaged{background:#fde8e8;border:2px solid #b42318;padding:.6em}.intact{background:#e8f6ec;border:1px solid #1a7f37;padding:.6em}
.clause-text{color:#444;font-size:.85em}`;

/** The whole report as an HTML document. */
export function renderReportHtml(model: ReportModel): string {
  const out: string[] = [];
  out.push('<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">');
  out.push(`<title>${esc(model.title)} (${esc(model.period.label)})</title>`);
  out.push(`<style>${kStyle}</style>`, '</head>', '<body>');
  out.push(`<h1>${esc(model.title)}</h1>`);
  out.push(
    `<p>${esc(model.profile.title)}. Period <strong id="period">${esc(model.period.label)}</strong> (${esc(model.period.from)} to ${esc(model.period.to)}). Generated ${esc(model.generatedAt)} by ${esc(model.tool)} from ${esc(model.target)}.</p>`,
  );
  for (const section of reportSections(model)) {
    out.push(`<section id="${esc(section.id)}">`, `<h2>${esc(section.title)}</h2>`);
    if (section.id === 'integrity') {
      out.push(
        `<p class="${model.integrity.damaged ? 'damaged' : 'intact'}" id="integrity-status">${esc(model.integrity.summary)}</p>`,
      );
    }
    for (const p of section.paragraphs) out.push(`<p>${esc(p)}</p>`);
    if (section.id === 'records')
      out.push(`<figure>${recordsChartSvg(model)}<figcaption>Records by day (UTC)</figcaption></figure>`);
    for (const t of section.tables) {
      out.push('<table>', `<thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`, '<tbody>');
      for (const row of t.rows) {
        out.push(
          `<tr>${row
            .map((cell, i) => {
              const cls = t.statusColumn === i ? ` class="${esc(cell)}"` : '';
              return `<td${cls}>${esc(cell)}</td>`;
            })
            .join('')}</tr>`,
        );
      }
      out.push('</tbody>', '</table>');
    }
    if (section.id === 'clauses') {
      for (const c of model.clauses) {
        out.push(
          `<p class="clause-text"><strong>${esc(c.id)}</strong> ${esc(c.title)}: "${esc(c.text)}" Feature: ${esc(c.feature)}. Operator: ${esc(c.operator)}.</p>`,
        );
      }
    }
    out.push('</section>');
  }
  out.push('</body>', '</html>', '');
  return out.join('\n');
}
