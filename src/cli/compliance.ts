/**
 * `ironlog compliance check|report`: a profile's clauses against an existing log (what it was
 * opened with, `compliance.json`, plus what verify, the custody log and the directory show), and
 * the auditor's report (PDF or HTML, optionally with an evidence bundle).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { writeEvidenceBundle } from '../compliance/evidence.js';
import { isProfileName, kProfileNames, type ProfileName } from '../compliance/profiles.js';
import { renderReportHtml } from '../compliance/report-html.js';
import {
  buildReportModel,
  parsePeriod,
  periodBetween,
  type RemoteHistory,
  type ReportModel,
  type ReportPeriod,
} from '../compliance/report-model.js';
import { renderReportPdf } from '../compliance/report-pdf.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import type { WalRecord } from '../wal/reader.js';
import type { VerifyReport } from '../wal/verify.js';
import { dateArg, resolveReadTarget } from './args.js';

function usage(message: string): IronlogError {
  return new IronlogError(ErrorCodes.INVALID_ARGUMENT, message);
}

function profileArg(value: string): ProfileName {
  const upper = value.toUpperCase();
  if (!isProfileName(upper)) throw usage(`--profile must be one of ${kProfileNames.join(', ')}, got ${value}`);
  return upper;
}

function readKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return fs.existsSync(value) ? fs.readFileSync(value, 'utf8').trim() : value.trim();
}

const kMark: Readonly<Record<string, string>> = {
  met: 'met     ',
  unmet: 'UNMET   ',
  waived: 'waived  ',
  operator: 'operator',
};

function printCheck(m: ReportModel): void {
  const out: string[] = [];
  out.push(`${m.profile.name} (${m.profile.title}) against ${m.target}`);
  out.push(`integrity: ${m.integrity.summary}`);
  for (const c of m.clauses) out.push(`${kMark[c.status] ?? c.status}  ${c.id} (${c.title}): ${c.detail}`);
  const s = m.summary;
  out.push(
    `${s.unmet === 0 && !m.integrity.damaged ? 'all met' : 'NOT MET'}: ${s.met} met, ${s.unmet} unmet, ${s.waived} waived, ${s.operator} the operator's job`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

async function remoteHistory(url: string): Promise<RemoteHistory> {
  const { verifyRemoteWal, readRemoteWal } = await import('../replication/readback.js');
  const merge = (r: Awaited<ReturnType<typeof verifyRemoteWal>>): { valid: boolean; report: VerifyReport } => {
    const nodes = r.nodes;
    const sum = (f: (n: (typeof nodes)[number]) => number): number => nodes.reduce((a, n) => a + f(n), 0);
    return {
      valid: r.valid,
      report: {
        valid: r.valid,
        records: sum((n) => n.records),
        gaps: sum((n) => n.gaps),
        gapSeqs: sum((n) => n.gapSeqs),
        firstSeq: nodes.length === 0 ? 0 : Math.min(...nodes.map((n) => n.firstSeq)),
        lastSeq: Math.max(0, ...nodes.map((n) => n.lastSeq)),
        segments: sum((n) => n.segments),
        sealedSegments: sum((n) => n.sealedSegments),
        bytes: sum((n) => n.bytes),
        lost: nodes.flatMap((n) => n.lost),
        lostSeqs: sum((n) => n.lostSeqs),
        problems: nodes.flatMap((n) => n.problems.map((p) => ({ ...p, segment: `${n.nodeId}/${p.segment}` }))),
      },
    };
  };
  return {
    source: url.replace(/([?&][^=]*(?:key|secret|token|sig)[^=]*=)[^&]*/gi, '$1***'),
    verify: async () => merge(await verifyRemoteWal(url, { allowPrunedStart: true })),
    records: (period: ReportPeriod): AsyncIterable<WalRecord> =>
      readRemoteWal(url, { from: new Date(period.fromMs), to: new Date(period.toMs), allowPrunedStart: true }),
  };
}

interface ReportOptions {
  dir?: string;
  source?: string;
  profile: ProfileName;
  period?: string;
  from?: Date;
  to?: Date;
  output: string;
  evidence?: string;
  publicKey?: string;
  json?: boolean;
}

function periodOf(o: ReportOptions): ReportPeriod {
  if (o.period !== undefined) {
    if (o.from !== undefined || o.to !== undefined) throw usage('give --period or --from/--to, not both');
    const p = parsePeriod(o.period);
    if (p === undefined) throw usage(`--period must be YYYY, YYYY-Qn or YYYY-MM (UTC), got ${o.period}`);
    return p;
  }
  if (o.from === undefined || o.to === undefined) throw usage('give --period (e.g. 2026-Q4) or both --from and --to');
  if (o.to.getTime() <= o.from.getTime()) throw usage('--to must be after --from');
  return periodBetween(o.from, o.to);
}

/** Registers `compliance check|report`. */
export function registerCompliance(program: Command): void {
  const compliance = program
    .command('compliance')
    .description('compliance profiles (HIPAA, PCI-DSS, SOX, GDPR): check a log, write the auditor report');
  compliance
    .command('check')
    .description("report each of a profile's clauses as met or unmet against an existing log")
    .requiredOption('--dir <dir>', 'the WAL directory')
    .requiredOption('--profile <name>', kProfileNames.join(', '), profileArg)
    .option('--public-key <key>', "the log's verifier key or a file holding it (default: the one in compliance.json)")
    .option('--json', 'print the verdicts as JSON')
    .addHelpText(
      'after',
      `
Checks what the log was opened with (<dir>/compliance.json) and what is on disk: verify (CRCs,
chain, seals), the signed checkpoints with the verifier key, the custody log, the directory's
permissions. Exit codes: 0 every clause met (or waived, or the operator's job), 1 a clause unmet
or the log damaged, 2 usage or I/O error.

Example:
  $ ironlog compliance check --dir ./audit --profile HIPAA`,
    )
    .action(async (o: { dir: string; profile: ProfileName; publicKey?: string; json?: boolean }) => {
      if (!fs.existsSync(o.dir)) throw usage(`no WAL directory at ${o.dir}`);
      const key = readKey(o.publicKey);
      const model = await buildReportModel({
        dir: o.dir,
        profile: o.profile,
        period: { label: 'all', fromMs: 0, toMs: Date.now() + 86_400_000 },
        skipRecords: true,
        ...(key !== undefined ? { publicKey: key } : {}),
      });
      const ok = model.summary.unmet === 0 && !model.integrity.damaged;
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ profile: model.profile.name, ok, integrity: model.integrity, clauses: model.clauses, summary: model.summary })}\n`,
        );
      } else printCheck(model);
      process.exitCode = ok ? 0 : 1;
    });
  compliance
    .command('report')
    .description('write the compliance report of a period (PDF or HTML), optionally with an evidence bundle')
    .option('--dir <dir>', 'the WAL directory')
    .option('--source <url>', 'a replicated history: s3://bucket/prefix, azure://, gs://, file://')
    .requiredOption('--profile <name>', kProfileNames.join(', '), profileArg)
    .option('--period <period>', 'YYYY, YYYY-Qn or YYYY-MM (UTC)')
    .option('--from <time>', 'period start (ISO 8601, inclusive)', dateArg)
    .option('--to <time>', 'period end (ISO 8601, exclusive)', dateArg)
    .requiredOption('--output <file>', 'report.pdf or report.html (by extension)')
    .option('--evidence <file>', 'also write an evidence bundle (.tar.gz) for offline verification')
    .option('--public-key <key>', "the log's verifier key or a file holding it (default: the one in compliance.json)")
    .option('--json', 'print a summary of what was written as JSON')
    .addHelpText(
      'after',
      `
The first section says whether the log is intact. Exit codes: 0 written (even for a damaged log:
the report says so), 2 usage or I/O error.

Examples:
  $ ironlog compliance report --dir ./audit --profile PCI-DSS --period 2026-Q4 --output q4.pdf
  $ ironlog compliance report --dir ./audit --profile HIPAA --from 2026-10-01 --to 2026-10-08 \\
      --output week.html --evidence week-evidence.tar.gz`,
    )
    .action(async (o: ReportOptions) => {
      const target = resolveReadTarget({
        ...(o.dir !== undefined ? { dir: o.dir } : {}),
        ...(o.source !== undefined ? { source: o.source } : {}),
      });
      const ext = path.extname(o.output).toLowerCase();
      if (ext !== '.pdf' && ext !== '.html' && ext !== '.htm') {
        throw usage(`--output must end in .pdf or .html, got ${o.output}`);
      }
      if (o.evidence !== undefined && target.kind !== 'dir') {
        throw usage('--evidence needs --dir (the checkpoints and proofs come from the WAL directory)');
      }
      if (target.kind === 'dir' && !fs.existsSync(target.dir)) throw usage(`no WAL directory at ${target.dir}`);
      const period = periodOf(o);
      const key = readKey(o.publicKey);
      const model = await buildReportModel({
        ...(target.kind === 'dir' ? { dir: target.dir } : { remote: await remoteHistory(target.url) }),
        profile: o.profile,
        period,
        ...(key !== undefined ? { publicKey: key } : {}),
      });
      const bytes = ext === '.pdf' ? await renderReportPdf(model) : Buffer.from(renderReportHtml(model), 'utf8');
      try {
        fs.writeFileSync(o.output, bytes);
      } catch (err) {
        throw new IronlogError(ErrorCodes.IO, `cannot write ${o.output}: ${String(err)}`, { cause: err });
      }
      let evidence: Awaited<ReturnType<typeof writeEvidenceBundle>> | undefined;
      if (o.evidence !== undefined && target.kind === 'dir') {
        const other = ext === '.pdf' ? Buffer.from(renderReportHtml(model), 'utf8') : await renderReportPdf(model);
        evidence = await writeEvidenceBundle({
          dir: target.dir,
          model,
          out: o.evidence,
          reports: [
            { name: `report${ext === '.pdf' ? '.pdf' : '.html'}`, bytes },
            { name: `report${ext === '.pdf' ? '.html' : '.pdf'}`, bytes: other },
          ],
        });
      }
      const summary = {
        output: o.output,
        evidence: o.evidence,
        damaged: model.integrity.damaged,
        records: model.records.inPeriod,
        unmet: model.summary.unmet,
        proofs: evidence?.proofs.length ?? 0,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        process.stdout.write(
          `wrote ${o.output}: ${model.profile.name}, ${period.label}, ${model.records.inPeriod} records, ${model.integrity.damaged ? 'LOG DAMAGED' : 'log intact'}, ${model.summary.unmet} unmet clause(s)` +
            (evidence ? `; evidence ${o.evidence} (${evidence.proofs.length} proofs)` : '') +
            '\n',
        );
      }
    });
}
