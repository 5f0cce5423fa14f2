'use strict';
// `exactSites`: while the heap grows like a leak, V8's inlining is off, so that 'leak' sites name
// the leaking function and not the caller TurboFan inlined it into; back on after the 'leak' or
// when the growth stops, and never for a heap that only wanders.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const memwatch = require('..');
const { InliningPolicy, MAX_OFF_MS } = require('../lib/inlining.js');

const MB = 1048576;
const MIN = 60000;

// A recorded-service-like series: a full GC every `everyMs`, jitter of +-`jitter` of the level
// (medium-lived data), from a seeded generator so that a failure replays.
function series({ minutes, everyMs = 1000, base = 80 * MB, jitter = 0.05, growth = () => 0, seed = 7 }) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = [];
  for (let t = 0; t <= minutes * MIN; t += everyMs) out.push([t, Math.round(base * (1 + jitter * (rand() - 0.5) * 2) + growth(t))]);
  return out;
}

function drive(points, { onLeakAt = Infinity, options } = {}) {
  const calls = [];
  const policy = new InliningPolicy((on) => calls.push({ on, t: now }), options);
  let now = 0;
  let leakDone = false;
  for (const [t, v] of points) {
    now = t;
    policy.observe(v, t);
    if (!leakDone && t >= onLeakAt) {
      leakDone = true;
      policy.leakReported(t);
    }
  }
  return { calls, policy };
}

test('exactSites: on by default, a boolean, reported by getOptions', () => {
  assert.strictEqual(memwatch.getOptions().exactSites, true);
  assert.throws(() => memwatch.setOptions({ exactSites: 'yes' }), { name: 'TypeError', message: /"exactSites" must be true or false, got a string \("yes"\)/ });
  assert.strictEqual(memwatch.getOptions().exactSites, true, 'a refused change changes nothing');
  assert.strictEqual(memwatch.setOptions({ exactSites: false }).exactSites, false);
  assert.strictEqual(memwatch.setOptions({ exactSites: true }).exactSites, true);
});

test('a heap that only wanders (5% jitter) has its inlining off rarely: under 5% of 48 hours, under 10% of any 4', () => {
  // White noise with no leak: the suspicion's bars are low (it must speak before the 'leak'
  // detector), so now and then it takes a wander for growth. bench/inlining.js: 2.2% of 78
  // hours of recorded services.
  const shares = [];
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    for (const everyMs of [1000, 5000]) {
      const policy = new InliningPolicy(() => true);
      let now = 0;
      for (const [t, v] of series({ minutes: 240, everyMs, seed })) policy.observe(v, (now = t));
      policy.restore(now, 'reset');
      shares.push(policy.offMs / now);
    }
  }
  const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
  assert.ok(mean < 0.05, `off ${(100 * mean).toFixed(1)}% of the time: ${shares.map((x) => (100 * x).toFixed(1)).join(', ')}`);
  assert.ok(Math.max(...shares) < 0.1, shares.join(', '));
});

test('a leak of 1%/min from minute 5 turns inlining off within minutes, and the leak turns it back on', () => {
  for (const [everyMs, within] of [[1000, 4 * MIN], [5000, 6 * MIN], [15000, 8 * MIN]]) {
    const growth = (t) => (t > 5 * MIN ? ((t - 5 * MIN) / MIN) * 0.01 * 80 * MB : 0);
    const leakAt = 5 * MIN + within + MIN;
    const { calls } = drive(series({ minutes: 40, everyMs, growth }), { onLeakAt: leakAt });
    assert.ok(calls.length >= 1 && calls[0].on === false, `every ${everyMs} ms: ${JSON.stringify(calls)}`);
    assert.ok(calls[0].t > 5 * MIN && calls[0].t <= 5 * MIN + within, `every ${everyMs} ms: off at ${calls[0].t / MIN} min`);
    assert.deepStrictEqual(calls[1], { on: true, t: Math.ceil(leakAt / everyMs) * everyMs }, 'back on with the leak');
    assert.strictEqual(calls.length, 2, 'and not off again while the same growth goes on');
  }
});

test('growth that stops (a cache that filled) turns inlining back on, then waits before suspecting again', () => {
  // Rises 1%/min for 6 minutes from minute 5, then stays: no 'leak' ever comes.
  const growth = (t) => (Math.min(Math.max(0, t - 5 * MIN), 6 * MIN) / MIN) * 0.01 * 80 * MB;
  const { calls, policy } = drive(series({ minutes: 60, growth }));
  assert.strictEqual(calls[0].on, false, JSON.stringify(calls));
  assert.ok(calls[0].t > 5 * MIN && calls[0].t < 11 * MIN, `off at ${calls[0].t / MIN} min`);
  assert.ok(calls[1] && calls[1].on === true, JSON.stringify(calls));
  const spell = calls[1].t - calls[0].t;
  assert.ok(calls[1].t > 11 * MIN && calls[1].t < 20 * MIN, `back on at ${calls[1].t / MIN} min, minutes after the growth stopped`);
  assert.strictEqual(policy.pauseUntil, calls[1].t + 2 * spell);
  assert.strictEqual(calls.length, 2);
});

test('growth that goes on without a leak: spells are capped, and the pauses between them double', () => {
  // From minute 4 (after the warm-up), 1%/min for 100 minutes, and no 'leak' is ever reported.
  const growth = (t) => (t > 4 * MIN ? ((t - 4 * MIN) / MIN) * 0.01 * 80 * MB : 0);
  const { calls } = drive(series({ minutes: 100, growth }), { options: { maxOffMs: 10 * MIN } });
  assert.strictEqual(MAX_OFF_MS, 10 * MIN);
  const spells = [];
  for (let i = 0; i + 1 < calls.length; i += 2) spells.push([calls[i].t, calls[i + 1].t]);
  assert.ok(spells.length >= 2, JSON.stringify(calls));
  for (const [from, to] of spells) assert.strictEqual(to - from, 10 * MIN, 'capped');
  assert.strictEqual(spells[1][0] - spells[0][1], 2 * 10 * MIN, 'a pause twice the spell');
  if (spells[2]) assert.strictEqual(spells[2][0] - spells[1][1], 4 * 10 * MIN, 'then four times');
  assert.ok(spells.length <= 3, `at most 30 of 100 minutes off: ${JSON.stringify(spells)}`);
});

test('a spell of the warm-up whose growth stopped (caches filling at start) is not followed by a pause', () => {
  // A leak from the start must not find the suspicion paused by the service's own warm-up.
  const growth = (t) => Math.min(t, 90000) / 90000 * 30 * MB;
  const { calls, policy } = drive(series({ minutes: 20, growth }));
  assert.strictEqual(calls[0].on, false, JSON.stringify(calls));
  assert.ok(calls[0].t < 90000, `off at ${calls[0].t / 1000} s`);
  assert.strictEqual(calls[1].on, true);
  assert.strictEqual(policy.pauseUntil, 0);
});

test('a process that may not switch (a worker, its own inlining flags) keeps its inlining', () => {
  const calls = [];
  const policy = new InliningPolicy((on) => (calls.push(on), false));
  const growth = (t) => (t > 60000 ? ((t - 60000) / MIN) * 0.02 * 80 * MB : 0);
  for (const [t, v] of series({ minutes: 10, growth })) policy.observe(v, t);
  assert.deepStrictEqual(calls, [false], 'asked once');
  assert.strictEqual(policy.off, false);
  // The real switch refuses when the program set inlining itself, and changes nothing.
  const r = spawnSync(process.execPath, ['--no-turbo-inlining', '-e', "console.log(require('./lib/inlining.js').setInlining(false))"], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
  assert.strictEqual(r.stdout.trim(), 'false', r.stderr);
});

test('the switch: off, V8 samples the inlined function in its own frame again; on, it is inlined again', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'inlining-switch.js')], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.deepStrictEqual(out, { inlined: 'phase <- run', switchedOff: true, off: 'callback <- handle', switchedOn: true, on: 'phase <- run' }, r.stdout);
});

test("under node's coverage (NODE_V8_COVERAGE, as c8 runs tests) the switch leaves coverage whole", () => {
  // The deoptimisation goes through V8's coverage mode, which node's own coverage session owns
  // there: switching it would drop the block counts c8 reports.
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mw-cov-'));
  try {
    const script = `const inlining = require('./lib/inlining.js');
      function g(x) { if (x) return 1; return 2; }
      g(1);
      console.log(JSON.stringify([inlining.setInlining(false), inlining.deoptimiseAll(), inlining.setInlining(true)]));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, NODE_V8_COVERAGE: dir } });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout), [true, false, true], 'inlining switched, nothing deoptimised');
    let blocks = 0;
    for (const f of fs.readdirSync(dir)) {
      for (const s of JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).result) {
        if (s.url.endsWith('inlining.js')) blocks += s.functions.filter((fn) => fn.isBlockCoverage).length;
      }
    }
    assert.ok(blocks > 0, 'block coverage of lib/inlining.js is still there');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function runService(mode) {
  const fixture = path.join(__dirname, 'fixtures', 'inlined-service.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--allow-natives-syntax', '--no-use-osr', '--no-maglev', fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${mode}: exit ${code}: ${out}${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

test("a leak TurboFan inlined before it began: 'leak' names the leaking function, and only with exactSites", async () => {
  const source = fs.readFileSync(path.join(__dirname, 'fixtures', 'inlined-service.js'), 'utf8').split('\n');
  const lineOf = (text) => source.findIndex((l) => l.includes(text)) + 1;
  // The same service twice at once: with exactSites (the default) and without.
  const [exact, keep] = await Promise.all([runService('exact'), runService('keep')]);
  for (const r of [exact, keep]) assert.ok(r.optimisedBefore, 'handler was optimised before the leak (else this shows nothing)');

  // Without: every sample since the optimisation is handler's, the function that did not leak.
  assert.strictEqual(keep.leak.sites[0].function, 'handler', keep.leak.sites[0].text);
  assert.deepStrictEqual(keep.switches, []);

  // With: inlining went off before the 'leak', came back with it, and the leak is remember's.
  assert.strictEqual(exact.switches.length, 1, JSON.stringify(exact.switches));
  assert.ok(exact.switches[0].off && exact.switches[0].atMs < exact.leakAtMs, `${JSON.stringify(exact.switches)}, 'leak' at ${exact.leakAtMs} ms`);
  assert.strictEqual(exact.offAfterLeak, false, 'inlining back on once the sites were taken');
  const top = exact.leak.sites[0];
  assert.strictEqual(top.function, 'remember', top.text);
  assert.strictEqual(top.line, lineOf('function remember('));
  assert.strictEqual(top.frames[1].function, 'handler');
  // What was sampled in handler while remember was inlined there is folded in, and said to be.
  assert.ok(top.callerBytes > 0 && top.callerBytes < top.bytes, `${top.callerBytes} of ${top.bytes}`);
  assert.ok(!exact.leak.sites.slice(1).some((s) => s.function === 'handler'), 'the caller is not a site of its own');
});
