/**
 * `ironlog witness serve`: a C2SP tlog-witness over HTTP (`POST /add-checkpoint`), cosigning the
 * checkpoints of the logs it is configured with, with its state kept durably in `--state-dir`.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { parseSignerKey, parseVerifierKey } from '../compliance/note.js';
import { startWitnessServer, Witness } from '../compliance/witness.js';
import { ErrorCodes, IronlogError } from '../core/errors.js';
import { acquireDirLock } from '../wal/dir-lock.js';
import { listenForStop, parseSize, portArg } from './args.js';

interface WitnessServeOptions {
  stateDir: string;
  key: string;
  log: string[];
  port: number;
  host: string;
  maxBodyBytes: number;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function readKeyFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new IronlogError(ErrorCodes.IO, `cannot read the ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A `--log` value: a verifier key, or a file holding one (e.g. `PREFIX.pub` of `ironlog keygen`). */
function logKey(value: string): string {
  return fs.existsSync(value) && fs.statSync(value).isFile() ? readKeyFile(value, 'log key file') : value;
}

/** `ironlog witness ...`. */
export function registerWitness(program: Command): void {
  const witness = program
    .command('witness')
    .description('a C2SP tlog-witness: cosigns log checkpoints after checking they extend what it saw before');
  witness
    .command('serve')
    .description('serve POST /add-checkpoint (C2SP tlog-witness), answering tlog-cosignature/v1 lines')
    .requiredOption(
      '--state-dir <dir>',
      'directory of the witness state (created if missing; one witness per directory)',
    )
    .requiredOption('--key <file>', 'file holding the witness cosigner signer key (`ironlog keygen --cosigner --out`)')
    .requiredOption(
      '--log <vkey>',
      'verifier key of a log to witness (or a file holding it); repeat for several logs. The key name is the origin',
      collect,
    )
    .option('--port <port>', 'TCP port (0: any free port; the bound address is printed)', portArg, 8081)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--max-body-bytes <size>', 'largest request body; larger answers 413', parseSize, 64 * 1024)
    .addHelpText(
      'after',
      `
Answers (C2SP tlog-witness): 200 cosignature line; 400 malformed request or old size above the
checkpoint size; 403 no valid signature by a configured key of that origin; 404 unknown origin;
409 (text/x.tlog.size, the last cosigned size) when "old" is not that size, or 409 when the same
size has another root (a split view); 422 the consistency proof does not verify. State is stored
durably before any 200. SIGTERM or SIGINT: finish in-flight requests and exit 0.

Example:
  $ ironlog keygen --name witness.example/w1 --cosigner --out ./w1
  $ ironlog witness serve --state-dir ./w1-state --key ./w1.key --log "$(cat ./audit-log.pub)" --port 8081`,
    )
    .action(async (opts: WitnessServeOptions) => {
      // Keys first: a bad key fails before anything is created or locked.
      const key = parseSignerKey(readKeyFile(opts.key, 'witness key file'));
      const logs = opts.log.map((v) => parseVerifierKey(logKey(v)));
      try {
        const mode = fs.statSync(opts.key).mode & 0o077;
        if (mode !== 0 && process.platform !== 'win32') {
          process.stderr.write(`ironlog witness: warning: ${opts.key} is readable by other users (chmod 600 it)\n`);
        }
      } catch {
        // Read above already succeeded; a stat failure here only skips the warning.
      }
      try {
        fs.mkdirSync(opts.stateDir, { recursive: true });
      } catch (err) {
        throw new IronlogError(ErrorCodes.IO, `cannot create --state-dir ${opts.stateDir}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const lock = acquireDirLock(opts.stateDir);
      const stop = listenForStop();
      try {
        const w = Witness.open({ stateDir: opts.stateDir, key, logs });
        const server = await startWitnessServer(w, {
          host: opts.host,
          port: opts.port,
          maxBodyBytes: opts.maxBodyBytes,
          onRequest: (info) => {
            if (info.status !== 200) process.stderr.write(`ironlog witness: ${info.status} ${info.message}\n`);
          },
        });
        process.stdout.write(
          `ironlog witness listening on ${server.url} (name ${w.name}, key ${w.verifierKey}, logs ${w.origins.join(', ')})\n`,
        );
        const sig = await stop.promise;
        process.stderr.write(`ironlog witness: ${sig}: closing\n`);
        await server.close();
      } finally {
        stop.dispose();
        lock.release();
      }
    });
}
