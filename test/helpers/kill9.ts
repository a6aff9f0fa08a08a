/**
 * The one kill -9 child of the test suite: the torture suite's load child
 * (`dist/torture/children/kill9-child.js`: a sink with small segments and a 25 ms segment age,
 * so a kill often lands during a roll or a seal, plus producer threads, every ack reported as a
 * `seq round producer index` line once it resolved). Tests and the torture scenarios share it, so
 * a fix to the child reaches both. Every child spawned here is tracked: `killChildren()` in
 * `afterEach` leaves none behind.
 */
import { childScript, TortureChild } from '../../dist/torture/child.js';

export type { AckLine } from '../../dist/torture/child.js';
export { TortureChild as Kill9Child };

/** Absolute path of the shared load child. */
export const kKill9Child = childScript('kill9-child');

const live = new Set<TortureChild>();

/** Options of the load child (argv: dir round producers inFlight [runMs]). */
export interface Kill9ChildOptions {
  /** Written into every event (`r`) and ack line: tells the rounds of one WAL apart. */
  readonly round: number;
  /** Producer threads besides the main thread (`p` 1..producers; the main thread is `p` 0). */
  readonly producers: number;
  /** Emits in flight per thread. */
  readonly inFlight: number;
}

/** Starts the load child on `dir` (tracked for {@link killChildren}). */
export function spawnKill9Child(dir: string, o: Kill9ChildOptions): TortureChild {
  return spawnTracked(kKill9Child, [dir, String(o.round), String(o.producers), String(o.inFlight)]);
}

/** Starts any Node script as a child that is SIGKILLed by {@link killChildren} if still running. */
export function spawnTracked(script: string, args: readonly string[]): TortureChild {
  const child = new TortureChild(script, args);
  live.add(child);
  void child.exited.then(() => live.delete(child));
  return child;
}

/** SIGKILLs every child still running and waits until each is gone (use in afterEach). */
export async function killChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill()));
}
