'use strict';
// A monitor that survives its users: what careless callers and test suites do to it.
const test = require('node:test');
const assert = require('node:assert');
const { runNode } = require('./helpers');

function inChild(code) {
  const r = runNode(code, { timeout: 60000 });
  assert.strictEqual(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

test("removeAllListeners() (a test suite's cleanup) leaves the hook in step: 'stats' fires again after it", () => {
  const out = inChild(`
    const m = require('.'); const native = require('./lib/native.js');
    let before = 0, after = 0;
    m.on('stats', () => before++); m.on('leak', () => {});
    m.removeAllListeners();
    const hookAfterRemoval = native.isMonitoring();
    m.on('stats', () => after++);
    m.gc();
    setTimeout(() => {
      m.removeAllListeners('stats');
      console.log(JSON.stringify({ before, after, hookAfterRemoval, hookAtEnd: native.isMonitoring() }));
    }, 50);`);
  assert.deepStrictEqual(out, { before: 0, after: 1, hookAfterRemoval: false, hookAtEnd: false });
});

test('a HeapDiff with stacks dropped without end() stops the allocation tracker when collected; dispose stops it at once', () => {
  const out = inChild(`
    const m = require('.'); const { trackingUsers } = require('./lib/heapdiff.js');
    (function dropped() { new m.HeapDiff({ stacks: true }); })();
    const whileAlive = trackingUsers();
    m.gc();
    setTimeout(() => {
      m.gc();
      setTimeout(() => {
        const afterGc = trackingUsers();
        const hd = new m.HeapDiff({ stacks: true });
        const beforeDispose = trackingUsers();
        hd[Symbol.dispose || Symbol.for('nodejs.dispose')]();
        let again = null;
        try { hd.end(); } catch (e) { again = e.message; }
        console.log(JSON.stringify({ whileAlive, afterGc, beforeDispose, afterDispose: trackingUsers(), again }));
      }, 20);
    }, 20);`);
  assert.deepStrictEqual(out, { whileAlive: 1, afterGc: 0, beforeDispose: 1, afterDispose: 0, again: 'attempt to end() a HeapDiff that was already ended' });
});

test("gc() called from a 'stats' listener does not feed itself: one event, not one per GC", () => {
  const out = inChild(`
    const m = require('.'); let events = 0, gcs = 0;
    m.on('stats', (s) => { events++; gcs = s.num_full_gc; m.gc(); });
    m.gc();
    setTimeout(() => { m.gc(); setTimeout(() => console.log(JSON.stringify({ events, gcs })), 100); }, 100);`);
  assert.strictEqual(out.events, 2, 'one event per gc() from outside a listener');
  assert.ok(out.gcs >= 4, `the listener's own gc() calls ran and were counted (${out.gcs})`);
});

test('a leak test whose function never settles rejects, naming the call, after timeoutMs', async () => {
  const memwatch = require('..');
  const started = Date.now();
  await assert.rejects(
    memwatch.assertNoLeak(function checkout(i) { return i === 3 ? new Promise(() => {}) : Promise.resolve(); }, { timeoutMs: 200, warmup: 5 }),
    /^Error: memwatch\.assertNoLeak: call 3 of checkout did not settle within 200 ms/,
  );
  assert.ok(Date.now() - started < 5000);
  await assert.rejects(memwatch.leakTest(() => {}, { timeoutMs: 0 }), /"timeoutMs" must be an integer from 1/);
});

test("names from the heap cannot forge lines or steer the terminal in assertNoLeak's message", async () => {
  const memwatch = require('..');
  const holder = { '\x1b[2J\x07evil\nsuspect: Totally @1 retains 999 bytes': [] };
  class Record {}
  Object.defineProperty(Record, 'name', { value: 'Fake\nsuspect: Totally @1' });
  const error = await memwatch.assertNoLeak(() => holder['\x1b[2J\x07evil\nsuspect: Totally @1 retains 999 bytes'].push(new Record()), { iterations: 40, warmup: 5, name: 'push\x1b]0;t\x07' }).then(
    () => null,
    (e) => e,
  );
  assert.ok(error, 'the leak is found');
  assert.doesNotMatch(error.message, /[\x00-\x08\x0b-\x1f\x7f]/, 'no raw control characters');
  assert.doesNotMatch(error.message, /\nsuspect: /, 'no forged line');
  assert.match(error.message, /\\x1b\[2J\\x07evil\\nsuspect: Totally/, 'the key is shown, escaped');
  assert.match(error.message, /^push\\x1b\]0;t\\x07 leaks /);
});
