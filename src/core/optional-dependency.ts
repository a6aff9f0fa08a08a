/**
 * Optional peer dependencies (the cloud SDKs, autocannon): declared in `peerDependencies` with
 * `peerDependenciesMeta.optional`, so `npm i ironlog` does not download them, and loaded on first
 * use. When one is absent, the feature that needs it fails with `ERR_IRONLOG_MISSING_DEPENDENCY`
 * naming the package and the range to install, instead of a bare `Cannot find module`.
 *
 * Ground layer: imports nothing above `core`.
 */
import { createRequire } from 'node:module';
import { ErrorCodes, IronlogError } from './errors.js';

/** Every optional peer and the version range ironlog is tested with (kept equal to package.json). */
export const kOptionalPeers = Object.freeze({
  '@aws-sdk/client-s3': '~3.1175.0',
  '@aws-sdk/client-kms': '~3.1164.0',
  '@aws-sdk/lib-storage': '~3.1175.0',
  '@azure/storage-blob': '~12.32',
  '@google-cloud/storage': '^7.22.0',
  autocannon: '^9.0.0',
});

/** The name of an optional peer dependency. */
export type OptionalPeer = keyof typeof kOptionalPeers;

const require = createRequire(import.meta.url);

// The AWS SDK warns (process.emitWarning, once per SDK copy and process) that its releases after
// January 2027 need Node 22. ironlog decides its own Node line (package.json `engines`), and the
// notice is nothing an ironlog user can act on; it printed before every `--source s3://` error
// and many times in `npm test`. This is the SDK's documented switch, read when the first client
// is created; `??=` leaves a value the user set alone.
const kAwsSdkNodeWarningSwitch = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** What must hold before an optional peer is loaded (today: the AWS SDK's Node-line notice off). */
export function beforeLoading(pkg: string): void {
  if (pkg.startsWith('@aws-sdk/')) process.env[kAwsSdkNodeWarningSwitch] ??= 'true';
}

/** The typed error for `pkg` missing, `feature` being what needed it (e.g. `'the s3 backend'`). */
export function missingDependency(pkg: OptionalPeer, feature: string, cause?: unknown): IronlogError {
  return new IronlogError(
    ErrorCodes.MISSING_DEPENDENCY,
    `${feature} needs the optional package ${pkg}, which is not installed: run npm install ${pkg}@'${kOptionalPeers[pkg]}'`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * True when `err` says that `pkg` itself cannot be found (not a module inside it, not one of its
 * own dependencies: those are a broken install and keep their own error).
 */
function isNotFound(err: unknown, pkg: string): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = String((err as { message?: unknown }).message ?? '');
  // require: "Cannot find module 'pkg'"; import: "Cannot find package 'pkg' imported from ...".
  return message.includes(`'${pkg}'`);
}

/**
 * Throws `ERR_IRONLOG_MISSING_DEPENDENCY` unless `pkg` resolves from ironlog's own location.
 * Cheap (resolution only, nothing is loaded): option validation calls it so that a missing SDK
 * fails `openSink`, not the first upload a minute later.
 */
export function assertOptionalDependency(pkg: OptionalPeer, feature: string): void {
  try {
    require.resolve(pkg);
  } catch (err) {
    if (isNotFound(err, pkg)) throw missingDependency(pkg, feature, err);
    throw err;
  }
}

/**
 * Loads `pkg` synchronously (its CommonJS build) on first use. For constructors that must stay
 * synchronous (the replication backends); `T` is the module's type (`typeof import('pkg')`).
 */
export function requireOptional<T>(pkg: OptionalPeer, feature: string): T {
  beforeLoading(pkg);
  try {
    return require(pkg) as T;
  } catch (err) {
    if (isNotFound(err, pkg)) throw missingDependency(pkg, feature, err);
    throw err;
  }
}

/** Loads `pkg` with a dynamic `import()` on first use (its ES module build where it has one). */
export async function importOptional<T>(pkg: OptionalPeer, feature: string, load: () => Promise<T>): Promise<T> {
  beforeLoading(pkg);
  try {
    return await load();
  } catch (err) {
    if (isNotFound(err, pkg)) throw missingDependency(pkg, feature, err);
    throw err;
  }
}
