/**
 * The evidence bundle of a compliance report (`--evidence out.tar.gz`): the report itself, the
 * signed checkpoints and time notes, the log's verifier key, inclusion proofs (C2SP tlog-proof
 * text and JSON) for a sample of records, the custody log, the report model as JSON and a README
 * telling the auditor what to run, so that everything can be checked offline with
 * `ironlog verify-proof` or any C2SP tool.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { kCustodyDirName, kCustodyLogName } from './custody.js';
import { formatRecordProof, proveRecord } from './prove.js';
import type { ReportModel } from './report-model.js';
import { kLatestCheckpointName, listCheckpointFiles, tlogDirOf } from './tlog-store.js';

/** Arguments of {@link writeEvidenceBundle}. */
export interface EvidenceOptions {
  /** The WAL directory the report was made from. */
  readonly dir: string;
  readonly model: ReportModel;
  /** The rendered report files to include (name inside the bundle, bytes). */
  readonly reports: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  /** Path of the `.tar.gz` to write. */
  readonly out: string;
  /** How many records get an inclusion proof. Default 8. */
  readonly sampleSize?: number;
}

/** What went into the bundle. */
export interface EvidenceResult {
  readonly files: readonly string[];
  readonly proofs: readonly number[];
  /** Seqs whose proof could not be made (not yet checkpointed), with why. */
  readonly skipped: readonly { readonly seq: number; readonly reason: string }[];
}

/** Up to `n` seqs spread evenly over `[first, last]` (first and last included). */
export function sampleSeqs(first: number, last: number, n: number): number[] {
  if (first < 1 || last < first || n < 1) return [];
  const count = Math.min(n, last - first + 1);
  if (count === 1) return [first];
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(first + Math.round((i * (last - first)) / (count - 1)));
  return [...out];
}

function readme(model: ReportModel, proofs: readonly number[], skipped: EvidenceResult['skipped']): string {
  const key = model.signatures.verifierKey ?? '<the log verifier key>';
  return `# Evidence bundle: ${model.title}

Period ${model.period.label} (${model.period.from} to ${model.period.to}), generated
${model.generatedAt} by ${model.tool} from ${model.target}.
Integrity at generation: ${model.integrity.summary}

## Contents

- \`report.*\`: the report (PDF and/or HTML; the HTML is self-contained).
- \`report-model.json\`: every figure of the report, as data.
- \`log.pub\`: the log's verifier key (C2SP signed-note format: \`name+keyid+base64\`).
- \`checkpoints/checkpoint\`: the latest signed checkpoint (C2SP tlog-checkpoint in a signed note).
- \`checkpoints/<counter>.note\` and \`.time\`: every stored checkpoint and its signed time note.
- \`proofs/<seq>.proof\` (C2SP tlog-proof text) and \`proofs/<seq>.json\`: inclusion proofs of
  ${proofs.length} sampled record(s) (seqs ${proofs.join(', ') || 'none'}) against the latest checkpoint.
- \`custody/custody.log\`: the chain-of-custody log (hash-chained JSON lines).
${skipped.length > 0 ? `\nNo proof for: ${skipped.map((s) => `seq ${s.seq} (${s.reason})`).join('; ')}.\n` : ''}
## Verify offline

1. Check each proof against the key (exit 0 valid, 1 invalid):

       ironlog verify-proof --proof proofs/<seq>.proof --public-key "$(cat log.pub)"

   Any C2SP / RFC 6962 verifier works too: the leaf hash is SHA-256(0x00 || entry bytes), the
   checkpoint note is signed with Ed25519 by the key in \`log.pub\` (key id ${key.split('+')[1] ?? '?'}).
2. With the WAL (or its replicated copy), verify everything the report summarises:

       ironlog verify --dir <wal> --public-key "$(cat log.pub)"
       ironlog custody verify --dir <wal>

3. Compare the size and root hash of \`checkpoints/checkpoint\` with the ones a witness cosigned,
   if the log uses witnesses.
`;
}

/** Writes the bundle to `opts.out` (gzip tar). Throws `ERR_IRONLOG_IO` when it cannot be written. */
export async function writeEvidenceBundle(opts: EvidenceOptions): Promise<EvidenceResult> {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-evidence-'));
  try {
    const files: string[] = [];
    const put = (name: string, bytes: Uint8Array | string): void => {
      const p = path.join(stage, name);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, bytes);
      files.push(name);
    };
    for (const r of opts.reports) put(r.name, r.bytes);
    put('report-model.json', `${JSON.stringify(opts.model, null, 2)}\n`);
    if (opts.model.signatures.verifierKey !== undefined) put('log.pub', `${opts.model.signatures.verifierKey}\n`);
    const tlog = tlogDirOf(opts.dir);
    const latest = path.join(tlog, kLatestCheckpointName);
    if (fs.existsSync(latest)) put('checkpoints/checkpoint', fs.readFileSync(latest));
    for (const c of listCheckpointFiles(tlog)) {
      if (c.note) put(`checkpoints/${path.basename(c.note)}`, fs.readFileSync(c.note));
      if (c.time) put(`checkpoints/${path.basename(c.time)}`, fs.readFileSync(c.time));
    }
    const proofs: number[] = [];
    const skipped: { seq: number; reason: string }[] = [];
    if (fs.existsSync(latest)) {
      for (const seq of sampleSeqs(opts.model.integrity.firstSeq, opts.model.integrity.lastSeq, opts.sampleSize ?? 8)) {
        try {
          const p = await proveRecord(opts.dir, seq);
          put(`proofs/${seq}.proof`, formatRecordProof(p));
          put(`proofs/${seq}.json`, `${JSON.stringify(p, null, 2)}\n`);
          proofs.push(seq);
        } catch (err) {
          skipped.push({ seq, reason: (err as { code?: string }).code ?? String(err) });
        }
      }
    }
    const custodyLog = path.join(opts.dir, kCustodyDirName, kCustodyLogName);
    if (fs.existsSync(custodyLog)) put('custody/custody.log', fs.readFileSync(custodyLog));
    put('README.md', readme(opts.model, proofs, skipped));
    try {
      await tar.create({ gzip: true, file: opts.out, cwd: stage, portable: true }, [...files].sort());
    } catch (err) {
      throw new IronlogError(ErrorCodes.IO, `cannot write the evidence bundle ${opts.out}: ${String(err)}`, {
        cause: err,
      });
    }
    return { files, proofs, skipped };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
