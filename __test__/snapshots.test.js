'use strict';
// From "it leaks" to "this is why": snapshots on demand (0600, atomic, opt-in triggers), diffs
// of snapshot files, the three-snapshot leak finder, and HeapDiff's retainer paths, on
// programs that leak in known ways.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');
const { ROOT, runNode, settle } = require('./helpers');

function tmpdir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `memwatch-rs-${tag}-`));
}

// One set of snapshots from the leaky service fixture, shared by the diff/leaks tests.
let leakySet = null;
function leakySnapshots() {
  if (leakySet) return leakySet;
  const dir = tmpdir('leaky');
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'leaky-service.js'), dir], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  leakySet = ['base', 'target', 'final'].map((n) => path.join(dir, `${n}.heapsnapshot`));
  return leakySet;
}

function cli(...args) {
  return spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), ...args], { encoding: 'utf8' });
}

test('writeSnapshot writes a readable snapshot with mode 0600 and returns its absolute path', () => {
  const dir = tmpdir('write');
  const rel = path.relative(process.cwd(), path.join(dir, 'app.heapsnapshot'));
  const written = memwatch.writeSnapshot(rel);
  assert.strictEqual(written, path.join(dir, 'app.heapsnapshot'));
  assert.strictEqual(fs.statSync(written).mode & 0o777, 0o600, 'snapshots hold secrets');
  const report = memwatch.analyze(written);
  assert.ok(report.nodes > 10000, `${report.nodes} nodes`);
  assert.deepStrictEqual(fs.readdirSync(dir), ['app.heapsnapshot'], 'no temporary file left behind');

  // A directory gets the default name inside it.
  const inDir = memwatch.writeSnapshot(dir);
  assert.match(path.basename(inDir), /^Heap\.\d{8}\.\d{6}\.\d+\.\d{3}\.heapsnapshot$/);
  assert.strictEqual(path.dirname(inDir), dir);
  fs.rmSync(dir, { recursive: true });
});

test('writeSnapshot: unwritable paths are clear errors and leave no file under any name', () => {
  const dir = tmpdir('unwritable');
  assert.throws(() => memwatch.writeSnapshot(path.join(dir, 'missing', 'x.heapsnapshot')), /cannot write a heap snapshot to .*missing.*No such file/);
  fs.chmodSync(dir, 0o500);
  const asRoot = process.getuid && process.getuid() === 0; // root ignores directory modes
  if (!asRoot) assert.throws(() => memwatch.writeSnapshot(path.join(dir, 'x.heapsnapshot')), /cannot write a heap snapshot.*(denied|permission)/i);
  fs.chmodSync(dir, 0o700);
  // A path whose parent is a file.
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, 'x');
  assert.throws(() => memwatch.writeSnapshot(path.join(file, 'x.heapsnapshot')), /cannot write a heap snapshot/);
  assert.deepStrictEqual(fs.readdirSync(dir), ['plain']);
  assert.throws(() => memwatch.writeSnapshot(42), TypeError);
  fs.rmSync(dir, { recursive: true });
});

test('the signal trigger is off by default: SIGUSR2 does what it always did', () => {
  const dir = tmpdir('signal-off');
  const r = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(ROOT)}); process.kill(process.pid, 'SIGUSR2'); setTimeout(() => {}, 2000);`],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.strictEqual(r.signal, 'SIGUSR2', 'the default action (terminate) still applies');
  assert.deepStrictEqual(fs.readdirSync(dir), [], 'no snapshot written');
  fs.rmSync(dir, { recursive: true });
});

test('snapshotOnSignal folds a burst of signals into one snapshot and rate-limits the next', () => {
  const dir = tmpdir('signal-burst');
  const r = runNode(
    // Each phase starts from the previous one's snapshot event, not from a clock: on a loaded
    // machine the first snapshot alone can take longer than any fixed delay.
    `const m = require('.');
     const written = [];
     const done = () => { console.log(JSON.stringify(written)); process.exit(0); };
     m.on('snapshot', (s) => {
       written.push(s.path);
       if (written.length === 1) setTimeout(() => {
         // A second burst after the first snapshot: inside the default 30-s interval, refused.
         for (let i = 0; i < 5; i++) process.kill(process.pid, 'SIGUSR2');
         setTimeout(() => {
           // minIntervalMs: 0 keeps the folding but drops the rate limit.
           m.snapshotOnSignal('SIGUSR2', { dir: ${JSON.stringify(dir)}, minIntervalMs: 0 });
           for (let i = 0; i < 5; i++) process.kill(process.pid, 'SIGUSR2');
         }, 300);
       }, 50);
       if (written.length === 2) setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 50);
       if (written.length === 3) setTimeout(done, 300);
     });
     m.snapshotOnSignal('SIGUSR2', { dir: ${JSON.stringify(dir)} });
     for (let i = 0; i < 20; i++) process.kill(process.pid, 'SIGUSR2');
     setTimeout(done, 30000);`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
  const written = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.strictEqual(written.length, 3, `20 signals -> 1, 5 within the interval -> 0, 5 then 1 with no limit -> 2: ${written.length} written`);
  assert.strictEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).length, 3);
  assert.match(r.stderr, /SIGUSR2 ignored: a heap snapshot was written 0 s ago \(minIntervalMs 30000\)/);
  assert.throws(() => memwatch.snapshotOnSignal('SIGUSR2', { minIntervalMs: '5' }), { name: 'RangeError', message: /"minIntervalMs" must be a non-negative integer, got a string/ });
  fs.rmSync(dir, { recursive: true });
});

test('snapshotOnSignal opts in: a signal writes a 0600 snapshot and the process lives on', () => {
  const dir = tmpdir('signal-on');
  const r = runNode(
    `const m = require('.');
     const stop = m.snapshotOnSignal('SIGUSR2', { dir: ${JSON.stringify(dir)} });
     m.on('snapshot', (s) => { console.log(JSON.stringify(s)); stop(); });
     process.kill(process.pid, 'SIGUSR2');
     setTimeout(() => console.log('alive'), 1500);`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.strictEqual(lines[lines.length - 1], 'alive');
  const event = JSON.parse(lines[0]);
  assert.strictEqual(event.trigger, 'SIGUSR2');
  assert.strictEqual(path.dirname(event.path), dir);
  assert.strictEqual(fs.statSync(event.path).mode & 0o777, 0o600);
  assert.match(r.stderr, /heap snapshot written to /);
  assert.throws(() => memwatch.snapshotOnSignal('SIGKILL'), TypeError);
  assert.throws(() => memwatch.snapshotOnSignal('SIGNOPE'), TypeError);
  for (const signal of ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGINT', 'SIGTERM']) {
    assert.throws(() => memwatch.snapshotOnSignal(signal), new RegExp(`^TypeError: memwatch\\.snapshotOnSignal: ${signal} (reports a crash|asks the process to stop).*use a signal meant for it`), signal);
  }
  fs.rmSync(dir, { recursive: true });
});

test('a storm of signals with no interval keeps only the newest `keep` snapshots', () => {
  const dir = tmpdir('signal-keep');
  const other = path.join(dir, 'Heap.20200101.000000.1.001.heapsnapshot');
  fs.writeFileSync(other, '{}'); // another process's: never touched
  const r = runNode(
    `const m = require('.'); let n = 0;
     const alive = setTimeout(() => {}, 30000);
     m.snapshotOnSignal('SIGUSR2', { dir: ${JSON.stringify(dir)}, minIntervalMs: 0, keep: 2 });
     m.on('snapshot', () => { if (++n < 5) setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 20); else { console.log(n); clearTimeout(alive); } });
     process.kill(process.pid, 'SIGUSR2');`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout.trim(), '5');
  const files = fs.readdirSync(dir).sort();
  assert.strictEqual(files.length, 3, files.join(', '));
  assert.ok(files.includes(path.basename(other)));
  assert.deepStrictEqual(files.filter((f) => f !== path.basename(other)).map((f) => f.split('.')[4]), ['004', '005'], 'the newest two');
  assert.throws(() => memwatch.snapshotOnSignal('SIGUSR2', { keep: 0 }), /"keep" must be an integer from 1 to 1000/);
  fs.rmSync(dir, { recursive: true });
});

test('outputs are only ever regular files: a device, a link to one, a pipe or a terminal is refused, never replaced', () => {
  const dir = tmpdir('devices');
  const link = path.join(dir, 'null');
  fs.symlinkSync('/dev/null', link);
  for (const target of ['/dev/null', '/dev/full', link]) {
    assert.throws(() => memwatch.writeSnapshot(target), /cannot write .*: it is a character device; memwatch-rs writes only regular files/, target);
  }
  assert.ok(fs.lstatSync(link).isSymbolicLink() && fs.statSync('/dev/null').isCharacterDevice());
  const cli = require('node:child_process').spawnSync(process.execPath, [path.join(__dirname, '..', 'cli.js'), 'analyze', fixtureSnapshot(dir), '--html', '/proc/self/fd/1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.strictEqual(cli.status, 1, cli.stderr);
  assert.match(cli.stderr, /cannot write \/proc\/self\/fd\/1: it is a (pipe|socket); memwatch-rs writes only regular files/);
  assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.partial')), [], 'no temp file left');
  fs.rmSync(dir, { recursive: true });
});

function fixtureSnapshot(dir) {
  const file = path.join(dir, 'small.heapsnapshot');
  memwatch.writeSnapshot(file);
  return file;
}

test('snapshotOnLeak: a leak writes a snapshot (and report), rate-limited, keeping the newest few', async () => {
  const dir = tmpdir('onleak');
  const r = runNode(
    `const m = require('.');
     m.setOptions({ detector: 'memwatch', sampleGrowthPercent: 0, consecutiveGrowths: 2, highWaterWindow: 0 });
     m.snapshotOnLeak({ dir: ${JSON.stringify(dir)}, keep: 2, minIntervalMs: 0, report: true });
     m.on('stats', () => {});
     const events = [];
     m.on('snapshot', (s) => events.push(s));
     class LeakedRecord { constructor(i) { this.i = i; this.s = 'r' + i; } }
     const kept = [];
     (async () => {
       for (let round = 0; round < 12; round++) {
         for (let i = 0; i < 20000; i++) kept.push(new LeakedRecord(i));
         m.gc();
         await new Promise((r) => setTimeout(r, 30));
       }
       console.log(JSON.stringify(events.map((e) => ({ path: e.path, report: e.report, trigger: e.trigger, growth: e.leak.growth }))));
     })();`,
    { timeout: 120000 },
  );
  assert.strictEqual(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(events.length >= 3, `leaks with snapshots: ${events.length}`);
  for (const e of events) {
    assert.strictEqual(e.trigger, 'leak');
    assert.ok(e.growth > 0);
  }
  const files = fs.readdirSync(dir).sort();
  const snaps = files.filter((f) => f.endsWith('.heapsnapshot'));
  assert.strictEqual(snaps.length, 2, `kept: ${files}`);
  assert.deepStrictEqual(snaps.map((f) => path.join(dir, f)), events.slice(-2).map((e) => e.path).sort(), 'the newest two are kept');
  for (const f of snaps) {
    assert.strictEqual(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600);
    assert.ok(files.includes(f.replace(/\.heapsnapshot$/, '.html')), 'with its report');
  }
  const html = fs.readFileSync(events[events.length - 1].report, 'utf8');
  assert.match(html, /LeakedRecord/);
  assert.match(html, /"current_base"/, 'the heap over time is in the report');

  // Rate limiting: with the default interval only the first leak writes.
  const dir2 = tmpdir('onleak-rate');
  const r2 = runNode(
    `const m = require('.');
     m.setOptions({ detector: 'memwatch', sampleGrowthPercent: 0, consecutiveGrowths: 2, highWaterWindow: 0 });
     m.snapshotOnLeak({ dir: ${JSON.stringify(dir2)} });
     let leaks = 0; m.on('leak', () => leaks++);
     const kept = [];
     (async () => {
       for (let round = 0; round < 10; round++) {
         for (let i = 0; i < 20000; i++) kept.push({ i });
         m.gc();
         await new Promise((r) => setTimeout(r, 30));
       }
       console.log(leaks);
     })();`,
    { timeout: 120000 },
  );
  assert.strictEqual(r2.status, 0, r2.stderr);
  assert.ok(Number(r2.stdout.trim()) >= 2, `leaks: ${r2.stdout}`);
  assert.strictEqual(fs.readdirSync(dir2).length, 1, 'one snapshot per interval');
  assert.throws(() => memwatch.snapshotOnLeak({ dir: '/nonexistent-dir' }), TypeError);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(dir2, { recursive: true });
  await settle(10);
});

// Lines (1-based) of the fixture's forgotten listener and of its cache entry class.
const FIXTURE_LINES = fs.readFileSync(path.join(__dirname, 'fixtures', 'leaky-service.js'), 'utf8').split('\n');
const LISTENER_LINE = FIXTURE_LINES.findIndex((l) => l.includes('function onShutdown')) + 1;
const ENTRY_LINE = FIXTURE_LINES.findIndex((l) => l.includes('class CacheEntry')) + 1;
const AT_LISTENER = `onShutdown\\(\\) at (.*/)?leaky-service\\.js:${LISTENER_LINE}:\\d+`;
const AT_ENTRY = `(.*/)?leaky-service\\.js:${ENTRY_LINE}:\\d+`;

test('diff: the classes a leaky service accumulates, by node id', () => {
  const [base, , final] = leakySnapshots();
  const d = memwatch.diffSnapshots(base, final, { top: 50 });
  const row = (name) => d.classes.find((c) => c.className === name);
  assert.strictEqual(row('CacheEntry').addedCount, 6000);
  assert.strictEqual(row('CacheEntry').removedCount, 0);
  assert.strictEqual(row('CacheEntry').sizeDelta, row('CacheEntry').addedSize);
  assert.ok(row('(closure)').addedCount >= 6000, 'one listener per request');
  assert.ok(d.after.nodes > d.before.nodes);
  for (let i = 1; i < d.classes.length; i++) assert.ok(d.classes[i - 1].sizeDelta >= d.classes[i].sizeDelta, 'largest growth first');

  // Rows say what they are made of: the closures by function and line, classes by constructor.
  assert.match(row('(closure)').madeOf[0].what, new RegExp(`^${AT_LISTENER}$`));
  assert.ok(row('(closure)').madeOf[0].count >= 6000);
  assert.match(row('CacheEntry').madeOf[0].what, new RegExp(`^CacheEntry at ${AT_ENTRY}$`));

  const text = cli('diff', base, final, '--top', '5');
  assert.strictEqual(text.status, 0, text.stderr);
  assert.match(text.stdout, /CacheEntry +6,000 +0 +\+6,000/);
  assert.match(text.stdout, new RegExp(`new: 6,\\d{3} x ${AT_LISTENER}`));
});

test('leaks: the three-snapshot technique names the unbounded cache and the forgotten listener', () => {
  const [base, target, final] = leakySnapshots();
  const r = memwatch.findLeaks(base, target, final, { top: 10 });
  assert.ok(r.leakedObjects >= 6000, `${r.leakedObjects} leaked objects`);
  const cache = r.groups.find((g) => g.className === 'CacheEntry');
  assert.ok(cache, `groups: ${r.groups.map((g) => g.signature).join(' | ')}`);
  assert.strictEqual(cache.count, 3000, 'the 3,000 entries added between base and target, one group');
  // The global is `global` (node <= 24) or `global (global*)` under a (system) node (node 26).
  assert.match(cache.signature, /global[^>]*\.cache -> Cache\.entries -> Map\.table -> \(array\)\[\] -> CacheEntry$/);
  const listener = r.groups.find((g) => g.className === '(closure)' && /_events/.test(g.signature));
  assert.ok(listener, `groups: ${r.groups.map((g) => g.signature).join(' | ')}`);
  assert.strictEqual(listener.count, 3000);
  assert.match(listener.signature, /global[^>]*\.bus -> EventEmitter\._events -> Object\.shutdown -> Array\[\] -> \(closure\)$/);
  assert.deepStrictEqual(r.groups.slice(0, 2).map((g) => g.className).sort(), ['(closure)', 'CacheEntry'], 'the two leaks lead');
  // A sample path runs from a root through the container to one instance.
  assert.deepStrictEqual(cache.sampleSteps.slice(-3).map((s) => s.className), ['Map', '(array)', 'CacheEntry']);

  // ... and which line: the listener group is made of onShutdown() closures from line 15, the
  // cache group's class is defined on line 8.
  assert.match(listener.madeOf[0].what, new RegExp(`^${AT_LISTENER}$`));
  assert.strictEqual(listener.madeOf[0].count, 3000);
  assert.match(cache.location.script, /leaky-service\.js$/);
  assert.strictEqual(cache.location.line, ENTRY_LINE);
  assert.ok(cache.location.column > 1);

  const text = cli('leaks', base, target, final);
  assert.strictEqual(text.status, 0, text.stderr);
  assert.match(text.stdout, /3,000 x CacheEntry/);
  assert.match(text.stdout, /held by: .*EventEmitter\._events/);
  assert.match(text.stdout, new RegExp(`made of: 3,000 x ${AT_LISTENER}`));
  assert.match(text.stdout, new RegExp(`CacheEntry is defined at ${AT_ENTRY}`));

  // Nothing allocated between base and target survives when target and final are the same heap as base.
  const none = memwatch.findLeaks(base, base, base);
  assert.strictEqual(none.leakedObjects, 0);
  assert.deepStrictEqual(none.groups, []);
});

test('HeapDiff({ retainers }) names the leaking class and the path through the container holding it', () => {
  class RequestLog {
    constructor(i) {
      this.url = `/items/${i}`;
    }
  }
  const registry = { logs: [] };
  globalThis.__memwatchTestRegistry = registry;
  try {
    const hd = new memwatch.HeapDiff({ retainers: 3 });
    for (let i = 0; i < 20000; i++) registry.logs.push(new RequestLog(i));
    const result = hd.end();
    const sample = result.retainers.find((r) => r.what === 'RequestLog');
    assert.ok(sample, JSON.stringify(result.retainers));
    assert.match(sample.path, /^RequestLog @\d+ <- \[\d+\] in Array @\d+ <- logs in Object @\d+ <- __memwatchTestRegistry in global( \(global\*\))? @\d+/);
    assert.deepStrictEqual(sample.steps.slice(-3).map((s) => s.edge.replace(/\d+/, 'n')), ['__memwatchTestRegistry', 'logs', '[n]']);
    // The sample names where its class is defined: RequestLog's constructor, in this file.
    const line = fs.readFileSync(__filename, 'utf8').split('\n').findIndex((l) => l.includes('class RequestLog {')) + 2;
    assert.match(sample.location, new RegExp(`snapshots\\.test\\.js:${line}:\\d+$`));
    assert.ok(result.retainers.length <= 3);
    // The plain result is memwatch's, unchanged.
    const detail = result.change.details.find((d) => d.what === 'RequestLog');
    assert.strictEqual(detail['+'], 20000);
    const plain = new memwatch.HeapDiff().end();
    assert.strictEqual('retainers' in plain, false);
    assert.deepStrictEqual(Object.keys(plain), ['before', 'after', 'change']);
  } finally {
    delete globalThis.__memwatchTestRegistry;
  }
  assert.throws(() => new memwatch.HeapDiff({ retainers: -1 }), RangeError);
  assert.throws(() => new memwatch.HeapDiff({ retainers: 'all' }), RangeError);
  assert.throws(() => new memwatch.HeapDiff(7), TypeError);
});

test('diff and leaks: bad input is a clear error and a non-zero exit', () => {
  const dir = tmpdir('bad');
  const bad = path.join(dir, 'bad.heapsnapshot');
  fs.writeFileSync(bad, '{"snapshot":{"meta":');
  const [base] = leakySnapshots();
  assert.throws(() => memwatch.diffSnapshots(base, bad), /cannot diff: .*bad\.heapsnapshot: .*at byte/);
  const r = cli('leaks', base, base, bad);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /cannot look for leaks/);
  const usage = cli('diff', base);
  assert.strictEqual(usage.status, 2);
  assert.match(usage.stderr, /diff takes 2 snapshot files, got 1/);
  fs.rmSync(dir, { recursive: true });
});

test('analyze: a suspect says what its container holds, by function and line', () => {
  const dir = tmpdir('holds');
  const app = path.join(dir, 'home.js');
  fs.writeFileSync(
    app,
    [
      "const { EventEmitter } = require('node:events');",
      'const clock = new EventEmitter(); clock.setMaxListeners(0);',
      'for (let i = 0; i < 100000; i++) {',
      "  clock.on('tick', function onTick() { return i; });",
      '}',
      'globalThis.clock = clock;',
      `require('v8').writeHeapSnapshot(${JSON.stringify(path.join(dir, 'home.heapsnapshot'))});`,
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, [app], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  const report = memwatch.analyze(path.join(dir, 'home.heapsnapshot'));
  // The clock (or the global holding it) is the top suspect; what it holds is named.
  const top = report.suspects[0];
  assert.ok(top.percent > 50, JSON.stringify(top.object));
  assert.match(top.holds[0].what, /^onTick\(\) at home\.js:4:\d+$/);
  assert.strictEqual(top.holds[0].count, 100000);
  const text = memwatch.analyzeText(path.join(dir, 'home.heapsnapshot'));
  assert.match(text, /holding: 100,000 x onTick\(\) at home\.js:4:\d+/);
  fs.rmSync(dir, { recursive: true });
});

// ---- the one writer: every file memwatch-rs writes ----

function cliRun(...args) {
  return spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), ...args], { encoding: 'utf8' });
}
const partials = (d) => fs.readdirSync(d).filter((f) => f.endsWith('.partial'));

test('--html naming an input is refused and the input survives; a directory is refused; nothing is left behind', () => {
  const dir = tmpdir('html-input');
  const snap = memwatch.writeSnapshot(path.join(dir, 'a.heapsnapshot'));
  const before = fs.readFileSync(snap);
  for (const args of [['analyze', snap, '--html', snap], ['diff', snap, snap, '--html', snap], ['analyze', snap, '--html', dir]]) {
    const r = cliRun(...args);
    assert.strictEqual(r.status, 1, `${args.join(' ')}: exit ${r.status}`);
    assert.match(r.stderr, args[args.length - 1] === dir ? /cannot write .*: it is a directory/ : /cannot write .*a\.heapsnapshot: it is the input .*a\.heapsnapshot; writing would destroy it/);
  }
  assert.ok(fs.readFileSync(snap).equals(before), 'the snapshot is unchanged');
  // A hard link to the input is the same file.
  fs.linkSync(snap, path.join(dir, 'b.heapsnapshot'));
  assert.strictEqual(cliRun('analyze', snap, '--html', path.join(dir, 'b.heapsnapshot')).status, 1);
  assert.deepStrictEqual(partials(dir), []);
  fs.rmSync(dir, { recursive: true });
});

test('a link planted at the report\'s name is replaced, never written through; reports are 0600', () => {
  const dir = tmpdir('html-link');
  const snap = memwatch.writeSnapshot(path.join(dir, 'a.heapsnapshot'));
  const victim = path.join(dir, 'victim.txt');
  fs.writeFileSync(victim, 'precious');
  const out = path.join(dir, 'report.html');
  fs.symlinkSync(victim, out);
  assert.strictEqual(cliRun('analyze', snap, '--html', out).status, 0);
  assert.strictEqual(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.ok(!fs.lstatSync(out).isSymbolicLink() && /<!doctype html>/.test(fs.readFileSync(out, 'utf8')));
  assert.strictEqual(fs.statSync(out).mode & 0o777, 0o600);
  // What a killed process left under the old predictable temp name does not block a write.
  fs.writeFileSync(path.join(dir, `.x.heapsnapshot.${process.pid}.partial`), '');
  memwatch.writeSnapshot(path.join(dir, 'x.heapsnapshot'));
  assert.ok(fs.statSync(path.join(dir, 'x.heapsnapshot')).size > 1000);
  fs.rmSync(dir, { recursive: true });
});

test('a full disk: the error names the file, and no partial file is left', (t) => {
  const mnt = tmpdir('full');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(`cannot mount a small tmpfs here (${(m.stderr || m.error || '').toString().trim() || 'not root'}): the full-disk case needs one`);
    fs.rmSync(mnt, { recursive: true });
    return;
  }
  try {
    const snapOut = path.join(mnt, 'x.heapsnapshot');
    assert.throws(() => memwatch.writeSnapshot(snapOut), (e) => e.message.includes(snapOut) && /No space left on device/.test(e.message));
    const dir = tmpdir('full-src');
    const snap = memwatch.writeSnapshot(path.join(dir, 'a.heapsnapshot'));
    const html = path.join(mnt, 'report.html');
    try {
      fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(512 * 1024)); // more than fits: the disk is full
    } catch (e) {
      assert.strictEqual(e.code, 'ENOSPC');
    }
    const r = cliRun('analyze', snap, '--html', html);
    assert.strictEqual(r.status, 1);
    assert.match(r.stderr, new RegExp(`cannot write ${html.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: No space left on device`));
    assert.deepStrictEqual(fs.readdirSync(mnt).sort(), ['filler'], 'no partial file, no report');
    fs.rmSync(dir, { recursive: true });
  } finally {
    spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});
