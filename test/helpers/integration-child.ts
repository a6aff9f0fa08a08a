import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWal } from '../../dist/main/index.js';

const kChild = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'integration-child.mjs');

/** A running `test/fixtures/integration-child.mjs`, its stdout split into lines. */
export class IntegrationChild {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly #waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [kChild, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        for (const w of this.#waiters.splice(0)) {
          if (w.match(line)) w.resolve(line);
          else this.#waiters.push(w);
        }
      }
    });
    this.proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first line (already seen or coming) that `match` accepts. */
  waitLine(match: (line: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child: no matching line in ${timeoutMs} ms; stderr: ${this.stderr}`)),
        timeoutMs,
      );
      this.#waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void this.exited.then((code) =>
        reject(new Error(`child exited (${code}) before a matching line; stderr: ${this.stderr}`)),
      );
    });
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** Every record of the WAL in `dir` (offline reader). */
export async function walEvents(dir: string): Promise<{ seq: number; event: unknown }[]> {
  const out: { seq: number; event: unknown }[] = [];
  for await (const r of readWal(dir)) out.push({ seq: r.seq, event: r.event });
  return out;
}
