'use strict';
// Source locations from a snapshot file alone, checked against what the engine itself says:
// node's inspector ([[FunctionLocation]] of the same functions in the live process), and a heap
// snapshot taken by Chromium (DevTools protocol) of a page served on 127.0.0.1, whose scripts
// are http:// URLs.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { fileURLToPath } = require('node:url');

const memwatch = require('..');

const CHROMIUM = process.env.MEMWATCH_RS_CHROMIUM || '/usr/bin/chromium';

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-loc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const suspectOf = (report, className) => report.suspects.find((s) => s.object.className === className);
const holding = (report, fn) => report.suspects.flatMap((s) => s.holds).find((h) => h.what.startsWith(`${fn}`));

test("locations in a node snapshot agree with node's inspector for the same functions", (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'live.heapsnapshot');
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'inspector-locations.js'), file], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  const live = JSON.parse(r.stdout.trim().split('\n').pop());
  const report = memwatch.analyze(file);
  // The inspector's positions are 0-based; memwatch's are 1-based, as editors count.
  const registry = suspectOf(report, 'Registry');
  assert.ok(registry, 'the Registry is a suspect');
  const at = registry.object.location;
  assert.strictEqual(report.scriptRoot + at.script, fileURLToPath(live.Registry.url), 'the full path is the root plus the script');
  assert.deepStrictEqual([at.line, at.column], [live.Registry.line + 1, live.Registry.column + 1], "an object's location is its constructor's, where the inspector puts it");
  const name = path.basename(fileURLToPath(live.onRequest.url));
  const closures = holding(report, 'onRequest()');
  assert.ok(closures, 'the closures are named');
  assert.strictEqual(closures.what, `onRequest() at ${name}:${live.onRequest.line + 1}:${live.onRequest.column + 1}`);
  assert.strictEqual(closures.count, 40000);
  const items = holding(report, 'Item');
  assert.strictEqual(items.what, `Item at ${name}:${live.Item.line + 1}:${live.Item.column + 1}`);
  assert.strictEqual(items.count, 30000);
});

test('a snapshot taken by Chromium: functions and classes at their http:// script, line and column', { timeout: 120000 }, async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `this test needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium; npm install does this in a checkout when run as root)`);
  const { chromium } = require('playwright-core');
  const dir = tmpdir(t);
  const app = path.join(__dirname, 'fixtures', 'chrome-app');
  const server = http.createServer((req, res) => {
    const name = req.url === '/' ? 'index.html' : path.basename(req.url);
    const f = path.join(app, name);
    if (!fs.existsSync(f)) {
      res.statusCode = 404;
      return res.end();
    }
    res.setHeader('content-type', name.endsWith('.js') ? 'text/javascript' : 'text/html');
    res.end(fs.readFileSync(f));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.ready === true);
  const cdp = await page.context().newCDPSession(page);
  const chunks = [];
  cdp.on('HeapProfiler.addHeapSnapshotChunk', (e) => chunks.push(e.chunk));
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  const file = path.join(dir, 'page.heapsnapshot');
  fs.writeFileSync(file, chunks.join(''));
  const version = browser.version();

  const report = memwatch.analyze(file);
  const source = fs.readFileSync(path.join(app, 'app.js'), 'utf8').split('\n');
  const lineOf = (needle) => source.findIndex((l) => l.includes(needle)) + 1;
  // V8 places a function at the '(' of its parameters (a class at its constructor's), 1-based here.
  const columnOf = (needle) => {
    const l = source[lineOf(needle) - 1];
    return l.indexOf('(', l.indexOf(needle)) + 1;
  };
  const closures = holding(report, 'onClick()');
  assert.ok(closures, `Chromium ${version}: the click handlers are named (${JSON.stringify(report.suspects.slice(0, 3).map((s) => s.holds))})`);
  assert.strictEqual(closures.count, 40000);
  const m = /^onClick\(\) at (.+):(\d+):(\d+)$/.exec(closures.what);
  assert.ok(m, closures.what);
  // Shown relative to the scripts' common root (here the page's origin), which the JSON gives.
  assert.strictEqual(report.scriptRoot + m[1], `${origin}/app.js`, 'the script is named by its URL');
  assert.strictEqual(Number(m[2]), lineOf('return function onClick()'));
  assert.strictEqual(Number(m[3]), columnOf('return function onClick()'));
  const bus = suspectOf(report, 'Bus');
  assert.ok(bus, 'the Bus is a suspect');
  assert.deepStrictEqual(bus.object.location, { script: 'app.js', line: lineOf('constructor() {'), column: columnOf('constructor() {') });
  const rows = holding(report, 'Row');
  assert.strictEqual(rows.what, `Row at app.js:${lineOf('constructor(i)')}:${columnOf('constructor(i)')}`);
  // The text report says the same.
  assert.match(memwatch.analyzeText(file), /40,000 x onClick\(\) at app\.js:\d+:\d+/);
});
