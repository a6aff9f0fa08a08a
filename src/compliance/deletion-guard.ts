/**
 * The one rule every local deletion asks: may this segment go? Not while a legal hold covers one
 * of its records, not before the retention end of the compliance profile the log was opened with
 * (`compliance.json`: `localRetentionDays` from the seal). Used by `pruneSegments` (which refuses
 * with a typed error) and by `replication.localRetention` (which skips the segment and retries).
 */
import { readComplianceRecord } from './compliance-record.js';
import { activeHolds, holdsCovering } from './holds.js';

const kDayMs = 86_400_000;

/** Why a segment may not be deleted. */
export interface DeletionBlock {
  readonly kind: 'hold' | 'retention';
  readonly why: string;
}

/** A segment as the guard sees it. */
export interface GuardedSegment {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly sealedAtMs: number;
}

/** The deletion rule of `dir`, read once (holds and the compliance record as they are now). */
export type DeletionGuard = (segment: GuardedSegment, nowMs: number) => DeletionBlock[];

/** Loads the holds and the compliance record of `dir` into a {@link DeletionGuard}. */
export function loadDeletionGuard(dir: string): DeletionGuard {
  const record = readComplianceRecord(dir);
  const localDays = record?.retention.localRetentionDays ?? record?.retention.retentionDays;
  const holds = activeHolds(dir);
  return (s, nowMs) => {
    const blocks: DeletionBlock[] = [];
    if (localDays !== undefined) {
      const endMs = s.sealedAtMs + localDays * kDayMs;
      if (nowMs < endMs) {
        blocks.push({
          kind: 'retention',
          why: `retention (${localDays} days, ${record?.profile}) ends ${new Date(endMs).toISOString()}`,
        });
      }
    }
    for (const h of holdsCovering(holds, s.firstSeq, s.lastSeq)) {
      blocks.push({ kind: 'hold', why: `legal hold ${h.id} (${h.reason})` });
    }
    return blocks;
  };
}
