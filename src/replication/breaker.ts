/**
 * A circuit breaker per backend: `closed` (requests flow; failures counted), `open` (no
 * requests until the cooldown ends), `half-open` (one trial request; success closes, failure
 * re-opens). It keeps a dead backend from eating worker threads and retry storms, and its state is
 * part of `replicationStatus()`.
 */

/** Breaker states. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** A circuit breaker. Time comes from the caller, so tests need no sleeps. */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openUntilMs = 0;
  #opened = 0;

  constructor(
    readonly failureThreshold: number,
    readonly cooldownMs: number,
  ) {}

  /** The state at `nowMs` (an open breaker past its cooldown reads as half-open). */
  state(nowMs: number): BreakerState {
    if (this.#state === 'open' && nowMs >= this.#openUntilMs) return 'half-open';
    return this.#state;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** How many times the breaker opened. */
  get timesOpened(): number {
    return this.#opened;
  }

  /** When an open breaker lets the next trial through (ms). */
  get openUntilMs(): number {
    return this.#openUntilMs;
  }

  /** True when a request may go out now (closed, or the one trial of half-open). */
  allow(nowMs: number): boolean {
    const s = this.state(nowMs);
    if (s === 'closed') return true;
    if (s === 'half-open' && this.#state === 'open') {
      this.#state = 'half-open';
      return true;
    }
    return false;
  }

  /** A request succeeded. */
  success(): void {
    this.#state = 'closed';
    this.#failures = 0;
  }

  /** A request failed at `nowMs`. */
  failure(nowMs: number): void {
    this.#failures++;
    if (this.#state === 'half-open' || this.#failures >= this.failureThreshold) {
      if (this.#state !== 'open') this.#opened++;
      this.#state = 'open';
      this.#openUntilMs = nowMs + this.cooldownMs;
    }
  }
}
