/**
 * Renders a {@link ReportModel} as a PDF with pdfkit: the same sections and figures as the HTML
 * (both come from `report-text.ts`), the records-by-day chart drawn with vector paths, the
 * standard Helvetica fonts (nothing embedded from outside), A4 pages with page numbers.
 */
import PDFDocument from 'pdfkit';
import type { ReportModel } from './report-model.js';
import { type ReportTable, reportSections } from './report-text.js';

const kMargin = 50;
const kStatusColours: Readonly<Record<string, string>> = {
  met: '#1a7f37',
  unmet: '#b42318',
  waived: '#9a6700',
  operator: '#555555',
};

type Doc = PDFKit.PDFDocument;

function bottom(doc: Doc): number {
  return doc.page.height - kMargin;
}

function ensureRoom(doc: Doc, height: number): void {
  if (doc.y + height > bottom(doc)) doc.addPage();
}

function drawChart(doc: Doc, model: ReportModel): void {
  const width = doc.page.width - 2 * kMargin;
  const height = 150;
  ensureRoom(doc, height + 30);
  const x0 = kMargin + 36;
  const y0 = doc.y + 6;
  const plotW = width - 40;
  const plotH = height - 24;
  const days = model.records.byDay;
  const max = Math.max(1, ...days.map((d) => d.records));
  const barW = days.length > 0 ? plotW / days.length : plotW;
  doc.save();
  doc.lineWidth(0.8).strokeColor('#333333');
  doc
    .moveTo(x0, y0)
    .lineTo(x0, y0 + plotH)
    .lineTo(x0 + plotW, y0 + plotH)
    .stroke();
  doc.fillColor('#2b6cb0');
  days.forEach((d, i) => {
    const h = (d.records / max) * plotH;
    if (h > 0) doc.rect(x0 + i * barW, y0 + plotH - h, Math.max(0.5, barW - 0.8), h).fill();
  });
  doc.fillColor('#333333').font('Helvetica').fontSize(7);
  doc.text(String(max), kMargin, y0 - 3, { width: 32, align: 'right' });
  doc.text('0', kMargin, y0 + plotH - 6, { width: 32, align: 'right' });
  const step = Math.max(1, Math.ceil(days.length / 6));
  days.forEach((d, i) => {
    if (i % step === 0) doc.text(d.day.slice(5), x0 + i * barW, y0 + plotH + 4, { lineBreak: false });
  });
  doc.restore();
  doc.x = kMargin;
  doc.y = y0 + height;
  doc.font('Helvetica-Oblique').fontSize(8).fillColor('#333333').text('Records by day (UTC)', kMargin, doc.y);
  doc.moveDown(0.5);
}

function drawTable(doc: Doc, t: ReportTable): void {
  const width = doc.page.width - 2 * kMargin;
  const cols = t.head.length;
  // Wider columns for long content: weight by the longest cell (capped), at least 1.
  const weights = t.head.map((h, c) =>
    Math.min(60, Math.max(h.length + 2, ...t.rows.map((r) => Math.min(60, (r[c] ?? '').length)), 9)),
  );
  const total = weights.reduce((a, b) => a + b, 0);
  const pad = 3;
  // No column narrower than its longest word (a clause id, a hold id, 'operator'): those would
  // break mid-word. Columns that need more take it from the others, in proportion.
  doc.font('Helvetica-Bold').fontSize(8);
  const minWidths = t.head.map((h, c) => {
    // Short cells (ids, dates, statuses) are kept whole; long ones may wrap between words.
    const words = [h, ...t.rows.map((r) => r[c] ?? '')].flatMap((cell) =>
      cell.length <= 28 ? [cell] : cell.split(/\s+/),
    );
    return Math.min(width / 3, Math.max(...words.map((w) => doc.widthOfString(w))) + 2 * pad + 1);
  });
  const widths = weights.map((w) => (w / total) * width);
  for (let pass = 0; pass < 3; pass++) {
    const short = widths.map((w, c) => Math.max(0, (minWidths[c] ?? 0) - w));
    const need = short.reduce((a, b) => a + b, 0);
    if (need <= 0.01) break;
    const spare = widths.map((w, c) => Math.max(0, w - (minWidths[c] ?? 0)));
    const spareTotal = spare.reduce((a, b) => a + b, 0);
    if (spareTotal <= 0) break;
    const take = Math.min(need, spareTotal);
    for (let c = 0; c < widths.length; c++) {
      widths[c] = (widths[c] ?? 0) + ((short[c] ?? 0) / need) * take - ((spare[c] ?? 0) / spareTotal) * take;
    }
  }
  const rowHeight = (cells: readonly string[], font: string): number => {
    doc.font(font).fontSize(8);
    return (
      Math.max(...cells.map((cell, c) => doc.heightOfString(cell || ' ', { width: (widths[c] ?? 10) - 2 * pad }))) +
      2 * pad
    );
  };
  const drawRow = (cells: readonly string[], header: boolean): void => {
    const font = header ? 'Helvetica-Bold' : 'Helvetica';
    const h = rowHeight(cells, font);
    if (doc.y + h > bottom(doc)) doc.addPage();
    const y = doc.y;
    let x = kMargin;
    for (let c = 0; c < cols; c++) {
      const w = widths[c] ?? 10;
      if (header) doc.save().rect(x, y, w, h).fill('#f0f0f0').restore();
      doc.save().lineWidth(0.4).strokeColor('#bbbbbb').rect(x, y, w, h).stroke().restore();
      const cell = cells[c] ?? '';
      const colour = !header && t.statusColumn === c ? (kStatusColours[cell] ?? '#111111') : '#111111';
      const bold = header || (t.statusColumn === c && kStatusColours[cell] !== undefined);
      doc
        .font(bold ? 'Helvetica-Bold' : 'Helvetica')
        .fontSize(8)
        .fillColor(colour)
        .text(cell, x + pad, y + pad, { width: w - 2 * pad });
      x += w;
    }
    doc.x = kMargin;
    doc.y = y + h;
  };
  // Keep the header with the first row.
  ensureRoom(doc, rowHeight(t.head, 'Helvetica-Bold') + (t.rows[0] ? rowHeight(t.rows[0], 'Helvetica') : 0));
  drawRow(t.head, true);
  for (const r of t.rows) drawRow(r, false);
  doc.fillColor('#111111');
  doc.moveDown(0.6);
}

/** The whole report as PDF bytes. */
export function renderReportPdf(model: ReportModel): Promise<Buffer> {
  const doc: Doc = new PDFDocument({
    size: 'A4',
    margin: kMargin,
    bufferPages: true,
    info: {
      Title: `${model.title} (${model.period.label})`,
      Author: model.tool,
      Subject: model.profile.title,
      CreationDate: new Date(model.generatedAt),
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.font('Helvetica-Bold').fontSize(18).fillColor('#111111').text(model.title);
  doc.moveDown(0.3);
  doc
    .font('Helvetica')
    .fontSize(9)
    .text(
      `${model.profile.title}. Period ${model.period.label} (${model.period.from} to ${model.period.to}). Generated ${model.generatedAt} by ${model.tool} from ${model.target}.`,
    );
  doc.moveDown(0.8);
  for (const section of reportSections(model)) {
    ensureRoom(doc, 60);
    doc.font('Helvetica-Bold').fontSize(13).fillColor('#111111').text(section.title, kMargin, doc.y);
    doc.moveDown(0.3);
    if (section.id === 'integrity') {
      const damaged = model.integrity.damaged;
      const text = model.integrity.summary;
      doc.font('Helvetica-Bold').fontSize(10);
      const h = doc.heightOfString(text, { width: doc.page.width - 2 * kMargin - 12 }) + 10;
      const y = doc.y;
      doc
        .save()
        .rect(kMargin, y, doc.page.width - 2 * kMargin, h)
        .fill(damaged ? '#fde8e8' : '#e8f6ec')
        .restore();
      doc.fillColor(damaged ? '#b42318' : '#1a7f37').text(text, kMargin + 6, y + 5, {
        width: doc.page.width - 2 * kMargin - 12,
      });
      doc.x = kMargin;
      doc.y = y + h + 4;
      doc.fillColor('#111111');
    }
    for (const p of section.paragraphs) {
      doc
        .font('Helvetica')
        .fontSize(9)
        .fillColor('#111111')
        .text(p, kMargin, doc.y, { width: doc.page.width - 2 * kMargin });
      doc.moveDown(0.2);
    }
    if (section.id === 'records') drawChart(doc, model);
    for (const t of section.tables) {
      doc.moveDown(0.2);
      drawTable(doc, t);
    }
    if (section.id === 'clauses') {
      for (const c of model.clauses) {
        const text = `${c.id} ${c.title}: "${c.text}" Feature: ${c.feature}. Operator: ${c.operator}.`;
        doc.font('Helvetica').fontSize(7.5);
        ensureRoom(doc, doc.heightOfString(text, { width: doc.page.width - 2 * kMargin }) + 4);
        doc.fillColor('#444444').text(text, kMargin, doc.y, { width: doc.page.width - 2 * kMargin });
        doc.moveDown(0.3);
      }
    }
    doc.moveDown(0.6);
  }
  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    // The footer sits in the bottom margin: without this pdfkit would start a new page for it.
    const oldBottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(7)
      .fillColor('#666666')
      .text(
        `${model.title}, ${model.period.label}, page ${p + 1} of ${range.count}`,
        kMargin,
        doc.page.height - kMargin + 16,
        { width: doc.page.width - 2 * kMargin, align: 'center', lineBreak: false },
      );
    doc.page.margins.bottom = oldBottom;
  }
  doc.end();
  return done;
}
