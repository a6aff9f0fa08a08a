/** pino's default levels, for `filter.minLevel` given as a name. */
import type { LevelReader } from '../common/log-filter.js';

const kPinoLevels: Readonly<Record<string, number>> = Object.freeze({
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
});

/** Reads `level` (a number, as pino writes it) off a parsed log line. */
export const pinoLevels: LevelReader<unknown> = {
  levelOf(record) {
    const level = (record as { level?: unknown } | null)?.level;
    if (typeof level === 'number') return level;
    // `formatters.level` may write the label instead of the number.
    return typeof level === 'string' ? kPinoLevels[level] : undefined;
  },
  levelValue(name) {
    return kPinoLevels[name];
  },
};
