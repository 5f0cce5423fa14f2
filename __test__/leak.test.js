'use strict';
// The 'leak' event: batches of retained objects with memwatch.gc() between them (the pattern of
// a test harness), under the default trend detector and under memwatch's rule; and programs with
// natural GCs only, leaking and not. The long natural-GC scenarios live in bench/scenarios
// (`npm run scenarios`) and the detector's table in the core's replay harness.
const test = require('node:test');
const assert = require('node:assert');
const v8 = require('node:v8');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { PerformanceObserver, performance, constants } = require('node:perf_hooks');

const memwatch = require('..');
const { settle, runNode } = require('./helpers');

class Retained {
  constructor(i) {
    this.i = i;
    this.label = `retained-${i}`;
  }
}

function used() {
  return v8.getHeapStatistics().used_heap_size;
}

/** Runs `rounds` of (allocate a batch, gc()), recording 'leak' events and the heap after each gc(). */
async function harness(rounds, batch, keepBatches) {
  const leaks = [];
  const onLeak = (info) => leaks.push({ info, round: current });
  let current = 0;
  const kept = [];
  // V8's own full GCs (outside the harness's gc() calls) are samples too: they are counted, by
  // their times against the calls', so that a test can tell them apart.
  const calls = [];
  const majors = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const gc = () => {
    const began = performance.now();
    memwatch.gc();
    calls.push([began, performance.now()]);
  };
  memwatch.on('leak', onLeak);
  const bases = [];
  try {
    gc();
    bases.push(used());
    await settle(20);
    for (current = 1; current <= rounds; current++) {
      const objs = [];
      for (let i = 0; i < batch; i++) objs.push(new Retained(i));
      if (keepBatches) kept.push(objs);
      gc();
      bases.push(used());
      await settle(20);
    }
  } finally {
    memwatch.removeListener('leak', onLeak);
    observer.disconnect();
  }
  const ownGcs = majors.filter((t) => !calls.some(([a, b]) => t >= a && t <= b)).length;
  return { leaks, bases, kept, ownGcs };
}

const MEMWATCH_RULE = { detector: 'memwatch' };
const DEFAULTS = memwatch.getOptions();

test('the trend detector is the default; memwatch\'s rule is an option', () => {
  assert.strictEqual(DEFAULTS.detector, 'trend');
  assert.strictEqual(DEFAULTS.leakReminderMs, 30 * 60 * 1000);
  assert.strictEqual(DEFAULTS.leakWarmupMs, 180000);
  assert.strictEqual(memwatch.setOptions(MEMWATCH_RULE).detector, 'memwatch');
  assert.strictEqual(memwatch.setOptions({ detector: 'trend' }).detector, 'trend');
  assert.throws(() => memwatch.setOptions({ detector: 'magic' }), { name: 'TypeError', message: /"detector" must be one of 'trend', 'memwatch', got a string \("magic"\)/ });
  assert.throws(() => memwatch.setOptions({ leakReminderMs: '5' }), { name: 'TypeError', message: /got a string/ });
  assert.throws(() => memwatch.setOptions({ leakReminderMs: -1 }), RangeError);
  assert.deepStrictEqual(memwatch.getOptions(), DEFAULTS, 'a refused change changes nothing');
});

test('trend: a harness leaking between gc() calls gets one leak within 10 calls, with rate and time to the limit', async () => {
  const { leaks, bases } = await harness(20, 20000, true);
  assert.strictEqual(leaks.length, 1, `one episode, one event: ${leaks.map((l) => l.round)}`);
  const { info, round } = leaks[0];
  assert.ok(round <= 10, `caught at call ${round}`);
  assert.ok(info.start instanceof Date && info.end instanceof Date && info.start < info.end);
  const seconds = (info.end - info.start) / 1000;
  const retained = bases[round] - bases[round - 7];
  assert.ok(Math.abs(info.growth - retained) <= 0.25 * retained, `growth ${info.growth} vs retained ${retained}`);
  assert.ok(Math.abs(info.rate - info.growth / seconds) <= 0.25 * info.rate, `rate ${info.rate} B/s over ${seconds} s`);
  assert.strictEqual(info.heapLimit, v8.getHeapStatistics().heap_size_limit);
  const expected = (info.heapLimit - bases[round]) / info.rate;
  assert.ok(Math.abs(info.timeToLimit - expected) <= 0.25 * expected, `timeToLimit ${info.timeToLimit} vs ${expected}`);
  assert.strictEqual(info.kind, 'heap');
  assert.strictEqual(info.limitKind, 'heap', 'no container binds here');
  assert.deepStrictEqual(Object.keys(info).sort(), ['end', 'growth', 'heapLimit', 'kind', 'limitKind', 'rate', 'reason', 'start', 'timeToLimit']);
  assert.match(info.reason, /^heap grew [\d.]+ (kb|mb) in \d+m?s \([\d.]+ (kb|mb)\/min, steady over \d+ full GCs\); at this rate it reaches its [\d.]+ (mb|gb) limit in (\d+[dhm] )?\d+(ms|[hms])$/);
});

test('trend: a steady gc() loop keeping nothing raises no leak in 200 calls', async () => {
  const { leaks } = await harness(200, 20000, false);
  assert.strictEqual(leaks.length, 0);
});

/** Runs __test__/fixtures/natural-gc.js: natural GCs only, for `seconds`. */
function natural(mode, seconds, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'natural-gc.js'), mode, String(seconds), JSON.stringify(options)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

test('trend, natural GCs only: a leaking program is caught, the same program without the leak is not', async () => {
  // Warm-up shortened so the test takes a minute, not several; the detector is otherwise the
  // default. 10 s rather than less: on a loaded CI machine (the matrix runs two nodes at once)
  // a program's own start-up (code tiering, V8 growing its spaces) can take several seconds,
  // which is what the default 3-min warm-up is for. The first decision comes a 20-s window
  // after the warm-up; a leaking heap gets ever fewer full GCs (V8 raises its limit), and a
  // loaded machine can leave the 20-s window too few, so the run leaves room for the 40-s one.
  // Sampling at 5% growth: the pre-filled control has little old-space growth, and node 26
  // otherwise ran it with 2 full GCs in 60 s, which tests nothing.
  const options = { leakWarmupMs: 10000, sampleGrowthPercent: 5 };
  const [leaking, steady] = await Promise.all([natural('leak', 75, options), natural('steady', 75, options)]);
  assert.ok(leaking.leaks.length >= 1, `no leak in ${leaking.fullGcs} full GCs`);
  const windowStart = (Date.parse(leaking.leaks[0].start) - leaking.started) / 1000;
  assert.ok(windowStart >= 10, `the growth that decided began ${windowStart} s in, inside the 10-s warm-up`);
  assert.ok(leaking.leaks[0].rate > 0 && leaking.leaks[0].growth > 0);
  assert.strictEqual(steady.leaks.length, 0, `false alarm after ${steady.fullGcs} full GCs: ${JSON.stringify(steady.leaks[0])}`);
  assert.ok(steady.fullGcs >= 10, `the control saw ${steady.fullGcs} full GCs`);
});

test('memwatch rule: a harness leaking between gc() calls gets exactly one leak, on the 5th growth', async () => {
  // No extra samples: this is the bare rule, one sample per gc() call.
  memwatch.setOptions({ ...MEMWATCH_RULE, sampleGrowthPercent: 0 });
  try {
    const { leaks, bases, ownGcs } = await harness(7, 20000, true);
    assert.strictEqual(leaks.length, 1, `leak events: ${leaks.length}`);
    const { info, round } = leaks[0];
    // After the 5th leaking batch, unless V8 ran full GCs of its own in between (a loaded
    // machine: node 24 once fired after the 4th): they saw the heap grown too, and count.
    if (ownGcs === 0) assert.strictEqual(round, 5, 'fired after the 5th leaking batch, not before');
    else assert.ok(round >= 5 - ownGcs && round <= 5, `fired after batch ${round}, with ${ownGcs} full GCs of V8's own`);
    assert.ok(info.start instanceof Date && info.end instanceof Date);
    assert.ok(info.start <= info.end);
    assert.ok(info.end.getTime() <= Date.now() && Date.now() - info.end.getTime() < 60000);
    // growth spans the streak: from the heap after batch 1 to the heap after batch 5.
    const retained = bases[5] - bases[1];
    assert.ok(retained > 4 * 20000 * 32, `retained ${retained}`);
    assert.ok(Math.abs(info.growth - retained) <= 0.1 * retained, `growth ${info.growth} vs retained ${retained}`);
    assert.match(info.reason, /^heap growth over 5 consecutive GCs \((\d+h )?(\d+m )?\d+s\) - -?[\d.]+ (bytes|kb|mb)\/hr$/);
  } finally {
    memwatch.setOptions(DEFAULTS);
  }
});

test('memwatch rule: the harness is caught within 5 gc() calls; a loop keeping nothing is not', async () => {
  memwatch.setOptions(MEMWATCH_RULE);
  try {
    assert.ok((await harness(5, 20000, true)).leaks.length >= 1, 'caught');
    assert.strictEqual((await harness(12, 20000, false)).leaks.length, 0);
  } finally {
    memwatch.setOptions(DEFAULTS);
  }
});

test('memwatch rule: consecutiveGrowths is honoured and named in the reason', async () => {
  memwatch.setOptions({ ...MEMWATCH_RULE, consecutiveGrowths: 3, sampleGrowthPercent: 0 });
  try {
    const { leaks } = await harness(4, 20000, true);
    assert.strictEqual(leaks.length, 1);
    assert.strictEqual(leaks[0].round, 3);
    assert.match(leaks[0].info.reason, /^heap growth over 3 consecutive GCs/);
  } finally {
    memwatch.setOptions(DEFAULTS);
  }
});

test('HeapDiff GCs do not feed the leak detector', async () => {
  memwatch.setOptions({ ...MEMWATCH_RULE, sampleGrowthPercent: 0 });
  const leaks = [];
  const onLeak = (info) => leaks.push(info);
  memwatch.on('leak', onLeak);
  const kept = [];
  try {
    memwatch.gc();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 20000; i++) kept.push(new Retained(i));
      memwatch.gc();
      // Each HeapDiff runs several full GCs of a growing heap; none may count.
      new memwatch.HeapDiff().end();
      await settle(20);
    }
    assert.strictEqual(leaks.length, 0, '4 growths plus HeapDiff GCs are not 5 growths');
  } finally {
    memwatch.removeListener('leak', onLeak);
    memwatch.setOptions(DEFAULTS);
  }
});

test('a harness leaking about 1 MB between gc() calls on a small heap gets its leak within 10 calls, of every shape', () => {
  // In fresh processes on a 64 MB heap: objects, strings, arrays, maps.
  for (const shape of ['objects', 'strings', 'arrays', 'maps']) {
    const r = runNode(
      `const m = require('.'); let call = 0; const calls = []; const kept = [];
       m.on('leak', (l) => calls.push({ call, kind: l.kind, runway: Boolean(l.runway) }));
       const leakOnce = {
         objects: () => { for (let i = 0; i < 12000; i++) kept.push({ a: i, b: 'x', c: [i] }); },
         strings: () => { for (let i = 0; i < 6400; i++) kept.push('s' + call + '-' + i + 'x'.repeat(24)); },
         arrays: () => kept.push(new Array(131072).fill(call + 0.5)),
         maps: () => { const x = new Map(); for (let i = 0; i < 12000; i++) x.set(i, { i }); kept.push(x); },
       }[${JSON.stringify(shape)}];
       (async () => {
         for (call = 1; call <= 20; call++) {
           leakOnce();
           m.gc();
           await new Promise((r) => setTimeout(r, 5));
         }
         console.log(JSON.stringify({ calls, mbPerCall: process.memoryUsage().heapUsed / 20 / 1048576 }));
       })();`,
      { args: ['--max-old-space-size=64'] },
    );
    assert.strictEqual(r.status, 0, r.stderr);
    const { calls, mbPerCall } = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.ok(mbPerCall > 0.6 && mbPerCall < 2, `${shape}: about 1 MB a call (${mbPerCall.toFixed(2)})`);
    const first = calls.find((c) => c.kind === 'heap');
    assert.ok(first && first.call <= 10, `${shape}: first heap 'leak' at call ${first && first.call}`);
  }
});
