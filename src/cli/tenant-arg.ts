/**
 * `--tenant ID` of `replay`, `export` and `verify`: with `--dir ROOT` (a sink group's root), the
 * command reads `<root>/tenants/<id>` only. The id is checked as `openSinkGroup` checks it, and
 * the directory must be a real directory inside `<root>/tenants` (no symbolic link to another
 * tenant): `resolveTenantDir` in `main/tenant-dir.ts`. A bad id or an unknown tenant is exit 2.
 */
import type { Command } from 'commander';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { resolveTenantDir } from '../main/tenant-dir.js';

/** Adds `--tenant <id>` to a reading command. */
export function addTenantOption(cmd: Command): Command {
  return cmd.option(
    '--tenant <id>',
    "with --dir <root>: read only this tenant of a sink group, <root>/tenants/<id> (openSinkGroup's layout)",
  );
}

/**
 * With `--tenant`: replaces `opts.dir` (the group's root) by the tenant's directory. Throws
 * `ERR_IRONLOG_INVALID_ARGUMENT` (no `--dir`, a source URL instead, or a bad id) or
 * `ERR_IRONLOG_TENANT_NOT_FOUND`; both end the command with exit code 2.
 */
export function applyTenant(opts: { dir?: string; tenant?: string; source?: string }): void {
  if (opts.tenant === undefined) return;
  if (opts.source !== undefined) {
    throw new IronlogError(
      ErrorCodes.INVALID_ARGUMENT,
      '--tenant goes with --dir <root>; for a replicated tenant use --source <url>/tenants/<id>',
    );
  }
  if (opts.dir === undefined) {
    throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, '--tenant needs --dir <root> (the sink group root)');
  }
  opts.dir = resolveTenantDir(opts.dir, opts.tenant);
}
