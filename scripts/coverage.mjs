// `npm run coverage`: the test suite under vitest's v8 coverage, plus the code that runs where
// vitest cannot see it (writer worker, replicator threads, child processes), collected through
// NODE_V8_COVERAGE (see test/setup/child-coverage.ts) and mapped through dist/'s source maps to
// src/. Prints per-folder figures of both and writes:
//   coverage/                 vitest's report of the test processes (its thresholds apply here)
//   coverage/combined/        test processes + workers + children (html, coverage-summary.json)
// Arguments go to `vitest run` (e.g. a test file to measure just that).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mergeProcessCovs } from '@bcoe/v8-coverage';
import astV8ToIstanbul from 'ast-v8-to-istanbul';
import libCoverage from 'istanbul-lib-coverage';
import libReport from 'istanbul-lib-report';
import reports from 'istanbul-reports';
import { parseAstAsync } from 'vitest/node';

const kRoot = fileURLToPath(new URL('..', import.meta.url));
const kOut = path.join(kRoot, 'coverage');
const kRaw = path.join(kOut, '.children');
const kDistUrl = `${pathToFileURL(path.join(kRoot, 'dist')).href}/`;
const kSrc = `${path.join(kRoot, 'src')}${path.sep}`;

fs.rmSync(kOut, { recursive: true, force: true });
fs.mkdirSync(kRaw, { recursive: true });

const vitest = spawnSync(
  process.execPath,
  [path.join(kRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--coverage', ...process.argv.slice(2)],
  { cwd: kRoot, stdio: 'inherit', env: { ...process.env, IRONLOG_CHILD_COVERAGE: kRaw } },
);

/** Raw V8 coverage of dist/ modules that workers and children loaded natively, merged per script. */
function childScripts() {
  const byUrl = new Map();
  for (const name of fs.readdirSync(kRaw)) {
    if (!name.endsWith('.json')) continue;
    let raw;
    try {
      raw = JSON.parse(fs.readFileSync(path.join(kRaw, name), 'utf8'));
    } catch {
      continue; // a file cut short by a process that was killed while writing it
    }
    for (const script of raw.result ?? []) {
      const { url } = script;
      if (!url.startsWith(kDistUrl) || !url.endsWith('.js') || url.includes('/__fixtures__/')) continue;
      const list = byUrl.get(url) ?? [];
      list.push(script);
      byUrl.set(url, list);
    }
  }
  const merged = [];
  for (const list of byUrl.values()) merged.push(...mergeProcessCovs(list.map((s) => ({ result: [s] }))).result);
  return merged;
}

/** Istanbul coverage of one natively loaded dist/ script, remapped to its src/ file. */
async function toIstanbul(script) {
  const file = fileURLToPath(script.url);
  const code = fs.readFileSync(file, 'utf8');
  const mapFile = `${file}.map`;
  if (!fs.existsSync(mapFile)) return {};
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8'));
  map.sources = map.sources.map((s) => path.resolve(path.dirname(file), map.sourceRoot ?? '', s));
  map.sourceRoot = '';
  return astV8ToIstanbul({ code, sourceMap: map, coverage: script, ast: parseAstAsync(code) });
}

const kOwnFile = (f) =>
  f.startsWith(kSrc) && !f.endsWith('.test.ts') && !f.includes(`${path.sep}__fixtures__${path.sep}`);

const finalJson = path.join(kOut, 'coverage-final.json');
const readFinal = () => (fs.existsSync(finalJson) ? JSON.parse(fs.readFileSync(finalJson, 'utf8')) : {});
// Two separate copies: a coverage map wraps the objects it is given, and merge() mutates them.
const map = libCoverage.createCoverageMap(readFinal());
const testProcess = libCoverage.createCoverageMap(readFinal());
const scripts = childScripts();
for (const script of scripts) map.merge(await toIstanbul(script));
map.filter(kOwnFile);
testProcess.filter(kOwnFile);

/** Lines / statements / branches / functions per src/ folder, and overall. */
function table(title, m) {
  const folders = new Map();
  const all = libCoverage.createCoverageSummary();
  for (const f of m.files()) {
    const folder = path.relative(kRoot, path.dirname(f)).split(path.sep).slice(0, 2).join('/');
    const s = m.fileCoverageFor(f).toSummary();
    if (!folders.has(folder)) folders.set(folder, libCoverage.createCoverageSummary());
    folders.get(folder).merge(s);
    all.merge(s);
  }
  const row = (name, s) =>
    `| ${name} | ${s.lines.pct}% | ${s.statements.pct}% | ${s.branches.pct}% | ${s.functions.pct}% |`;
  const lines = [`${title}`, '', '| folder | lines | statements | branches | functions |', '|---|---|---|---|---|'];
  for (const [name, s] of [...folders].sort(([a], [b]) => a.localeCompare(b))) lines.push(row(name, s));
  lines.push(row('**all of src/**', all));
  return lines.join('\n');
}

console.log(`\n${table('Test processes only (vitest; its thresholds apply):', testProcess)}`);
console.log(`\n${table(`With workers and child processes (${scripts.length} dist scripts from ${kRaw}):`, map)}\n`);
const context = libReport.createContext({
  dir: path.join(kOut, 'combined'),
  coverageMap: map,
  defaultSummarizer: 'nested',
});
for (const r of ['html', 'json-summary', 'json']) reports.create(r).execute(context);
fs.rmSync(kRaw, { recursive: true, force: true });
process.exitCode = vitest.status ?? 1;
