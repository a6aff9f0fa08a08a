/** Human-readable numbers for the CLI's text output. */

/** `1536` -> `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds -> `1h 2m 3s` / `1.234 s` / `12.3 ms`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  if (seconds === 0) return '0 s';
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 3 : 1)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h ` : ''}${m}m ${s % 60}s`;
}

/** A rate with thousands separators. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a';
  return perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1);
}

/** µs since the epoch -> ISO. */
export function isoFromUs(us: number | undefined): string {
  return us === undefined ? '-' : new Date(Math.floor(us / 1000)).toISOString();
}
