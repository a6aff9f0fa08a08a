/** Deterministic object names: `{prefix}/{nodeId}/{firstSeq}-{lastSeq}.wal`, seqs zero-padded to 20 digits. */
import { joinKey } from '../backends/common.js';

const kKeyPattern = /^(?:(.*)\/)?([A-Za-z0-9._-]{1,24})\/(\d{20})-(\d{20})\.wal$/;

/** The object key of a segment. Deterministic, so a retry after a crash targets the same object. */
export function segmentObjectKey(
  prefix: string | undefined,
  nodeId: string,
  firstSeq: number,
  lastSeq: number,
): string {
  const pad = (n: number): string => String(n).padStart(20, '0');
  return joinKey(prefix, `${nodeId}/${pad(firstSeq)}-${pad(lastSeq)}.wal`);
}

/** A parsed segment object key. */
export interface ParsedSegmentKey {
  readonly nodeId: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** Parses a key made by {@link segmentObjectKey} (undefined for anything else). */
export function parseSegmentObjectKey(key: string): ParsedSegmentKey | undefined {
  const m = kKeyPattern.exec(key);
  if (!m) return undefined;
  const firstSeq = Number(m[3]);
  const lastSeq = Number(m[4]);
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) return undefined;
  return { nodeId: m[2] as string, firstSeq, lastSeq };
}

/**
 * The key prefix of one tenant of a sink group inside a backend: `{prefix}/tenants/{tenantId}`,
 * so that a tenant's objects are `{prefix}/tenants/{tenantId}/{nodeId}/{firstSeq}-{lastSeq}.wal`
 * (and its tlog under `{prefix}/tenants/{tenantId}/{nodeId}/tlog/`): tenants sharing a bucket
 * never collide, and `verify --source <url>/tenants/<id>` reads one tenant's history.
 */
export function tenantObjectPrefix(prefix: string | undefined, tenantId: string): string {
  return joinKey(prefix, `tenants/${tenantId}`);
}
