'use strict';
// watchResources: leaks outside the V8 heap (file descriptors, timers, handles, Buffers) caught
// by the same trend detector as the heap, on real services with in-flight resources, and the
// same services without the leak left alone.
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const path = require('node:path');

const memwatch = require('..');
const { settle } = require('./helpers');

const FIXTURE = path.join(__dirname, 'fixtures', 'resource-service.js');

function run(mode, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, mode, String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const done = lines.find((l) => l.done);
      if (code !== 0 || !done) return reject(new Error(`${mode} exited ${code}: ${err}`));
      resolve({ leaks: lines.filter((l) => l.leak).map((l) => l.leak), done: done.done });
    });
  });
}

const CASES = [
  // fixture, kind, what the reason names
  ['fds', 'fds', /^open file descriptors grew by \d+ in \d+s \(\d+\/min, steady over \d+ samples\); at this rate they reach the limit of \d+ \(ulimit -n\) in /],
  ['timers', 'timers', /^active timers grew by \d+ in .*, mostly \+\d+ Timeout/],
  ['sockets', 'handles', /^active handles and requests grew by \d+ in .*, mostly \+\d+ TCPSocketWrap/],
  ['buffers', 'external', /^external memory grew by [\d.]+ mb in \d+s \([\d.]+ mb\/min, steady over \d+ samples\)$/],
];

for (const [fixture, kind, reason] of CASES) {
  test(`watchResources({ ${kind} }): a service that leaks ${fixture} is caught, the same service releasing them is not`, async () => {
    const seconds = kind === 'external' ? 12 : 8;
    const [leaky, steady] = await Promise.all([run(`${fixture}-leak`, seconds), run(`${fixture}-steady`, seconds)]);
    assert.ok(leaky.done.requests > 100 && steady.done.requests > 100, 'both services served requests');
    assert.ok(leaky.leaks.length >= 1, `the leak of ${fixture} was caught (readings ${JSON.stringify(leaky.done.readings)})`);
    const first = leaky.leaks[0];
    assert.strictEqual(first.kind, kind);
    assert.match(first.reason, reason);
    assert.ok(first.growth > 0 && first.rate > 0 && first.end >= first.start, JSON.stringify(first));
    assert.ok(first.current > 0);
    if (kind === 'fds') {
      assert.ok(first.limit > first.current && first.timeToLimit > 0, 'fds carry the open-files limit and the time to reach it');
    } else {
      assert.strictEqual(first.limit, null);
      assert.strictEqual(first.timeToLimit, null);
    }
    if (kind === 'timers') assert.ok(first.byType.Timeout > 0, 'timers say which type grew');
    if (kind === 'handles') assert.ok(first.byType.TCPSocketWrap > 0, 'handles say which type grew');
    assert.deepStrictEqual(steady.leaks, [], `no leak reported for the steady ${fixture} service (readings ${JSON.stringify(steady.done.readings)})`);
    // The leak is real: the leaky service ends with far more of the resource than the steady one.
    assert.ok(leaky.done.readings[kind] > 2 * steady.done.readings[kind], JSON.stringify([leaky.done.readings, steady.done.readings]));
  });
}

test('watchResources validates its options and says what it expects', () => {
  assert.throws(() => memwatch.watchResources(), /say which kinds to watch/);
  assert.throws(() => memwatch.watchResources({}), /say which kinds to watch, e.g. \{ fds: true \}/);
  assert.throws(() => memwatch.watchResources(null), TypeError);
  assert.throws(() => memwatch.watchResources({ sockets: true }), /unknown option "sockets"; known options: fds, handles, timers, external/);
  assert.throws(() => memwatch.watchResources({ fds: 'yes' }), /"fds" must be true, false or \{ minGrowth, minGrowthPercent \}/);
  assert.throws(() => memwatch.watchResources({ fds: { minGrowth: -1 } }), /"fds.minGrowth" must be a non-negative number, got -1/);
  assert.throws(() => memwatch.watchResources({ fds: { threshold: 3 } }), /unknown setting "fds.threshold"/);
  assert.throws(() => memwatch.watchResources({ fds: true, intervalMs: 5 }), RangeError);
  assert.throws(() => memwatch.watchResources({ fds: true, intervalMs: '100' }), TypeError);
  assert.throws(() => memwatch.watchResources({ fds: true, intervalMs: 1000, windowMs: 2000 }), /"windowMs" \(2000\) must be at least 8 samples/);
});

test('watchResources: readings, replacement, stop, and a timer that never keeps the process alive', async () => {
  const w = memwatch.watchResources({ fds: true, handles: true, timers: true, external: true, intervalMs: 20 });
  assert.deepStrictEqual(w.kinds, ['fds', 'handles', 'timers', 'external']);
  assert.strictEqual(w.intervalMs, 20);
  await settle(60);
  const r = w.read();
  assert.ok(r.fds >= 3, `fds ${r.fds}`);
  assert.ok(Number.isInteger(r.handles) && Number.isInteger(r.timers));
  assert.ok(r.external > 0 && r.arrayBuffers >= 0 && r.arrayBuffers <= r.external);
  const keep = setInterval(() => {}, 1000);
  await settle(60);
  assert.ok(w.read().timers >= r.timers + 1, 'a new interval is counted');
  clearInterval(keep);
  // A second call replaces the first.
  const w2 = memwatch.watchResources({ timers: true, intervalMs: 20 });
  assert.strictEqual(w.running, false);
  assert.strictEqual(w2.running, true);
  w2.stop();
  w2.stop();
  assert.strictEqual(w2.running, false);
  // Its own timer is unref'd: a program that watches resources and does nothing else exits.
  const { runNode } = require('./helpers');
  const r2 = runNode("require('.').watchResources({ fds: true, external: true, intervalMs: 10 }); console.log('started')", { timeout: 20000 });
  assert.strictEqual(r2.status, 0, r2.stderr);
  assert.match(r2.stdout, /started/);
});

test("heap 'leak' listeners see only heap leaks unless the program watches other kinds", async () => {
  const r = require('./helpers').runNode(`
    const m = require('.');
    const fs = require('fs');
    const kinds = [];
    m.on('leak', (l) => kinds.push(l.kind));
    const fds = [];
    // fds leak fast, the heap stays flat; nothing watches fds.
    const t = setInterval(() => fds.push(fs.openSync('package.json', 'r')), 5);
    setTimeout(() => { clearInterval(t); console.log(JSON.stringify({ kinds, fds: fds.length })); }, 3000);
  `, { timeout: 30000 });
  assert.strictEqual(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.fds > 200);
  assert.deepStrictEqual(out.kinds, []);
});
