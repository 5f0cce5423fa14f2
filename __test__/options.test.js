'use strict';
// Options are checked everywhere as setOptions checks them: a plain object, own keys only, every
// key known; the error names the function the user called and lists the known options.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const memwatch = require('..');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-options-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const snapshot = path.join(dir, 'a.heapsnapshot');

test('a typo in any options object is an error naming the function and the known options', async () => {
  memwatch.writeSnapshot(snapshot);
  const cases = [
    [() => new memwatch.HeapDiff({ retainer: 3 }), 'new memwatch.HeapDiff', /unknown option "retainer"; known options: retainers, stacks/],
    [() => memwatch.assertNoLeak(() => {}, { iteration: 10 }), 'memwatch.assertNoLeak', /unknown option "iteration"; known options: iterations, rounds, warmup, minPerCall, retainers, stacks, timeoutMs, name/],
    [() => memwatch.leakTest(() => {}, { typo: 1 }), 'memwatch.leakTest', /unknown option "typo"/],
    [() => memwatch.analyze(snapshot, { typo: 1 }), 'memwatch.analyze', /unknown option "typo"; known options: top, progress, timings, sourceMaps/],
    [() => memwatch.analyzeAsync(snapshot, { typo: 1 }), 'memwatch.analyzeAsync', /unknown option "typo"/],
    [() => memwatch.analyzeText(snapshot, { typo: 1 }), 'memwatch.analyzeText', /known options: top, progress, timings, sourceMaps, timeoutMs, json/],
    [() => memwatch.diffSnapshots(snapshot, snapshot, { typo: 1 }), 'memwatch.diffSnapshots', /known options: top, progress, sourceMaps, all/],
    [() => memwatch.findLeaks(snapshot, snapshot, snapshot, { typo: 1 }), 'memwatch.findLeaks', /unknown option "typo"/],
    [() => memwatch.snapshotOnSignal('SIGUSR2', { typo: 1 }), 'memwatch.snapshotOnSignal', /known options: dir, minIntervalMs/],
    [() => memwatch.snapshotOnLeak({ typo: 1 }), 'memwatch.snapshotOnLeak', /known options: dir, keep, minIntervalMs, report/],
    [() => memwatch.htmlReport(snapshot, path.join(dir, 'r.html'), { typo: 1 }), 'memwatch.htmlReport', /known options: top, stats, leak, timeoutMs/],
    [() => memwatch.reportNearLimit({ typo: 1 }), 'memwatch.reportNearLimit', /known options: dir, keep, minIntervalMs, snapshot/],
    [() => memwatch.watchResources({ typo: 1 }), 'memwatch.watchResources', /unknown option "typo"/],
    [() => memwatch.setOptions({ typo: 1 }), 'memwatch.setOptions', /unknown option "typo"/],
  ];
  for (const [call, fnName, pattern] of cases) {
    let error;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof TypeError, `${fnName}: a TypeError, got ${error}`);
    assert.ok(error.message.startsWith(`${fnName}: `), `${fnName}: the message names it: ${error.message}`);
    assert.match(error.message, pattern, fnName);
  }
});

test('arrays, null and numbers are not options; keys from Object.prototype are not options', async () => {
  for (const bad of [[], [1], null, 5, 'x']) {
    assert.throws(() => new memwatch.HeapDiff(bad), /^TypeError: new memwatch\.HeapDiff: expected an options object/);
    await assert.rejects(memwatch.assertNoLeak(() => {}, bad), /^TypeError: memwatch\.assertNoLeak: expected an options object/);
    assert.throws(() => memwatch.analyze(snapshot, bad), /^TypeError: memwatch\.analyze: expected an options object/);
  }
  const before = memwatch.getOptions();
  for (const key of ['toString', 'valueOf', 'constructor', 'hasOwnProperty', '__proto__']) {
    const o = JSON.parse(`{ "${key}": 5 }`);
    assert.throws(() => memwatch.setOptions(o), new RegExp(`unknown option "${key}"`), key);
    assert.throws(() => new memwatch.HeapDiff(o), new RegExp(`unknown option "${key}"`), key);
  }
  assert.deepStrictEqual(memwatch.getOptions(), before, 'nothing changed');
});

test('the first argument of a leak test is named for the function called', async () => {
  await assert.rejects(memwatch.assertNoLeak('nope'), /^TypeError: memwatch\.assertNoLeak: the first argument must be the function to test, got a string \("nope"\)$/);
  await assert.rejects(memwatch.leakTest(42), /^TypeError: memwatch\.leakTest: the first argument must be the function to test, got 42$/);
});
