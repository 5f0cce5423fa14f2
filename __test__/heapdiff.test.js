'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const memwatch = require('..');
const { runNode } = require('./helpers');

class LeakingClass {
  constructor(i) {
    this.i = i;
    this.tag = 'leak';
  }
}
class FreedClass {
  constructor(i) {
    this.i = i;
  }
}

// Let V8 finish in-object slack tracking so every instance has its final shallow size.
const warm = [];
for (let i = 0; i < 100; i++) warm.push(new LeakingClass(i), new FreedClass(i));

function detail(diff, what) {
  return diff.change.details.find((d) => d.what === what);
}

test('10,000 instances allocated between new and end() show as exactly +10000', () => {
  const keep = [];
  const hd = new memwatch.HeapDiff();
  for (let i = 0; i < 10000; i++) keep.push(new LeakingClass(i));
  const diff = hd.end();
  const d = detail(diff, 'LeakingClass');
  assert.ok(d, 'LeakingClass in details');
  assert.strictEqual(d['+'], 10000);
  assert.strictEqual(d['-'], 0);
  const each = d.size_bytes / 10000;
  assert.ok(Number.isInteger(each) && each >= 16 && each <= 256, `shallow size per instance ${each}`);
  assert.strictEqual(keep.length, 10000);
});

function makeFreed(n) {
  // In a function of its own, so no stack slot of the test keeps the last instance alive.
  const out = [];
  for (let i = 0; i < n; i++) out.push(new FreedClass(i));
  return out;
}

test('freed objects show in "-"', () => {
  let doomed = makeFreed(5000);
  const hd = new memwatch.HeapDiff();
  doomed = null;
  const diff = hd.end();
  const d = detail(diff, 'FreedClass');
  assert.ok(d, 'FreedClass in details');
  assert.strictEqual(d['-'], 5000);
  assert.strictEqual(d['+'], 0);
  assert.ok(d.size_bytes < 0);
  assert.match(d.size, /^-/);
  assert.ok(diff.change.freed_nodes >= 5000);
});

test('result shape and types are memwatch\'s', () => {
  const hd = new memwatch.HeapDiff();
  const keep = [new LeakingClass(1), [1, 2, 3], 'x'.repeat(100) + Math.random(), /re/g, () => keep];
  const diff = hd.end();
  assert.deepStrictEqual(Object.keys(diff), ['before', 'after', 'change']);
  for (const side of [diff.before, diff.after]) {
    assert.deepStrictEqual(Object.keys(side), ['nodes', 'size_bytes', 'size']);
    assert.ok(Number.isInteger(side.nodes) && side.nodes > 1000);
    assert.ok(Number.isInteger(side.size_bytes) && side.size_bytes > 0);
    assert.match(side.size, /^\d+(\.\d+)? (bytes|kb|mb)$/);
  }
  assert.deepStrictEqual(Object.keys(diff.change), ['size_bytes', 'size', 'freed_nodes', 'allocated_nodes', 'details']);
  assert.strictEqual(diff.change.size_bytes, diff.after.size_bytes - diff.before.size_bytes);
  assert.ok(Array.isArray(diff.change.details) && diff.change.details.length > 0);
  for (const d of diff.change.details) {
    assert.deepStrictEqual(Object.keys(d), ['what', 'size_bytes', 'size', '+', '-']);
    assert.strictEqual(typeof d.what, 'string');
    assert.ok(Number.isInteger(d['+']) && Number.isInteger(d['-']));
  }
  const whats = diff.change.details.map((d) => d.what);
  const sorted = [...whats].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0));
  assert.deepStrictEqual(whats, sorted, 'details sorted by what, byte order');
  for (const name of ['LeakingClass', 'Array', 'String', 'Closure', 'RegExp']) {
    assert.ok(whats.includes(name), `${name} named`);
  }
  assert.strictEqual(keep.length, 5);
});

test('size text follows memwatch', () => {
  const hd = new memwatch.HeapDiff();
  const diff = hd.end();
  const b = diff.before.size_bytes;
  const expected = b > 1048576 ? `${Math.round(b / 10485.76) / 100} mb` : `${Math.round(b / 10.24) / 100} kb`;
  assert.strictEqual(diff.before.size, expected);
});

test('end() twice throws memwatch\'s error; HeapDiff without new is a TypeError', () => {
  const hd = new memwatch.HeapDiff();
  hd.end();
  assert.throws(() => hd.end(), { name: 'Error', message: 'attempt to end() a HeapDiff that was already ended' });
  assert.throws(() => memwatch.HeapDiff(), TypeError);
});

test('a 200,000-deep linked list is diffed without recursion', () => {
  class ListNode {
    constructor(next) {
      this.next = next;
    }
  }
  const hd = new memwatch.HeapDiff();
  let head = null;
  for (let i = 0; i < 200000; i++) head = new ListNode(head);
  const diff = hd.end();
  assert.strictEqual(detail(diff, 'ListNode')['+'], 200000);
  assert.ok(head);
});

test('HeapDiff works inside a worker', async () => {
  const result = await new Promise((resolve, reject) => {
    const w = new Worker(path.join(__dirname, 'fixtures', 'heapdiff-worker.js'));
    w.on('message', resolve);
    w.on('error', reject);
  });
  assert.strictEqual(result.added, 3000);
});

test('300 HeapDiffs dropped without end(), then gc(): no crash, memory released', () => {
  // Their finalizers run in bulk on gc(). Each HeapDiff costs one V8 snapshot (~0.1 s here):
  // 300 take half a minute (1,000 took 100 s of every CI run for the same check).
  const r = runNode(
    `const m = require('.');
     const before = process.memoryUsage().rss;
     for (let i = 0; i < 300; i++) new m.HeapDiff();
     m.gc();
     setImmediate(() => {
       m.gc();
       const hd = new m.HeapDiff(); const d = hd.end();
       console.log(JSON.stringify({ ok: d.before.nodes > 0, rssGrowthMb: (process.memoryUsage().rss - before) / 1048576 }));
     });`,
    { timeout: 600000 },
  );
  assert.strictEqual(r.signal, null, r.stderr);
  assert.strictEqual(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(out.ok);
  assert.ok(out.rssGrowthMb < 200, `RSS grew ${out.rssGrowthMb} MB`);
});

const APP = path.join(__dirname, 'fixtures', 'allocating-app.js');
const APP_LINES = require('node:fs').readFileSync(APP, 'utf8').split('\n');
const lineOf = (text) => APP_LINES.findIndex((l) => l.includes(text)) + 1;

test('HeapDiff({ stacks: true }) names the function and line that allocated the new objects', () => {
  // A process of its own: V8's compilers may inline handleRequest into route once they are hot,
  // and the stacks then name route; a few calls in a fresh process stay unoptimised.
  const r = runNode(`
    const memwatch = require('.');
    const app = require(${JSON.stringify(APP)});
    const hd = new memwatch.HeapDiff({ stacks: true });
    app.route(300);
    const d = hd.end();
    console.log(JSON.stringify(d.stacks.filter((s) => s.what === 'LeakingRecord')));
  `);
  assert.strictEqual(r.status, 0, r.stderr);
  const stacks = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(stacks.length >= 1, 'a stack for LeakingRecord');
  assert.strictEqual(stacks.reduce((n, s) => n + s.count, 0), 300, 'every new LeakingRecord is in a stack');
  const top = stacks[0];
  assert.strictEqual(top.count, 300);
  assert.deepStrictEqual(top.frames.slice(0, 2).map((f) => f.function), ['handleRequest', 'route']);
  assert.ok(top.frames[0].script.endsWith('allocating-app.js'), top.frames[0].script);
  assert.strictEqual(top.frames[0].line, lineOf('function handleRequest'));
  assert.strictEqual(top.frames[1].line, lineOf('function route'));
  assert.match(top.text, new RegExp(`^\\+300 LeakingRecord allocated at handleRequest \\(\\S*allocating-app\\.js:${lineOf('function handleRequest')}:\\d+\\) <- route \\(\\S*allocating-app\\.js:${lineOf('function route')}:\\d+\\)`));
  assert.doesNotMatch(top.text, /node:internal/, 'the text stops where Node\'s internals begin');
});

test('HeapDiff stacks: with retainers too, both are there; without the option, neither; bad values refused', () => {
  const app = require(APP);
  const hd = new memwatch.HeapDiff({ stacks: true, retainers: 3 });
  app.route(2000);
  const d = hd.end();
  const counted = d.stacks.filter((s) => s.what === 'LeakingRecord').reduce((n, s) => n + s.count, 0);
  assert.strictEqual(counted, 2000, JSON.stringify(d.stacks.map((s) => s.text)));
  assert.ok(d.retainers.some((r) => r.what === 'LeakingRecord' && /^LeakingRecord @/.test(r.path)), JSON.stringify(d.retainers.map((r) => r.path)));
  const plain = new memwatch.HeapDiff({ stacks: false });
  app.route(10);
  assert.deepStrictEqual(Object.keys(plain.end()), ['before', 'after', 'change']);
  assert.throws(() => new memwatch.HeapDiff({ stacks: 'yes' }), { name: 'TypeError', message: /"stacks" must be true or false, got a string/ });
  // The tracker stops at end(): a later plain snapshot carries no stacks and costs nothing extra.
  const later = new memwatch.HeapDiff({ retainers: 1 });
  app.route(10);
  assert.strictEqual(later.end().stacks, undefined);
});
