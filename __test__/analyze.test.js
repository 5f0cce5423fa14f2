'use strict';
// Offline snapshot analysis through the JS API and the CLI, on snapshots node writes here.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');
const { ROOT, runNode } = require('./helpers');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-analyze-'));
const leaky = path.join(dir, 'leaky.heapsnapshot');

test.before(() => {
  const r = runNode(
    `class Client { constructor() { this.buffers = []; } }
     globalThis.client = new Client();
     for (let i = 0; i < 20000; i++) client.buffers.push({ i, data: 'x'.repeat(100) + i });
     require('v8').writeHeapSnapshot(${JSON.stringify(leaky)});`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(...args) {
  return spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), ...args], { encoding: 'utf8' });
}

test('memwatch.analyze names the holder as the suspect, with where and how it is held', () => {
  const r = memwatch.analyze(leaky);
  assert.ok(r.nodes > 20000 && r.edges > r.nodes);
  // The suspect is Client, or (when V8 keeps a second reference to Client, as node 24 sometimes
  // does) its buffers Array, reached through global.client: either way the holder is named.
  const client = r.suspects.find((s) => s.object.className === 'Client' || s.retainerPath.some((p) => p.edge === 'client'));
  assert.ok(client, `Client or its array is a suspect: ${JSON.stringify(r.suspects.map((s) => s.object.className))}`);
  assert.ok(client.percent > 50);
  const edges = client.retainerPath.map((p) => p.edge);
  assert.ok(edges.includes('client'), `reached through global.client: ${edges}`);
  if (client.object.className === 'Client') assert.strictEqual(client.mainlyIn[0].className, 'Array');
  else assert.strictEqual(edges[edges.length - 1], 'buffers');
  assert.ok(r.totalSize >= client.object.retainedSize);
});

test('the CLI prints the report, and --json the same as JSON', () => {
  const text = cli('analyze', leaky, '--top', '5');
  assert.strictEqual(text.status, 0, text.stderr);
  assert.match(text.stdout, /^heap: [\d,]+ bytes in [\d,]+ nodes/);
  assert.match(text.stdout, /(Client @\d+ retains [\d,]+ bytes \(\d+\.\d%\), mainly in Array @\d+|Array @\d+ retains [\d,]+ bytes \(\d+\.\d%\))/);
  assert.match(text.stdout, /path: \(root\) .*client -> Client @\d+/);
  const json = cli('analyze', leaky, '--json');
  assert.strictEqual(json.status, 0, json.stderr);
  assert.deepStrictEqual(JSON.parse(json.stdout), memwatch.analyze(leaky));
});

test('the CLI follows the conventions: --version, --help, <command> --help, usage errors on stderr with exit 2, - for standard input', () => {
  const v = cli('--version');
  assert.strictEqual(v.status, 0);
  assert.strictEqual(v.stdout.trim(), `memwatch-rs ${require('../package.json').version}`);
  const help = cli('--help');
  assert.strictEqual(help.status, 0);
  assert.match(help.stdout, /^usage: memwatch-rs <command>/);
  assert.match(help.stdout, /exit codes: 0 done; 1 .*\n.*2 a usage error/);
  for (const command of ['analyze', 'diff', 'leaks', 'report']) {
    const h = cli(command, '--help');
    assert.strictEqual(h.status, 0, command);
    assert.match(h.stdout, new RegExp(`^usage: memwatch-rs ${command} `), command);
    assert.strictEqual(h.stderr, '');
  }
  const none = cli();
  assert.strictEqual(none.status, 2, 'no arguments is a usage error');
  assert.strictEqual(none.stdout, '');
  assert.match(none.stderr, /^memwatch-rs: say what to do\n\nusage:/);
  const bad = cli('analyze', leaky, '--frobnicate');
  assert.strictEqual(bad.status, 2);
  assert.match(bad.stderr, /unknown option "--frobnicate"[\s\S]*usage: memwatch-rs analyze/);
  assert.strictEqual(cli('diff', '-', '-').status, 2, 'standard input once');
  const piped = require('node:child_process').spawnSync(process.execPath, [path.join(__dirname, '..', 'cli.js'), 'analyze', '-', '--json'], { input: fs.readFileSync(leaky), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.strictEqual(piped.status, 0, piped.stderr);
  assert.deepStrictEqual(JSON.parse(piped.stdout), memwatch.analyze(leaky), 'the same report from standard input');
});

test('bad input: clear errors with the byte offset, non-zero exit, no crash', () => {
  const whole = fs.readFileSync(leaky);
  const truncated = path.join(dir, 'truncated.heapsnapshot');
  fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  const garbage = path.join(dir, 'garbage.heapsnapshot');
  fs.writeFileSync(garbage, 'this is not a heap snapshot');
  for (const [file, pattern] of [
    [truncated, /ends .*\(at byte \d+\)/],
    [garbage, /expected '\{'.*\(at byte 0\)/],
    [path.join(dir, 'missing.heapsnapshot'), /No such file/],
  ]) {
    const r = cli('analyze', file);
    assert.strictEqual(r.status, 1, `${file}: ${r.stdout}`);
    assert.strictEqual(r.signal, null);
    assert.match(r.stderr, pattern);
    assert.throws(() => memwatch.analyze(file), pattern);
  }
  assert.strictEqual(cli('analyze').status, 2, 'usage error');
  assert.strictEqual(cli('frobnicate').status, 2);
  assert.throws(() => memwatch.analyze(leaky, { top: 0 }), RangeError);
});

test('text output shows control characters from the snapshot as escapes; JSON keeps them exact', () => {
  const hostile = path.join(dir, 'hostile.heapsnapshot');
  const r = runNode(
    `const names = ['\\x1b[2J', '\\x1b]0;pwned\\x07', 'evil\\u202etxt'];
     // Each array large enough to be a suspect (>10% of the heap) on every node, so its name is printed.
     for (const n of names) globalThis[n] = Array.from({ length: 80000 }, (_, i) => ({ i }));
     require('v8').writeHeapSnapshot(${JSON.stringify(hostile)});`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
  const html = path.join(dir, 'hostile.html');
  for (const args of [['analyze', hostile], ['diff', leaky, hostile], ['leaks', leaky, leaky, hostile], ['analyze', hostile, '--html', html]]) {
    const out = cli(...args);
    assert.strictEqual(out.status, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, `${args[0]}: raw control characters in the text`);
  }
  const text = cli('analyze', hostile).stdout;
  assert.ok(text.includes('\\x1b[2J') && text.includes('\\x1b]0;pwned\\x07') && text.includes('evil\\u{202e}txt'), text);
  const json = JSON.parse(cli('analyze', hostile, '--json').stdout);
  assert.ok(JSON.stringify(json).includes('\\u001b[2J'), 'JSON keeps the exact name');
});

test('a name with line breaks cannot forge lines in analyze, diff or leaks text', () => {
  const forged = path.join(dir, 'forged.heapsnapshot');
  const base = path.join(dir, 'forged-base.heapsnapshot');
  const r = runNode(
    `class Record {}
     require('v8').writeHeapSnapshot(${JSON.stringify(base)});
     globalThis['Fake\\nsuspect: Totally @1 retains 999 bytes (99.0%)'] = Array.from({ length: 80000 }, () => new Record());
     require('v8').writeHeapSnapshot(${JSON.stringify(forged)});`,
  );
  assert.strictEqual(r.status, 0, r.stderr);
  for (const args of [['analyze', forged], ['diff', base, forged, '--top', '1000'], ['leaks', base, forged, forged]]) {
    const out = cli(...args);
    assert.strictEqual(out.status, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /^\s*suspect: Totally/m, `${args[0]}: a forged line`);
    if (args[0] !== 'diff') assert.match(out.stdout, /Fake\\nsuspect: Totally/, `${args[0]}: the property is shown, escaped`);
  }
});

test('gzip-compressed and BOM-prefixed snapshots read as the snapshot; other formats are named', () => {
  const zlib = require('node:zlib');
  const plain = JSON.parse(cli('analyze', leaky, '--json').stdout);
  const gz = path.join(dir, 'leaky.heapsnapshot.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(leaky)));
  assert.deepStrictEqual(JSON.parse(cli('analyze', gz, '--json').stdout), plain, '.gz gives the same report');
  const bom = path.join(dir, 'bom.heapsnapshot');
  fs.writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(leaky)]));
  assert.deepStrictEqual(JSON.parse(cli('analyze', bom, '--json').stdout), plain, 'a BOM is skipped');
  const cut = path.join(dir, 'cut.heapsnapshot.gz');
  fs.writeFileSync(cut, fs.readFileSync(gz).subarray(0, 20000));
  const cases = [
    [cut, /gzip stream is damaged or cut short/],
    [path.join(dir, 'p.cpuprofile'), /looks like a CPU profile/, '{"nodes":[{"id":1,"callFrame":{"functionName":"(root)","url":""},"children":[]}],"startTime":1,"endTime":2,"samples":[1],"timeDeltas":[1]}'],
    [path.join(dir, 'p.heapprofile'), /looks like a sampling heap profile/, '{"head":{"callFrame":{},"selfSize":0,"id":1,"children":[]},"samples":[]}'],
    [path.join(dir, 'page.html'), /this is HTML or XML, not a heap snapshot/, '<!doctype html><p>hi'],
    [path.join(dir, 'empty.heapsnapshot'), /the file is empty/, ''],
  ];
  for (const [file, message, text] of cases) {
    if (text !== undefined) fs.writeFileSync(file, text);
    const r = cli('analyze', file);
    assert.strictEqual(r.status, 1, `${file}: exit ${r.status}`);
    assert.match(r.stderr, message);
  }
});

test('too little memory for a snapshot: a clear error (CLI exit 1, analyzeAsync rejects), never an abort', (t) => {
  if (spawnSync('prlimit', ['--version']).status !== 0) {
    t.skip('prlimit (util-linux) is not installed: it sets the address-space limit this case needs');
    return;
  }
  const big = path.join(dir, 'big.heapsnapshot');
  // 3 million objects: the analysis needs some 400 MB more than the limit leaves, so no
  // variation in what a node maps at start (node 26 once fit a 1-million-object analysis in it)
  // can let it through.
  const made = runNode(`globalThis.k = Array.from({ length: 3000000 }, (_, i) => ({ i })); require('v8').writeHeapSnapshot(${JSON.stringify(big)});`);
  assert.strictEqual(made.status, 0, made.stderr);
  // What a node with memwatch-rs loaded already maps, plus 60 MB.
  const vm = Number(runNode(`require('.'); console.log(/VmSize:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1])`).stdout.trim());
  const limit = String((vm + 60 * 1024) * 1024);
  const limited = (args) => spawnSync('prlimit', [`--as=${limit}`, process.execPath, ...args], { cwd: ROOT, encoding: 'utf8' });
  const r = limited([path.join(ROOT, 'cli.js'), 'analyze', big]);
  assert.strictEqual(r.status, 1, `exit ${r.status} ${r.signal || ''}: ${r.stderr.slice(0, 300)}`);
  assert.match(r.stderr, /not enough memory: this snapshot \(\d+ nodes, \d+ edges\) needs about \d+ MB to analyse, and about \d+ MB is available to this process/);
  const a = limited(['-e', `require('.').analyzeAsync(${JSON.stringify(big)}).then(() => console.log('resolved'), (e) => console.log('rejected: ' + e.message)).finally(() => console.log('alive'))`]);
  assert.strictEqual(a.status, 0, `exit ${a.status} ${a.signal || ''}: ${a.stderr.slice(0, 300)}`);
  assert.match(a.stdout, /rejected: .*not enough memory[^]*alive/);
  fs.rmSync(big);
});

test('progress: phase and percent on a terminal, nothing when piped', () => {
  // Piped (as here): stderr stays empty.
  const piped = cli('analyze', leaky);
  assert.strictEqual(piped.status, 0, piped.stderr);
  assert.strictEqual(piped.stderr, '');
  // On a terminal: `script` (util-linux) gives the CLI a pseudo-terminal.
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'cli.js'))} analyze ${JSON.stringify(leaky)} --top 1`;
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  assert.strictEqual(tty.status, 0, tty.stderr);
  assert.match(tty.stdout, /\r\x1b\[2Kmemwatch-rs: reading/, 'the phase, on one self-overwriting line');
  assert.match(tty.stdout, /memwatch-rs: dominators/);
  assert.match(tty.stdout, /\r\x1b\[2K[^]*heap: [\d,]+ bytes/, 'the line is cleared before the report');
  // --timings names every phase and its peak memory.
  const timed = cli('analyze', leaky, '--timings');
  assert.match(timed.stderr, /reading [\d.]+ s \(peak RSS \d+ MB\), building the graph .*dominators .*report /);
});

test('analyzeAsync: the same report, off the main thread; bad files reject with the same error', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const pending = memwatch.analyzeAsync(leaky, { top: 5 });
  assert.ok(pending instanceof Promise);
  const report = await pending;
  clearInterval(timer);
  assert.deepStrictEqual(report, memwatch.analyze(leaky, { top: 5 }));
  assert.ok(ticks > 0, 'the event loop ran while the analysis did');
  const bad = path.join(dir, 'half.heapsnapshot');
  fs.writeFileSync(bad, fs.readFileSync(leaky).subarray(0, 5000));
  await assert.rejects(memwatch.analyzeAsync(bad), /cannot analyze .*half\.heapsnapshot: .*\(at byte \d+\)/);
  await assert.rejects(memwatch.analyzeAsync(''), TypeError);
});

test('diff and leaks warn when the snapshots cannot be from one process or are out of order; diff hides rows that only churned', () => {
  const memwatch = require('..');
  const a = path.join(dir, 'order-a.heapsnapshot');
  const b = path.join(dir, 'order-b.heapsnapshot');
  globalThis.__orderKeep = [];
  memwatch.writeSnapshot(a);
  for (let i = 0; i < 3000; i++) globalThis.__orderKeep.push({ i });
  memwatch.writeSnapshot(b);
  const inOrder = memwatch.diffSnapshots(a, b);
  assert.deepStrictEqual(inOrder.warnings, []);
  const reversed = memwatch.diffSnapshots(b, a);
  assert.strictEqual(reversed.warnings.length, 1);
  assert.match(reversed.warnings[0], /^after looks older than before: its newest object \(id \d+\) is older than before's newest/);
  assert.match(memwatch.diffSnapshotsText(b, a), /^warning: after looks older than before/);
  // `leaky` was written by another process: almost no ids in common.
  const other = memwatch.diffSnapshots(leaky, b);
  assert.match(other.warnings[0], /^before and after cannot be snapshots of one process: [\d,]+ of the [\d,]+ object ids they share name objects of different classes/);
  const leaks = memwatch.findLeaks(a, b, leaky);
  assert.match(leaks.warnings[0], /^target and final cannot be snapshots of one process/);
  assert.deepStrictEqual(memwatch.findLeaks(a, b, b).warnings, []);
  // Rows whose new and deleted objects cancel out are hidden unless asked for.
  const all = memwatch.diffSnapshots(a, b, { all: true, top: 100000 });
  const shown = memwatch.diffSnapshots(a, b, { top: 100000 });
  assert.ok(shown.classes.every((c) => c.countDelta !== 0 || c.sizeDelta !== 0), 'no +0 rows by default');
  assert.ok(all.classes.length > shown.classes.length, `--all shows the churn too (${all.classes.length} > ${shown.classes.length})`);
  assert.ok(shown.classes.some((c) => c.className === 'Object' && c.countDelta >= 3000));
  const text = cli('diff', a, b, '--top', '100000');
  const allText = cli('diff', a, b, '--top', '100000', '--all');
  assert.strictEqual(text.status, 0, text.stderr);
  assert.ok(allText.stdout.split('\n').length > text.stdout.split('\n').length);
  assert.doesNotMatch(text.stdout, /^\S.*\s+\+0\s+\+0$/m, 'no row with +0 objects and +0 bytes');
  delete globalThis.__orderKeep;
});
