/**
 * One replication step, run inside a replicator worker: read the sealed segment, hash it, and
 * make sure `backend` holds a verified identical copy under `key`, never overwriting.
 *
 * - Object absent: upload (create-only), verified by the backend (service checksum or read-back).
 * - Present with our SHA-256 and size: verify its bytes (service MD5, else read-back) and count it
 *   as done. This is what makes a retry after a crash idempotent.
 * - Present with another SHA-256 or size, or with bytes that do not match: `REPLICATION_TAMPER`.
 *   Never overwritten: the replica is evidence.
 */
import * as fsp from 'node:fs/promises';
import { md5Hex, sha256Hex } from '../backends/common.js';
import type { Backend } from '../backends/types.js';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import type { ReplicateResult, ReplicateTask } from './task.js';

function tamper(backend: Backend, key: string, detail: string): IronlogError {
  return new IronlogError(
    ErrorCodes.REPLICATION_TAMPER,
    `backend ${backend.name}: ${key} exists and differs from the local sealed segment (${detail}); it is not overwritten`,
  );
}

/** Runs one {@link ReplicateTask} against `backend`. Never throws: failures come back as `{ ok: false }`. */
export async function replicateSegment(backend: Backend, task: ReplicateTask): Promise<ReplicateResult> {
  let sha256: string | undefined;
  try {
    let body: Buffer;
    try {
      body = await fsp.readFile(task.path);
    } catch (err) {
      throw new IronlogError(
        ErrorCodes.IO,
        `cannot read sealed segment ${task.path}: ${errnoCode(err) ?? String(err)}`,
        {
          cause: err,
        },
      );
    }
    sha256 = sha256Hex(body);
    if (task.expectSha256 !== undefined && task.expectSha256 !== sha256) {
      throw new IronlogError(
        ErrorCodes.REPLICATION_TAMPER,
        `the local sealed segment ${task.path} changed since it was first replicated (SHA-256 ${sha256}, manifest ${task.expectSha256})`,
      );
    }
    const info = await backend.head(task.key);
    if (info !== undefined) {
      if (info.sha256 !== sha256 || info.bytes !== body.length) {
        throw tamper(
          backend,
          task.key,
          `stored sha256 ${info.sha256 ?? '(none)'} / ${info.bytes} bytes, local ${sha256} / ${body.length} bytes`,
        );
      }
      let verifiedBy: 'service-checksum' | 'read-back' = 'service-checksum';
      const plainMd5 = info.md5 !== undefined && !info.md5.includes('-');
      if (task.backend.verify === 'read-back' || !plainMd5 || backend.type === 'fs') {
        const back = await backend.get(task.key);
        if (sha256Hex(back) !== sha256) throw tamper(backend, task.key, 'its bytes do not match its SHA-256 metadata');
        verifiedBy = 'read-back';
      } else if (info.md5 !== md5Hex(body)) {
        throw tamper(backend, task.key, `service MD5 ${info.md5} does not match the bytes`);
      }
      return { ok: true, outcome: 'present', sha256, bytes: body.length, verifiedBy };
    }
    const res = await backend.put(task.key, body, { sha256, metadata: task.metadata });
    return { ok: true, outcome: 'uploaded', sha256, bytes: body.length, verifiedBy: res.verifiedBy };
  } catch (err) {
    const e =
      err instanceof IronlogError
        ? err
        : new IronlogError(ErrorCodes.BACKEND, `backend ${backend.name}: ${String(err)}`, { cause: err });
    return { ok: false, error: e.toWire(), sha256 };
  }
}
