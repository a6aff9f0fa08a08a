import * as fs from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ErrorCodes, errnoCode, IronlogError } from '../core/errors.js';
import { openSink } from '../main/sink.js';
import { type AuthConfig, isLoopbackHost, parseTokens, type TokenEntry, TokenStore } from '../server/auth.js';
import type { IngestServer, TlsMaterial } from '../server/http-ingest.js';
import type { RouteClass } from '../server/routes.js';
import { listenForStop, parseSize, portArg } from './args.js';

interface ServeOptions {
  dir: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  onFull: 'wait' | 'reject';
  syncMode: 'batch' | 'always' | 'interval' | 'none';
  ringBytes?: number;
  segmentBytes?: number;
  nodeId?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tokensFile?: string;
  openRoutes: RouteClass[];
  insecure?: boolean;
}

/** The environment variable that may hold the token list (same JSON as `--tokens-file`). */
const kTokensEnv = 'IRONLOG_SERVE_TOKENS';

/** `--open-routes health,metrics` or `none`. */
function openRoutesArg(value: string): RouteClass[] {
  if (value.trim() === 'none') return [];
  const list = value.split(',').map((s) => s.trim());
  for (const r of list) {
    if (r !== 'health' && r !== 'metrics') {
      throw new InvalidArgumentError("must be a comma-separated list of 'health' and 'metrics', or 'none'");
    }
  }
  return list as RouteClass[];
}

function readFileOption(file: string, option: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, `${option} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function loadTls(opts: ServeOptions): TlsMaterial | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) {
    if (opts.tlsCa !== undefined) {
      throw new IronlogError(ErrorCodes.INVALID_OPTION, '--tls-ca needs --tls-cert and --tls-key (mutual TLS is TLS)');
    }
    return undefined;
  }
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) {
    throw new IronlogError(ErrorCodes.INVALID_OPTION, '--tls-cert and --tls-key go together');
  }
  return {
    cert: readFileOption(opts.tlsCert, '--tls-cert'),
    key: readFileOption(opts.tlsKey, '--tls-key'),
    ca: opts.tlsCa !== undefined ? readFileOption(opts.tlsCa, '--tls-ca') : undefined,
  };
}

/** Tokens from `--tokens-file` and `IRONLOG_SERVE_TOKENS` (names must not repeat across both). */
function loadTokens(opts: ServeOptions): TokenEntry[] | undefined {
  const lists: TokenEntry[][] = [];
  if (opts.tokensFile !== undefined) {
    lists.push(parseTokens(readFileOption(opts.tokensFile, '--tokens-file').toString('utf8'), opts.tokensFile));
  }
  const env = process.env[kTokensEnv];
  if (env !== undefined && env.trim() !== '') lists.push(parseTokens(env, kTokensEnv));
  if (lists.length === 0) return undefined;
  const all = lists.flat();
  const seen = new Set<string>();
  for (const t of all) {
    if (seen.has(t.name)) {
      throw new IronlogError(
        ErrorCodes.INVALID_OPTION,
        `token name ${t.name} is in both --tokens-file and ${kTokensEnv}`,
      );
    }
    seen.add(t.name);
  }
  return all;
}

/** A failed `listen` as an ironlog I/O error that says what to do. */
function listenError(err: unknown, host: string, port: number): unknown {
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is in use by another process (--port 0 picks a free one)',
    EADDRNOTAVAIL: 'the address is not one of this machine (use 127.0.0.1, or an address of a local interface)',
    ENOTFOUND: 'the host name does not resolve',
    EAI_AGAIN: 'the host name does not resolve',
    EACCES: 'permission denied (ports below 1024 need privileges)',
  };
  const code = errnoCode(err);
  const reason = code !== undefined ? why[code] : undefined;
  if (reason === undefined) return err;
  return new IronlogError(ErrorCodes.IO, `serve: cannot listen on ${host}:${port}: ${reason} (${code})`, {
    cause: err,
  });
}

/** `ironlog serve`: HTTP ingest into a WAL directory. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('HTTP ingest: POST /events answers 200 {"seqs":[...]} only once the events are durable')
    .requiredOption('--dir <dir>', 'the WAL directory (created if missing)')
    .option('--port <port>', 'TCP port (0: any free port; the bound address is printed)', portArg, 8080)
    .option(
      '--host <host>',
      'interface to bind (not loopback: needs --tokens-file or --tls-ca, or --insecure)',
      '127.0.0.1',
    )
    .addOption(
      new Option(
        '--max-body-bytes <size>',
        'largest request body, also once decompressed (bytes, KB, KiB, MB, MiB); larger answers 413',
      )
        .argParser(parseSize)
        .default(1024 * 1024, '1MiB'),
    )
    .addOption(
      new Option('--on-full <mode>', "ring full: 'reject' answers 503 + Retry-After, 'wait' queues")
        .choices(['wait', 'reject'])
        .default('reject'),
    )
    .addOption(
      new Option('--sync-mode <mode>', 'how batches are made durable (see docs/durability.md)')
        .choices(['batch', 'always', 'interval', 'none'])
        .default('batch'),
    )
    .option('--ring-bytes <size>', 'ring buffer size, a power of two (64KiB, 16MiB; default 8MiB)', parseSize)
    .option('--segment-bytes <size>', 'segment roll size (e.g. 64MiB, the default)', parseSize)
    .option('--node-id <id>', 'writer id in segment headers')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); reloaded on SIGHUP')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert; reloaded on SIGHUP')
    .option('--tls-ca <file>', 'mutual TLS: every client must present a certificate this PEM CA signed')
    .option(
      '--tokens-file <file>',
      `bearer tokens, JSON {"tokens":[{"name","sha256","routes"}]} (also ${kTokensEnv}); reloaded on SIGHUP`,
    )
    .addOption(
      new Option(
        '--open-routes <list>',
        "with authentication: route classes open to anyone: 'health', 'metrics' or 'none'",
      )
        .argParser(openRoutesArg)
        .default(['health'], 'health'),
    )
    .option('--insecure', 'allow a non-loopback --host without authentication (anyone who reaches it can write)')
    .addHelpText(
      'after',
      `
Routes: POST /events (application/json object or array, application/x-ndjson, application/msgpack;
Content-Encoding gzip, deflate or br), POST /v1/logs (OpenTelemetry OTLP/HTTP logs, protobuf or
JSON), GET /metrics, /health, /health/live, /health/ready.
With --tokens-file or --tls-ca every record is stored as {"$principal": "token:NAME" or
"cert:SUBJECT", "$event": <the posted event>}; a posted event with a "$principal" key is refused.
SIGTERM or SIGINT: stop accepting, answer what is in flight, close the WAL, exit 0.
SIGHUP: reload --tls-cert/--tls-key/--tls-ca and --tokens-file (a removed token is revoked).

Example:
  $ ironlog serve --dir ./audit --port 8080
  $ curl -s -XPOST localhost:8080/events -H 'content-type: application/json' -d '{"user":"u1","action":"login"}'
  {"seqs":[1]}`,
    )
    .action(async (opts: ServeOptions) => {
      const tls = loadTls(opts);
      const tokens = loadTokens(opts);
      const store = tokens !== undefined ? new TokenStore(tokens) : undefined;
      const auth: AuthConfig = {
        tokens: store,
        clientCertificates: tls?.ca !== undefined,
        openRoutes: opts.openRoutes,
      };
      const authenticated = store !== undefined || tls?.ca !== undefined;
      if (!authenticated && !isLoopbackHost(opts.host) && opts.insecure !== true) {
        throw new IronlogError(
          ErrorCodes.INVALID_OPTION,
          `--host ${opts.host} is not a loopback address and no authentication is configured: give --tokens-file ` +
            `(or ${kTokensEnv}) or --tls-ca, or --insecure to let anyone who reaches it write`,
        );
      }
      // Installed before anything is opened: SIGHUP's default action would end the process.
      let reload = (): void => {
        process.stderr.write('ironlog serve: SIGHUP: not listening yet, nothing to reload\n');
      };
      const onHup = (): void => reload();
      process.on('SIGHUP', onHup);
      let sink: Awaited<ReturnType<typeof openSink>>;
      try {
        sink = await openSink({
          dir: opts.dir,
          metrics: true,
          onFull: opts.onFull,
          syncMode: opts.syncMode,
          ...(opts.ringBytes !== undefined ? { ringBytes: opts.ringBytes } : {}),
          ...(opts.segmentBytes !== undefined ? { segmentBytes: opts.segmentBytes } : {}),
          ...(opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {}),
        });
      } catch (err) {
        process.off('SIGHUP', onHup);
        throw err;
      }
      sink.events.on('fault', (err) => process.stderr.write(`ironlog serve: WAL fault ${err.code}: ${err.message}\n`));
      sink.events.on('faultCleared', (g) =>
        process.stderr.write(`ironlog serve: WAL fault cleared (seqs ${g.gapFromSeq}-${g.gapToSeq} rejected)\n`),
      );
      const stopSignal = listenForStop();
      let server: IngestServer;
      try {
        const { startIngestServer } = await import('../server/http-ingest.js');
        server = await startIngestServer(sink, {
          host: opts.host,
          port: opts.port,
          maxBodyBytes: opts.maxBodyBytes,
          ...(tls !== undefined ? { tls } : {}),
          auth,
        });
      } catch (err) {
        stopSignal.dispose();
        process.off('SIGHUP', onHup);
        await sink.close();
        throw listenError(err, opts.host, opts.port);
      }
      reload = (): void => {
        const done: string[] = [];
        try {
          if (tls !== undefined) {
            server.reloadTls(loadTls(opts) as TlsMaterial);
            done.push('TLS certificate');
          }
          if (store !== undefined) {
            const next = loadTokens(opts) ?? [];
            store.replace(next);
            done.push(`${next.length} tokens`);
          }
          process.stderr.write(`ironlog serve: SIGHUP: reloaded ${done.length > 0 ? done.join(', ') : 'nothing'}\n`);
        } catch (err) {
          // Keep serving with what was loaded before: a typo in the file must not take the server down.
          const msg = err instanceof IronlogError ? `${err.code}: ${err.message}` : String(err);
          process.stderr.write(`ironlog serve: SIGHUP: reload failed, keeping the previous settings: ${msg}\n`);
        }
      };
      const mode = [tls ? (tls.ca ? 'mutual TLS' : 'TLS') : undefined, store ? `${store.size} tokens` : undefined]
        .filter((s) => s !== undefined)
        .join(', ');
      process.stdout.write(
        `ironlog serve listening on ${server.url} (WAL ${sink.options.dir}${mode ? `; ${mode}` : ''})\n`,
      );
      const sig = await stopSignal.promise;
      process.off('SIGHUP', onHup);
      process.stderr.write(`ironlog serve: ${sig}: draining ${server.inFlight} in-flight requests\n`);
      await server.stop();
      await sink.close();
      process.stderr.write(`ironlog serve: closed (last durable seq ${sink.durableSeq})\n`);
    });
}
