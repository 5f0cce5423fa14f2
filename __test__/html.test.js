'use strict';
// The HTML reports in a real headless browser (Debian's chromium, driven by playwright-core):
// each opens with no console errors and no network requests, shows the leak's class names, the
// treemap and sortable tables work, and a hostile class name stays text.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = process.env.MEMWATCH_RS_CHROMIUM || '/usr/bin/chromium';
const HOSTILE = '</script><b id="pwn">x</b>';

let browser;
let dir;

test.before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `the HTML test needs Chromium at ${CHROMIUM} (Debian: apt-get install chromium; npm install does this in a checkout when run as root)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-html-'));
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'leaky-service.js'), dir], {
    encoding: 'utf8',
    // A big object under a hostile property name: a suspect whose retainer path shows the name.
    env: { ...process.env, LEAKY_EXTRA: `globalThis[${JSON.stringify(HOSTILE)}] = { blob: new Array(400000).fill(1) };` },
  });
  assert.strictEqual(r.status, 0, r.stderr);
});

test.after(async () => {
  if (browser) await browser.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function cli(...args) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), ...args], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return r;
}

/** Opens a report; returns the page and what went wrong while loading it. */
async function open(file) {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('request', (req) => {
    if (!req.url().startsWith('file:')) problems.push(`network request: ${req.url()}`);
  });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
  return { page, problems };
}

const snap = (n) => path.join(dir, `${n}.heapsnapshot`);

test('analyze --html: treemap, suspects with paths, sortable class table; hostile names stay text', async () => {
  const out = path.join(dir, 'analyze.html');
  cli('analyze', snap('final'), '--html', out, '--top', '200');
  assert.strictEqual(fs.statSync(out).mode & 0o777, 0o600);
  const html = fs.readFileSync(out, 'utf8');
  assert.doesNotMatch(html, /<(link|img|iframe)\b|src="http|href="http/i, 'self-contained');
  const { page, problems } = await open(out);
  assert.deepStrictEqual(problems, []);
  const rects = await page.locator('#treemap rect').count();
  assert.ok(rects > 10, `${rects} treemap cells`);
  const text = await page.locator('main').innerText();
  for (const name of ['Cache', 'CacheEntry', 'EventEmitter', 'Map']) assert.ok(text.includes(name), `shows ${name}`);
  assert.match(text, /Suspects/);
  assert.match(text, /→ cache Cache @\d+/, 'a retainer path through the cache');
  // The hostile property name is shown as text and never becomes markup.
  assert.ok(text.includes(HOSTILE), 'the hostile name appears as text');
  assert.strictEqual(await page.locator('#pwn').count(), 0);
  // Sorting: click "count" and the first row is the most numerous class.
  const table = page.locator('section:has(h2:text("Classes")) table');
  await table.locator('th', { hasText: 'count' }).click();
  const counts = await table.locator('tbody tr td:nth-child(2)').allInnerTexts();
  const values = counts.map((c) => Number(c.replace(/,/g, '')));
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i], 'sorted by count, descending');
  await page.screenshot({ path: path.join(dir, 'analyze.png'), fullPage: true });
  await page.close();
});

test('leaks --html and diff --html name the leaking classes and their containers', async () => {
  const leaks = path.join(dir, 'leaks.html');
  cli('leaks', snap('base'), snap('target'), snap('final'), '--html', leaks);
  let { page, problems } = await open(leaks);
  assert.deepStrictEqual(problems, []);
  let text = await page.locator('main').innerText();
  assert.match(text, /3,000 × CacheEntry/);
  assert.match(text, /held by .*Map\.table/);
  assert.match(text, /held by .*EventEmitter\._events/);
  await page.close();

  const diff = path.join(dir, 'diff.html');
  cli('diff', snap('base'), snap('final'), '--html', diff);
  ({ page, problems } = await open(diff));
  assert.deepStrictEqual(problems, []);
  text = await page.locator('main').innerText();
  assert.match(text, /CacheEntry/);
  assert.ok((await page.locator('#treemap rect').count()) > 0, 'what grew, as a treemap');
  await page.close();
});

test('a report with the heap over time draws the chart', async () => {
  const out = path.join(dir, 'stats.html');
  const stats = Array.from({ length: 30 }, (_, i) => ({ time: 1_700_000_000_000 + i * 1000, current_base: 1e6 + i * 5e4, estimated_base: 1e6 + i * 4e4, used_heap_size: 1.2e6 + i * 5e4 }));
  require('..').htmlReport(snap('final'), out, { stats });
  const { page, problems } = await open(out);
  assert.deepStrictEqual(problems, []);
  assert.strictEqual(await page.locator('#stats-chart path').count(), 3, 'three series');
  assert.match(await page.locator('main').innerText(), /Heap after each full GC/);
  await page.close();
});

test('a near-limit report (reportNearLimit) opens as a page: what grew by constructor, the limits, the heap over time', async () => {
  const reports = path.join(dir, 'near');
  fs.mkdirSync(reports);
  const r = spawnSync(process.execPath, ['--max-old-space-size=192', path.join(__dirname, 'fixtures', 'near-limit.js'), 'heap', '20', '15'], {
    encoding: 'utf8',
    env: { ...process.env, MEMWATCH_REPORT_DIR: reports },
  });
  assert.notStrictEqual(r.status, 0, 'the leak killed it');
  const [file] = fs.readdirSync(reports);
  assert.ok(file, 'a report was written');
  const out = path.join(dir, 'near.html');
  cli('report', path.join(reports, file), '--html', out);
  const { page, problems } = await open(out);
  assert.deepStrictEqual(problems, []);
  const text = await page.locator('main').innerText();
  assert.match(text, /What grew since .*, by constructor/);
  assert.match(text, /OrderRecord/);
  assert.match(text, /heap grew .* limit in/, "the leak's reason");
  assert.ok((await page.locator('#stats-chart path').count()) >= 1, 'the heap over time');
  await page.close();
});
