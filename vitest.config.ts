import { defineConfig } from 'vitest/config';

/**
 * Coverage floors of the test processes (lines, statements, branches, functions; a glob takes its
 * files out of the global figure). Set at what `npm run coverage` reached over the whole suite on
 * 2026-12-03 (figures in CONTRIBUTING.md) minus about one point for run-to-run noise. Raise them
 * with the run that raises the figures; never lower them to make a change pass. The floors that
 * include the writer worker and child processes are in scripts/coverage.mjs.
 */
// The global figures cover the files outside the globs below (65.6% of their lines in that run);
// statements, branches and functions of that remainder were not broken out: their floors stay at
// the earlier, lower measurement until a run reports them.
const kThresholds = {
  lines: 64,
  statements: 32,
  branches: 33,
  functions: 22,
  'src/wal/**': { lines: 87, statements: 87, branches: 80, functions: 91 },
  'src/groupcommit/**': { lines: 91, statements: 90, branches: 76, functions: 77 },
  'src/ringbuffer/**': { lines: 97, statements: 96, branches: 91, functions: 73 },
  'src/main/**': { lines: 88, statements: 80, branches: 74, functions: 90 },
};

// `npm test` runs `npm run build` first (pretest): worker threads start from the compiled
// JavaScript in dist/, because Node 20 cannot load .ts inside a worker.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['torture/**', 'node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // No-op unless `npm run coverage` runs: then workers and child processes record coverage too.
    setupFiles: ['test/setup/child-coverage.ts', 'test/setup/custody-state.ts'],
    // `npm run coverage` (see CONTRIBUTING.md). Tests under test/ import the compiled dist/: its
    // files are counted too (dist/**/*.js in `include`) and remapped through tsc's source maps
    // to src/, where `excludeAfterRemap` applies the exclusions again.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'dist/**/*.js'],
      exclude: ['src/**/*.test.ts', 'src/**/__fixtures__/**', 'dist/**/*.test.js', 'dist/**/__fixtures__/**'],
      excludeAfterRemap: true,
      reporter: ['text-summary', 'json-summary', 'json', 'html'],
      reportsDirectory: 'coverage',
      // A run over some files only (`npm run coverage -- <files>`) reports without failing.
      thresholds: process.env.IRONLOG_COVERAGE_SUBSET ? undefined : kThresholds,
    },
  },
});
