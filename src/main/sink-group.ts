/**
 * `openSinkGroup()` and the {@link SinkGroup}: several tenants' durable streams under one root,
 * served by ONE writer worker thread (`workers/writer/group-entry.ts`). Each tenant is a full
 * {@link Sink} over its own WAL directory `<root>/tenants/<tenantId>/`: its own seqs, hash chain,
 * keys, signing origin, lock and (with replication) object names. See `docs/multi-tenant.md`.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { type MessagePort, Worker } from 'node:worker_threads';
import { resolveSigningOptions } from '../compliance/signing-options.js';
import { ErrorCodes, IronlogError, invalidOption } from '../core/errors.js';
import { workerExecArgv } from '../core/worker-exec-argv.js';
import type { WriterStatsSnapshot } from '../groupcommit/writer-stats.js';
import type { HealthOptions, HealthReport } from '../monitoring/health.js';
import { tenantObjectPrefix } from '../replication/naming.js';
import type { GroupWriterToMain, MainToGroupWriter, WriterInit, WriterToMain } from '../workers/messages.js';
import { resolveSinkOptions, type SinkOptions } from './options.js';
import { openSinkOn, type Sink, type StartedWriter, type WriterEndpoint, type WriterLauncher } from './sink.js';
import { isTenantId, prepareTenantDir, tenantIdMessage } from './tenant-dir.js';

// Module-private: openSinkGroup() creates a SinkGroup through it (as openSink does a Sink).
const kCreate = Symbol('ironlog.sinkGroup.create');

/**
 * Options of one tenant: any {@link SinkOptions} but `dir` (the tenant's directory is
 * `<root>/tenants/<id>`). They override the group-wide options field by field (a tenant's
 * `signing` replaces the group's `signing` as a whole). Typical per-tenant fields: `signing` (its
 * own key and origin), `keyProvider` + `encryption` (its own master keys), `masking`,
 * `pseudonymization`, `subjectEncryption`, `compliance`, `metrics` (a Registry per tenant).
 */
export type TenantOptions = Omit<SinkOptions, 'dir'>;

/** One entry of the array form of {@link SinkGroupOptions.tenants}: the id and its {@link TenantOptions}. */
export interface TenantSpec extends TenantOptions {
  /** The tenant id: 1-63 characters of `[a-z0-9_-]`, starting with a letter or digit. */
  id: string;
}

/** Options of {@link openSinkGroup}: the root, the tenants, and the options every tenant shares. */
export interface SinkGroupOptions extends Omit<SinkOptions, 'dir'> {
  /**
   * The group's root directory (created if missing). Tenant `t` lives in `<root>/tenants/t/`, a
   * complete WAL directory: `ironlog verify --dir <root> --tenant t` (or `--dir <root>/tenants/t`)
   * and every other tool work on it.
   */
  root: string;
  /**
   * The tenants: an array of ids or {@link TenantSpec}s (`[{ id: 'acme', signing: {...} }, 'globex']`),
   * or an object keyed by id (`{ acme: { signing: {...} }, globex: {} }`). At least one; ids unique,
   * each matching `/^[a-z0-9][a-z0-9_-]{0,62}$/` (no `/`, `..`, upper case or absolute paths),
   * else `ERR_IRONLOG_INVALID_OPTION`. A tenant directory that exists must be a real directory
   * (not a symbolic link) directly inside `<root>/tenants/`.
   *
   * Defaults that differ from {@link openSink}: the signing origin is `<origin>/tenants/<id>`
   * (`<origin>` being the key's name or `ironlog/<nodeId>`) unless the tenant sets its own
   * `signing.origin`, so no two tenants' checkpoints share an origin; and every replication
   * backend's `prefix` gets `/tenants/<id>` appended, so objects are named
   * `<prefix>/tenants/<id>/<nodeId>/<firstSeq>-<lastSeq>.wal`.
   */
  tenants: readonly (string | TenantSpec)[] | Readonly<Record<string, TenantOptions>>;
}

/** Counters of one tenant in {@link SinkGroupStats}. */
export interface TenantStats extends WriterStatsSnapshot {
  /** The tenant's last durable (fdatasync'd) seq. */
  readonly durableSeq: number;
  /** True once the tenant's sink is closed (by `group.close()`) or its writer is gone. */
  readonly closed: boolean;
  /** `threadId` of the writer thread that serves this tenant (the same for every tenant of a group). */
  readonly writerThreadId: number;
}

/** What {@link SinkGroup.stats} returns. */
export interface SinkGroupStats {
  /** Writer worker threads the group runs: always 1 (every tenant's commit loop shares it). */
  readonly writerThreads: number;
  /** `threadId` of that writer thread. */
  readonly writerThreadId: number;
  /** Per tenant id: its writer counters (records, bytes, batches, fsyncs) and durable seq. */
  readonly tenants: Readonly<Record<string, TenantStats>>;
}

/** What {@link SinkGroup.health} returns: every tenant's {@link HealthReport} and a summary. */
export interface SinkGroupHealth {
  /** `ok` when every tenant is `ok`; `down` when the writer thread is gone; `degraded` otherwise. */
  readonly status: 'ok' | 'degraded' | 'down';
  /** True while the shared writer thread runs. */
  readonly live: boolean;
  /** True when every tenant is ready. */
  readonly ready: boolean;
  /** Each reason of each tenant that is not `ok`, prefixed `<tenantId>: `. */
  readonly reasons: string[];
  /** Per tenant id. */
  readonly tenants: Readonly<Record<string, HealthReport>>;
}

/**
 * Several tenants' durable event streams under one root, served by one writer worker thread.
 * Create it with {@link openSinkGroup}; reach a tenant with {@link SinkGroup.tenant}.
 *
 * Each tenant is a full {@link Sink} over `<root>/tenants/<id>/`: `emit()` resolves only after that
 * tenant's own WAL is `fdatasync`'d; a write or fsync fault in one tenant's WAL rejects that
 * tenant's acks only (the others go on); `replay()` and `verify()` read that tenant's directory
 * only. The writer thread is shared: if it dies, every tenant's pending acks reject with
 * `ERR_IRONLOG_WORKER_EXITED`.
 */
export class SinkGroup {
  /** The root directory (absolute). */
  readonly root: string;
  readonly #sinks: ReadonlyMap<string, Sink>;
  readonly #writer: GroupWriter;
  #closePromise: Promise<void> | undefined;

  /** Use {@link openSinkGroup}. */
  private constructor(root: string, sinks: ReadonlyMap<string, Sink>, writer: GroupWriter) {
    this.root = root;
    this.#sinks = sinks;
    this.#writer = writer;
  }

  /** @internal Called once by {@link openSinkGroup}. */
  static [kCreate](root: string, sinks: ReadonlyMap<string, Sink>, writer: GroupWriter): SinkGroup {
    return new SinkGroup(root, sinks, writer);
  }

  /** The tenant ids, in the order they were given. */
  get tenantIds(): readonly string[] {
    return [...this.#sinks.keys()];
  }

  /** True when the group has tenant `id`. */
  has(id: string): boolean {
    return this.#sinks.has(id);
  }

  /**
   * The sink of tenant `id`: emit, flush, replay, verify, health, events, as {@link Sink}. Throws
   * `ERR_IRONLOG_INVALID_ARGUMENT` for a string that is no valid tenant id (`../b`, `a/b`, `/x`)
   * and `ERR_IRONLOG_TENANT_NOT_FOUND` for a valid id the group was not opened with. Closing a
   * tenant's sink yourself ends that tenant only; `group.close()` closes them all.
   */
  tenant(id: string): Sink {
    if (!isTenantId(id)) throw new IronlogError(ErrorCodes.INVALID_ARGUMENT, tenantIdMessage('group.tenant(id)', id));
    const sink = this.#sinks.get(id);
    if (sink === undefined) {
      throw new IronlogError(
        ErrorCodes.TENANT_NOT_FOUND,
        `group.tenant: no tenant ${JSON.stringify(id)} in this group (tenants: ${this.tenantIds.join(', ')})`,
      );
    }
    return sink;
  }

  /** Every tenant's counters, read from shared memory, and the one writer thread's id. */
  stats(): SinkGroupStats {
    const tenants: Record<string, TenantStats> = {};
    for (const [id, sink] of this.#sinks) {
      tenants[id] = {
        ...sink.stats(),
        durableSeq: sink.durableSeq,
        closed: sink.closed,
        writerThreadId: this.#writer.tenantThreadIds.get(id) ?? this.#writer.threadId,
      };
    }
    return { writerThreads: 1, writerThreadId: this.#writer.threadId, tenants };
  }

  /** Every tenant's {@link Sink.health}, and the group's summary of them. */
  async health(options: HealthOptions = {}): Promise<SinkGroupHealth> {
    const tenants: Record<string, HealthReport> = {};
    const reasons: string[] = [];
    let ready = true;
    let allOk = true;
    for (const [id, sink] of this.#sinks) {
      const h = await sink.health(options);
      tenants[id] = h;
      ready &&= h.ready;
      allOk &&= h.status === 'ok';
      for (const r of h.reasons) reasons.push(`${id}: ${r}`);
    }
    const live = this.#writer.running;
    return { status: !live ? 'down' : allOk ? 'ok' : 'degraded', live, ready: live && ready, reasons, tenants };
  }

  /** Resolves once everything emitted so far to any tenant is durable or rejected. */
  async flush(): Promise<void> {
    await Promise.all([...this.#sinks.values()].map((s) => s.flush()));
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closePromise !== undefined;
  }

  /**
   * Closes every tenant (each drains and fsyncs its WAL, as {@link Sink.close}), then ends the
   * writer thread. Rejects with the first tenant's close error, after all were closed.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    const results = await Promise.allSettled([...this.#sinks.values()].map((s) => s.close()));
    await this.#writer.shutdown();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** One tenant's view of the shared writer: the events a {@link Sink} listens to. */
class TenantEndpoint implements WriterEndpoint {
  readonly #listeners = { message: new Set<(m: WriterToMain) => void>(), error: new Set<(e: Error) => void>() };
  readonly #exit = new Set<{ fn: (code: number) => void; once: boolean }>();
  exited = false;

  on(event: 'message', listener: (msg: WriterToMain) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
  on(event: 'message' | 'error' | 'exit', listener: (arg: never) => void): this {
    if (event === 'exit') this.#exit.add({ fn: listener as (code: number) => void, once: false });
    else if (event === 'message') this.#listeners.message.add(listener as (m: WriterToMain) => void);
    else this.#listeners.error.add(listener as (e: Error) => void);
    return this;
  }

  once(_event: 'exit', listener: (code: number) => void): this {
    this.#exit.add({ fn: listener, once: true });
    return this;
  }

  message(msg: WriterToMain): void {
    for (const l of [...this.#listeners.message]) l(msg);
  }

  error(err: Error): void {
    for (const l of [...this.#listeners.error]) l(err);
  }

  /** The tenant's loop is gone (closed, fatal, or the thread ended): as a worker's 'exit'. */
  exit(code: number): void {
    if (this.exited) return;
    this.exited = true;
    for (const l of [...this.#exit]) {
      if (l.once) this.#exit.delete(l);
      l.fn(code);
    }
  }
}

/** The shared writer worker and the routing of its messages to the tenants' endpoints. */
class GroupWriter {
  readonly #worker: Worker;
  readonly #endpoints = new Map<number, TenantEndpoint>();
  /** Tenants still starting: their launcher's settle functions. */
  readonly #starting = new Map<
    number,
    { resolve: (sab: SharedArrayBuffer) => void; reject: (e: unknown) => void; early: WriterToMain[] }
  >();
  readonly tenantThreadIds = new Map<string, number>();
  /** The writer's own `threadId`, as it reported it in each tenant's `ready`. */
  readonly #startedThreadIds = new Map<number, number>();
  readonly #exitPromise: Promise<void>;
  readonly threadId: number;
  running = true;
  #next = 0;

  constructor() {
    try {
      this.#worker = new Worker(new URL('../workers/writer/group-entry.js', import.meta.url), {
        execArgv: workerExecArgv(),
      });
    } catch (err) {
      throw new IronlogError(ErrorCodes.INTERNAL, `cannot start the writer worker: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.threadId = this.#worker.threadId;
    this.#worker.on('message', (m: GroupWriterToMain) => this.#route(m));
    this.#worker.on('error', (err) => {
      for (const ep of this.#endpoints.values()) ep.error(err);
      this.#gone(
        new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker failed: ${err.message}`, { cause: err }),
      );
    });
    this.#exitPromise = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.on('exit', (code) => {
      this.#gone(new IronlogError(ErrorCodes.WORKER_EXITED, `the writer worker exited (code ${code})`));
      for (const ep of this.#endpoints.values()) ep.exit(code);
    });
  }

  /** A {@link WriterLauncher} that adds tenant `id` to the shared writer. */
  launcher(id: string): WriterLauncher {
    return (init: WriterInit, transferList: readonly MessagePort[]) => {
      const tenant = this.#next++;
      const endpoint = new TenantEndpoint();
      return new Promise((resolve, reject) => {
        if (!this.running) {
          reject(new IronlogError(ErrorCodes.WORKER_EXITED, 'the writer worker is not running'));
          return;
        }
        const early: WriterToMain[] = [];
        this.#starting.set(tenant, {
          resolve: (sab) => {
            this.#endpoints.set(tenant, endpoint);
            resolve({ endpoint, sab, early });
          },
          reject,
          early,
        });
        const msg: MainToGroupWriter = { type: 'add-tenant', tenant, init };
        this.#worker.postMessage(msg, [...transferList]);
      }).then((r) => {
        this.tenantThreadIds.set(id, this.#startedThreadIds.get(tenant) ?? this.threadId);
        return r as StartedWriter;
      });
    };
  }

  #route(m: GroupWriterToMain): void {
    const starting = this.#starting.get(m.tenant);
    if (starting !== undefined) {
      if (m.msg.type === 'ready') {
        this.#starting.delete(m.tenant);
        if (m.writerThreadId !== undefined) this.#startedThreadIds.set(m.tenant, m.writerThreadId);
        starting.resolve(m.msg.sab);
      } else if (m.msg.type === 'fatal') {
        this.#starting.delete(m.tenant);
        starting.reject(IronlogError.fromWire(m.msg.error));
      } else starting.early.push(m.msg);
      return;
    }
    const ep = this.#endpoints.get(m.tenant);
    if (ep === undefined) return;
    ep.message(m.msg);
    // The tenant's loop has ended (closed) or failed (fatal): for its sink, as its writer's exit.
    if (m.msg.type === 'closed') ep.exit(0);
    else if (m.msg.type === 'fatal') ep.exit(1);
  }

  #gone(err: IronlogError): void {
    this.running = false;
    for (const s of this.#starting.values()) s.reject(err);
    this.#starting.clear();
  }

  /** Ends the writer thread once every tenant's loop has finished (after their sinks closed). */
  async shutdown(): Promise<void> {
    if (this.running) {
      const msg: MainToGroupWriter = { type: 'shutdown' };
      this.#worker.postMessage(msg);
    }
    await this.#exitPromise;
  }
}

/** The tenants in the order given, as `[id, options]`; throws on a bad shape, id or duplicate. */
function listTenants(tenants: unknown): Array<[string, TenantOptions]> {
  const out: Array<[string, TenantOptions]> = [];
  const seen = new Set<string>();
  const add = (id: unknown, opts: unknown, where: string): void => {
    if (!isTenantId(id)) throw invalidOption(tenantIdMessage(`options.tenants${where}`, id));
    if (seen.has(id)) throw invalidOption(`options.tenants must not repeat a tenant id: ${id} appears twice`);
    if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) {
      throw invalidOption(`options.tenants${where} must be an object of tenant options`);
    }
    if (opts !== undefined && 'dir' in opts) {
      throw invalidOption(`options.tenants${where}.dir is not allowed: a tenant's directory is <root>/tenants/${id}`);
    }
    seen.add(id);
    out.push([id, (opts ?? {}) as TenantOptions]);
  };
  if (Array.isArray(tenants)) {
    tenants.forEach((t: unknown, i) => {
      if (typeof t === 'string') add(t, undefined, `[${i}]`);
      else if (typeof t === 'object' && t !== null) {
        const { id, ...rest } = t as TenantSpec;
        add(id, rest, `[${i}]`);
      } else throw invalidOption(`options.tenants[${i}] must be a tenant id or { id, ...tenantOptions }`);
    });
  } else if (typeof tenants === 'object' && tenants !== null) {
    for (const [id, opts] of Object.entries(tenants)) add(id, opts, `.${id}`);
  } else {
    throw invalidOption('options.tenants must be an array of tenant ids / { id, ...options } or an object keyed by id');
  }
  if (out.length === 0) throw invalidOption('options.tenants must name at least one tenant');
  return out;
}

/** One tenant's {@link SinkOptions}: the group's, then the tenant's, with the group defaults applied. */
function tenantSinkOptions(shared: TenantOptions, id: string, own: TenantOptions, dir: string): SinkOptions {
  const merged: SinkOptions = { ...shared, ...own, dir };
  if (own.shadowDirs === undefined && Array.isArray(shared.shadowDirs)) {
    // A group's shadow directories are roots, like `root`: each tenant's copy is its own
    // `<shadow>/tenants/<id>`, so no two tenants share (and lock) one shadow directory.
    merged.shadowDirs = shared.shadowDirs.map((d) =>
      typeof d === 'string' ? path.join(path.resolve(d), 'tenants', id) : d,
    );
  }
  const nodeId = merged.nodeId ?? 'node';
  if (merged.signing !== undefined && (merged.signing as { origin?: unknown }).origin === undefined) {
    // The origin a single sink would get (key name or ironlog/<nodeId>), made the tenant's own.
    const base = resolveSigningOptions(merged.signing, nodeId).origin;
    merged.signing = { ...merged.signing, origin: `${base}/tenants/${id}` };
  }
  if (merged.replication !== undefined && Array.isArray(merged.replication.backends)) {
    merged.replication = {
      ...merged.replication,
      backends: merged.replication.backends.map((b) =>
        typeof b === 'object' && b !== null ? { ...b, prefix: tenantObjectPrefix(b.prefix, id) } : b,
      ),
    };
  }
  return merged;
}

/**
 * Opens a group of tenants under `options.root`, each a {@link Sink} over
 * `<root>/tenants/<tenantId>/`, all served by one writer worker thread. Every tenant's options
 * are validated before anything starts.
 *
 * ```ts
 * const group = await openSinkGroup({ root: './audit', tenants: ['acme', 'globex'] });
 * await group.tenant('acme').emit({ user: 'u1', action: 'login' }); // durable in acme's WAL
 * await group.close();
 * ```
 *
 * Rejects with `ERR_IRONLOG_INVALID_OPTION` for bad options (a bad or repeated tenant id, a
 * tenant directory that is a symbolic link, a shared metrics Registry), and otherwise as
 * {@link openSink} does for the first tenant that cannot open (the others are closed again).
 */
export async function openSinkGroup(options: SinkGroupOptions): Promise<SinkGroup> {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('options must be an object with at least { root, tenants }');
  }
  const { root, tenants, ...shared } = options;
  if (typeof root !== 'string' || root.length === 0) {
    throw invalidOption('options.root must be a non-empty string (the group directory)');
  }
  if (shared.metrics !== undefined && typeof shared.metrics !== 'boolean') {
    throw invalidOption('options.metrics of a sink group must be true or false; give a Registry per tenant instead');
  }
  const list = listTenants(tenants);
  const rootDir = path.resolve(root);
  // Validate every tenant's options first: nothing is created or started for a bad group.
  const perTenant = list.map(([id, own]) => {
    const opts = tenantSinkOptions(shared, id, own, path.join(rootDir, 'tenants', id));
    resolveSinkOptions(opts);
    return [id, opts] as const;
  });
  try {
    fs.mkdirSync(rootDir, { recursive: true });
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot create the group directory ${rootDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  for (const [id] of perTenant) prepareTenantDir(rootDir, id);
  const writer = new GroupWriter();
  const sinks = new Map<string, Sink>();
  try {
    for (const [id, opts] of perTenant) sinks.set(id, await openSinkOn(opts, writer.launcher(id)));
  } catch (err) {
    await Promise.allSettled([...sinks.values()].map((s) => s.close()));
    await writer.shutdown();
    throw err;
  }
  return SinkGroup[kCreate](rootDir, sinks, writer);
}
