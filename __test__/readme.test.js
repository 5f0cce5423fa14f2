'use strict';
// The README's JavaScript examples run, each in a fresh process that installs the package the way
// a user's project does (node_modules/memwatch-rs), with the program's own functions the examples
// call (doSomething, checkout, runScenario, log) defined as harmless stand-ins. An example that
// drifts from the API fails here.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = [...README.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

const PRELUDE = `
globalThis.doSomething = () => {};
globalThis.log = { warn: () => {} };
globalThis.checkout = async () => {};
globalThis.fakeRequest = () => ({});
globalThis.runScenario = () => {};
`;

test('the README has its examples', () => {
  assert.ok(blocks.length >= 5, `${blocks.length} js blocks`);
});

test("every JavaScript example in the README runs as written", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-readme-'));
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'memwatch-rs'), 'dir');
    const reports = path.join(dir, 'reports');
    fs.mkdirSync(reports);
    blocks.forEach((code, i) => {
      // Paths the examples write to live in this test's directory.
      const body = code.replace(/'\/var\/tmp\/memwatch'/g, JSON.stringify(reports));
      // A block that needs something already there gets it first.
      const needs = /hd\.end\(\)|new memwatch\.HeapDiff/.test(body) && !/require\('memwatch-rs'\)/.test(body) ? "const memwatch = require('memwatch-rs');\n" : '';
      const file = path.join(dir, `example-${i + 1}.js`);
      fs.writeFileSync(file, `${PRELUDE}${needs}${body}`);
      // As a user runs it: not as a child of this test runner (which would make node:test talk
      // its binary protocol).
      const env = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 120000, env });
      assert.strictEqual(r.status, 0, `README example ${i + 1} failed:\n${code}\n${r.stderr}${r.stdout}`);
      if (/require\('node:test'\)/.test(body)) assert.match(r.stdout, /(# |ℹ )pass 1\n(# |ℹ )fail 0/, `example ${i + 1} ran its test:\n${r.stdout}`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
