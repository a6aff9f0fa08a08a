/** Running a torture child process, reading its ack lines, and killing it with SIGKILL. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One acknowledged record as a child reported it. */
export interface AckLine {
  readonly seq: number;
  readonly round: number;
  readonly producer: number;
  readonly index: number;
}

/** Absolute path of a compiled child script under `dist/torture/children/`. */
export function childScript(name: string): string {
  return fileURLToPath(new URL(`./children/${name}.js`, import.meta.url));
}

/** A running child; `kill()` is idempotent and safe in `finally`. */
export class TortureChild {
  readonly acks: AckLine[] = [];
  /** Other lines the child wrote (e.g. `closed`). */
  readonly lines: string[] = [];
  readonly #child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ready: Promise<void>;
  #stderr = '';

  constructor(script: string, args: readonly string[]) {
    this.#child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let onReady: () => void = () => {};
    this.ready = new Promise((resolve) => {
      onReady = resolve;
    });
    this.#child.stdout?.setEncoding('utf8');
    this.#child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') onReady();
        else {
          const f = line.split(' ').map(Number);
          if (f.length === 4 && f.every(Number.isInteger)) {
            const [seq, round, producer, index] = f as [number, number, number, number];
            this.acks.push({ seq, round, producer, index });
          } else if (line.length > 0) {
            this.lines.push(line);
          }
        }
        nl = buf.indexOf('\n');
      }
    });
    this.#child.stderr?.on('data', (d) => {
      if (this.#stderr.length < 8192) this.#stderr += String(d);
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    // A child that dies before `ready` must not leave the caller waiting forever.
    void this.exited.then(() => onReady());
  }

  /** What the child wrote to stderr (first 8 KiB). */
  get stderr(): string {
    return this.#stderr;
  }

  /** True while the child runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILLs the child (if still running) and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.running) this.#child.kill('SIGKILL');
    await this.exited;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
