/** The one temp-dir helper of the test suite (see src/testing/temp-dir.ts). */
export { TempDir, TempDirs } from '../../src/testing/temp-dir.js';

/** Polls `cond` every few ms until true or `timeoutMs` passes (for states owned by another thread). */
export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function once<T extends unknown[]>(
  emitter: { once(event: string, cb: (...args: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}
