'use strict';
// assertNoLeak inside real test runners: jest and vitest (dev dependencies) run the README's
// example files (examples/leak-tests) in a project that installed memwatch-rs, and report the
// leaking test as failed, naming the class and its line, and the clean one as passed.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { ROOT } = require('./helpers');

const EXAMPLES = path.join(ROOT, 'examples', 'leak-tests');
const CONSTRUCTOR_LINE = fs.readFileSync(path.join(EXAMPLES, 'sessions.js'), 'utf8').split('\n').findIndex((l) => l.includes('constructor(')) + 1;

/** A temp project whose node_modules/memwatch-rs is this checkout, with the example files. */
function project() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-runners-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'memwatch-rs'), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
  for (const f of fs.readdirSync(EXAMPLES)) fs.copyFileSync(path.join(EXAMPLES, f), path.join(dir, f));
  return dir;
}

function run(bin, args, cwd) {
  return spawnSync(process.execPath, [path.join(ROOT, 'node_modules', ...bin), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: 300_000,
  });
}

function checkLeakMessage(message) {
  assert.match(message, /checkout leaks 1 SessionRecord \(\d+ bytes(?: with its [^)]*)?\) per call: 200 calls left 200 alive, held by SessionRecord @\d+ <- .*sessions in /);
  assert.match(message, new RegExp(`SessionRecord is at \\S*sessions\\.js:${CONSTRUCTOR_LINE}:\\d+`));
}

/**
 * Runs a runner over the example file in a fresh project; both jest and vitest write a JSON
 * report with jest's shape (`testResults[0].assertionResults`), which is what is checked.
 */
function runnerCase(name, bin, args) {
  const dir = project();
  try {
    const out = path.join(dir, 'report.json');
    const r = run(bin, args(dir, out), dir);
    assert.ok(fs.existsSync(out), `${name} wrote no report (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    const results = Object.fromEntries(report.testResults[0].assertionResults.map((a) => [a.title, a]));
    assert.strictEqual(results['quote does not leak'].status, 'passed', results['quote does not leak'].failureMessages.join('\n'));
    assert.strictEqual(results['checkout does not leak'].status, 'failed');
    checkLeakMessage(results['checkout does not leak'].failureMessages.join('\n'));
    assert.notStrictEqual(r.status, 0, `${name} exits non-zero on the leak`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('jest: the leaking test fails naming SessionRecord and its line, the clean one passes', () => {
  runnerCase('jest', ['jest', 'bin', 'jest.js'], (dir, out) => ['--ci', '--rootDir', dir, '--json', '--outputFile', out, 'sessions.jest.test.js']);
});

test('vitest: the leaking test fails naming SessionRecord and its line, the clean one passes', () => {
  runnerCase('vitest', ['vitest', 'vitest.mjs'], (dir, out) => ['run', '--root', dir, '--reporter=json', `--outputFile=${out}`, 'sessions.vitest.test.mjs']);
});
