import { defineConfig } from 'vitest/config';

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
    setupFiles: ['test/setup/child-coverage.ts'],
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
    },
  },
});
