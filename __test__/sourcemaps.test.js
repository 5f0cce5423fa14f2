'use strict';
// Locations in the code people ship: a TypeScript service compiled by tsc, bundled by esbuild,
// and bundled and minified with an inline map (the real tools, from the dev dependencies). The
// reports show the TypeScript file, line and column, and the original class name for minified
// code; JSON keeps the generated location beside it; --no-source-maps turns mapping off.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const memwatch = require('..');

const ORDERS_TS = `// Orders kept by mistake.
export interface Line {
  sku: string;
  qty: number;
}

// Lines so that the class is not near the top.
//
//
//
//
//
export class OrderRecord {
  lines: Line[];
  constructor(public id: number, public customer: string) {
    this.lines = [{ sku: \`sku-\${id}\`, qty: id % 5 }];
  }
}

export const orders = new Map<number, OrderRecord>();

export function place(id: number): OrderRecord {
  const o = new OrderRecord(id, \`customer-\${id % 100}\`);
  orders.set(id, o);
  return o;
}
`;
// Three snapshots: warm, after 20,000 orders, after 20,000 more.
const MAIN_TS = `import { place } from './orders';
const v8 = require('v8');
const [dir] = process.argv.slice(2);
let n = 0;
for (; n < 100; n++) place(n);
v8.writeHeapSnapshot(dir + '/base.heapsnapshot');
for (; n < 20100; n++) place(n);
v8.writeHeapSnapshot(dir + '/target.heapsnapshot');
for (; n < 40100; n++) place(n);
v8.writeHeapSnapshot(dir + '/final.heapsnapshot');
`;
// OrderRecord's constructor: where V8 locates its objects.
const CONSTRUCTOR = 'src/orders.ts:15:3';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-maps-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.mkdirSync(path.join(dir, 'src'));
fs.writeFileSync(path.join(dir, 'src', 'orders.ts'), ORDERS_TS);
fs.writeFileSync(path.join(dir, 'src', 'main.ts'), MAIN_TS);

function build(kind, name = kind) {
  const out = path.join(dir, name);
  fs.mkdirSync(out);
  if (kind === 'tsc') {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--outDir', out, '--sourceMap', '--target', 'es2020', '--module', 'commonjs', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), 'src/orders.ts', 'src/main.ts'], { cwd: dir, encoding: 'utf8' });
    assert.strictEqual(tsc.status, 0, tsc.stdout + tsc.stderr);
  } else {
    require('esbuild').buildSync({ entryPoints: [path.join(dir, 'src', 'main.ts')], bundle: true, platform: 'node', outfile: path.join(out, 'main.js'), sourcemap: kind === 'minified' ? 'inline' : true, minify: kind === 'minified', logLevel: 'silent' });
  }
  const run = spawnSync(process.execPath, [path.join(out, 'main.js'), out], { encoding: 'utf8' });
  assert.strictEqual(run.status, 0, run.stderr);
  return ['base', 'target', 'final'].map((s) => path.join(out, `${s}.heapsnapshot`));
}

function cli(...args) {
  return spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), ...args], { encoding: 'utf8' });
}

for (const kind of ['tsc', 'bundle', 'minified']) {
  test(`${kind}: analyze and leaks name OrderRecord at the TypeScript line; JSON keeps the generated location; --no-source-maps turns it off`, () => {
    const [base, target, final] = build(kind);
    const text = cli('analyze', final).stdout;
    assert.match(text, new RegExp(`holding: [\\d,]+ x OrderRecord at ${CONSTRUCTOR.replace(/\./g, '\\.')} `), text.slice(0, 1500));
    const leaks = memwatch.findLeaks(base, target, final);
    const group = leaks.groups.find((g) => g.location && g.location.script === 'src/orders.ts');
    assert.ok(group, JSON.stringify(leaks.groups.map((g) => [g.className, g.location])));
    assert.deepStrictEqual([group.location.line, group.location.column], [15, 3]);
    assert.ok(group.location.generated, 'the generated location is kept beside the original');
    assert.match(group.location.generated.script, kind === 'tsc' ? /^orders\.js$/ : /^main\.js$/);
    if (kind === 'minified') {
      assert.strictEqual(group.location.generated.line, 1, 'minified: one line');
      assert.strictEqual(group.location.name, 'OrderRecord', 'the original name from the map');
      assert.notStrictEqual(group.className, 'OrderRecord', 'V8 itself knows only the minified name');
    }
    const off = cli('analyze', final, '--no-source-maps').stdout;
    assert.doesNotMatch(off, /src\/orders\.ts/);
    const offLeaks = memwatch.findLeaks(base, target, final, { sourceMaps: false });
    assert.ok(offLeaks.groups.every((g) => !g.location || !g.location.generated));
  });
}

// The issue's own case: a leak test on compiled TypeScript, with node's source maps on and off.
// It leads with the root (1 OrderRecord per call, with its Array, Object and strings as its
// parts), points at src/orders.ts, and the path stops at the program's module.
const LEAK_TEST = `const memwatch = require(${JSON.stringify(ROOT)});
const { place } = require(process.argv[1]);
let i = 0;
memwatch.assertNoLeak(() => { place(i++); }, { retainers: 3 }).then(
  () => console.log(JSON.stringify({ passed: true })),
  (e) => console.log(JSON.stringify({ message: e.message })),
);
`;

test('assertNoLeak on compiled TypeScript leads with the root, at the TypeScript line, held by the module', () => {
  const out = path.join(dir, 'leaktest');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '--outDir', out, '--sourceMap', '--target', 'es2020', '--module', 'commonjs', 'src/orders.ts'], { cwd: dir, encoding: 'utf8' });
  assert.strictEqual(tsc.status, 0, tsc.stdout + tsc.stderr);
  for (const flags of [[], ['--enable-source-maps']]) {
    const r = spawnSync(process.execPath, [...flags, '-e', LEAK_TEST, path.join(out, 'orders.js')], { encoding: 'utf8', timeout: 120000 });
    assert.strictEqual(r.status, 0, r.stderr);
    const { message } = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.ok(message, `${flags}: the leak is found`);
    const [head, ...rest] = message.split('\n');
    assert.match(head, /^the function leaks 1 OrderRecord \(\d+ bytes with its (?=.*\bArray\b)(?=.*\bObject\b)(?=.*\bString\b)[^)]*\) per call: 200 calls left 200 alive, held by /, `${flags}: ${message}`);
    assert.match(head, new RegExp(`; OrderRecord is at \\S*src/orders\\.ts:${CONSTRUCTOR.split(':').slice(1).join(':')}$`));
    // The path ends at the module that holds the Map, in a few hops, not at the GC roots.
    const pathText = head.slice(head.indexOf('held by ') + 8, head.indexOf('; OrderRecord is at'));
    assert.match(pathText, /<- orders in Object @\d+ <- exports in Module \(\S*orders\.js\) @\d+$/, pathText);
    assert.ok(pathText.split(' <- ').length <= 6, pathText);
    assert.doesNotMatch(message, /queueMicrotask|mainModule|\(root\)/);
    // Its parts are not leaks of their own.
    assert.ok(rest.every((l) => !/^ {2}also \d+(\.\d+)? (Array|Object|String) /.test(l)), message);
  }
});

// TypeScript compiled in memory by a require hook (as ts-node and test runners' transforms do):
// the map is inline in a source that exists only in node's cache. With node's source maps on,
// leak tests and HeapDiff map through module.findSourceMap; with them off, V8's position stays.
const HOOKED = `const esbuild = require(${JSON.stringify(require.resolve('esbuild'))});
require.extensions['.ts'] = function (module, filename) {
  const src = require('node:fs').readFileSync(filename, 'utf8');
  const { code } = esbuild.transformSync(src, { loader: 'ts', format: 'cjs', sourcemap: 'inline', sourcefile: filename, target: 'es2020' });
  module._compile(code, filename);
};
const memwatch = require(${JSON.stringify(ROOT)});
const { place } = require(process.argv[1]);
let i = 0;
const hd = new memwatch.HeapDiff({ retainers: 2 });
for (let k = 0; k < 2000; k++) place(1e6 + k);
const { roots } = hd.end();
memwatch.assertNoLeak(() => { place(i++); }).then(
  () => console.log(JSON.stringify({ passed: true })),
  (e) => console.log(JSON.stringify({ message: e.message, root: roots.find((r) => r.what === 'OrderRecord') })),
);
`;

test('code compiled in memory (a require hook): with node\'s source maps on, locations come through module.findSourceMap', () => {
  const ts = path.join(dir, 'src', 'orders.ts');
  const line = CONSTRUCTOR.split(':').slice(1).join(':');
  const on = spawnSync(process.execPath, ['--enable-source-maps', '-e', HOOKED, ts], { encoding: 'utf8', timeout: 120000 });
  assert.strictEqual(on.status, 0, on.stderr);
  const a = JSON.parse(on.stdout.trim().split('\n').pop());
  assert.match(a.message, new RegExp(`; OrderRecord is at \\S*src/orders\\.ts:${line}$`, 'm'), a.message);
  assert.strictEqual(`${a.root.location.line}:${a.root.location.column}`, line);
  assert.ok(a.root.location.generated, 'the position in the compiled code is kept');
  const off = spawnSync(process.execPath, ['-e', HOOKED, ts], { encoding: 'utf8', timeout: 120000 });
  assert.strictEqual(off.status, 0, off.stderr);
  const b = JSON.parse(off.stdout.trim().split('\n').pop());
  assert.ok(!b.root.location.generated, 'no map without node\'s source maps: V8\'s position stays');
  assert.notStrictEqual(`${b.root.location.line}:${b.root.location.column}`, line);
});

// 20,000 listener closures, each over an Object, an Array and strings, added between a base and
// a target snapshot and still alive in the final one: the group's composition names the
// closures first (not the 60,000 strings and 20,000 Arrays), with a structured location that
// points at the function in the source.
const LISTENERS = `const { EventEmitter } = require('node:events');
const v8 = require('node:v8');
const bus = new EventEmitter();
bus.setMaxListeners(0);
const dir = process.argv[2];
function subscribe(i) {
  const state = { id: i, tags: ['a' + i, 'b' + i], label: 'listener ' + i };
  bus.on('tick', function onTick() { return state.label; });
}
let n = 0;
for (; n < 100; n++) subscribe(n);
v8.writeHeapSnapshot(dir + '/base.heapsnapshot');
for (; n < 20100; n++) subscribe(n);
v8.writeHeapSnapshot(dir + '/target.heapsnapshot');
for (; n < 40100; n++) subscribe(n);
v8.writeHeapSnapshot(dir + '/final.heapsnapshot');
`;

test('three snapshots of leaking listeners: the closures lead the composition, located in JSON', () => {
  const out = path.join(dir, 'listeners');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'app.js'), LISTENERS);
  const run = spawnSync(process.execPath, [path.join(out, 'app.js'), out], { encoding: 'utf8' });
  assert.strictEqual(run.status, 0, run.stderr);
  const snaps = ['base', 'target', 'final'].map((s) => path.join(out, `${s}.heapsnapshot`));
  const report = memwatch.findLeaks(...snaps);
  const group = report.groups[0];
  const [first, ...others] = group.madeOf;
  assert.match(first.what, /^onTick\(\) at /, JSON.stringify(group.madeOf));
  assert.strictEqual(first.count, 20000);
  assert.ok(others.some((m) => m.what === '(string)' && m.count >= 40000), 'the strings are still listed, after');
  // The structured location is the function's, in the file: line and column checked against it.
  const { script, line, column } = first.location;
  assert.strictEqual(script, 'app.js');
  const text = LISTENERS.split('\n')[line - 1];
  assert.match(text, /function onTick\(\)/);
  assert.ok(column >= text.indexOf('function onTick') + 1 && column <= text.indexOf('{', text.indexOf('function onTick')) + 1, `${line}:${column} in ${text}`);
  assert.ok(others.every((m) => m.location === null || typeof m.location.line === 'number'));
  // The text lists them in the same order.
  const textReport = memwatch.findLeaksText(...snaps);
  assert.match(textReport, /made of: 20,000 x onTick\(\) at app\.js:\d+:\d+, /);
  // diff leads with what is new at the top: the closures, each with its scope, state and strings.
  const d = memwatch.diffSnapshots(snaps[0], snaps[1]);
  const [root] = d.roots;
  assert.strictEqual(root.label, 'onTick()', JSON.stringify(d.roots));
  assert.strictEqual(root.count, 20000);
  assert.deepStrictEqual([root.location.script, root.location.line], ['app.js', line]);
  const parts = Object.fromEntries(root.parts.map((p) => [p.what, p.count]));
  assert.ok(parts.Object === 20000 && parts.Array === 20000 && parts.String >= 40000, JSON.stringify(root.parts));
  assert.match(memwatch.diffSnapshotsText(snaps[0], snaps[1]), /new at the top [^\n]*\n {2}20,000 x onTick\(\) at app\.js:\d+:\d+ \([\d,]+ bytes\), each with /);
});

test('a malformed or hostile map is skipped, never a crash: the generated location stays', () => {
  const [, , final] = build('tsc', 'tsc-broken');
  const map = path.join(dir, 'tsc-broken', 'orders.js.map');
  for (const bad of ['not json at all', '{"version":3,"sources":["a.ts"],"names":[],"mappings":"!!!!"}', '{"version":3,"sections":[{"offset":{"line":0,"column":0},"map":5}]}', '']) {
    fs.writeFileSync(map, bad);
    const r = cli('analyze', final);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /src\/orders\.ts/);
    assert.match(r.stdout, /OrderRecord at orders\.js:\d+:\d+/);
  }
});

test("a running process: 'leak' sites of minified, bundled code name the original function and file", () => {
  const src = path.join(dir, 'live', 'src');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(
    path.join(src, 'app.js'),
    `const memwatch = require(process.env.MEMWATCH_RS);
memwatch.setOptions({ allocationSamplingBytes: 16384 });
class Order {
  constructor(i) {
    this.id = i;
    this.lines = [{ sku: 'sku-' + i, qty: i % 7 }];
  }
}
const orders = [];
function leakyHandler() {
  for (let i = 0; i < 2000; i++) orders.push(new Order(orders.length));
}
memwatch.on('leak', (l) => {
  console.log(JSON.stringify(l.sites || null));
  process.exit(0);
});
let turns = 0;
function turn() {
  setImmediate(leakyHandler);
  setImmediate(() => {
    memwatch.gc();
    if (++turns > 200) {
      console.log('null');
      process.exit(1);
    }
    turn();
  });
}
turn();
`,
  );
  const out = path.join(dir, 'live', 'dist', 'app.js');
  require('esbuild').buildSync({ entryPoints: [path.join(src, 'app.js')], bundle: true, platform: 'node', outfile: out, sourcemap: true, minify: true, logLevel: 'silent' });
  assert.doesNotMatch(fs.readFileSync(out, 'utf8'), /leakyHandler/, 'the bundle is minified');
  const r = spawnSync(process.execPath, [out], { encoding: 'utf8', env: { ...process.env, MEMWATCH_RS: ROOT }, timeout: 120000 });
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  const sites = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(sites && sites.length > 0, r.stdout);
  const top = sites[0];
  assert.strictEqual(top.script, path.join(src, 'app.js'), JSON.stringify(top));
  // The innermost frame keeps what it allocates: Order's constructor (its lines array) or
  // leakyHandler itself; either way under its original name, at its line in src/app.js.
  const lines = { Order: 4, leakyHandler: 10 };
  assert.ok(top.function in lines, `an original name, not a minified one: ${top.function}`);
  assert.strictEqual(top.line, lines[top.function]);
  assert.ok(top.generated && top.generated.script === out && top.generated.line === 1, JSON.stringify(top.generated));
  const handler = top.frames.find((f) => f.function === 'leakyHandler');
  assert.ok(handler && handler.line === 10 && handler.script === path.join(src, 'app.js'), JSON.stringify(top.frames));
  assert.match(top.text, /^(Order|leakyHandler) \(.*src\/app\.js:(4|10):\d+\)/);
});
