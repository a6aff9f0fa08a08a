/**
 * Ack reporting for torture child processes: `seq round producer index` lines written to stdout
 * with synchronous writes of at most 4 KiB (PIPE_BUF), so lines from several threads sharing the
 * pipe never interleave. A line is written only after its ack resolved.
 */
import * as fs from 'node:fs';

const kMaxWriteBytes = 4000;

/** Collects ack lines and writes them on the next turn of the event loop. */
export class AckLines {
  #lines: string[] = [];
  #bytes = 0;
  #scheduled = false;

  /** Queues one acknowledged record. */
  add(seq: number, round: number, producer: number, index: number): void {
    const line = `${seq} ${round} ${producer} ${index}\n`;
    if (this.#bytes + line.length > kMaxWriteBytes) this.flush();
    this.#lines.push(line);
    this.#bytes += line.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes what is queued now. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const out = this.#lines.join('');
    this.#lines = [];
    this.#bytes = 0;
    fs.writeSync(1, out);
  }
}
