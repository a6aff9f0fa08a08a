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
  },
});
