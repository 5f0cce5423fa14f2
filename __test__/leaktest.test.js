'use strict';
// Leak tests (leakTest / assertNoLeak) on the corpus in fixtures/leak-corpus.js: every leaking
// function caught and named with its line, no false positive on the known traps; the failure
// message; the options' errors; and that fn's own errors come through as they are.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');
const { leakTest, assertNoLeak } = memwatch;
const corpus = require('./fixtures/leak-corpus.js');

const CORPUS_FILE = path.join(__dirname, 'fixtures', 'leak-corpus.js');
const CORPUS_LINES = fs.readFileSync(CORPUS_FILE, 'utf8').split('\n');

/** 1-based line of the first line of the corpus containing `text`; for a class, of its
 * constructor (V8 locates an object by its constructor function). */
function lineOf(text) {
  const i = CORPUS_LINES.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `"${text}" is in the corpus`);
  if (!text.startsWith('class ')) return i + 1;
  return i + 1 + CORPUS_LINES.slice(i).findIndex((l) => l.includes('constructor('));
}

test.after(() => corpus.cleanUp());

for (const [name, { fn, what, defined }] of Object.entries(corpus.LEAKING)) {
  test(`leaking: ${name} is caught and named with its line`, async () => {
    const r = await leakTest(fn);
    assert.strictEqual(r.leaked, true, `not caught: ${JSON.stringify(r)}`);
    assert.strictEqual(r.iterations, 200);
    const group = r.groups.find((g) => g.steps.length && g.steps[g.steps.length - 1].className === what) || r.groups.find((g) => g.what === what);
    assert.ok(group, `no group names ${what}: ${r.groups.map((g) => g.path).join(' | ')}`);
    assert.ok(group.location, `${what} has a location: ${JSON.stringify(group)}`);
    const m = /^(.*):(\d+):(\d+)$/.exec(group.location);
    assert.ok(m && m[1].endsWith('leak-corpus.js'), `location ${group.location}`);
    assert.strictEqual(Number(m[2]), lineOf(defined), `${what} located at ${group.location}`);
    const cls = r.classes.find((c) => c.what === group.what);
    assert.ok(cls.count >= 20 && cls.perIteration > 0 && cls.bytes > 0, JSON.stringify(cls));
  });
}

test('leaking: the rate per call is measured, one in ten is 0.1', async () => {
  const r = await leakTest(corpus.LEAKING['a leak on one call in ten'].fn, { iterations: 400 });
  const audit = r.classes.find((c) => c.what === 'AuditEntry');
  assert.strictEqual(audit.perIteration, 0.1);
  assert.strictEqual(audit.count, 40);
  const every = await leakTest(corpus.LEAKING['a module array'].fn, { iterations: 100, rounds: 5, warmup: 0 });
  const rec = every.classes.find((c) => c.what === 'SessionRecord');
  assert.strictEqual(rec.perIteration, 1);
  assert.strictEqual(rec.count, 100);
});

for (const [name, fn] of Object.entries(corpus.CLEAN)) {
  if (name === 'console.log') continue; // below, in a process of its own: it writes to stdout
  test(`clean: ${name} is not a leak`, async () => {
    const r = await leakTest(fn);
    assert.strictEqual(r.leaked, false, `false positive: ${JSON.stringify(r.classes)} ${r.groups.map((g) => g.path).join(' | ')}`);
    assert.deepStrictEqual(r.classes, []);
    await assertNoLeak(fn);
  });
}

test('clean: console.log to a pipe is not a leak', () => {
  const r = spawnSync(process.execPath, [CORPUS_FILE, 'console.log'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout.split('\n').filter(Boolean).length, 250, 'warm-up and measured calls all logged');
  const result = JSON.parse(r.stderr.trim().split('\n').pop());
  assert.strictEqual(result.leaked, false, JSON.stringify(result.classes));
});

test('assertNoLeak fails like a good test failure: the function, the class, per call, holder and line', async () => {
  await assert.rejects(
    assertNoLeak(corpus.LEAKING['a module array'].fn),
    (e) => {
      assert.ok(e instanceof assert.AssertionError);
      assert.strictEqual(e.operator, 'assertNoLeak');
      // The root leads: 1 SessionRecord per call with what it holds, not its strings.
      assert.match(e.message, /^moduleArray leaks 1 SessionRecord \(\d+ bytes with its 1 String\) per call: 200 calls left 200 alive, held by SessionRecord @\d+ <- \[\d+\] in Array @\d+ <- sessions in system \/ Context \(\S*leak-corpus\.js\) @\d+;/);
      assert.match(e.message, new RegExp(`SessionRecord is at \\S*leak-corpus\\.js:${lineOf('class SessionRecord')}:\\d+`));
      assert.ok(Array.isArray(e.actual) && e.actual[0].what === 'SessionRecord');
      return true;
    },
  );
  await assert.rejects(assertNoLeak(corpus.LEAKING['a leak on one call in ten'].fn, { name: 'audit' }), /^AssertionError \[ERR_ASSERTION\]: audit leaks 1 AuditEntry \(\d+ bytes\) every 10 calls: 200 calls left 20 alive/);
  // A closure's scope is its part, not a second leak.
  await assert.rejects(assertNoLeak(corpus.LEAKING['a listener per call'].fn), (e) => {
    assert.match(e.message, /^listenerPerCall leaks 1 onTick\(\) \(\d+ bytes with its 1 system \/ Context\) per call: .*onTick\(\) is at \S*leak-corpus\.js:\d+:\d+$/);
    return true;
  });
});

test('bad arguments get clear errors; fn\'s own errors come through as they are', async () => {
  await assert.rejects(leakTest('nope'), { name: 'TypeError', message: /^memwatch.leakTest: the first argument must be the function to test, got a string/ });
  await assert.rejects(assertNoLeak(), { name: 'TypeError', message: /^memwatch.assertNoLeak: the first argument must be the function to test, got undefined$/ });
  await assert.rejects(leakTest(() => {}, 5), { name: 'TypeError', message: /^memwatch.leakTest: expected an options object/ });
  await assert.rejects(leakTest(() => {}, { iterations: '200' }), { name: 'TypeError', message: /"iterations" must be an integer .* got a string/ });
  await assert.rejects(leakTest(() => {}, { iterations: 2 }), { name: 'RangeError', message: /"iterations" must be an integer from 4 to 10000000, got 2/ });
  await assert.rejects(leakTest(() => {}, { rounds: 1 }), { name: 'RangeError', message: /"rounds" must be an integer from 2 to 50/ });
  await assert.rejects(leakTest(() => {}, { warmup: -1 }), { name: 'RangeError', message: /"warmup"/ });
  await assert.rejects(leakTest(() => {}, { minPerCall: 0 }), { name: 'RangeError', message: /"minPerCall"/ });
  const boom = new Error('checkout failed');
  let calls = 0;
  await assert.rejects(leakTest(() => { if (++calls === 30) throw boom; }), (e) => e === boom);
  await assert.rejects(leakTest(async () => { await null; throw boom; }), (e) => e === boom);
});

test('leak tests leave the monitor as it was: no stats or leak events from their GCs', async () => {
  let stats = 0;
  const onStats = () => stats++;
  memwatch.on('stats', onStats);
  try {
    await leakTest(() => {}, { iterations: 20, warmup: 0 });
    await new Promise((r) => setTimeout(r, 50));
    assert.strictEqual(stats, 0, 'the snapshots\' GCs are HeapDiff GCs, suppressed');
  } finally {
    memwatch.removeListener('stats', onStats);
  }
});

test('stacks: true adds where the leaked objects were allocated, to the result and to the message', async () => {
  const { fn } = corpus.LEAKING['a module array'];
  const r = await leakTest(fn, { stacks: true });
  const group = r.groups.find((g) => g.what === 'SessionRecord');
  assert.ok(group.stack, JSON.stringify(group));
  assert.strictEqual(group.stack.frames[0].function, 'moduleArray');
  assert.strictEqual(group.stack.frames[0].line, lineOf('function moduleArray'));
  await assert.rejects(assertNoLeak(fn, { stacks: true }), new RegExp(`\\n  SessionRecord allocated at moduleArray \\(\\S*leak-corpus\\.js:${lineOf('function moduleArray')}:\\d+\\)(\\n|$)`));
  await assert.rejects(leakTest(fn, { stacks: 1 }), { name: 'TypeError', message: /"stacks" must be true or false/ });
});
