/**
 * Progress bars (cli-progress) on stderr, drawn only when stderr is a terminal: a pipe or a log
 * file gets nothing. `export` and `torture` draw their own; `verify`, `recover` and `bench` use these.
 */
import cliProgress from 'cli-progress';
import type { WalProgress } from '../wal/verify.js';
import { formatBytes } from './format.js';

/** True when a bar should be drawn: not turned off (`--no-progress`) and stderr is a terminal. */
export function progressWanted(enabled: boolean | undefined): boolean {
  return enabled !== false && process.stderr.isTTY === true;
}

/** A bar over the segments of a WAL, fed by the `onProgress` of `verifyWal` / `recoverWal`. */
export interface SegmentProgress {
  /** Pass as `onProgress`; starts the bar on its first call. */
  readonly onProgress: (p: WalProgress) => void;
  stop(): void;
}

/** A segment bar labelled `label`, or undefined when no bar is wanted. */
export function segmentProgress(label: string, enabled: boolean | undefined): SegmentProgress | undefined {
  if (!progressWanted(enabled)) return undefined;
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress(p) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${label} [{bar}] {percentage}% | segment {value}/{total} | {read} read | {eta_formatted} left`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.segments, 0, { read: formatBytes(0) });
      }
      bar.update(p.segmentsDone, { read: formatBytes(p.bytesDone) });
    },
    stop() {
      bar?.stop();
    },
  };
}

/** A bar over a fixed run time (`bench --duration`), updated four times a second. */
export function timeProgress(label: string, durationMs: number, enabled: boolean | undefined): { stop(): void } {
  if (!progressWanted(enabled)) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} s`,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const total = Math.max(1, Math.round(durationMs / 100) / 10);
  const t0 = performance.now();
  bar.start(total, 0);
  const timer = setInterval(() => {
    bar.update(Math.min(total, Math.round((performance.now() - t0) / 100) / 10));
  }, 250);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      bar.update(total);
      bar.stop();
    },
  };
}
