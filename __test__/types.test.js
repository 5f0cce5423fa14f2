'use strict';
// index.d.ts is hand-written; these checks keep it from drifting from what the binary emits.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const memwatch = require('..');
const { settle } = require('./helpers');

const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');

function interfaceBody(name) {
  const start = dts.indexOf(`interface ${name} `);
  assert.ok(start >= 0, `interface ${name} in index.d.ts`);
  const open = dts.indexOf('{', start);
  let depth = 0;
  for (let i = open; i < dts.length; i++) {
    if (dts[i] === '{') depth++;
    if (dts[i] === '}' && --depth === 0) return dts.slice(open + 1, i);
  }
  throw new Error(`unterminated interface ${name}`);
}

function declaredFields(name) {
  return [...interfaceBody(name).matchAll(/^\s*'?([\w+-]+)'?\??:/gm)].map((m) => m[1]);
}

/** An interface's own fields and those of the interfaces it extends. */
function allFields(name) {
  const start = dts.indexOf(`interface ${name} `);
  const head = dts.slice(start, dts.indexOf('{', start)).trim();
  const bases = /\bextends\s+([\w\s,]+)$/.exec(head);
  const inherited = bases ? bases[1].split(',').map((b) => b.trim()).filter(Boolean).flatMap(allFields) : [];
  return [...inherited, ...declaredFields(name)];
}

test('every field of an emitted stats object is typed in Stats, and nothing more', async () => {
  let stats;
  memwatch.once('stats', (s) => (stats = s));
  memwatch.gc();
  await settle();
  assert.ok(stats, 'got a stats event');
  assert.deepStrictEqual(declaredFields('Stats').sort(), Object.keys(stats).sort());
});

test('leak, HeapDiff result and options are typed field for field', () => {
  assert.deepStrictEqual(declaredFields('LeakInfo').sort(), ['end', 'growth', 'heapLimit', 'kind', 'limitKind', 'rate', 'reason', 'runway', 'sites', 'start', 'timeToLimit']);
  assert.deepStrictEqual(declaredFields('AllocationSite').sort(), ['bytes', 'callerBytes', 'frames', 'text']);
  assert.deepStrictEqual(declaredFields('SiteFrame').sort(), ['column', 'function', 'generated', 'line', 'script']);
  assert.deepStrictEqual(declaredFields('HeapDiffDetail').sort(), ['+', '-', 'size', 'size_bytes', 'what']);
  assert.deepStrictEqual(declaredFields('HeapDiffTotals').sort(), ['nodes', 'size', 'size_bytes']);
  assert.deepStrictEqual(declaredFields('Options').sort(), Object.keys(memwatch.getOptions()).sort());
  const diff = new memwatch.HeapDiff().end();
  assert.deepStrictEqual(declaredFields('HeapDiffResult').filter((f) => f !== 'details').sort(), ['after', 'allocated_nodes', 'before', 'change', 'freed_nodes', 'size', 'size_bytes']);
  assert.ok(Array.isArray(diff.change.details));
});

test('every public function is declared on MemWatch, and the new reports are typed field for field', () => {
  const declaredMethods = [...interfaceBody('MemWatch').matchAll(/^\s*(\w+)\(/gm)].map((m) => m[1]);
  const emitter = new (require('node:events').EventEmitter)();
  const own = Object.keys(memwatch).filter((k) => typeof memwatch[k] === 'function' && !(k in emitter) && k !== 'HeapDiff');
  for (const name of own) assert.ok(declaredMethods.includes(name), `memwatch.${name} is declared in index.d.ts`);

  const hd = new memwatch.HeapDiff({ retainers: 1 });
  globalThis.__typesKeep = Array.from({ length: 3000 }, (_, i) => ({ i }));
  const withPaths = hd.end();
  delete globalThis.__typesKeep;
  assert.ok(withPaths.retainers.length >= 1);
  assert.deepStrictEqual(declaredFields('RetainerSample').sort(), Object.keys(withPaths.retainers[0]).sort());
  assert.deepStrictEqual(declaredFields('RetainerStep').sort(), Object.keys(withPaths.retainers[0].steps[0]).sort());

  const sample = memwatch.statsHistory()[0];
  assert.ok(sample, 'stats were recorded by the earlier tests');
  assert.deepStrictEqual(declaredFields('StatsSample').sort(), Object.keys(sample).sort());
});

test('leakTest results are typed field for field', async () => {
  const kept = [];
  const r = await memwatch.leakTest(() => kept.push({ at: kept.length }), { iterations: 40, warmup: 0, stacks: true });
  assert.ok(r.leaked && r.groups.length >= 1);
  assert.deepStrictEqual(declaredFields('LeakTestResult').sort(), Object.keys(r).sort());
  assert.deepStrictEqual(declaredFields('LeakTestClass').sort(), Object.keys(r.classes[0]).sort());
  assert.deepStrictEqual(declaredFields('LeakTestGroup').sort(), Object.keys(r.groups[0]).sort());
  const options = declaredFields('LeakTestOptions').sort();
  assert.deepStrictEqual(options, ['iterations', 'minPerCall', 'name', 'retainers', 'rounds', 'stacks', 'timeoutMs', 'warmup']);
  assert.ok(r.groups[0].stack, 'stacks: true gives the group its allocation stack');
  assert.deepStrictEqual(declaredFields('AllocationStack').sort(), Object.keys(r.groups[0].stack).sort());
  assert.deepStrictEqual(Object.keys(require('../lib/leaktest.js').LEAK_TEST_DEFAULTS).concat('name').sort(), options);
});

test('HeapDiff stacks are typed field for field', () => {
  const hd = new memwatch.HeapDiff({ stacks: true });
  globalThis.__typesKeep = Array.from({ length: 2000 }, (_, i) => ({ i }));
  const d = hd.end();
  delete globalThis.__typesKeep;
  assert.ok(d.stacks.length >= 1);
  assert.deepStrictEqual(declaredFields('HeapDiffWithStacks'), ['stacks']);
  assert.deepStrictEqual(declaredFields('AllocationStack').sort(), Object.keys(d.stacks[0]).sort());
  const frame = d.stacks.find((s) => s.frames.length).frames[0];
  assert.deepStrictEqual(declaredFields('StackFrame').sort(), Object.keys(frame).sort());
  assert.deepStrictEqual(declaredFields('HeapDiffOptions').sort(), ['retainers', 'stacks']);
});

test("a resource 'leak' is typed field for field (ResourceLeakInfo), and the new functions are declared", async () => {
  const watch = memwatch.watchResources({ timers: { minGrowth: 4 }, intervalMs: 10, warmupMs: 0, windowMs: 200 });
  const timers = [];
  const add = setInterval(() => timers.push(setInterval(() => {}, 60000)), 5);
  let leak;
  const on = (l) => {
    if (l.kind === 'timers') leak = l;
  };
  memwatch.on('leak', on);
  for (let i = 0; i < 100 && !leak; i++) await settle(20);
  clearInterval(add);
  for (const t of timers) clearInterval(t);
  memwatch.removeListener('leak', on);
  watch.stop();
  assert.ok(leak, 'a timers leak was reported');
  assert.deepStrictEqual(allFields('ResourceLeakInfo').sort(), Object.keys(leak).sort());
  assert.deepStrictEqual(declaredFields('WatchResourcesOptions').sort(), ['external', 'fds', 'handles', 'intervalMs', 'timers', 'warmupMs', 'windowMs']);
});
