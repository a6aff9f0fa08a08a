/**
 * GDPR Art. 17 erasure by crypto-shredding ({@link eraseSubject}), refused while a legal hold
 * covers a record of the subject (Art. 17(3)(e)), with one custody entry per call.
 *
 * "Covers": holds are scoped by seq range (a time range was turned into one when the hold was set;
 * no range is every record, future ones too). Destroying a subject's key makes every record
 * sealed under it unreadable at once, so the erasure is refused when any active hold's range
 * holds at least one record carrying the subject's key id (a sealed field, the sealed subject id;
 * inside an encrypted payload too). A hold on other records does not delay it.
 *
 * The custody entry never carries the subject id (personal data) nor the key id (it links the
 * records to the entry): only a keyed pseudonym (`SubjectKeyStore.subjectPseudonym`), whether a
 * key was erased, and the holds that refused it.
 */
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { RecordFlags } from '../wal/frame-layout.js';
import { decodeEvent, readWal, type WalRecord } from '../wal/reader.js';
import { errorResult } from './custody.js';
import { beginCustody, type CustodyOption } from './custody-session.js';
import { activeHolds, type LegalHold } from './holds.js';
import type { KeyProvider, KeyProviderSpec } from './keys.js';
import { SubjectKeyStore, typedSubject } from './keystore.js';
import { resolveDecryptProvider } from './protected-read.js';
import { decryptRecord, encryptedRecordKid } from './record-crypto.js';
import { sealedKids } from './subject-seal.js';

/** Result of {@link eraseSubject}. */
export interface EraseSubjectResult {
  /** True when a key existed and was destroyed; false when the store never keyed this subject. */
  readonly erased: boolean;
  /** The destroyed key id (its records now read `[ERASED]` in the subject's fields). */
  readonly kid?: string;
}

/** Options of {@link eraseSubject}. */
export interface EraseSubjectOptions {
  /** The master keys: needed to unwrap the index key that names subjects (and data keys, to look inside encrypted records). */
  keyProvider: KeyProviderSpec | KeyProvider;
  /**
   * Chain of custody of this call: `{ dir?, actor?, key? }` (default `<dir>/custody`, the OS
   * user, unsigned), or `false` (noted in the custody log where possible). A custody log that
   * cannot be written stops the erasure before anything is done (`ERR_IRONLOG_CUSTODY_READ_ONLY`).
   */
  custody?: CustodyOption;
  /** `cli` when the CLI calls. Default `library`. */
  via?: 'cli' | 'library';
}

/**
 * GDPR Art. 17 erasure by crypto-shredding: destroys the subject's key in the key store of
 * `dir` durably (see `SubjectKeyStore.erase`). The WAL is not touched: every record keeps its
 * bytes, so `verify` and every inclusion proof stay valid, while the subject's sealed fields are
 * unreadable from then on. Needs the key provider (to unwrap the index key that names subjects).
 * `subjectId` is the raw id as events carry it (a string, number or bigint).
 *
 * Refused with `ERR_IRONLOG_LEGAL_HOLD` naming the hold(s), nothing erased, while an active
 * legal hold covers a record of the subject (see the module comment; GDPR Art. 17(3)(e)).
 * Appends one custody entry (`erase`, also for a refusal or a failure): the subject's keyed
 * pseudonym, `erased`, and the refusing holds; never the subject id or the key id.
 */
export async function eraseSubject(
  dir: string,
  subjectId: string | number | bigint,
  options: EraseSubjectOptions,
): Promise<EraseSubjectResult> {
  const typed = typedSubject(subjectId);
  if (typed === undefined) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      'eraseSubject: subjectId must be a non-empty string, a finite number or a bigint',
    );
  }
  const abs = path.resolve(dir);
  // Before anything is done: a custody log that cannot be written stops the erasure.
  const session = await beginCustody({
    action: 'erase',
    target: abs,
    walDir: abs,
    via: options.via ?? 'library',
    option: options.custody,
  });
  const details: Record<string, string | boolean> = {};
  let store: SubjectKeyStore | undefined;
  try {
    let result: EraseSubjectResult = { erased: false };
    if (SubjectKeyStore.exists(abs)) {
      store = new SubjectKeyStore(abs, resolveDecryptProvider(options.keyProvider));
      const pseudonym = await store.subjectPseudonym(typed);
      if (pseudonym !== undefined) details['subject'] = pseudonym;
      const kid = await store.subjectKid(typed);
      if (kid !== undefined) {
        const blocking = await holdsCoveringKid(abs, kid, store);
        if (blocking.length > 0) {
          details['holds'] = blocking.map((h) => h.id).join(',');
          throw legalHoldError(blocking);
        }
        result = await store.erase(typed);
      }
    }
    details['erased'] = result.erased;
    await session.finish({ status: 'ok' }, details);
    return result;
  } catch (err) {
    details['erased'] = false;
    await session.finish(errorResult(err), details).catch((custodyErr: unknown) => {
      process.emitWarning(
        `the custody entry of a failed erase could not be written: ${String(custodyErr)}`,
        'IronlogCustodyWarning',
      );
    });
    throw err;
  } finally {
    store?.dispose();
  }
}

/** The refusal: names every hold (id and reason), never the subject or its records. */
function legalHoldError(holds: readonly LegalHold[]): IronlogError {
  const named = holds.map((h) => `legal hold ${h.id} (${h.reason})`).join(', ');
  const ids = holds.map((h) => h.id).join(', ');
  return new IronlogError(
    ErrorCodes.LEGAL_HOLD,
    `erase refused, nothing was erased: ${named} ${holds.length > 1 ? 'cover' : 'covers'} records of this subject (GDPR Art. 17(3)(e)); clear it once the matter is closed (ironlog hold clear --id ${ids})`,
  );
}

/**
 * The active holds of `dir` whose range holds a record carrying `kid`. Reads only the records
 * inside some hold's range, and stops once every hold is found or the last bounded range is passed
 * (an open-ended hold reads to the end). A record that cannot be opened (a missing data key)
 * fails the erasure rather than be guessed about.
 */
async function holdsCoveringKid(dir: string, kid: string, store: SubjectKeyStore): Promise<LegalHold[]> {
  const all = activeHolds(dir);
  if (all.length === 0) return [];
  const pending = [...all];
  const found = new Set<LegalHold>();
  const fromSeq = Math.min(...pending.map((h) => h.range.fromSeq ?? 1));
  const inRange = (h: LegalHold, seq: number): boolean =>
    seq >= (h.range.fromSeq ?? 1) && seq <= (h.range.toSeq ?? Number.MAX_SAFE_INTEGER);
  for await (const r of readWal(dir, { fromSeq, live: true })) {
    const holding = pending.filter((h) => inRange(h, r.seq));
    if (holding.length > 0 && (await recordKids(r, store)).has(kid)) {
      for (const h of holding) {
        found.add(h);
        pending.splice(pending.indexOf(h), 1);
      }
      if (pending.length === 0) break;
    }
    if (pending.every((h) => h.range.toSeq !== undefined && h.range.toSeq <= r.seq)) break;
  }
  return all.filter((h) => found.has(h)); // in the order the holds were set
}

/** The key ids sealed in a record (inside its encrypted payload too). */
async function recordKids(r: WalRecord, store: SubjectKeyStore): Promise<Set<string>> {
  let event = r.event;
  if ((r.flags & RecordFlags.ENCRYPTED) !== 0 && event instanceof Uint8Array) {
    try {
      const dk = await store.dataKeyById(encryptedRecordKid(event));
      const plain = decryptRecord(dk.key, dk.nodeId, r.seq, event);
      event = decodeEvent(plain, 0, plain.length, 0);
    } catch (err) {
      const e = err as IronlogError;
      if (typeof e?.code !== 'string') throw err;
      throw new IronlogError(
        e.code,
        `record seq ${r.seq} is under a legal hold and could not be opened to see whose it is: ${e.message}`,
        { cause: e },
      );
    }
  }
  return typeof event === 'object' && event !== null ? sealedKids(event) : new Set();
}
