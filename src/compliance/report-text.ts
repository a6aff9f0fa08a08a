/**
 * The report's sections as text (paragraphs and tables), from the {@link ReportModel}: the one
 * place where figures become words, shared by the HTML and the PDF renderer so both say the same.
 * The integrity section is always first: a damaged log says so before anything else.
 */
import type { ReportModel } from './report-model.js';

/** A table: header, rows of cells; `statusColumn` is the index of a met/unmet column (styled). */
export interface ReportTable {
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly statusColumn?: number;
}

/** One section. */
export interface ReportSection {
  readonly id: string;
  readonly title: string;
  readonly paragraphs: readonly string[];
  readonly tables: readonly ReportTable[];
}

function n(v: number): string {
  return v.toLocaleString('en-US');
}

function days(v: number | undefined): string {
  return v === undefined ? 'none' : `${n(v)} days`;
}

function orNone(v: string | number | undefined): string {
  return v === undefined ? 'none' : String(v);
}

/** The sections, in order. */
export function reportSections(m: ReportModel): ReportSection[] {
  const s: ReportSection[] = [];
  const i = m.integrity;
  s.push({
    id: 'integrity',
    title: '1. Integrity',
    paragraphs: [
      i.damaged ? 'THE LOG IS DAMAGED.' : 'The log is intact.',
      `Log: ${n(i.records)} records, seq ${i.firstSeq}-${i.lastSeq}, ${n(i.segments)} segment(s) (${n(i.sealedSegments)} sealed), ${n(i.bytes)} bytes; ${n(i.gapFrames)} gap frame(s) covering ${n(i.gapSeqs)} lost seq(s).`,
      ...i.problems.map((p) => `Problem: ${p}`),
    ],
    tables: [],
  });
  const r = m.records;
  s.push({
    id: 'records',
    title: '2. Period and records',
    paragraphs: [
      `Period ${m.period.label}: ${m.period.from} to ${m.period.to} (${m.period.days} days).`,
      `Records in the period: ${n(r.inPeriod)}` +
        (r.firstInPeriod ? ` (first ${r.firstInPeriod}, last ${r.lastInPeriod}).` : '.'),
    ],
    tables: [],
  });
  const g = m.signatures;
  const sigRows: string[][] = [
    ['Status', g.status],
    ['Origin', orNone(g.origin)],
    ['Verifier key', orNone(g.verifierKey)],
    ['Checkpoints', n(g.checkpoints)],
    ['Latest checkpoint', orNone(g.latest)],
    ['Records not yet covered', orNone(g.uncoveredRecords)],
  ];
  s.push({
    id: 'signatures',
    title: '3. Signatures and checkpoints',
    paragraphs: [
      ...g.problems.map((p) => `Note: ${p}`),
      g.uncoveredPeriods.length === 0
        ? 'Uncovered periods in the period: none.'
        : `Uncovered periods in the period: ${g.uncoveredPeriods.length}.`,
    ],
    tables: [
      { head: ['Item', 'Value'], rows: sigRows },
      ...(g.uncoveredPeriods.length + g.downtimes.length > 0
        ? [
            {
              head: ['From', 'To', 'Duration (s)', 'Reason'],
              rows: [...g.uncoveredPeriods, ...g.downtimes].map((p) => [
                p.from,
                p.to,
                (p.durationMs / 1000).toFixed(1),
                p.reason,
              ]),
            },
          ]
        : []),
    ],
  });
  s.push({
    id: 'gaps',
    title: '4. Gaps',
    paragraphs: [
      r.gaps.length === 0
        ? 'No seq is missing between the records of the period.'
        : `${r.gaps.length} run(s) of missing seqs between records of the period (lost in a crash and recorded as GAP frames, or outside the period's time range).`,
    ],
    tables:
      r.gaps.length > 0
        ? [
            {
              head: ['From seq', 'To seq', 'Seqs'],
              rows: r.gaps
                .slice(0, 50)
                .map((x) => [String(x.fromSeq), String(x.toSeq), String(x.toSeq - x.fromSeq + 1)]),
            },
          ]
        : [],
  });
  const ret = m.retention;
  const active = ret.holds.filter((h) => h.clearedAt === undefined);
  s.push({
    id: 'retention',
    title: '5. Retention and legal holds',
    paragraphs: [
      `Retention: ${days(ret.retentionDays)}; on the local disk: ${days(ret.localRetentionDays)}; maximum: ${days(ret.maxRetentionDays)}.`,
      `Retention of the period's last record ends: ${orNone(ret.periodRetentionEnds)}.`,
      `Legal holds: ${active.length} active, ${ret.holds.length - active.length} cleared.`,
    ],
    tables:
      ret.holds.length > 0
        ? [
            {
              head: ['Hold', 'Reason', 'Range', 'Set', 'Cleared'],
              rows: ret.holds.map((h) => [
                h.id,
                h.reason,
                `seq ${h.range.fromSeq ?? 1}-${h.range.toSeq ?? 'open'}`,
                `${h.createdAt} by ${h.actor}`,
                h.clearedAt ? `${h.clearedAt} by ${h.clearedBy}: ${h.clearReason}` : 'active',
              ]),
            },
          ]
        : [],
  });
  s.push({
    id: 'replication',
    title: '6. Replication',
    paragraphs: [
      m.replication.configured ? `${m.replication.backends.length} backend(s).` : 'Replication is not configured.',
    ],
    tables:
      m.replication.backends.length > 0
        ? [
            {
              head: ['Backend', 'Done', 'Pending', 'Failed', 'Stored, compacted', 'Last upload', 'Lock', 'Legal hold'],
              rows: m.replication.backends.map((b) => [
                b.name,
                String(b.done),
                String(b.pending),
                String(b.failed),
                String(b.compacted),
                orNone(b.lastDoneAt),
                b.lock,
                b.legalHold ? 'on' : 'off',
              ]),
            },
          ]
        : [],
  });
  const k = m.keys;
  s.push({
    id: 'keys',
    title: '7. Keys: rotations and erasures',
    paragraphs: [
      `Signing key(s): ${k.signingKeyIds.length > 0 ? k.signingKeyIds.join(', ') : 'none'} (no rotation recorded).`,
      k.keyStore.present
        ? `Subject key store: ${k.keyStore.subjectKeys} subject key(s), ${k.keyStore.erasedKeys} erased (crypto-shredded).`
        : 'No subject key store.',
      `Erasures in the custody log: ${k.erasures.length}.`,
    ],
    tables:
      k.erasures.length > 0
        ? [{ head: ['Time', 'Actor', 'Result'], rows: k.erasures.map((e) => [e.time, e.actor, e.result.status]) }]
        : [],
  });
  const c = m.custody;
  s.push({
    id: 'custody',
    title: '8. Chain of custody',
    paragraphs: [
      `Custody log: ${c.status}; ${c.total} entries in all, ${c.entries.length} in the period` +
        (Object.keys(c.byAction).length > 0
          ? ` (${Object.entries(c.byAction)
              .map(([a, v]) => `${a} ${v}`)
              .join(', ')}).`
          : '.'),
      ...c.problems.map((p) => `Problem: ${p}`),
    ],
    tables:
      c.entries.length > 0
        ? [
            {
              head: ['#', 'Time', 'Actor', 'Action', 'Result'],
              rows: c.entries.map((e) => [String(e.seq), e.time, e.actor, e.action, e.result.status]),
            },
          ]
        : [],
  });
  const sum = m.summary;
  s.push({
    id: 'clauses',
    title: `9. ${m.profile.name} clauses`,
    paragraphs: [
      `${sum.met} met, ${sum.unmet} unmet, ${sum.waived} waived, ${sum.operator} the operator's job.` +
        (m.profile.recorded
          ? ''
          : ' The log was not opened with this profile (no compliance.json): options are inferred from the files.'),
    ],
    tables: [
      {
        head: ['Clause', 'Title', 'Status', 'Detail'],
        rows: m.clauses.map((x) => [x.id, x.title, x.status, x.detail]),
        statusColumn: 2,
      },
    ],
  });
  return s;
}
