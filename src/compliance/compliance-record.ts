/**
 * `compliance.json` in the WAL directory: the profile a sink was opened with, its retention and
 * waivers, and the facts the profile was checked against (public data only: the verifier key,
 * never a secret). Written durably by `openSink` (temp, fsync, rename, directory fsync) so that
 * `ironlog compliance check|report` and local deletion can read what the log promised.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import type { ResolvedComplianceOptions } from './compliance-options.js';
import { writeFileDurable } from './durable-file.js';
import { isProfileName } from './profiles.js';

/** File name inside the WAL directory. */
export const kComplianceFile = 'compliance.json';
const kVersion = 1;

/** The stored record. */
export interface ComplianceRecord extends ResolvedComplianceOptions {
  readonly version: 1;
  /** When the sink last opened with this profile (ISO 8601). */
  readonly openedAt: string;
}

/** Writes `compliance.json` for `resolved` (replacing an older one). */
export function writeComplianceRecord(dir: string, resolved: ResolvedComplianceOptions, nowMs = Date.now()): void {
  const record: ComplianceRecord = { version: kVersion, openedAt: new Date(nowMs).toISOString(), ...resolved };
  writeFileDurable(path.join(dir, kComplianceFile), Buffer.from(`${JSON.stringify(record, null, 2)}\n`));
}

/** The stored record of `dir`, or undefined when the log was never opened with a profile. */
export function readComplianceRecord(dir: string): ComplianceRecord | undefined {
  const file = path.join(dir, kComplianceFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new IronlogError(ErrorCodes.IO, `cannot read ${file}: ${String(err)}`, { cause: err });
  }
  let parsed: Partial<ComplianceRecord>;
  try {
    parsed = JSON.parse(text) as Partial<ComplianceRecord>;
  } catch (err) {
    throw new IronlogError(ErrorCodes.WAL_FORMAT, `${file} is not valid JSON: ${String(err)}`, { cause: err });
  }
  if (parsed.version !== kVersion || !isProfileName(parsed.profile) || typeof parsed.facts !== 'object') {
    throw new IronlogError(ErrorCodes.WAL_FORMAT, `${file} is not a compliance record of version ${kVersion}`);
  }
  return parsed as ComplianceRecord;
}
