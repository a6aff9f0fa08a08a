// `npm run coverage` (scripts/coverage.mjs) sets IRONLOG_CHILD_COVERAGE. Copied into
// NODE_V8_COVERAGE at run time, it reaches only what the tests start from here on: the writer
// worker, the replicator and torture threads (a Worker's environment is a copy of process.env)
// and child processes (the CLI, kill -9 children). Each writes its raw V8 coverage there when it
// exits; the script maps it through dist's source maps to src/. The test process itself started
// without the variable: vitest's own v8 provider covers it.
const dir = process.env.IRONLOG_CHILD_COVERAGE;
if (dir !== undefined && dir !== '') process.env.NODE_V8_COVERAGE = dir;
