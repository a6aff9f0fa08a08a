// healthcare: an EHR access log (HIPAA 45 CFR 164.312(b) audit controls). Identifiers are
// pseudonymized with a keyed HMAC and the SSN masked before the event leaves the application;
// the sink signs C2SP checkpoints over an RFC 6962 tree of every record (`signing`), so an
// auditor holding only the public key can check the log and any single record offline, and any
// later change is detected (164.312(c)(1) integrity); `recoverWal` salvages a damaged copy.
// Run: node examples/healthcare/index.js   (or: npm run example:healthcare)
import { createHash, createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatRecordProof, openSink, readWal, recoverWal, verifyLog, verifyProofText, verifyWal } from 'ironlog';

/** Pseudonym key: in production from a KMS or a secret store, never next to the log. */
const kPseudonymKey = process.env.IRONLOG_EXAMPLE_PSEUDONYM_KEY
  ? Buffer.from(process.env.IRONLOG_EXAMPLE_PSEUDONYM_KEY, 'hex')
  : randomBytes(32);

/**
 * A log signer key in the C2SP signed-note format (what `ironlog keygen --name <origin>` writes):
 * `PRIVATE+KEY+<name>+<key id>+base64(0x01 || Ed25519 seed)`, key id = SHA-256(name || 0x0A ||
 * 0x01 || public key)[:4]. In production: `ironlog keygen`, and the key in a secret store.
 */
function signerKey(name) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  const keyId = createHash('sha256')
    .update(Buffer.concat([Buffer.from(name), Buffer.from([0x0a, 0x01]), pub]))
    .digest()
    .subarray(0, 4)
    .toString('hex');
  return `PRIVATE+KEY+${name}+${keyId}+${Buffer.concat([Buffer.from([0x01]), seed]).toString('base64')}`;
}

/** The same patient always gets the same token (so accesses can be correlated), unlinkable without the key. */
function pseudonym(kind, id) {
  return `${kind}_${createHmac('sha256', kPseudonymKey).update(`${kind}\0${id}`).digest('base64url').slice(0, 22)}`;
}

/** What the audit record keeps of an EHR access: who, what, when, from where; no clinical content. */
function auditEvent(access) {
  return {
    type: 'ehr.access',
    actor: access.clinicianId, // workforce member: not PHI in the audit trail
    role: access.role,
    action: access.action,
    patient: pseudonym('pt', access.mrn), // 164.514(c): a re-identification code not derived from PHI without a key
    ssnLast4: `***-**-${access.ssn.slice(-4)}`,
    resource: access.resource,
    workstation: access.workstation,
    outcome: access.outcome,
    // access.note (free text) is deliberately not copied: it can hold anything.
  };
}

const kAccesses = [
  {
    clinicianId: 'dr.house',
    role: 'physician',
    action: 'read',
    mrn: 'MRN-0042',
    ssn: '123-45-6789',
    resource: 'labs/2026-11-30',
    workstation: 'ws-icu-3',
    outcome: 'allowed',
    note: 'pt reports chest pain',
  },
  {
    clinicianId: 'rn.joy',
    role: 'nurse',
    action: 'update',
    mrn: 'MRN-0042',
    ssn: '123-45-6789',
    resource: 'vitals',
    workstation: 'ws-icu-1',
    outcome: 'allowed',
    note: 'bp 140/90',
  },
  {
    clinicianId: 'clerk.kim',
    role: 'billing',
    action: 'read',
    mrn: 'MRN-0077',
    ssn: '987-65-4321',
    resource: 'psych-notes',
    workstation: 'ws-adm-7',
    outcome: 'denied',
    note: '',
  },
  {
    clinicianId: 'dr.house',
    role: 'physician',
    action: 'export',
    mrn: 'MRN-0077',
    ssn: '987-65-4321',
    resource: 'summary.pdf',
    workstation: 'ws-icu-3',
    outcome: 'allowed',
    note: 'referral',
  },
];

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ironlog-example-healthcare-'));
const dir = path.join(root, 'audit');
try {
  const sink = await openSink({ dir, nodeId: 'ehr-audit', signing: { key: signerKey('example.org/ehr-audit') } });
  // The verifier key is public: hand it to the auditors out of band.
  const publicKey = sink.options.signing.verifierKey;
  let denied;
  for (let round = 0; round < 25; round++) {
    const acks = await sink.emitBatch(kAccesses.map(auditEvent));
    denied ??= acks[2].seq; // the billing clerk's denied read of psych notes
  }
  // One record's inclusion proof (a C2SP tlog-proof file): checkable with the public key alone.
  const proofText = formatRecordProof(await sink.prove(denied));
  await sink.close();
  const proven = verifyProofText(proofText, publicKey);
  console.log(`proof: seq ${proven.seq} is in the signed tree of size ${proven.treeSize} (${proven.origin})`);

  let first;
  for await (const r of readWal(dir)) {
    first = r.event;
    break; // ends the reader, which closes its file
  }
  const leaked = JSON.stringify(first).match(/MRN-|123-45|chest pain/);
  console.log(
    `stored: ${first.type} by ${first.actor}, patient ${first.patient.slice(0, 3)}<hmac>, ssn ${first.ssnLast4}`,
  );
  console.log(`PHI in the stored event: ${leaked ? 'FOUND' : 'none'} (MRN, full SSN and note never reach the log)`);
  const samePatient = pseudonym('pt', 'MRN-0042') === first.patient;
  console.log(`same patient, same pseudonym: ${samePatient}`);

  const report = await verifyLog(dir, { publicKey });
  console.log(`verify signed log: valid=${report.valid} records=${report.records} checkpoints=${report.checkpoints}`);

  // Someone edits a stored record (here: one byte of a copy).
  const copy = path.join(root, 'tampered');
  fs.cpSync(dir, copy, { recursive: true });
  const [segment] = fs.readdirSync(copy).filter((n) => n.endsWith('.wal'));
  const file = path.join(copy, segment);
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf('dr.house', 128);
  bytes[at] ^= 0x20; // 'd' -> 'D'
  fs.writeFileSync(file, bytes);
  const tampered = await verifyWal(copy);
  const kinds = [...new Set(tampered.problems.map((p) => p.kind))].join(', ');
  const p = tampered.problems[0];
  const lostSeqs = tampered.lost.map((r) => (r.fromSeq === r.toSeq ? `${r.fromSeq}` : `${r.fromSeq}..${r.toSeq}`));
  console.log(
    `tampered copy: valid=${tampered.valid}, problems: ${kinds} (lost seq ${lostSeqs.join(',')} in ${p?.segment})`,
  );
  const tamperedLog = await verifyLog(copy, { publicKey });
  const logKinds = [...new Set(tamperedLog.problems.map((q) => q.kind))].sort().join(', ');
  console.log(`tampered copy against the signed checkpoints: valid=${tamperedLog.valid}, problems: ${logKinds}`);

  const recovered = await recoverWal(copy, path.join(root, 'recovered'));
  const lost = recovered.lost
    .map((r) => (r.fromSeq === r.toSeq ? `${r.fromSeq}` : `${r.fromSeq}-${r.toSeq}`))
    .join(', ');
  console.log(`recover: ${recovered.recordsRecovered} records kept, lost seqs ${lost} (recorded as a gap)`);
  const after = await verifyWal(path.join(root, 'recovered'));
  console.log(`verify recovered: valid=${after.valid} gaps=${after.gaps}`);
  if (!report.valid || tampered.valid || tamperedLog.valid || leaked || !samePatient || !after.valid) {
    process.exitCode = 1;
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
