'use strict';
// Allocation sampling for 'leak' (`allocationSamplingBytes`): the event names the stacks whose
// live bytes grew, the report shows them, and sampling stops with the last 'leak' listener.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');

const FIXTURE = path.join(__dirname, 'fixtures', 'sampled-leak.js');
const SOURCE = fs.readFileSync(FIXTURE, 'utf8').split('\n');
const lineOf = (text) => SOURCE.findIndex((l) => l.includes(text)) + 1;

function run(mode, dir) {
  const r = spawnSync(process.execPath, [FIXTURE, mode, dir || ''], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(r.status, 0, `exit ${r.status}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test('allocationSamplingBytes: validated, off by default, reported by getOptions', () => {
  assert.strictEqual(memwatch.getOptions().allocationSamplingBytes, 0);
  assert.throws(() => memwatch.setOptions({ allocationSamplingBytes: '512k' }), { name: 'TypeError', message: /"allocationSamplingBytes" must be an integer/ });
  assert.throws(() => memwatch.setOptions({ allocationSamplingBytes: 100 }), { name: 'RangeError', message: /0 \(off\) or at least 1024/ });
  assert.throws(() => memwatch.setOptions({ allocationSamplingBytes: -1 }), RangeError);
  assert.strictEqual(memwatch.getOptions().allocationSamplingBytes, 0, 'a refused change changes nothing');
  assert.strictEqual(memwatch.setOptions({ allocationSamplingBytes: 524288 }).allocationSamplingBytes, 524288);
  assert.strictEqual(memwatch.setOptions({ allocationSamplingBytes: 0 }).allocationSamplingBytes, 0);
});

// The leak's stack: V8 allocates `new Order()`'s object in leakyHandler's frame and its fields in
// Order's; once TurboFan inlines Order into leakyHandler, everything lands on leakyHandler. The top
// site is then Order (with the bytes sampled in leakyHandler folded in, counted in callerBytes) or
// leakyHandler itself, depending on how much Order's own stack grew before the inlining.
function assertLeakStack(top) {
  const names = top.frames.map((f) => f.function);
  if (top.function === 'Order') {
    assert.strictEqual(top.line, lineOf('constructor(i) {'), 'the class constructor');
    assert.deepStrictEqual(names.slice(0, 2), ['Order', 'leakyHandler'], top.text);
    assert.strictEqual(top.frames[1].line, lineOf('function leakyHandler()'));
    assert.match(top.text, /^Order \(.*sampled-leak\.js:\d+:\d+\) <- leakyHandler \(.*sampled-leak\.js:\d+:\d+\)/);
  } else {
    assert.strictEqual(top.function, 'leakyHandler', top.text);
    assert.strictEqual(top.line, lineOf('function leakyHandler()'));
    // node's timers above it keep a sample now and then (65 KB here), folded in and said to be.
    assert.ok(top.callerBytes < top.bytes / 4, `${top.callerBytes} of ${top.bytes} B sampled above leakyHandler`);
    assert.match(top.text, /^leakyHandler \(.*sampled-leak\.js:\d+:\d+\)/);
  }
}

test("'leak' names the stack that keeps what it allocates, at its lines, above a busier one that keeps nothing", () => {
  const { leak, capturing } = run('plain');
  assert.ok(Array.isArray(leak.sites) && leak.sites.length >= 1, JSON.stringify(leak));
  const top = leak.sites[0];
  assertLeakStack(top);
  assert.strictEqual(top.script, FIXTURE);
  assert.ok(top.column > 0);
  assert.ok(top.callerBytes >= 0 && top.callerBytes <= top.bytes);
  assert.ok(top.bytes > 0.3 * leak.growth && top.bytes < 3 * leak.growth, `site ${top.bytes} B of a ${leak.growth}-B growth`);
  assert.ok(!leak.sites.some((s) => s.function === 'busyHandler' && s.bytes > top.bytes / 10), 'garbage is not a site');
  for (let i = 1; i < leak.sites.length; i++) assert.ok(leak.sites[i - 1].bytes >= leak.sites[i].bytes, 'most first');
  assert.strictEqual(capturing, false, 'sampling stopped with the last leak listener');
});

test("a leaking function that TurboFan inlined into its caller is still the one named, and the caller's share is said", () => {
  const fixture = path.join(__dirname, 'fixtures', 'inlined-leak.js');
  const source = fs.readFileSync(fixture, 'utf8').split('\n');
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--no-use-osr', '--no-maglev', fixture], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(r.status, 0, `exit ${r.status}: ${r.stdout}${r.stderr}`);
  const { leak, turbofan } = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(turbofan, 'handler was optimised by TurboFan (else this test shows nothing)');
  const top = leak.sites[0];
  assert.strictEqual(top.function, 'remember', top.text);
  assert.strictEqual(top.line, source.findIndex((l) => l.includes('function remember(')) + 1);
  assert.strictEqual(top.frames[1].function, 'handler');
  // Turns 5-8 ran inlined, and V8 sampled them in handler's frame: that share is counted here
  // and said to be so (about half; less when the last readings were skipped on a busy machine).
  assert.ok(top.callerBytes > 0.1 * top.bytes && top.callerBytes < 0.9 * top.bytes, `${top.callerBytes} of ${top.bytes} B from the caller`);
  assert.ok(top.bytes > 0.5 * leak.growth && top.bytes < 2 * leak.growth, `site ${top.bytes} B of a ${leak.growth}-B growth`);
  assert.ok(!leak.sites.slice(1).some((s) => s.function === 'handler'), 'the caller is not a site of its own');
});

test('without the option the event has no sites; with another profiler running, a warning and no sites', () => {
  const off = run('off');
  assert.ok(off.leak && !('sites' in off.leak));
  const busy = run('inspector');
  assert.ok(busy.leak && !('sites' in busy.leak), 'the leak still arrives');
  assert.ok(busy.warnings.some((w) => /sampling heap profiler did not start/.test(w)), JSON.stringify(busy.warnings));
});

test('snapshotOnLeak reports show the leak and its sites', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-sites-'));
  try {
    const { leak, report } = run('report', dir);
    assertLeakStack(leak.sites[0]);
    const html = fs.readFileSync(report, 'utf8');
    const payload = JSON.parse(/<script type="application\/json" id="memwatch-data">(.*?)<\/script>/s.exec(html)[1]);
    assert.strictEqual(payload.leak.reason, leak.reason);
    assert.deepStrictEqual(payload.leak.sites[0], leak.sites[0]);
    assert.match(html, /The leak/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
