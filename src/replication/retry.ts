/** Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"). */

/**
 * The delay before retry number `attempt` (0-based): uniform in `[0, min(capMs, baseMs * 2^attempt))`.
 * Full jitter spreads the retries of many nodes after a shared outage instead of synchronising them.
 */
export function fullJitterDelayMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
