'use strict';
// Analyses run from a program under limits: memory that runs short (several analyses at once
// in a process with an address-space limit), a time limit, and an AbortSignal. Each ends in a
// clear error; none aborts the process or keeps a pool thread busy.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const memwatch = require('..');
const { ROOT } = require('./helpers.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memwatch-rs-limits-'));
const snap = path.join(dir, 'service.heapsnapshot');
test.before(() => {
  // A service-shaped heap of ~400,000 nodes (about 30 MB of snapshot).
  const r = spawnSync(process.execPath, ['--max-old-space-size=2000', path.join(ROOT, 'bench/analyze/generate.js'), '0.05', snap], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

// The child sets its own address-space limit (prlimit on its pid) to what it uses now plus a
// budget, once libuv's pool threads are up, then runs four analyses at once.
const FOUR = `
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const memwatch = require(${JSON.stringify(ROOT)});
const budget = Number(process.argv[1]) * 1048576;
const vm = () => Number(/VmSize:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
fs.promises.stat('.').then(async () => {
  execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm() + budget)]);
  const rs = await Promise.allSettled([1, 2, 3, 4].map(() => memwatch.analyzeAsync(process.argv[2])));
  console.log(JSON.stringify(rs.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.message)));
});
`;

test('four analyses at once under a memory limit: each a report or a clean "not enough memory", never an abort', { skip: process.platform !== 'linux' && 'prlimit is Linux' }, () => {
  const outcomes = [];
  for (const mb of [16, 96, 128, 160, 200, 256, 1024]) {
    const r = spawnSync(process.execPath, ['-e', FOUR, String(mb), snap], { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `budget ${mb} MB: status ${r.status} signal ${r.signal}\n${r.stderr}`);
    const results = JSON.parse(r.stdout.trim().split('\n').pop());
    for (const x of results) {
      if (x !== 'ok') assert.match(x, /^memwatch-rs: cannot analyze .*: not enough memory: (this snapshot \(\d+ nodes, \d+ edges\) needs about \d+ MB|[a-z ]+ needed \d+ MB more)/, `budget ${mb} MB`);
    }
    outcomes.push(...results);
  }
  assert.ok(outcomes.includes('ok'), 'a roomy budget should see reports');
  assert.ok(outcomes.some((x) => x !== 'ok'), 'a tight budget should see refusals');
});

test('timeoutMs: analyze, analyzeAsync, diffSnapshots and findLeaks give up with the reason', async () => {
  const late = /the analysis ran out of time \(its limit is 1 ms\)$/;
  assert.throws(() => memwatch.analyze(snap, { timeoutMs: 1 }), late);
  await assert.rejects(memwatch.analyzeAsync(snap, { timeoutMs: 1 }), late);
  assert.throws(() => memwatch.diffSnapshots(snap, snap, { timeoutMs: 1 }), late);
  assert.throws(() => memwatch.findLeaks(snap, snap, snap, { timeoutMs: 1 }), late);
  assert.throws(() => memwatch.htmlReport(snap, path.join(dir, 'late.html'), { timeoutMs: 1 }), late);
  assert.ok(!fs.existsSync(path.join(dir, 'late.html')), 'nothing written');
  // A generous limit changes nothing.
  assert.equal(memwatch.analyze(snap, { timeoutMs: 600000 }).nodes, memwatch.analyze(snap).nodes);
  for (const bad of [0, -1, 1.5, '100', 2 ** 31]) {
    assert.throws(() => memwatch.analyze(snap, { timeoutMs: bad }), { name: 'RangeError', message: /"timeoutMs" must be an integer number of milliseconds/ });
  }
});

test('analyzeAsync({ signal }): an abort rejects with an AbortError at once and frees the pool thread', async () => {
  const ac = new AbortController();
  const started = process.hrtime.bigint();
  const p = memwatch.analyzeAsync(snap, { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('user left')), 20);
  await assert.rejects(p, (e) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause.message === 'user left');
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // The full analysis takes far longer than its first 16 MB read (the proof it stopped early is
  // that the next four pool jobs all run now; the time is printed for the record).
  const again = await Promise.all([1, 2, 3, 4].map(() => memwatch.analyzeAsync(snap, { top: 1 })));
  assert.ok(again.every((r) => r.nodes > 100000));
  assert.ok(ms < 60000, `${ms} ms`);
  // Already aborted: rejects without starting; a non-signal is a TypeError.
  await assert.rejects(memwatch.analyzeAsync(snap, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  await assert.rejects(memwatch.analyzeAsync(snap, { signal: {} }), { name: 'TypeError', message: /"signal" must be an AbortSignal/ });
  assert.throws(() => memwatch.analyze(snap, { signal: ac.signal }), /unknown option "signal"/);
});
