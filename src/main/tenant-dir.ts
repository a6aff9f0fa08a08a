/**
 * Tenant ids and tenant directories of a sink group: `<root>/tenants/<tenantId>/`, each a full
 * WAL directory. The one place that turns an id into a path, for the API (`openSinkGroup`)
 * and the CLI (`--tenant`), so both refuse the same things: an id outside
 * {@link kTenantIdPattern} (no `/`, `..`, absolute paths, upper case), and a tenant directory
 * that is a symbolic link or whose real path is not directly inside `<root>/tenants/`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, IronlogError } from '../core/errors.js';

/** A valid tenant id: 1-63 characters, lower-case letters, digits, `_` and `-`, not starting with `_` or `-`. */
export const kTenantIdPattern: RegExp = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The directory under a sink group's root that holds one directory per tenant. */
export const kTenantsDirName = 'tenants';

/** True when `id` is a valid tenant id ({@link kTenantIdPattern}). */
export function isTenantId(id: unknown): id is string {
  return typeof id === 'string' && kTenantIdPattern.test(id);
}

/** What an invalid id is told: `<what> must be ...`. */
export function tenantIdMessage(what: string, id: unknown): string {
  return `${what} must be a tenant id of 1-63 characters [a-z0-9_-] starting with a letter or digit, got ${JSON.stringify(id)}`;
}

/** `<root>/tenants/<id>` (absolute). The id must be valid; nothing is checked on disk. */
export function tenantDirPath(root: string, id: string): string {
  return path.join(path.resolve(root), kTenantsDirName, id);
}

/** Why an existing tenant directory is refused, or undefined when it is a real directory inside `<root>/tenants`. */
function refusal(root: string, id: string): { missing: boolean; reason: string } | undefined {
  const dir = tenantDirPath(root, id);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true, reason: `${dir} does not exist` };
    return { missing: false, reason: `${dir} cannot be read: ${(err as Error).message}` };
  }
  if (st.isSymbolicLink()) {
    return { missing: false, reason: `${dir} is a symbolic link (a tenant directory must be a real directory)` };
  }
  if (!st.isDirectory()) return { missing: false, reason: `${dir} is not a directory` };
  // The parent may be reached through links (the root may live on a mounted volume): compare
  // real paths, so the tenant's directory is exactly <real tenants dir>/<id>.
  const real = fs.realpathSync(dir);
  const expected = path.join(fs.realpathSync(path.dirname(dir)), id);
  if (real !== expected) return { missing: false, reason: `${dir} resolves to ${real}, outside ${path.dirname(dir)}` };
  return undefined;
}

/**
 * For opening a group: validates `id` (`ERR_IRONLOG_INVALID_OPTION`), creates `<root>/tenants/<id>`
 * when missing, and refuses one that is a symbolic link, not a directory or not inside
 * `<root>/tenants` (`ERR_IRONLOG_INVALID_OPTION`). Returns the directory.
 */
export function prepareTenantDir(root: string, id: string): string {
  if (!isTenantId(id)) throw new IronlogError(ErrorCodes.INVALID_OPTION, tenantIdMessage('options.tenants id', id));
  const dir = tenantDirPath(root, id);
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot create ${path.dirname(dir)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let why = refusal(root, id);
  if (why?.missing) {
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new IronlogError(ErrorCodes.IO, `cannot create ${dir}: ${(err as Error).message}`, { cause: err });
      }
    }
    why = refusal(root, id);
  }
  if (why) throw new IronlogError(ErrorCodes.INVALID_OPTION, `options.tenants: tenant ${id}: ${why.reason}`);
  return dir;
}

/**
 * For reading one tenant (the CLI's `--dir ROOT --tenant ID`): validates `id`
 * (`ERR_IRONLOG_INVALID_ARGUMENT`) and returns `<root>/tenants/<id>` if it is a real directory
 * inside `<root>/tenants`; `ERR_IRONLOG_TENANT_NOT_FOUND` otherwise (missing, a symbolic link, a
 * file, or resolving elsewhere). Creates nothing.
 */
export function resolveTenantDir(root: string, id: string): string {
  if (!isTenantId(id)) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, tenantIdMessage('--tenant', id));
  const why = refusal(root, id);
  if (why) {
    const known = listTenantIds(root);
    throw new IronlogError(
      ErrorCodes.TENANT_NOT_FOUND,
      `no tenant ${JSON.stringify(id)} under ${path.resolve(root)}: ${why.reason}` +
        (known.length > 0 ? ` (tenants there: ${known.join(', ')})` : ` (no tenants under ${path.resolve(root)})`),
    );
  }
  return tenantDirPath(root, id);
}

/** The valid tenant ids that have a real directory under `<root>/tenants`, sorted (none when missing). */
export function listTenantIds(root: string): string[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(path.join(path.resolve(root), kTenantsDirName), { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter((d) => d.isDirectory() && isTenantId(d.name))
    .map((d) => d.name)
    .sort();
}
