/** Quorum arithmetic over per-backend replica states (pure, no I/O). */

/** How many of `states` say the replica is stored and verified. */
export function countStored(states: Iterable<{ readonly state: string }>): number {
  let n = 0;
  for (const s of states) if (s.state === 'done') n++;
  return n;
}

/** True when at least `quorum` replicas are stored and verified. */
export function quorumReached(states: Iterable<{ readonly state: string }>, quorum: number): boolean {
  return countStored(states) >= quorum;
}
