'use strict';
// The binary knows the Node ABI it was built for and refuses any other, with a message that says
// how to rebuild. A different node is simulated by overriding process.versions.modules; the
// matrix run (npm run test:matrix) loads real binaries into real other nodes.
const test = require('node:test');
const assert = require('node:assert');
const { runNode } = require('./helpers');

const FAKE = "Object.defineProperty(process.versions, 'modules', { value: '999' });";
const BINARY = `prebuilds/${process.platform}-${process.arch}/memwatch-rs.abi${process.versions.modules}.node`;

test('no binary for this ABI: a clear error naming both ABIs and the rebuild command', () => {
  const r = runNode(`${FAKE} require('.')`);
  assert.notStrictEqual(r.status, 0);
  assert.strictEqual(r.signal, null);
  assert.match(r.stderr, /no native binary for node v\d+\.\d+\.\d+ \(ABI 999/);
  // Lists every ABI the package has a binary for, this node's own among them.
  assert.match(r.stderr, new RegExp(`binaries for ABI [\\d, ]*\\b${process.versions.modules}\\b`));
  assert.match(r.stderr, /npm rebuild memwatch-rs/);
});

test('a binary forced onto another ABI refuses to load', () => {
  const r = runNode(`${FAKE} require('.')`, { env: { MEMWATCH_RS_BINARY: BINARY } });
  assert.notStrictEqual(r.status, 0);
  assert.strictEqual(r.signal, null);
  assert.match(r.stderr, new RegExp(`built for Node ABI ${process.versions.modules} .* \\(ABI 999\\)`));
  assert.match(r.stderr, /npm rebuild memwatch-rs/);
});

test('a binary the dynamic linker refuses gets the same ABI message, not an opaque dlopen error', () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-abi-'));
  const file = path.join(dir, 'memwatch-rs.abi999.node');
  fs.writeFileSync(file, 'not a shared object');
  try {
    const r = runNode("require('.')", { env: { MEMWATCH_RS_BINARY: file } });
    assert.notStrictEqual(r.status, 0);
    assert.strictEqual(r.signal, null);
    assert.match(r.stderr, new RegExp(`built for Node ABI 999 but is loaded by node [\\d.]+ \\(ABI ${process.versions.modules}\\) and cannot load here`));
    assert.match(r.stderr, /npm rebuild memwatch-rs/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
