import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The real `ironlog` binary (bin/ironlog.js -> dist). */
export const kBin = fileURLToPath(new URL('../../bin/ironlog.js', import.meta.url));

/** Every child started through this module, so `killChildren()` can clean up after a test. */
const children = new Set<ChildProcess>();

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Everything each child printed so far (recorded from the start, so no output is missed). */
const printed = new WeakMap<ChildProcess, { stdout: string; stderr: string }>();

/** Spawns `ironlog ...args` (tracked for cleanup). */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [kBin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const out = { stdout: '', stderr: '' };
  printed.set(child, out);
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    out.stdout += d;
  });
  child.stderr?.on('data', (d: string) => {
    out.stderr += d;
  });
  return child;
}

function output(child: ChildProcess): { stdout: string; stderr: string } {
  const out = printed.get(child);
  if (!out) throw new Error('not a child started by spawnCli');
  return out;
}

/** Resolves when `child` has exited, with everything it printed. */
export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const out = output(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ironlog child timed out; stderr: ${out.stderr}`));
    }, timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out.stdout, stderr: out.stderr });
    };
    // 'close' comes after both pipes ended, so everything printed is in `out`.
    if (child.exitCode !== null || child.signalCode !== null) {
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) {
        done(child.exitCode, child.signalCode);
        return;
      }
    }
    child.once('close', done);
  });
}

/** Runs `ironlog ...args` to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collect(spawnCli(args, env));
}

/** Resolves with the first match of `re` in everything the child printed on stdout so far. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const out = output(child);
    const check = (): boolean => {
      const m = re.exec(out.stdout);
      if (!m) return false;
      cleanup();
      resolve(m);
      return true;
    };
    const onData = (): void => {
      check();
    };
    const onExit = (code: number | null): void => {
      if (check()) return;
      cleanup();
      reject(new Error(`child exited (${code}) before printing ${re}; stdout: ${out.stdout}; stderr: ${out.stderr}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}; stdout: ${out.stdout.slice(-2000)}; stderr: ${out.stderr}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('close', onExit);
    };
    child.stdout?.on('data', onData);
    child.once('close', onExit);
    check();
  });
}

/** A running `ironlog serve` child. */
export interface ServeChild {
  readonly child: ChildProcess;
  readonly url: string;
}

/** Starts `ironlog serve --dir dir --port 0` on loopback and waits for its address. */
export async function startServe(dir: string, extra: readonly string[] = []): Promise<ServeChild> {
  const child = spawnCli(['serve', '--dir', dir, '--port', '0', '--host', '127.0.0.1', ...extra]);
  const m = await waitForOutput(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { child, url: m[1] as string };
}

/** Resolves when the child has exited (kills it with `signal` first when given). */
export function exited(
  child: ChildProcess,
  signal?: NodeJS.Signals,
): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
    if (signal) child.kill(signal);
  });
}

/** SIGKILLs every child still running (use in afterEach). */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((c) => exited(c, 'SIGKILL')));
}

/** POSTs a body to /events. */
export async function postEvents(
  url: string,
  body: string | Uint8Array,
  contentType = 'application/json',
): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}
